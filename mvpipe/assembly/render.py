"""Plan + takes -> MP4: encode the missing pieces, join them by stream copy, lay the song in once.

Each piece is cached under a hash of its exact FFmpeg command with every input file replaced by
the hash of its bytes (and the FFmpeg build), so anything that would change a piece's pixels
changes its key, and changing one shot re-encodes only the pieces that read its take. When a
body and the transition after it are both to be encoded, the body's run hands the transition its
outgoing frames (see ``graph``), so that take is decoded once; the key stays the plain command's,
since the pixels are the same either way. The joined
stream is checked before the output is renamed into place: one frame per planned frame, equal
timestamp steps, and the same codec headers in every piece (concat copy validates none of this).
The cache does not grow without end: each output remembers the files its latest render is made
of, and files that no existing output uses are removed once they are a day old.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvpipe.assembly import timeline
from mvpipe.assembly.audio import ClipSound, render_master, samples_for
from mvpipe.assembly.encoder import Codec, EncoderSettings, settings
from mvpipe.assembly.graph import Command, Source, piece_command, source_for
from mvpipe.assembly.models import PieceRecord, RenderManifest, SegmentRecord
from mvpipe.assembly.probe import probe, stream_facts
from mvpipe.captions.files import burns, check_sidecars, write_sidecars
from mvpipe.errors import MvpipeError
from mvpipe.ffmpeg import ffmpeg_exe, run_ffmpeg
from mvpipe.generation.provider import Take
from mvpipe.planner import Plan
from mvpipe.workspace import Workspace, atomic_path, file_digest, manifest_path, write_text_atomic

CACHE_VERSION = 1


def assemble(plan: Plan, takes: dict[tuple[str, int], Take], workspace: Workspace, out: Path, *,
             progress: Callable[[str], None] | None = None, jobs: int | None = None, codec: Codec = "h264",
             encoder: str = "auto", loudness: float | None = None, executor: Executor | None = None) -> RenderManifest:
    """Render ``plan`` with ``takes`` to ``out`` (atomically) and write its manifest beside it.

    ``jobs`` pieces encode at once (default :func:`default_jobs`); ``encoder`` is ``auto`` (a working
    hardware encoder, else software), ``software``, or an FFmpeg encoder name; ``loudness`` is a
    target in LUFS for two-pass loudness normalisation (off when None). With ``executor`` (e.g. a Dask
    cluster's) every FFmpeg run of the assembly goes to it (the pieces, the song's mix, its AAC and the final
    join): the song, the takes, the workspace and ``out``'s folder must be at the same path there.
    """
    began = time.monotonic()
    say = progress or (lambda _msg: None)
    out = Path(out)
    enc = settings(plan.width, plan.height, plan.fps, plan.quality, codec, encoder)
    parts = timeline.pieces(plan)
    need = timeline.needed_frames(plan, parts)
    _check_takes(plan, takes)
    warnings: list[str] = []
    sound_warnings: list[str] = []
    if plan.captions is not None:
        check_sidecars(out, manifest_path(out))
    burn, caption_files = burns(plan, [(p.start_frame, p.frames) for p in parts], workspace.pieces)

    workers = max(1, jobs or default_jobs(enc))
    ffmpegs = threading.Semaphore(workers)    # FFmpeg runs at once: the memory bound
    run = _runner(executor)

    def soundtrack() -> tuple[Path, Path]:
        with ffmpegs if workers > 1 else nullcontext():
            master = _audio(plan, takes, workspace, loudness, sound_warnings, say, run)
            return master, _aac(master, enc, run)

    # The soundtrack needs no piece and no probe: it is mixed and encoded from the start on a thread of its own.
    # Beside a single piece it runs freely (~90 MB); where several pieces run at once it takes the place of one.
    with ThreadPoolExecutor(max_workers=1) as side:
        audio = side.submit(soundtrack)
        sources = _sources(plan, takes, need, warnings, say)
        commands = [piece_command(p, sources, plan.fit, enc, burn=b) for p, b in zip(parts, burn, strict=True)]
        folder = workspace.pieces
        todo = work(parts, [_key(c) for c in commands], folder, {p.name for p in folder.iterdir()})
        say(f"{len(todo.encode)} of {len(parts)} pieces to encode ({enc.encoder}), "
            f"{len(parts) - len(todo.encode)} cached")
        headers = _encode_all(todo, parts, commands, lambda part, **lead: piece_command(
            part, sources, plan.fit, enc, burn=burn[parts.index(part)], **lead), workers, ffmpegs,
            lambda part: _describe(plan, part), say, run)
        master, aac = audio.result()
    warnings += sound_warnings
    subs = write_sidecars(plan, out, manifest_path(out))
    say("joining pieces and muxing the song")
    _join(todo.paths, set(headers.values()), aac, out, enc, plan,
          subs[0] if subs and plan.subtitles in ("track", "both") else None, run)
    manifest = _manifest(plan, out, enc, loudness, sources, need, parts, todo, warnings,
                         round(time.monotonic() - began, 3), subs)
    write_text_atomic(manifest_path(out), manifest.model_dump_json(indent=2))
    removed, freed = _keep_and_prune(folder, out, [*todo.paths, master, aac, *caption_files])
    if removed:
        say(f"removed {removed} cached files no render uses any more ({freed / 1e6:.0f} MB)")
    say(f"wrote {out} in {manifest.seconds:.1f}s")
    return manifest


Run = Callable[..., Any]


def _runner(executor: Executor | None) -> Run:
    """``run(fn, *args, **kwargs)``: here, or on ``executor`` (a cluster's workers) and waited for, so
    every FFmpeg step of a render goes one way and its errors surface here alike."""
    if executor is None:
        return lambda fn, *args, **kwargs: fn(*args, **kwargs)
    return lambda fn, *args, **kwargs: executor.submit(fn, *args, **kwargs).result()


def _check_takes(plan: Plan, takes: dict[tuple[str, int], Take]) -> None:
    for seg in plan.segments:
        if (seg.shot, seg.part) not in takes:
            raise MvpipeError(f"no take for shot '{seg.shot}' part {seg.part}; generate it before assembling.")


@dataclass(frozen=True)
class Work:
    """What one render encodes, decided before any FFmpeg runs."""

    keys: list[str]            # every piece's cache key, in output order
    paths: list[Path]          # every piece's cached file
    encode: dict[str, int]     # key -> index of the first piece with it, for pieces not cached
    handed: set[int]           # transitions whose outgoing frames the body before them writes in this run
    leads: dict[int, Path]     # transition index -> the lead file its outgoing frames are read from, if there


def work(parts: list[timeline.Piece], keys: list[str], folder: Path, cached: set[str]) -> Work:
    """The pieces to encode and how they hand frames on; pure (``cached``: the file names in ``folder``).

    A lead left by an interrupted run is used too: it was written atomically and depends on nothing but its key.
    """
    paths = [folder / f"{key}.mp4" for key in keys]
    encode: dict[str, int] = {}
    for i, (key, path) in enumerate(zip(keys, paths, strict=True)):
        if key not in encode and path.name not in cached:
            encode[key] = i
    handed = {i for i in encode.values() if i > 0 and encode.get(keys[i - 1]) == i - 1
              and _hands_off(parts[i - 1], parts[i])}
    leads = {i: folder / f"{keys[i]}.lead.nut" for i in encode.values() if parts[i].a is not None}
    return Work(keys=keys, paths=paths, encode=encode, handed=handed, leads=leads)


def _encode_all(todo: Work, parts: list[timeline.Piece], commands: list[Command],
                command_with: Callable[..., Command], workers: int, ffmpegs: threading.Semaphore,
                describe: Callable[[timeline.Piece], str], say: Callable[[str], None],
                run: Run) -> dict[str, str]:
    """Encode ``todo``'s pieces, ``workers`` FFmpeg runs at once; returns key -> codec headers of every piece."""
    futures: dict[int, Future[None]] = {}
    headers: dict[str, str] = {}       # key -> the piece's codec headers, which must all be equal

    def encode(i: int) -> None:
        part = parts[i]
        if i in todo.handed:
            wait([futures[i - 1]])       # submitted first, so already running: no deadlock
        lead_in = todo.leads[i] if i in todo.leads and todo.leads[i].is_file() else None
        lead_out = parts[i + 1].frames if i + 1 in todo.handed else 0
        cmd = command_with(part, lead_in=lead_in, lead_out=lead_out) if lead_in or lead_out else commands[i]
        try:
            headers[todo.keys[i]] = _encode_piece(cmd, todo.paths[i], part.frames, ffmpegs,
                                                  todo.leads[i + 1] if lead_out else None, describe(part),
                                                  run)
        finally:
            if lead_in is not None:
                lead_in.unlink(missing_ok=True)
        say(f"encoded {describe(part)}{', outgoing frames from the lead' if lead_in else ''}")

    # One thread more than FFmpeg runs: a piece's check overlaps the next piece's encode.
    with ThreadPoolExecutor(max_workers=workers + 1) as pool:
        for i in todo.encode.values():
            futures[i] = pool.submit(encode, i)
        for key, path in zip(todo.keys, todo.paths, strict=True):
            if key not in todo.encode and key not in headers:
                headers[key] = stream_facts(path).extradata
        for future in futures.values():
            future.result()
    return headers


def _manifest(plan: Plan, out: Path, enc: EncoderSettings, loudness: float | None, sources: list[Source],
              need: list[int], parts: list[timeline.Piece], todo: Work, warnings: list[str],
              seconds: float, subs: list[Path]) -> RenderManifest:
    """What this render was made of, to check the video against and to re-render it from."""
    return RenderManifest(
        output=out, song=plan.song, song_start=plan.song_start, song_end=plan.song_end, fps=plan.fps,
        frames=plan.frames, width=plan.width, height=plan.height, fit=plan.fit, quality=plan.quality,
        codec=enc.codec, encoder=enc.encoder, loudness_lufs=loudness,
        audio_levels={s.shot: s.audio for s in plan.segments if s.audio > 0},
        cuts=[s.start_frame for s in plan.segments[1:] if not s.transition_frames],
        segments=[SegmentRecord(shot=s.shot, part=s.part, start_frame=s.start_frame, end_frame=s.end_frame,
                                transition=s.transition, transition_frames=s.transition_frames,
                                head_frames=s.head_frames, take=src.info.path, needed_frames=n,
                                available_frames=src.available, speed=src.speed)
                  for s, src, n in zip(plan.segments, sources, need, strict=True)],
        pieces=[PieceRecord(key=key, kind=p.kind, start_frame=p.start_frame, frames=p.frames,
                            shots=[plan.segments[s].shot for s in p.segments], reused=key not in todo.encode)
                for key, p in zip(todo.keys, parts, strict=True)],
        encoded=len(todo.encode), reused=len(parts) - len(todo.encode), seconds=seconds, warnings=warnings,
        sidecars=subs, captions=plan.captions.lines if plan.captions else [])


# An unused cached file younger than this is left alone: it may be a render's that is running now.
_PRUNE_AFTER_S = 24 * 3600


def _keep_and_prune(folder: Path, out: Path, used: list[Path]) -> tuple[int, int]:
    """Record the cached files ``out`` is made of; delete old files that no output's latest render uses.

    Pieces are worth keeping while a video could be re-rendered from them: the latest render of every
    output that still exists. Returns (files removed, bytes freed).
    """
    records = folder / "renders"
    out = out.resolve()
    write_text_atomic(records / f"{_hash(str(out))}.json",
                      json.dumps({"output": str(out), "files": sorted({p.name for p in used})}))
    keep: set[str] = set()
    for record in records.glob("*.json"):
        try:
            doc = json.loads(record.read_text())
            alive = Path(doc["output"]).is_file()
        except (OSError, ValueError, KeyError, TypeError):
            alive = False
        if alive:
            keep.update(doc["files"])
        else:
            record.unlink(missing_ok=True)
    removed, freed, cutoff = 0, 0, time.time() - _PRUNE_AFTER_S
    for entry in folder.iterdir():
        if entry.name in keep or not entry.is_file():
            continue
        st = entry.stat()
        if st.st_mtime < cutoff:
            entry.unlink(missing_ok=True)
            removed, freed = removed + 1, freed + st.st_size
    return removed, freed


def default_jobs(enc: EncoderSettings) -> int:
    """Pieces to encode at once: one per core for an encoder that runs on one thread (a draft's
    x264; at most 8, each holds ~250 MB at 1080p), else one per 4 cores (at most 4).

    A threaded x264 already runs ~1.5 threads per core: on 2 cores a second job took 8 % off a draft
    render's wall time but raised its peak memory from ~450 to 766 MB (docs/benchmarks.md). Two
    single-threaded pieces side by side keep both cores busy through each piece's start and flush.
    """
    cores = os.cpu_count() or 1
    return max(1, min(8, cores)) if enc.piece_threads == 1 else max(1, min(4, cores // 4))


def _sources(plan: Plan, takes: dict[tuple[str, int], Take], need: list[int], warnings: list[str],
             say: Callable[[str], None]) -> list[Source]:
    """Probe each segment's take and say how it covers the frames its pieces need."""
    sources = []
    for k, seg in enumerate(plan.segments):
        src = source_for(probe(takes[(seg.shot, seg.part)].path), need[k], plan.fps, seg.if_short)
        if need[k] > src.available:
            how = f"slowed to {1 / src.speed:.0%} speed" if src.speed != 1.0 else "its last frame held"
            warnings.append(f"shot '{seg.shot}': take is {src.available} frames, needs {need[k]}; {how}.")
            say(f"warning: {warnings[-1]}")
        sources.append(src)
    return sources


def _describe(plan: Plan, part: timeline.Piece) -> str:
    """A piece as a user knows it: ``body highway`` or ``transition highway, car`` (output frames)."""
    shots = ", ".join(plan.segments[s].shot for s in part.segments)
    return f"{part.kind} {shots} (frames {part.start_frame}-{part.start_frame + part.frames - 1})"


def _hands_off(body: timeline.Piece, transition: timeline.Piece) -> bool:
    """True when ``transition``'s outgoing window continues ``body``'s window in the same take."""
    a = transition.a
    return (body.kind == "body" and transition.kind == "transition" and a is not None
            and a.segment == body.b.segment and a.offset == body.b.offset + body.b.frames)


def _encode_piece(cmd: Command, dest: Path, frames: int, ffmpegs: threading.Semaphore,
                  lead: Path | None, piece: str, run: Run) -> str:
    """Encode one piece (and, with ``lead``, the next transition's lead frames), each written atomically.

    FFmpeg runs only while holding one of ``ffmpegs`` (the memory bound); the check after it does
    not. Returns the piece's codec headers.
    """
    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(dest))
        lead_tmp = stack.enter_context(atomic_path(lead)) if lead is not None else None
        with ffmpegs:
            run(run_ffmpeg, cmd.args(tmp, lead_tmp), what="encoding a piece", piece=piece)
        facts = stream_facts(tmp)
        if facts.frames != frames:
            raise MvpipeError(f"piece {dest.name} has {facts.frames} frames, expected {frames}.")
    return facts.extradata


def _audio(plan: Plan, takes: dict[tuple[str, int], Take], workspace: Workspace, loudness: float | None,
           warnings: list[str], say: Callable[[str], None], run: Run) -> Path:
    """The cached audio master for this plan: the song range plus any clip sounds, as float WAV."""
    clips = []
    for seg in plan.segments:
        if seg.audio <= 0:
            continue
        if not probe(takes[(seg.shot, seg.part)].path).audio_ok:
            warnings.append(f"shot '{seg.shot}': audio level {seg.audio} but its take has no usable sound; "
                            "the song plays alone there.")
            say(f"warning: {warnings[-1]}")
            continue
        clips.append(ClipSound(path=takes[(seg.shot, seg.part)].path, take_offset=seg.head_frames / plan.fps,
                               start_sample=samples_for(seg.start_frame, plan.fps),
                               samples=samples_for(seg.frames, plan.fps), level=min(1.0, seg.audio)))
    total = samples_for(plan.frames, plan.fps)
    doc = {"v": CACHE_VERSION, "ffmpeg": _ffmpeg_id(), "song": file_digest(plan.song), "start": plan.song_start,
           "total": total, "loudness": loudness,
           "clips": [[file_digest(c.path), c.model_dump(mode="json", exclude={"path"})] for c in clips]}
    dest = workspace.pieces / f"audio-{_hash(doc)}.wav"
    if not dest.is_file():
        run(render_master, plan.song, plan.song_start, total, clips, dest, loudness)
    return dest


def _aac(master: Path, enc: EncoderSettings, run: Run) -> Path:
    """The master encoded once to AAC and cached beside it: a re-render only copies it (saves ~2 s of 7)."""
    dest = master.with_name(f"{master.stem}-aac-{_hash(enc.audio_args)[:12]}.m4a")
    if not dest.is_file():
        with atomic_path(dest) as tmp:
            run(run_ffmpeg, ["-i", str(master), *enc.audio_args, "-ar", "48000", "-ac", "2", "-f", "mp4",
                             str(tmp)], what="encoding the audio")
    return dest


def _join(paths: list[Path], headers: set[str], aac: Path, out: Path, enc: EncoderSettings, plan: Plan,
          subs: Path | None, run: Run) -> None:
    """Concatenate the pieces by stream copy, add the audio (encoded once, copied), verify, rename.

    ``headers``: the distinct codec headers of the pieces (read as they were encoded or found);
    ``subs``: a SubRip file to add as a soft subtitle track (MP4 timed text).
    """
    if len(headers) != 1:
        raise MvpipeError("pieces have different codec headers and cannot be joined; delete the piece cache "
                          f"({paths[0].parent}) and render again.")
    fd, listing = tempfile.mkstemp(prefix="concat-", suffix=".ffconcat", dir=paths[0].parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("ffconcat version 1.0\n")
            for p in paths:
                quoted = str(p.resolve()).replace("'", "'\\''")   # the concat format's quoting
                f.write(f"file '{quoted}'\n")
        tag = ["-tag:v", "hvc1"] if enc.codec == "h265" else []
        # The concat demuxer offsets each file by durations rounded to microseconds; over many pieces
        # that drifts off the frame grid. Snap every timestamp back onto it (drift stays << 1 frame).
        step = enc.timescale // enc.fps
        snap = f"setts=pts=round(PTS/{step})*{step}:dts=round(DTS/{step})*{step}"
        with atomic_path(out) as tmp:
            track = ["-i", str(subs), "-map", "2:s:0", "-c:s", "mov_text"] if subs is not None else []
            run(run_ffmpeg, ["-f", "concat", "-safe", "0", "-i", listing, "-i", str(aac), *track[:2],
                             "-map", "0:v:0", "-map", "1:a:0", *track[2:], "-c:v", "copy", *tag, "-bsf:v", snap,
                             "-c:a", "copy", "-movflags", "+faststart",
                             "-metadata", f"title={plan.title}", "-f", "mp4", str(tmp)],
                what="joining pieces and muxing the song")
            facts = stream_facts(tmp)
            if facts.frames != plan.frames or not facts.uniform:
                raise MvpipeError(f"joined video has {facts.frames} frames (planned {plan.frames}), "
                                  f"timestamps {'uniform' if facts.uniform else 'uneven'}.")
    finally:
        Path(listing).unlink(missing_ok=True)


def _key(cmd: Command) -> str:
    doc = {"v": CACHE_VERSION, "ffmpeg": _ffmpeg_id(), "inputs": [[o, file_digest(p)] for o, p in cmd.inputs],
           "graph": cmd.graph, "output": cmd.output}
    return _hash(doc)


def _hash(doc: object) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


@functools.cache
def _ffmpeg_id() -> str:
    exe = Path(ffmpeg_exe())
    st = exe.stat()
    return f"{exe.name}:{st.st_size}"
