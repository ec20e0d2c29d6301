"""Small media chores of generation: checking what we paid for, chaining frames, encoding images."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import av
from PIL import Image, ImageOps

from mvpipe.errors import BadMedia
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.workspace import atomic_path


def clip_seconds(path: Path, *, decode: bool = True) -> float:
    """How long the clip at ``path`` plays; with ``decode``, found by decoding every video frame.

    Decoding all of it (not just reading the header) is what catches a truncated download;
    ``decode=False`` trusts the header, for files this module already checked.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise BadMedia(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            if not decode and container.duration:
                return container.duration / 1_000_000
            end, frames = 0.0, 0
            rate = float(stream.average_rate or stream.guessed_rate or 24)
            for frame in container.decode(stream):
                frames += 1
                if frame.time is not None:
                    end = max(end, frame.time + 1.0 / rate)
    except av.error.FFmpegError as exc:
        raise BadMedia(f"{path.name} does not decode: {exc}") from None
    if not frames:
        raise BadMedia(f"{path.name} holds no decodable frames")
    return end or frames / rate


def check_image(path: Path) -> None:
    """Raise :class:`BadMedia` unless ``path`` is a complete image."""
    try:
        with Image.open(path) as im:
            im.load()
    except (OSError, SyntaxError) as exc:
        raise BadMedia(f"{path.name} is not a complete image: {exc}") from None


def last_frame(clip: Path, dest: Path) -> Path:
    """Write the last frame of ``clip`` to ``dest`` (PNG), for a shot that continues from it."""
    if dest.is_file():
        return dest
    with atomic_path(dest) as tmp:
        run_ffmpeg(["-sseof", "-1", "-i", str(clip), "-update", "1", "-frames:v", "1000", str(tmp)],
                   what=f"taking the last frame of {clip.name}")
    return dest


def image_base64(path: Path, size: tuple[int, int] | None = None) -> tuple[str, str]:
    """``(mime, base64)`` of an image; with ``size`` it is first cropped-to-fill to exactly that size."""
    if size is None:
        data = path.read_bytes()
        mime = Image.MIME.get(Image.open(io.BytesIO(data)).format or "PNG", "image/png")
        return mime, base64.b64encode(data).decode()
    with Image.open(path) as im:
        fitted = ImageOps.fit(im.convert("RGB"), size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    fitted.save(buf, "PNG")
    return "image/png", base64.b64encode(buf.getvalue()).decode()


def data_uri(path: Path, size: tuple[int, int] | None = None) -> str:
    """An image as a ``data:`` URI, the inline form every provider here accepts."""
    mime, b64 = image_base64(path, size)
    return f"data:{mime};base64,{b64}"
