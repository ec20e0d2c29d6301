"""Benchmark a channel batch: one manifest of videos made serially, with --jobs, --parallel, and on a
2-worker local Dask cluster, as ratios against the serial run, in one run.

The job (default): six 2-minute 1080p draft videos from a manifest of song + template jobs (the
shared Vibe Ace, or the demo song, looped and cut at six offsets, so each video has its own analysis
and cut). A warm-up batch makes every take with the animatic once; each measured way then starts
from a copy of that folder with the takes and journal kept and the pieces, videos and reports
removed, so what is measured is planning and assembly, which is what the ways differ in.

Each way runs as its own process tree; reported: wall seconds, CPU seconds, and peak resident memory
(sampled every 50 ms from /proc) of the coordinator's tree and of each Dask worker's tree.

Usage: .venv/bin/python scripts/bench_batch.py [--videos 6] [--seconds 120] [--height 1080] [--work DIR]
(needs `distributed`: pip install 'mvpipe[cluster]').
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_assembly import _tree_rss, shared  # noqa: E402

from mvpipe.ffmpeg import run_ffmpeg  # noqa: E402


def make_manifest(work: Path, videos: int, seconds: float, height: int) -> Path:
    """``videos`` songs (one source cut at different offsets), a draft template and the manifest."""
    work.mkdir(parents=True, exist_ok=True)
    source = shared() / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    if not source.is_file():
        source = ROOT / "assets" / "demo_song.mp3"
    rows = ["song,id,title,template"]
    for k in range(videos):
        song = work / f"song{k}.wav"
        if not song.is_file():
            run_ffmpeg(["-stream_loop", "-1", "-i", str(source), "-ss", f"{k * 7.3:.1f}", "-t", f"{seconds:g}",
                        "-ar", "44100", "-ac", "2", str(song)], what="making a song")
        rows.append(f"{song.name},video{k},Video {k},look.yaml")
    (work / "look.yaml").write_text(f"output: {{height: {height}, quality: draft}}\nstyle: bench\n")
    manifest = work / "week.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def timed(cmd: list[str], env: dict[str, str], watch: list[int] = ()) -> dict:
    """Run ``cmd``; wall s, CPU s of its tree, and the peak MB of its tree and of each ``watch`` pid's tree."""
    began = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    peaks = {pid: 0 for pid in [proc.pid, *watch]}
    cpu_before = {pid: _cpu(pid) for pid in watch}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in peaks:
                peaks[pid] = max(peaks[pid], _tree_rss(pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(cmd)}")
    return {"wall": time.monotonic() - began,
            "cpu": usage.ru_utime + usage.ru_stime + sum(_cpu(pid) - cpu_before[pid] for pid in watch),
            "peak_mb": round(peaks[proc.pid] / 1e6), "worker_peak_mb": [round(peaks[p] / 1e6) for p in watch]}


def _cpu(pid: int) -> float:
    """CPU seconds of a running process and its reaped children (a Dask worker and its FFmpeg runs)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def fresh(warm: Path, dest: Path) -> Path:
    """A copy of the warmed-up batch with its takes and journals, without pieces, videos or reports."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(warm, dest)
    for path in list(dest.rglob("pieces")) + list(dest.rglob("out")) + list(dest.rglob("reports")):
        shutil.rmtree(path, ignore_errors=True)
    (dest / "week" / "batch-report.json").unlink(missing_ok=True)
    return dest


def start_cluster(env: dict[str, str]) -> tuple[str, list[subprocess.Popen]]:
    """`dask scheduler` and two single-threaded `dask worker` processes on 127.0.0.1."""
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    port = 8786 + os.getpid() % 1000
    scheduler = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"tcp://127.0.0.1:{port}"
    workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                 "--no-nanny", "--no-dashboard", "--memory-limit", "0"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    return address, [scheduler, *workers]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mvpipe-bench-batch"))
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MVPIPE_CACHE": str(args.work / "cache")}
    warm = args.work / "warm"
    manifest = make_manifest(warm, args.videos, args.seconds, args.height)
    mvpipe = [sys.executable, "-m", "mvpipe.cli"]
    print(f"warm-up: {args.videos} videos' takes with the animatic", file=sys.stderr)
    subprocess.run([*mvpipe, "batch", str(manifest)], env=env, check=True, stdout=subprocess.DEVNULL)
    boards = sorted((warm / "week").glob("video*/video*.yaml"))
    load = os.getloadavg()
    ways: dict[str, dict] = {}
    folder = fresh(warm, args.work / "serial")
    began = time.monotonic()
    runs = [timed([*mvpipe, "render", str(folder / b.relative_to(warm)), "--jobs", "1"], env) for b in boards]
    ways["render each, --jobs 1 (baseline)"] = {
        "wall": time.monotonic() - began, "cpu": sum(r["cpu"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs), "worker_peak_mb": []}
    for name, extra in (("batch (default --jobs)", []),
                        ("batch --jobs 2 --parallel 2", ["--jobs", "2", "--parallel", "2"])):
        folder = fresh(warm, args.work / "batch")
        ways[name] = timed([*mvpipe, "batch", str(folder / manifest.name), *extra], env)
    address, procs = start_cluster(env)
    try:
        folder = fresh(warm, args.work / "cluster")
        ways["batch --cluster (2 workers) --parallel 2"] = timed(
            [*mvpipe, "batch", str(folder / manifest.name), "--cluster", address, "--parallel", "2"], env,
            watch=[p.pid for p in procs[1:]])
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    base = ways["render each, --jobs 1 (baseline)"]
    print(f"{args.videos} videos x {args.seconds:g} s at {args.height}p draft; {os.cpu_count()} cores; "
          f"load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    print("| way | wall s | wall / baseline | CPU s | CPU / baseline | peak MB coordinator | peak MB per worker |")
    print("|---|---|---|---|---|---|---|")
    for name, r in ways.items():
        print(f"| {name} | {r['wall']:.1f} | {r['wall'] / base['wall']:.2f} | {r['cpu']:.1f} | "
              f"{r['cpu'] / base['cpu']:.2f} | {r['peak_mb']} | {', '.join(map(str, r['worker_peak_mb'])) or '-'} |")
    (args.work / "results.json").write_text(json.dumps(ways, indent=2))


if __name__ == "__main__":
    main()
