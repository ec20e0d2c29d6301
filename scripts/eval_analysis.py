"""Score mvpipe.analysis against the synthetic evaluation set, with librosa's defaults as the baseline.

    .venv/bin/python scripts/make_eval_set.py                    # once: writes .mvpipe/evalset/
    .venv/bin/python scripts/eval_analysis.py --split tuning     # or heldout, fresh, fresh2; --per-song for detail
    .venv/bin/python scripts/make_eval_set.py --sweep 6          # the sweep outside the splits: .mvpipe/sweep/
    .venv/bin/python scripts/eval_analysis.py --evalset .mvpipe/sweep --split sweep --no-speed --per-song

Prints a markdown table: beat F / CMLt / AMLt (mir_eval, +-70 ms, no 5 s trim so intros count),
downbeat F, meter right, section boundary F at 0.5 s and 3 s (song start/end excluded), label
pairwise F (primes ignored), warm seconds of analysis per minute of audio (median of --repeats
runs, decoding included), and the cold first run of a 3-minute song in a fresh process with an
empty NUMBA_CACHE_DIR. Timings on a shared 2-core machine: compare the ratios, not the absolutes;
the 1-minute load average is printed before and after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mir_eval
import numpy as np
from scipy.io import wavfile

from mvpipe.analysis import analyze
from mvpipe.ffmpeg import decode_audio

ROOT = Path(__file__).resolve().parents[1]


def baseline(path: Path) -> dict:
    """librosa's defaults: beat_track on its own onset envelope at 22.05 kHz."""
    import librosa

    y = decode_audio(path, 22050)
    tempo, beats = librosa.beat.beat_track(y=y, sr=22050, units="time")
    return {"beats": np.asarray(beats), "tempo": float(np.atleast_1d(tempo)[0])}


def ours(path: Path) -> dict:
    a = analyze(path)
    return {"beats": np.array(a.beats), "downbeats": np.array(a.downbeats), "meter": a.meter,
            "tempo": a.tempo, "sections": [(s.start, s.end, s.label) for s in a.sections],
            "duration": a.duration}


def _intervals(sections: list[tuple[float, float, str]], duration: float) -> tuple[np.ndarray, list[str]]:
    """Sections stretched to cover 0..duration, so only the internal boundaries are scored."""
    starts = [0.0] + [s[0] for s in sections[1:]]
    ends = [s[0] for s in sections[1:]] + [duration]
    return np.array([starts, ends]).T, [s[2].rstrip("'") for s in sections]


def score(truth: dict, est: dict) -> dict:
    ref_b, est_b = np.array(truth["beats"]), est["beats"]
    row = {"beat F": mir_eval.beat.f_measure(ref_b, est_b)}
    _, row["CMLt"], _, row["AMLt"] = mir_eval.beat.continuity(ref_b, est_b)
    if "downbeats" in est:
        row["downbeat F"] = mir_eval.beat.f_measure(np.array(truth["downbeats"]), est["downbeats"])
        row["meter right"] = float(est["meter"] == truth["meter"])
        ref_iv, ref_lab = _intervals([(s["start"], s["end"], s["label"]) for s in truth["sections"]],
                                     truth["duration"])
        est_iv, est_lab = _intervals(est["sections"], truth["duration"])
        for w in (0.5, 3.0):
            _, _, row[f"sections F@{w:g}s"] = mir_eval.segment.detection(ref_iv, est_iv, window=w, trim=True)
        _, _, row["labels F"] = mir_eval.segment.pairwise(ref_iv, ref_lab, est_iv, est_lab)
    return row


def warm_speed(paths: list[Path], fn, repeats: int) -> float:
    """Median over repeats of (total analysis seconds) / (total minutes of audio)."""
    minutes = sum(len(decode_audio(p, 8000)) / 8000 for p in paths) / 60
    fn(paths[0])  # warm imports and caches
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        runs.append((time.perf_counter() - t0) / minutes)
    return statistics.median(runs)


