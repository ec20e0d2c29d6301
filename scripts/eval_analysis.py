"""Score mvpipe.analysis against the synthetic evaluation set, with librosa's defaults as the baseline.

    .venv/bin/python scripts/make_eval_set.py                    # once: writes .mvpipe/evalset/
    .venv/bin/python scripts/eval_analysis.py --split tuning     # or heldout, fresh, fresh2; --per-song for detail
    .venv/bin/python scripts/make_eval_set.py --sweep 6          # the sweep outside the splits: .mvpipe/sweep/
    .venv/bin/python scripts/eval_analysis.py --evalset .mvpipe/sweep --split sweep --no-speed --per-song
    .venv/bin/python scripts/eval_analysis.py --split real --per-song  # the recordings in ../shared/audio/real

On the real recordings (``--split real``, ``--real DIR``) the scores are mir_eval's defaults: the first
5 s trimmed, +-70 ms; tempo right when the median beat interval is within 4 % of the reference's
(its level, not any octave); meter against the reference's where it has one; per song with
``--per-song`` as a markdown table.

Prints a markdown table: beat F / CMLt / AMLt (mir_eval, +-70 ms, no 5 s trim so intros count),
downbeat F, meter right, section boundary F at 0.5 s and 3 s (song start/end excluded), label
pairwise F (primes ignored), warm seconds of analysis per minute of audio (median of --repeats
runs, decoding included: mvpipe.analysis.decode for both methods), and the cold first run of a
3-minute song in a fresh process with an empty NUMBA_CACHE_DIR. Timings on a shared 2-core machine:
compare the ratios, not the absolutes; the 1-minute load average is printed before and after the run.
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
from mvpipe.analysis.decode import decode_song

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "audio" / "real"


def baseline(path: Path) -> dict:
    """librosa's defaults: beat_track on its own onset envelope at 22.05 kHz, decoded as mvpipe decodes
    (libsndfile for lossless files, as librosa.load would, else FFmpeg), so the timings compare the analyses."""
    import librosa

    y = decode_song(path, 22050)
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


def score_real(truth: dict, est: dict) -> dict:
    """mir_eval's defaults on a real recording: 5 s trimmed, +-70 ms; tempo and meter at the reference's level."""
    ref_b = mir_eval.beat.trim_beats(np.array(truth["beats"]))
    est_b = mir_eval.beat.trim_beats(np.asarray(est["beats"]))
    row = {"beat F": mir_eval.beat.f_measure(ref_b, est_b)}
    _, row["CMLt"], _, row["AMLt"] = mir_eval.beat.continuity(ref_b, est_b)
    ref_gap = float(np.median(np.diff(truth["beats"])))
    est_gap = float(np.median(np.diff(est["beats"]))) if len(est["beats"]) > 1 else float("inf")
    row["tempo right"] = float(abs(est_gap / ref_gap - 1.0) <= 0.04)
    if "downbeats" in est and truth.get("downbeats"):
        row["downbeat F"] = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.array(truth["downbeats"])),
                                                    mir_eval.beat.trim_beats(np.asarray(est["downbeats"])))
    if "meter" in est and truth.get("meter"):
        row["meter right"] = float(est["meter"] == truth["meter"])
    return row


def real_songs(folder: Path) -> list[tuple[str, Path, dict]]:
    """(name, audio, reference) for every recording with a JSON reference beside it, subfolders included."""
    out = []
    for ref in sorted(folder.rglob("*.json")):
        audio = [p for p in ref.parent.glob(ref.stem + ".*") if p.suffix != ".json"]
        if audio:
            out.append((str(ref.relative_to(folder).with_suffix("")), audio[0], json.loads(ref.read_text())))
    return out


def warm_speed(paths: list[Path], fn, repeats: int) -> float:
    """Median over repeats of (total analysis seconds) / (total minutes of audio)."""
    minutes = sum(len(decode_song(p, 8000)) / 8000 for p in paths) / 60
    fn(paths[0])  # warm imports and caches
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        runs.append((time.perf_counter() - t0) / minutes)
    return statistics.median(runs)


COLD_OURS = "from pathlib import Path; import sys; from mvpipe.analysis import analyze; analyze(Path(sys.argv[1]))"
COLD_BASE = ("import sys, librosa; from mvpipe.analysis.decode import decode_song; "
             "librosa.beat.beat_track(y=decode_song(sys.argv[1], 22050), sr=22050)")


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


def three_minute_song(paths: list[Path], out: Path) -> Path:
    """Concatenate songs into a ~3-minute WAV for the cold-start measurement."""
    sr, parts, total = 22050, [], 0
    for path in paths:
        parts.append(decode_song(path, sr))
        total += len(parts[-1]) / sr
        if total >= 180:
            break
    wavfile.write(out, sr, np.concatenate(parts)[: 180 * sr])
    return out


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def load_split(args: argparse.Namespace) -> tuple[list[str], list[Path], list[dict]]:
    """(names, audio paths, truths) of the split: the synthetic set's index, or the real recordings."""
    if args.split == "real":
        if not args.real.is_dir():
            sys.exit(f"no real recordings at {args.real}: pass --real DIR")
        songs = real_songs(args.real)
        return [s[0] for s in songs], [s[1] for s in songs], [s[2] for s in songs]
    index = json.loads((args.evalset / "index.json").read_text())
    names = [s["name"] for s in index if args.split in ("all", s["split"])]
    truths = [json.loads((args.evalset / f"{n}.json").read_text()) for n in names]
    return names, [args.evalset / f"{n}.wav" for n in names], truths


