"""Measure a finished video: frames, timestamps, where its hard cuts fall, and its audio against the song.

Cuts are found on decoded frames (tiny greyscale thumbnails, one byte per pixel): a hard cut is
a frame that differs from the one before far more than its neighbours differ from each other.
The audio offset is the lag that best aligns the output's sound with the song's range, found by
cross-correlation near the start and near the end, so both an offset and a drift show.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from pydantic import ValidationError

from mvpipe.assembly.models import CheckReport, RenderManifest
from mvpipe.assembly.probe import stream_facts
from mvpipe.errors import InputError
from mvpipe.ffmpeg import decode_audio, run_ffmpeg
from mvpipe.workspace import manifest_path

_THUMB = (64, 36)
_SR = 16000          # audio rate for the offset measurement: 1/16 ms per sample
_WINDOW = 8.0        # seconds of audio correlated at each end
_MAX_LAG = 0.5       # seconds either way


def check(video: Path, manifest: Path | None = None) -> CheckReport:
    """Report on ``video``; compare with its render manifest (default: the one beside it, if any)."""
    video = Path(video)
    if not video.is_file():
        raise InputError("video not found.", file=video)
    if manifest is not None and not Path(manifest).is_file():
        raise InputError("manifest not found.", file=manifest, field="--manifest",
                         hint="Give the NAME.manifest.json written beside the video, or leave --manifest out.")
    manifest = Path(manifest) if manifest else manifest_path(video)
    plan = _manifest(manifest) if manifest.is_file() else None
    try:
        facts = stream_facts(video)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InputError(f"not a video FFmpeg reads ({exc}).", file=video, hint="Give a video mvpipe rendered.") \
            from None
    if facts.frames == 0:
        raise InputError("no video frames in this file.", file=video, hint="Give a video mvpipe rendered.")
    fps = 1 / facts.step if facts.step else 0.0
    cuts = find_cuts(video)
    report = CheckReport(video=video, manifest=manifest if plan else None, frames=facts.frames, fps=fps,
                         duration=facts.duration, uniform_timestamps=facts.uniform, cuts_found=cuts)
    problems = report.problems
    if not facts.uniform:
        problems.append("video timestamps advance in uneven steps")
    if plan is None:
        return report
    expected = plan.frames / plan.fps
    report.expected_frames = plan.frames
    report.expected_duration = expected
    report.cuts_planned = plan.cuts
    report.cuts_missing = sorted(set(plan.cuts) - set(cuts))
    inside = {f for s in plan.segments for f in range(s.start_frame - s.head_frames,
                                                      s.start_frame - s.head_frames + s.transition_frames + 1)}
    report.cuts_unplanned = [c for c in cuts if c not in plan.cuts and c not in inside]
    if facts.frames != plan.frames:
        problems.append(f"{facts.frames} frames, planned {plan.frames}")
    if abs(facts.duration - expected) >= 1 / plan.fps:
        problems.append(f"duration {facts.duration:.3f}s, song range {expected:.3f}s")
    if report.cuts_missing:
        problems.append(f"planned cuts not found at frames {report.cuts_missing}")
    report.audio_offset_ms = audio_offsets(video, plan.song, plan.song_start, expected)
    if any(abs(o) > 1.0 for o in report.audio_offset_ms):
        problems.append(f"audio is off the song by {report.audio_offset_ms} ms")
    return report


def _manifest(path: Path) -> RenderManifest:
    try:
        return RenderManifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        raise InputError(f"not a render manifest: {err['msg']}.", file=path, field=where,
                         hint="Render the video again to rewrite it, or pass --manifest with the right file.") from None


def frame_signatures(video: Path, size: tuple[int, int] = _THUMB, gray: bool = True) -> np.ndarray:
    """Every decoded frame as a small thumbnail array, shape (frames, h, w[, 3])."""
    w, h = size
    fmt, depth = ("gray", 1) if gray else ("rgb24", 3)
    raw = run_ffmpeg(["-i", str(video), "-map", "0:v:0", "-vf", f"scale={w}:{h}:flags=area", "-pix_fmt", fmt,
                      "-f", "rawvideo", "-"], what=f"reading the frames of {video.name}", stdout=True).stdout
    frames = np.frombuffer(raw, dtype=np.uint8)
    shape = (-1, h, w) if gray else (-1, h, w, depth)
    return frames.reshape(shape)


def find_cuts(video: Path) -> list[int]:
    """Frames that start a new picture abruptly (hard cuts), by thumbnail difference."""
    thumbs = frame_signatures(video).astype(np.int16)
    if len(thumbs) < 2:
        return []
    diff = np.abs(np.diff(thumbs, axis=0)).mean(axis=(1, 2))   # diff[i]: frame i+1 vs frame i
    cuts = []
    for i, d in enumerate(diff):
        lo, hi = max(0, i - 6), min(len(diff), i + 7)
        around = np.delete(diff[lo:hi], i - lo)
        base = float(np.median(around)) if around.size else 0.0
        if d > 6.0 and d > 4.0 * base + 2.0:
            cuts.append(i + 1)
    return cuts


def audio_offsets(video: Path, song: Path, song_start: float, duration: float) -> list[float]:
    """Delay (ms) of the video's audio relative to the song's range, near the start and near the end."""
    out = decode_audio(video, _SR)
    ref = decode_audio(song, _SR)
    first = round(song_start * _SR)
    ref = ref[first:first + round(duration * _SR)]
    n = min(len(out), len(ref))
    lag = min(round(_MAX_LAG * _SR), n // 4)
    win = min(round(_WINDOW * _SR), n - 2 * lag)
    if win < _SR // 10:
        return []
    spots = sorted({lag, n - win - lag})
    return [round(float(_lag_ms(out, ref, a, win, lag)), 3) for a in spots]


def _lag_ms(out: np.ndarray, ref: np.ndarray, at: int, win: int, lag: int) -> float:
    x = out[at:at + win]
    lo = at - lag
    y = ref[lo:at + win + lag]
    size = 1 << (len(y) + len(x)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[:len(y) - len(x) + 1]
    p = int(np.argmax(corr))
    frac = 0.0
    if 0 < p < len(corr) - 1:   # parabolic peak interpolation: sub-sample resolution
        a, b, c = corr[p - 1], corr[p], corr[p + 1]
        denom = a - 2 * b + c
        frac = 0.5 * (a - c) / denom if denom else 0.0
    return ((at - lo) - (p + frac)) / _SR * 1000