COLD_OURS = "from pathlib import Path; import sys; from mvpipe.analysis import analyze; analyze(Path(sys.argv[1]))"
COLD_BASE = ("import sys, librosa; from mvpipe.ffmpeg import decode_audio; "
             "librosa.beat.beat_track(y=decode_audio(sys.argv[1], 22050), sr=22050)")


def cold_start(code: str, song: Path, repeats: int) -> float:
    """Median wall time of a fresh interpreter (empty numba cache) analysing ``song``."""
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as numba_cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": numba_cache, "PYTHONPATH": str(ROOT)}
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code, str(song)], check=True, env=env)
            runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def three_minute_song(evalset: Path, out: Path) -> Path:
    """Concatenate eval songs into a ~3-minute WAV for the cold-start measurement."""
    parts, total = [], 0
    for wav in sorted(evalset.glob("*.wav")):
        sr, data = wavfile.read(wav)
        parts.append(data)
        total += len(data) / sr
        if total >= 180:
            break
    wavfile.write(out, sr, np.concatenate(parts)[: 180 * sr])
    return out


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evalset", type=Path, default=ROOT / ".mvpipe/evalset")
    parser.add_argument("--split", choices=["tuning", "heldout", "fresh", "fresh2", "sweep", "all"], default="tuning")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median reported)")
    parser.add_argument("--cold-repeats", type=int, default=1)
    parser.add_argument("--no-speed", action="store_true", help="skip the warm/cold timings")
    parser.add_argument("--per-song", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    index = json.loads((args.evalset / "index.json").read_text())
    names = [s["name"] for s in index if args.split in ("all", s["split"])]
    paths = [args.evalset / f"{n}.wav" for n in names]
    methods = {"mvpipe.analysis": ours, "librosa beat_track (defaults)": baseline}
    rows: dict[str, dict[str, float]] = {}
    for label, fn in methods.items():
        per_song = []
        for name, path in zip(names, paths, strict=True):
            truth = json.loads((args.evalset / f"{name}.json").read_text())
            est = fn(path)
            per_song.append(score(truth, est))
            if args.per_song:
                detail = " ".join(f"{k}={v:.2f}" for k, v in per_song[-1].items())
                extra = f" meter={est['meter']}/{truth['meter']}" if "meter" in est else ""
                print(f"{label[:7]} {name:28s} tempo={est['tempo']:6.1f}/{truth['tempo']:5.0f}{extra} {detail}",
                      file=sys.stderr)
        rows[label] = {k: float(np.mean([r[k] for r in per_song])) for k in per_song[0]}
        rows[label]["meter right"] = sum(r["meter right"] for r in per_song) if "meter right" in per_song[0] else None
    if not args.no_speed:
        with tempfile.TemporaryDirectory() as tmp:
            long_song = three_minute_song(args.evalset, Path(tmp) / "three_minutes.wav")
            for label, fn, code in (("mvpipe.analysis", ours, COLD_OURS),
                                    ("librosa beat_track (defaults)", baseline, COLD_BASE)):
                rows[label]["s/min warm"] = warm_speed(paths, fn, args.repeats)
                rows[label]["cold 3-min s"] = cold_start(code, long_song, args.cold_repeats)

    cols = ["beat F", "CMLt", "AMLt", "downbeat F", "meter right", "sections F@0.5s", "sections F@3s",
            "labels F", "s/min warm", "cold 3-min s"]
    cols = [c for c in cols if any(c in r for r in rows.values())]
    ours_row, base_row = rows["mvpipe.analysis"], rows["librosa beat_track (defaults)"]
    minutes = sum(json.loads((args.evalset / f"{n}.json").read_text())["duration"] for n in names) / 60
    print(f"{args.split} split: {len(names)} songs, {minutes:.1f} minutes of audio; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    print("| method | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, row in rows.items():
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append(f"{int(v)}/{len(names)}" if c == "meter right" and v is not None else fmt(v))
        print(f"| {label} | " + " | ".join(cells) + " |")
    ratios = []
    for c in cols:
        a, b = ours_row.get(c), base_row.get(c)
        ratios.append(f"{a / b:.2f}×" if a is not None and b else "–")
    print("| ratio mvpipe / baseline | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