def evaluate(args: argparse.Namespace, names: list[str], paths: list[Path],
             truths: list[dict]) -> tuple[dict[str, dict[str, float]], dict[str, list[dict]]]:
    """Mean scores per method, and each song's row (with the estimated tempo and meter) per method."""
    scorer = score_real if args.split == "real" else score
    rows: dict[str, dict[str, float]] = {}
    songs: dict[str, list[dict]] = {}
    for label, fn in METHODS.items():
        if args.no_baseline and fn is baseline:
            continue
        per_song = []
        for name, path, truth in zip(names, paths, truths, strict=True):
            est = fn(path)
            per_song.append({**scorer(truth, est), "tempo": est["tempo"], "meter": est.get("meter")})
            if args.per_song:
                detail = " ".join(f"{k}={v:.2f}" for k, v in per_song[-1].items() if k not in ("tempo", "meter"))
                ref_tempo = truth.get("tempo") or 60.0 / float(np.median(np.diff(truth["beats"])))
                extra = f" meter={est['meter']}/{truth.get('meter')}" if "meter" in est else ""
                print(f"{label[:7]} {name:34s} tempo={est['tempo']:6.1f}/{ref_tempo:5.0f}{extra} {detail}",
                      file=sys.stderr)
        keys = [k for k in per_song[0] if k not in ("tempo", "meter")] + [
            k for k in ("downbeat F", "meter right") if any(k in r for r in per_song) and k not in per_song[0]]
        rows[label] = {k: float(np.mean([r[k] for r in per_song if k in r])) for k in keys}
        for k in ("meter right", "tempo right"):
            if k in rows[label]:
                rows[label][k] = sum(r.get(k, 0.0) for r in per_song)
        songs[label] = per_song
    return rows, songs


METHODS = {"mvpipe.analysis": ours, "librosa beat_track (defaults)": baseline}
COLS = ["beat F", "CMLt", "AMLt", "downbeat F", "tempo right", "meter right", "sections F@0.5s", "sections F@3s",
        "labels F", "s/min warm", "cold 3-min s"]


