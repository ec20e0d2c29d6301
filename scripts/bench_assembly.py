"""Benchmark the assembler against MoviePy 2 and against the encode floor, in one run.

The job: ~30 takes of mixed sizes and frame rates (1080p30, 720p24, 720p25, 1080p60, 540p29.97),
cut on a 120 BPM beat grid with crossfades and fades, 2 minutes of 1080p30 output with the song as
its only audio. For each quality preset it times, as separate processes (wall seconds and peak
memory of the whole process tree, sampled from /proc):

* mvpipe: a full render into an empty piece cache;
* mvpipe re-render: the same plan with one shot's take replaced (the incremental path);
* MoviePy 2: the same trims, cover scaling, crossfades (fades as crossfades from/to black) and
  song, written with the same x264 preset and CRF;
* the encode floor: FFmpeg decoding mvpipe's own output and re-encoding it with the same settings.

With ``--lyrics`` it times instead the cost of burned-in captions: the same job rendered into an
empty piece cache without lyrics, with a line every bar (every piece carries captions), and without
again, each as its own process; the ratio is against the mean of the two runs without.

Usage: .venv/bin/python scripts/bench_assembly.py [--quick] [--qualities final,draft] [--lyrics] [--work DIR]
(MoviePy is a benchmark-only dependency: pip install "moviepy>=2,<3" into the venv.)
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

from mvpipe.assembly.encoder import settings  # noqa: E402
from mvpipe.captions.models import CaptionLine, CaptionTrack  # noqa: E402
from mvpipe.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402
from mvpipe.generation.provider import ClipRequest, Take  # noqa: E402
from mvpipe.planner import Plan, Segment  # noqa: E402
from mvpipe.storyboard import Captions  # noqa: E402

# (size, fps) of the takes, cycled: what a mix of providers and stock footage looks like.
FORMATS = [("1920x1080", "30"), ("1280x720", "24"), ("1280x720", "25"), ("1920x1080", "60"),
           ("960x540", "30000/1001")]
TRANSITIONS = [("cut", 0), ("crossfade", 12), ("cut", 0), ("fade-black", 12), ("cut", 0), ("crossfade", 8)]


def shared() -> Path:
    return Path(os.environ.get("MVPIPE_SHARED") or ROOT.parent / "shared")


# ---------------------------------------------------------------- the job


def make_inputs(work: Path, takes: int, seconds: float) -> tuple[Path, list[Path]]:
    """The song (the shared Vibe Ace looped, or pink noise) and the take clips (moving test patterns)."""
    work.mkdir(parents=True, exist_ok=True)
    song = work / "song.wav"
    if not song.is_file():
        source = shared() / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
        src = ["-stream_loop", "2", "-i", str(source)] if source.is_file() else \
            ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.3:seed=3"]
        run_ffmpeg([*src, "-t", f"{seconds + 5}", "-ar", "44100", "-ac", "2", str(song)], what="making the song")
    clips = []
    for k in range(takes):
        size, fps = FORMATS[k % len(FORMATS)]
        dest = work / f"take{k:02d}.mp4"
        if not dest.is_file():
            length = seconds / takes + 2.0
            run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={length:.3f}",
                        "-vf", f"hue=h={k * 37 % 360}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-pix_fmt", "yuv420p", str(dest)], what="making a take")
        clips.append(dest)
    return song, clips


def make_plan(song: Path, takes: int, seconds: float, width: int, height: int, fps: int,
              quality: str, out: Path) -> Plan:
    """Segments of 6-10 beats at 120 BPM, every cut on a beat frame, transitions cycled."""
    beat = 0.5
    total = round(seconds * fps)
    cuts = [0]
    for k in range(1, takes):
        cuts.append(round(round(k * seconds / takes / beat) * beat * fps))
    cuts.append(total)
    segs = []
    for k in range(takes):
        name, t = TRANSITIONS[k % len(TRANSITIONS)] if k else ("cut", 0)
        nxt = TRANSITIONS[(k + 1) % len(TRANSITIONS)] if k + 1 < takes else ("cut", 0)
        head, tail = (t // 2 if k else 0), nxt[1] - nxt[1] // 2
        secs = (head + cuts[k + 1] - cuts[k] + tail) / fps
        req = ClipRequest(shot=f"shot{k:02d}", shot_number=k + 1, provider="bench", model="testsrc",
                          prompt="bench", seconds=secs, width=width, height=height, aspect="16:9", fps=fps)
        segs.append(Segment(start_frame=cuts[k], end_frame=cuts[k + 1], transition=name, transition_frames=t,
                            head_frames=head, tail_frames=tail, request=req))
    return Plan(song=song, song_sha256="0" * 64, song_start=0.0, song_end=total / fps, fps=fps, width=width,
                height=height, aspect="16:9", fit="cover", quality=quality, output=out, frames=total,
                segments=segs, paid_seconds=0.0, screen_seconds=total / fps, estimated_cost_usd=0.0)


# ---------------------------------------------------------------- measuring


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall s, CPU s of the whole tree, peak MB of the tree sampled every 50 ms).

    CPU seconds barely move with other work on the machine; wall seconds do: read both.
    """
    began = time.monotonic()
    proc = subprocess.Popen(cmd)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    wall = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({proc.returncode}): {' '.join(cmd[:6])} ...")
    return wall, usage.ru_utime + usage.ru_stime, peak / 1e6


