"""What a take really is: size after rotation, frame rate, exact video length, usable audio.

imageio-ffmpeg ships no ffprobe, so this reads files with PyAV. The video length is measured by
demuxing every video packet (no decoding; milliseconds for a clip) because container durations
lie: an audio track longer than the video, or a WebM with no stream duration at all, would
otherwise make a short take look long enough and leave the assembler reading past its end.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av
from pydantic import BaseModel, Field

from mvpipe.errors import MvpipeError
from mvpipe.storyboard import MAX_PIXELS


class MediaInfo(BaseModel):
    """The facts about one clip file that shape how it is decoded."""

    path: Path
    width: int = 0
    height: int = 0
    fps: float
    duration: float
    start: float = 0.0  # the container's start time (s): the origin of a full read's timestamps
    rotation: int = 0
    sar: float = 1.0
    colorspace: str | None = None
    pix_fmt: str = ""  # the decoded frames' pixel format
    full_range: bool = False  # full-range (JPEG) levels, which the output must squeeze to TV range
    has_audio: bool = False
    audio_ok: bool = False


def probe(path: Path) -> MediaInfo:
    """Probe ``path`` (memoised on its size and modification time)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MvpipeError(f"take file not found: {path}") from None
    with _PROBING:     # the soundtrack's thread and the main one may ask for the same take at once
        return _probe(path, st.st_size, st.st_mtime_ns)


_PROBING = threading.Lock()


_SPACES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc", 10: "bt2020c"}


@functools.lru_cache(maxsize=512)
def _probe(path: Path, size: int, mtime_ns: int) -> MediaInfo:
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise MvpipeError(f"cannot open take {path}: {exc}") from None
    with container:
        if not container.streams.video:
            raise MvpipeError(f"take {path} has no video stream.")
        vs = container.streams.video[0]
        if vs.codec_context.width * vs.codec_context.height > MAX_PIXELS:   # refused before a frame is decoded
            raise MvpipeError(f"take {path} is {vs.codec_context.width}x{vs.codec_context.height} pixels, more "
                              f"than mvpipe reads ({MAX_PIXELS // 1_000_000} megapixels).")
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate or Fraction(25)
        audio = container.streams.audio[0] if container.streams.audio else None
        first = _first_frame(container, vs)
        if first is None:
            raise MvpipeError(f"take {path}: no decodable video frame.")
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        sar = float(vs.sample_aspect_ratio) if vs.sample_aspect_ratio else 1.0
        colorspace = _SPACES.get(int(first.colorspace)) if first.colorspace else None
        full_range = int(first.color_range) == 2 or first.format.name.startswith("yuvj")
        audio_ok = _audio_decodes(path) if audio is not None else False
        end = _video_end(container, vs)
        start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    return MediaInfo(path=path, width=width, height=height, fps=float(rate), duration=end, start=start,
                     rotation=rotation, sar=sar, colorspace=colorspace, pix_fmt=first.format.name,
                     full_range=full_range, has_audio=audio is not None, audio_ok=audio_ok)


def _first_frame(container: av.container.InputContainer, vs: av.VideoStream) -> av.VideoFrame | None:
    try:
        for frame in container.decode(vs):
            return frame
    except av.FFmpegError:
        return None
    return None


def _video_end(container: av.container.InputContainer, vs: av.VideoStream) -> float:
    """Seconds from the file's start to the end of its last video frame, from packet timestamps."""
    container.seek(0)
    tb = vs.time_base
    start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    stamps: list[tuple[int, int]] = [(pkt.pts, pkt.duration or 0) for pkt in container.demux(vs)
                                     if pkt.pts is not None]
    if not stamps:
        return 0.0
    stamps.sort()
    last_pts, last_dur = stamps[-1]
    if not last_dur:
        steps = sorted(b[0] - a[0] for a, b in zip(stamps, stamps[1:], strict=False))
        last_dur = steps[len(steps) // 2] if steps else 0
    return max(0.0, float((last_pts + last_dur) * tb) - start)


def _audio_decodes(path: Path) -> bool:
    """True when the first audio stream yields samples (a broken track must not sink the render)."""
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(audio=0)):
                if frame.samples > 0:
                    return True
                if i > 50:
                    break
    except (av.FFmpegError, ValueError, IndexError):
        return False
    return False


class StreamFacts(BaseModel):
    """Frame count and timestamp regularity of a video stream, read from packets (no decoding)."""

    frames: int
    step: float = Field(description="seconds between consecutive frames (the most common step)")
    uniform: bool
    duration: float = Field(description="container duration (s)")
    extradata: str = Field(description="hex of the codec headers (SPS/PPS)")


def stream_facts(path: Path) -> StreamFacts:
    """Count video packets and check that their presentation times advance in equal steps."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream")
        vs = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(vs) if p.pts is not None)
        extradata = (vs.codec_context.extradata or b"").hex()
        duration = (container.duration or 0) / 1_000_000
        tb = vs.time_base
    steps = Counter(b - a for a, b in zip(pts, pts[1:], strict=False))
    common = steps.most_common(1)[0][0] if steps else 0
    return StreamFacts(frames=len(pts), step=float(common * tb), uniform=len(steps) <= 1, duration=duration,
                       extradata=extradata)


def header_seconds(path: Path) -> float | None:
    """How long the file's header says it plays (None when it says nothing, or cannot be read)."""
    try:
        with av.open(str(path)) as container:
            return container.duration / 1_000_000 if container.duration else None
    except (av.FFmpegError, OSError, ValueError):
        return None
