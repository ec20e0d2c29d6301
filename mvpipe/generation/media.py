"""Small media chores of generation: checking what we paid for, chaining frames, encoding images."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import av
from PIL import Image, ImageOps

from mvpipe.errors import BadMedia
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.generation.provider import ImageLimit
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


def image_base64(path: Path, size: tuple[int, int] | None = None,
                 limit: ImageLimit | None = None) -> tuple[str, str]:
    """``(mime, base64)`` of an image within ``limit`` (the provider's documented sides, bytes and formats).

    With ``size`` it is first cropped-to-fill to exactly that size. A file already within the limit goes as
    it is; otherwise it is scaled into the sides and re-encoded (PNG, else JPEG at falling quality, else
    smaller) until it fits the bytes.
    """
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format or "PNG"
        if size is None and _within(im.size, len(data), fmt, limit):
            return Image.MIME.get(fmt, "image/png"), base64.b64encode(data).decode()
        picture = ImageOps.exif_transpose(im).convert("RGB")
    if size is not None:
        picture = ImageOps.fit(picture, size, Image.Resampling.LANCZOS)
    if limit is not None:
        picture = _into_sides(picture, limit)
    formats = limit.formats if limit is not None else ("PNG",)
    for fmt, quality in [("PNG", None), ("JPEG", 92), ("JPEG", 80), ("JPEG", 65)]:
        if fmt not in formats:
            continue
        encoded = _encode(picture, fmt, quality)
        if limit is None or len(encoded) <= limit.max_bytes:
            return Image.MIME[fmt], base64.b64encode(encoded).decode()
    while True:  # still too many bytes: halve the area and try again
        picture = picture.resize((max(1, round(picture.width * 0.7)), max(1, round(picture.height * 0.7))),
                                 Image.Resampling.LANCZOS)
        fmt = "JPEG" if "JPEG" in formats else formats[0]
        encoded = _encode(picture, fmt, 80)
        if len(encoded) <= limit.max_bytes or min(picture.size) <= limit.min_side:  # type: ignore[union-attr]
            return Image.MIME[fmt], base64.b64encode(encoded).decode()


def data_uri(path: Path, size: tuple[int, int] | None = None, limit: ImageLimit | None = None) -> str:
    """An image as a ``data:`` URI, the inline form every provider here accepts."""
    mime, b64 = image_base64(path, size, limit)
    return f"data:{mime};base64,{b64}"


def _within(size: tuple[int, int], nbytes: int, fmt: str, limit: ImageLimit | None) -> bool:
    if limit is None:
        return True
    return (max(size) <= limit.max_side and min(size) >= limit.min_side and nbytes <= limit.max_bytes
            and fmt in limit.formats)


def _into_sides(picture: Image.Image, limit: ImageLimit) -> Image.Image:
    """Scaled (keeping its aspect) so its longest side is within ``max_side`` and its shortest reaches ``min_side``."""
    scale = min(1.0, limit.max_side / max(picture.size))
    scale = max(scale, limit.min_side / min(picture.size))
    if abs(scale - 1.0) < 1e-9:
        return picture
    return picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                          Image.Resampling.LANCZOS)


def _encode(picture: Image.Image, fmt: str, quality: int | None) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, fmt, **({"quality": quality} if quality else {}))
    return buf.getvalue()
