"""Shared scaffolding for provider tests: real clips, requests, storyboards, fast runner settings.

The HTTP side (a threaded server on 127.0.0.1, job clock, fault injection, recorded requests) is
the generation suite's ``tests/generation/fakes/server.py``, re-exported here so every adapter's test
speaks its protocol through the same scaffolding.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fakes.server import (  # noqa: F401 - re-exported
    Download,
    FakeServer,
    Faults,
    Job,
    PNG_1x1,
    Protocol,
    Recorded,
    Reply,
    check_contract,
    clip_bytes,
    hold_and_maybe_lose,
)
from PIL import Image

from mvpipe.analysis import Section, SongAnalysis
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.generation.provider import ClipRequest
from mvpipe.generation.providers import resolve
from mvpipe.generation.remote import RetryPolicy
from mvpipe.generation.runner import GenerationResult, RunnerSettings, generate
from mvpipe.planner import Plan, plan
from mvpipe.storyboard import load
from mvpipe.workspace import Workspace

FAST = RunnerSettings(poll_interval=0.02, poll_jitter=0.0, stall_timeout=1.0, http_timeout=5.0,
                      retry=RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05, max_retry_after=0.1),
                      download_attempts=2)


def make_clip(dest: Path, *, seconds: float = 1.0, size: str = "160x90", fps: int = 24, colour: str = "red",
              audio: bool = False) -> Path:
    """A real little clip (moving test pattern over ``colour``); the container follows the suffix."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}",
            "-f", "lavfi", "-i", f"color=c={colour}:s={size}:r={fps}:d={seconds}"]
    graph = "[0:v][1:v]blend=all_mode=average,format=yuv420p[v]"
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
    args += ["-filter_complex", graph, "-map", "[v]"] + (["-map", "2:a", "-c:a", "aac"] if audio else [])
    codec = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"] if dest.suffix == ".webm" else [
        "-c:v", "libx264", "-preset", "ultrafast"]
    run_ffmpeg([*args, *codec, "-threads", "1", "-t", f"{seconds}", str(dest)], what=f"making {dest.name}")
    return dest


def request(**overrides: Any) -> ClipRequest:
    """A clip request with small defaults; any field can be overridden."""
    fields: dict[str, Any] = dict(shot="s1", shot_number=1, provider="footage", model="clip",
                                  prompt="a quiet street at dawn", seconds=2.0, width=320, height=180,
                                  aspect="16:9", fps=24)
    return ClipRequest(**{**fields, **overrides})


def reference_png(path: Path, colour: tuple[int, int, int] = (200, 40, 40)) -> Path:
    """A character reference image (400x400, as providers want at least 300 px)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (400, 400), colour).save(path)
    return path


def grid_song(bpm: float = 120.0, seconds: float = 8.0) -> SongAnalysis:
    """A song analysis with an exact beat grid in 4/4, as the planner sees a metronomic song."""
    beats = [float(t) for t in np.arange(0.0, seconds - 1e-9, 60.0 / bpm)]
    return SongAnalysis(sha256="0" * 64, duration=seconds, tempo=bpm, meter=4, beats=beats, downbeats=beats[::4],
                        sections=[Section(start=0.0, end=seconds, label="A", energy=1.0)], energy_hop=0.1,
                        energy=[0.0] * int(seconds * 10))


BOARD = """mvpipe: 1
song: song.wav
output: {{aspect: "16:9", height: 720, fps: 12, quality: draft, path: out.mp4}}
generator: {spec}
characters:
  mara:
    description: woman with a silver bob
    references: [mara.png]
shots:
  - id: road
    length: 2 beats
    prompt: {prompt}
  - id: mara
    length: 4 beats
    characters: [mara]
    prompt: mara drives at night
"""


def write_board(folder: Path, spec: str, prompt: str = "an empty road at night") -> Path:
    """A two-shot storyboard (one text shot, one with a referenced character) beside a stand-in song."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "song.wav").write_bytes(b"RIFF")
    reference_png(folder / "mara.png")
    path = folder / "board.yaml"
    path.write_text(BOARD.format(spec=spec, prompt=prompt))
    return path


def plan_for(folder: Path, spec: str, prompt: str = "an empty road at night") -> Plan:
    board = load(write_board(folder, spec, prompt))
    return plan(board, grid_song(), {spec: resolve(spec)[1]})


def run(folder: Path, spec: str, prompt: str = "an empty road at night", settings: RunnerSettings = FAST,
        progress: Callable[[str], None] | None = None) -> GenerationResult:
    """Plan the two-shot storyboard for ``spec`` and generate its takes with test-speed settings."""
    requests = [s.request for s in plan_for(folder, spec, prompt).segments]
    return generate(requests, Workspace(folder / ".mvpipe"), settings=settings, progress=progress)


def assert_all_done(result: GenerationResult) -> None:
    assert [t.status for t in result.takes.values()] == ["done"] * len(result.takes), result.failure_table()


def survives_faults(srv: FakeServer, folder: Path, spec: str, cancels: bool = True) -> None:
    """The common fault drill: a 429 with Retry-After on submit, a 5xx on a poll, one stuck job and one
    truncated download (fetched again) -> every shot done, nothing paid twice. The stuck job is submitted
    again only where the API confirms it cancelled (``cancels``); elsewhere the shot stops naming the job
    and the next run resumes polling it."""
    srv.faults.statuses = {"submit": [429], "poll": [500]}
    srv.faults.retry_after, srv.faults.stuck, srv.faults.truncate = "0", 1, 1
    result = run(folder, spec)
    [stuck] = [j for j in srv.jobs.values() if j.stuck]
    if cancels:
        assert_all_done(result)
        assert sum(srv.creates.values()) == 3 and stuck.cancelled  # two shots, plus one for the cancelled job
    else:
        failed = [t for t in result.takes.values() if t.status != "done"]
        assert len(failed) == 1 and "run again to resume polling" in (failed[0].error or "")
        stuck.stuck = False
        assert_all_done(run(folder, spec))
        assert sum(srv.creates.values()) == 2  # the stalled job was polled again, not paid for twice
    assert sorted(srv.downloads.values()) == [1, 2]


def moderated(srv: FakeServer, folder: Path, spec: str) -> str:
    """Run with a prompt the server's moderation refuses; the failed shot's reason (the other is done)."""
    srv.faults.moderate = "FORBIDDEN"
    result = run(folder, spec, prompt="a FORBIDDEN scene")
    assert result.takes[("mara", 0)].status == "done" and result.takes[("road", 0)].status == "failed"
    return result.takes[("road", 0)].error or ""
