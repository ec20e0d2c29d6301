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
from mvpipe.ffmpeg import run_ffmpeg

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


def write_png(path: Path, size: tuple[int, int] = (8, 8)) -> Path:
    """A real (tiny) PNG: storyboards refuse references that are not images."""
    from PIL import Image

    Image.new("RGB", size, (200, 40, 40)).save(path)
    return path


def make_clip(dest: Path, colour: str = "0xE03030", seconds: float = 2.0, size: str = "320x180",
              fps: str = "24", audio: bool = False, extra: list[str] | None = None) -> Path:
    """A solid-colour clip (optionally with a 440 Hz tone) encoded with libx264."""
    if dest.is_file():
        return dest
    args = ["-f", "lavfi", "-i", f"color=c={colour}:s={size}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    args += (extra or []) + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac"] if audio else []
    run_ffmpeg([*args, str(dest)], what="making a test clip")
    return dest


@cache
def eval_generator():
    """scripts/make_eval_set.py as a module: songs with exact beat, downbeat and section truth."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("make_eval_set", root / "scripts" / "make_eval_set.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_eval_set"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def short_board(folder: Path, car: str = "transition: crossfade") -> Path:
    """``folder/board.yaml``: the demo song's first 4 s as two animatic shots at 720p draft (``car``: that
    shot's extra keys), rendering to ``folder/out.mp4``."""
    board = folder / "board.yaml"
    board.write_text(f"""\
mvpipe: 1
song: {Path(__file__).resolve().parents[1] / "assets" / "demo_song.mp3"}
output: {{height: 720, path: {folder / "out.mp4"}, quality: draft}}
timing: {{end: 4}}
shots:
  - {{id: highway, length: 1 bar, prompt: road}}
  - {{id: car, prompt: car{", " + car if car else ""}}}
""")
    return board