# ---------------------------------------------------------------- the three ways (run as child processes)


def run_mvpipe(job: dict) -> None:
    from mvpipe.assembly import assemble
    from mvpipe.workspace import Workspace

    plan = Plan.model_validate(job["plan"])
    takes = {(s.shot, s.part): Take(shot=s.shot, key=s.shot, path=Path(p),
                                    provider="bench", model="testsrc")
             for s, p in zip(plan.segments, job["takes"], strict=True)}
    m = assemble(plan, takes, Workspace(Path(job["workspace"])), Path(job["out"]), jobs=job.get("jobs"),
                 encoder="software")
    Path(job["out"] + ".stats.json").write_text(json.dumps({"encoded": m.encoded, "reused": m.reused}))


def run_moviepy(job: dict) -> None:
    from moviepy import AudioFileClip, ColorClip, CompositeVideoClip, VideoFileClip, vfx

    plan = Plan.model_validate(job["plan"])
    fps, w, h = plan.fps, plan.width, plan.height
    layers = []
    for k, (seg, path) in enumerate(zip(plan.segments, job["takes"], strict=True)):
        t = seg.transition_frames if seg.transition != "cut" else 0
        nxt = plan.segments[k + 1] if k + 1 < len(plan.segments) else None
        tail = nxt.transition_frames - nxt.head_frames if nxt is not None and nxt.transition != "cut" else 0
        begin = seg.start_frame - seg.head_frames
        length = (seg.end_frame + tail - begin) / fps
        clip = VideoFileClip(path, audio=False).subclipped(0, length)
        scale = max(w / clip.w, h / clip.h)
        clip = clip.resized(scale).cropped(x_center=clip.w * scale / 2, y_center=clip.h * scale / 2,
                                           width=w, height=h)
        effects = [vfx.CrossFadeIn(t / fps)] if t else []
        layers.append(clip.with_effects(effects).with_start(begin / fps))
    video = CompositeVideoClip([ColorClip((w, h), color=(0, 0, 0), duration=plan.frames / fps), *layers],
                               size=(w, h)).with_duration(plan.frames / fps)
    video = video.with_audio(AudioFileClip(str(plan.song)).subclipped(plan.song_start, plan.song_end))
    enc = settings(w, h, fps, plan.quality, encoder="software")
    preset = enc.video_args[enc.video_args.index("-preset") + 1]
    crf = enc.video_args[enc.video_args.index("-crf") + 1]
    bitrate = enc.audio_args[enc.audio_args.index("-b:a") + 1]
    video.write_videofile(job["out"], fps=fps, codec="libx264", preset=preset, audio_codec="aac",
                          audio_bitrate=bitrate, ffmpeg_params=["-crf", crf, "-pix_fmt", "yuv420p"],
                          threads=os.cpu_count(), logger=None)


def floor_cmd(source: Path, dest: Path, plan: Plan) -> list[str]:
    """The same encoder settings, except threads: one stream on one thread would be a straw man, so the
    floor lets x264 thread itself (as many frame threads as it likes, on every core)."""
    enc = settings(plan.width, plan.height, plan.fps, plan.quality, encoder="software")
    args = list(enc.video_args)
    if "-threads" in args:
        del args[args.index("-threads"):args.index("-threads") + 2]
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
            "-map", "0:v", "-map", "0:a", *args, "-c:a", "copy", "-movflags", "+faststart", str(dest)]


