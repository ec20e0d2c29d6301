"""Benchmark hostile input: how fast a storyboard is loaded or refused, and how fast a render stops.

Each refusal is timed (best of 5) against the baseline of loading a legitimate 500-shot storyboard in
the same run (target: every one under 2 s; the ratio says what a refusal costs beside a real load).
The stop times are from a real ``mvpipe render`` subprocess sent SIGINT while its cards render and
SIGTERM while its pieces encode (target: exit 130 / 143 within 2 s, nothing half-written left).

    .venv/bin/python scripts/bench_inputs.py
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mvpipe.errors import InputError
from mvpipe.storyboard import load

ROOT = Path(__file__).resolve().parents[1]
HEAD = "mvpipe: 1\nsong: song.mp3\n"
SHOT = "  - {{id: s{i}, length: 1 beat, prompt: 'a long prompt for scene {i}, with camera, light and mood words'}}\n"


def _laughs() -> str:
    text = HEAD + 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, 10):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
    return text + "shots: [{id: a, prompt: x}]\n"


CASES = {
    "500 shots (baseline, loads)": HEAD + "shots:\n" + "".join(SHOT.format(i=i) for i in range(500)),
    "billion laughs (1 KB, 10^9 values)": _laughs(),
    "5,000-deep [[[...]]]": HEAD + "title: " + "[" * 5000 + "]" * 5000 + "\n",
    "25,000 keys": HEAD + "".join(f"k{i}: v\n" for i in range(25000)),
    "600 KB title": HEAD + "title: " + "x" * 600_000 + "\n",
}


def _time_load(folder: Path, text: str, repeat: int = 5) -> tuple[float, str]:
    path = folder / "board.yaml"
    path.write_text(text)
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        began = time.perf_counter()
        try:
            load(path)
            outcome = "loaded"
        except InputError as exc:
            outcome = "refused: " + exc.message[:60]
        best = min(best, time.perf_counter() - began)
    return best, outcome


def _stop_time(folder: Path, sig: int, marker: str) -> tuple[int, float, list[str]]:
    board = folder / "board.yaml"
    board.write_text(HEAD + "output: {height: 720, quality: draft, path: out/video.mp4}\ntiming: {end: 16}\nshots:\n"
                     + "".join(f"  - {{id: s{i}, length: 1 bar, prompt: shot {i}, transition: crossfade}}\n"
                               for i in range(8)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "mvpipe.cli", "render", str(board)], cwd=folder, env=env,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr or []:
        if marker in line:
            break
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.communicate()
    seconds = time.monotonic() - sent
    left = [str(p.relative_to(folder)) for p in folder.rglob(".*") if p.is_file() and p.name != "render.lock"
            and "journal" not in p.parts]
    return proc.returncode, seconds, left


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "assets" / "demo_song.mp3", folder / "song.mp3")
        baseline = None
        print(f"{'storyboard':<38} {'seconds':>8} {'x base':>7}  outcome")
        for name, text in CASES.items():
            seconds, outcome = _time_load(folder, text)
            baseline = baseline or seconds
            print(f"{name:<38} {seconds:8.3f} {seconds / baseline:7.2f}  {outcome}")
        for sig, marker in ((signal.SIGINT, ": running"), (signal.SIGTERM, "pieces to encode")):
            shutil.rmtree(folder / ".mvpipe", ignore_errors=True)
            code, seconds, left = _stop_time(folder, sig, marker)
            print(f"{signal.Signals(sig).name} at '{marker}': exit {code} after {seconds:.2f} s; left behind: {left}")


if __name__ == "__main__":
    main()
