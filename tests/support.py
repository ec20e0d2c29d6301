"""Test helpers shared across modules: where the third-party media lives, songs with an exact grid."""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from mvpipe.analysis import Section, SongAnalysis

SHARED = Path(os.environ.get("MVPIPE_SHARED") or Path(__file__).resolve().parents[2] / "shared")


def shared_file(*parts: str) -> Path:
    """A file from ../shared (songs and clips made by others); skips the test clearly when absent."""
    path = SHARED.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} not present (../shared is not checked out beside the repo)")
    return path


def grid_analysis(bpm: float = 120.0, meter: int = 4, duration: float = 60.0, first_beat: float = 0.0,
                  sections: list[tuple[float, float, str]] | None = None) -> SongAnalysis:
    """A SongAnalysis with a perfect grid: what the planner sees for a metronomic song."""
    period = 60.0 / bpm
    beats = [float(t) for t in np.arange(first_beat, duration - 1e-9, period)]
    secs = sections or [(0.0, duration, "A")]
    return SongAnalysis(sha256="0" * 64, duration=duration, tempo=bpm, meter=meter, beats=beats,
                        downbeats=beats[::meter],
                        sections=[Section(start=a, end=b, label=lab, energy=1.0) for a, b, lab in secs],
                        energy_hop=0.1, energy=[0.0] * int(duration * 10))


@cache
def eval_generator():
    """scripts/make_eval_set.py as a module: songs with exact beat, downbeat and section truth."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("make_eval_set", root / "scripts" / "make_eval_set.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_eval_set"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