# ---------------------------------------------------------------- driver


def child(kind: str, job: dict, work: Path) -> list[str]:
    path = work / f"job-{kind}-{len(list(work.glob('job-*.json')))}.json"
    path.write_text(json.dumps(job, default=str))
    return [sys.executable, __file__, "--child", kind, str(path)]


def bench(quality: str, args: argparse.Namespace, work: Path, song: Path, clips: list[Path]) -> dict:
    w, h = (1920, 1080) if not args.quick else (1280, 720)
    plan = make_plan(song, len(clips), args.seconds, w, h, 30, quality, work / "out.mp4")
    ws = work / f"ws-{quality}"
    shutil.rmtree(ws, ignore_errors=True)
    out = work / f"mvpipe-{quality}.mp4"
    job = {"plan": plan.model_dump(mode="json"), "takes": [str(c) for c in clips], "workspace": str(ws),
           "out": str(out), "jobs": args.jobs}
    row: dict = {"quality": quality, "frames": plan.frames, "takes": len(clips), "size": f"{w}x{h}"}
    print(f"[{quality}] mvpipe full render ...", flush=True)
    row["mvpipe_s"], row["mvpipe_cpu"], row["mvpipe_mb"] = timed(child("mvpipe", job, work))
    print(f"[{quality}] mvpipe re-render after changing one shot ...", flush=True)
    changed = list(job["takes"])
    k = len(clips) // 2
    changed[k] = str(clips[(k + 1) % len(clips)])      # a different take (size, rate, content) for one shot
    row["rerender_s"], row["rerender_cpu"], row["rerender_mb"] = timed(child("mvpipe", {**job, "takes": changed,
                                                                    "out": str(work / "rerender.mp4")}, work))
    row["rerender_stats"] = json.loads(Path(str(work / "rerender.mp4") + ".stats.json").read_text())
    print(f"[{quality}] encode floor ...", flush=True)
    row["floor_s"], row["floor_cpu"], row["floor_mb"] = timed(floor_cmd(out, work / f"floor-{quality}.mp4", plan))
    if not args.skip_moviepy:
        print(f"[{quality}] MoviePy 2 ...", flush=True)
        mp = {**job, "out": str(work / f"moviepy-{quality}.mp4")}
        row["moviepy_s"], row["moviepy_cpu"], row["moviepy_mb"] = timed(child("moviepy", mp, work))
    row["full_vs_floor"] = row["mvpipe_s"] / row["floor_s"]
    row["full_vs_floor_cpu"] = row["mvpipe_cpu"] / row["floor_cpu"]
    row["rerender_vs_full"] = row["rerender_s"] / row["mvpipe_s"]
    if "moviepy_s" in row:
        row["moviepy_vs_mvpipe"] = row["moviepy_s"] / row["mvpipe_s"]
    print(json.dumps(row), flush=True)
    return row