def print_table(rows: dict[str, dict[str, float]], counts: dict[str, int]) -> None:
    """The markdown table of mean scores, counts as n/N, and mvpipe's ratio to the baseline."""
    cols = [c for c in COLS if any(c in r for r in rows.values())]
    print("| method | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, row in rows.items():
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append(f"{int(v)}/{counts[c]}" if c in counts and v is not None else fmt(v))
        print(f"| {label} | " + " | ".join(cells) + " |")
    ours_row, base_row = rows["mvpipe.analysis"], rows.get("librosa beat_track (defaults)", {})
    ratios = []
    for c in cols:
        a, b = ours_row.get(c), base_row.get(c)
        ratios.append(f"{a / b:.2f}×" if a is not None and b and c not in counts else "–")
    print("| ratio mvpipe / baseline | " + " | ".join(ratios) + " |")


def print_real_songs(names: list[str], truths: list[dict], songs: dict[str, list[dict]]) -> None:
    """Per recording: the reference's tempo and meter, then each method's beat F, AMLt, downbeat F,
    tempo (bold-free: a tick when at the reference's level) and meter."""
    ours_rows, base_rows = songs["mvpipe.analysis"], songs["librosa beat_track (defaults)"]
    print("\n| recording | reference | ref. BPM / meter | mvpipe F / AMLt / downbeat F | mvpipe BPM / meter "
          "| librosa F / AMLt | librosa BPM |")
    print("|---|---|---|---|---|---|---|")
    for name, truth, o, b in zip(names, truths, ours_rows, base_rows, strict=True):
        ref_bpm = 60.0 / float(np.median(np.diff(truth["beats"])))
        who = "human" if truth.get("reference", "").startswith("human") else "madmom"
        tick = {True: " ✓", False: " ✗"}
        down = f"{o['downbeat F']:.2f}" if "downbeat F" in o else "–"
        meter = f"{o['meter']}{tick[bool(o['meter right'])]}" if "meter right" in o else f"{o['meter']}"
        print(f"| {name} | {who} | {ref_bpm:.0f} / {truth.get('meter') or '–'} "
              f"| {o['beat F']:.2f} / {o['AMLt']:.2f} / {down} | {o['tempo']:.0f}{tick[bool(o['tempo right'])]} / "
              f"{meter} | {b['beat F']:.2f} / {b['AMLt']:.2f} | {b['tempo']:.0f}{tick[bool(b['tempo right'])]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evalset", type=Path, default=ROOT / ".mvpipe/evalset")
    parser.add_argument("--real", type=Path, default=REAL, help="folder of real recordings with NAME.json references")
    parser.add_argument("--split", choices=["tuning", "heldout", "fresh", "fresh2", "sweep", "all", "real"],
                        default="tuning")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median reported)")
    parser.add_argument("--cold-repeats", type=int, default=1)
    parser.add_argument("--no-speed", action="store_true", help="skip the warm/cold timings")
    parser.add_argument("--per-song", action="store_true")
    parser.add_argument("--no-baseline", action="store_true", help="score mvpipe only (quick checks while tuning)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    names, paths, truths = load_split(args)
    rows, songs = evaluate(args, names, paths, truths)
    if not args.no_speed and not args.no_baseline:
        with tempfile.TemporaryDirectory() as tmp:
            long_song = three_minute_song(paths, Path(tmp) / "three_minutes.wav")
            for label, fn, code in (("mvpipe.analysis", ours, COLD_OURS),
                                    ("librosa beat_track (defaults)", baseline, COLD_BASE)):
                rows[label]["s/min warm"] = warm_speed(paths, fn, args.repeats)
                rows[label]["cold 3-min s"] = cold_start(code, long_song, args.cold_repeats)
    minutes = sum(len(decode_song(p, 8000)) / 8000 for p in paths) / 60
    print(f"{args.split} split: {len(names)} songs, {minutes:.1f} minutes of audio; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    ours_songs = songs["mvpipe.analysis"]
    counts = {"tempo right": len(names), "meter right": sum("meter right" in r for r in ours_songs)}
    print_table(rows, counts)
    if args.split == "real" and args.per_song and len(songs) == len(METHODS):
        print_real_songs(names, truths, songs)


if __name__ == "__main__":
    main()