def with_lyrics(plan: Plan) -> Plan:
    """The plan with a line on every bar (120 BPM, 4/4: 2 s), lines of 30-40 characters."""
    bar = 2 * plan.fps
    lines = [CaptionLine(text=f"bar {k + 1}: the words we wrote for this one", start_frame=k * bar,
                         end_frame=min(plan.frames, (k + 1) * bar)) for k in range(plan.frames // bar)]
    return plan.model_copy(update={"captions": CaptionTrack(style=Captions(), lines=lines)})


def bench_lyrics(quality: str, args: argparse.Namespace, work: Path, song: Path, clips: list[Path]) -> dict:
    """Full renders into an empty piece cache: without lyrics, with a line every bar, without again."""
    w, h = (1920, 1080) if not args.quick else (1280, 720)
    plan = make_plan(song, len(clips), args.seconds, w, h, 30, quality, work / "out.mp4")
    row: dict = {"quality": quality, "frames": plan.frames, "size": f"{w}x{h}", "lines": 0}
    for name, p in (("bare", plan), ("lyrics", with_lyrics(plan)), ("bare2", plan)):
        ws = work / f"ws-{quality}-{name}"
        shutil.rmtree(ws, ignore_errors=True)
        job = {"plan": p.model_dump(mode="json"), "takes": [str(c) for c in clips], "workspace": str(ws),
               "out": str(work / f"{name}-{quality}.mp4"), "jobs": args.jobs}
        print(f"[{quality}] mvpipe full render, {name} ...", flush=True)
        row[f"{name}_s"], row[f"{name}_cpu"], row[f"{name}_mb"] = timed(child("mvpipe", job, work))
        row["lines"] = max(row["lines"], len(p.captions.lines) if p.captions else 0)
    row["lyrics_vs_bare_cpu"] = row["lyrics_cpu"] / ((row["bare_cpu"] + row["bare2_cpu"]) / 2)
    row["lyrics_vs_bare_wall"] = row["lyrics_s"] / ((row["bare_s"] + row["bare2_s"]) / 2)
    row["load_after"] = os.getloadavg()   # 1, 5, 15 min: how busy the machine was
    print(json.dumps(row), flush=True)
    return row


def lyrics_table(rows: list[dict]) -> str:
    head = ("| preset | lines | without (CPU s, wall s) | with (CPU s, wall s) | without again | with / without: CPU, "
            "wall | peak MB without, with |\n|---|---|---|---|---|---|---|\n")
    return head + "\n".join(
        f"| {r['quality']} | {r['lines']} | {r['bare_cpu']:.1f}, {r['bare_s']:.1f} | {r['lyrics_cpu']:.1f}, "
        f"{r['lyrics_s']:.1f} | {r['bare2_cpu']:.1f}, {r['bare2_s']:.1f} | {r['lyrics_vs_bare_cpu']:.3f}×, "
        f"{r['lyrics_vs_bare_wall']:.3f}× | {max(r['bare_mb'], r['bare2_mb']):.0f}, {r['lyrics_mb']:.0f} |"
        for r in rows)


def table(rows: list[dict]) -> str:
    head = ("| preset | mvpipe full | re-render one shot | encode floor | MoviePy 2 | full / floor (wall, CPU) | "
            "re-render / full | MoviePy / mvpipe | peak MB: mvpipe, floor, MoviePy |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        mp = f"{r['moviepy_s']:.1f} s" if "moviepy_s" in r else "—"
        ratio = f"{r['moviepy_vs_mvpipe']:.2f}×" if "moviepy_s" in r else "—"
        mem = f"{max(r['mvpipe_mb'], r['rerender_mb']):.0f}, {r['floor_mb']:.0f}, " + \
            (f"{r['moviepy_mb']:.0f}" if "moviepy_mb" in r else "—")
        lines.append(f"| {r['quality']} | {r['mvpipe_s']:.1f} s | {r['rerender_s']:.1f} s | {r['floor_s']:.1f} s "
                     f"| {mp} | {r['full_vs_floor']:.2f}×, {r['full_vs_floor_cpu']:.2f}× "
                     f"| {r['rerender_vs_full']:.3f}× | {ratio} | {mem} |")
    return head + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 takes, 20 s, 720p30: a smoke run in a minute or two")
    ap.add_argument("--qualities", default="final,draft")
    ap.add_argument("--jobs", type=int, default=None, help="pieces mvpipe encodes at once (default: mvpipe's)")
    ap.add_argument("--skip-moviepy", action="store_true")
    ap.add_argument("--lyrics", action="store_true", help="time burned-in captions (a line every bar) instead")
    ap.add_argument("--work", type=Path, default=Path("/tmp/mvpipe-bench"))
    ap.add_argument("--child", nargs=2, metavar=("KIND", "JOB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        job = json.loads(Path(args.child[1]).read_text())
        {"mvpipe": run_mvpipe, "moviepy": run_moviepy}[args.child[0]](job)
        return
    takes, args.seconds = (8, 20.0) if args.quick else (30, 120.0)
    work = args.work / ("quick" if args.quick else "full")
    song, clips = make_inputs(work, takes, args.seconds)
    run = bench_lyrics if args.lyrics else bench
    rows = [run(q, args, work, song, clips) for q in args.qualities.split(",")]
    print()
    print(f"command: .venv/bin/python scripts/bench_assembly.py {' '.join(sys.argv[1:])}")
    print(lyrics_table(rows) if args.lyrics else table(rows))
    (work / ("results-lyrics.json" if args.lyrics else "results.json")).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
