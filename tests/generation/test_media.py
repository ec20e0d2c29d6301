"""Inline images are kept within each provider's documented pixel size, bytes and formats."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from mvpipe.generation.media import image_base64
from mvpipe.generation.provider import ImageLimit
from mvpipe.generation.providers import resolve


def _noise(path, size, fmt="PNG"):
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, fmt)
    return path


def _decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_an_image_within_the_limit_goes_as_it_is(tmp_path):
    path = _noise(tmp_path / "small.png", (400, 300))
    mime, b64 = image_base64(path, None, ImageLimit(max_side=2048, max_bytes=5_000_000))
    assert mime == "image/png" and base64.b64decode(b64) == path.read_bytes()


def test_a_large_photo_is_scaled_and_reencoded_under_replicates_1_mb(tmp_path):
    path = _noise(tmp_path / "big.png", (3000, 2000))  # noise: ~18 MB as PNG
    limit = resolve("replicate")[1].reference_limit
    mime, b64 = image_base64(path, None, limit)
    assert len(base64.b64decode(b64)) <= limit.max_bytes == 1_000_000
    assert max(_decode(b64).size) <= limit.max_side and mime == "image/jpeg"


def test_runway_data_uris_stay_under_5_mb_and_first_frames_take_the_clip_size(tmp_path):
    path = _noise(tmp_path / "big.png", (2500, 2500))
    limit = resolve("runway:gen4.5")[1].reference_limit
    _, b64 = image_base64(path, (1280, 720), limit)
    assert len(b64) + len("data:image/jpeg;base64,") <= 5_000_000 and _decode(b64).size == (1280, 720)


def test_a_small_image_is_scaled_up_to_klings_300_px(tmp_path):
    path = _noise(tmp_path / "tiny.png", (200, 150))
    _, b64 = image_base64(path, None, resolve("kling")[1].reference_limit)
    assert min(_decode(b64).size) >= 300


def test_a_format_the_provider_does_not_take_is_reencoded(tmp_path):
    path = _noise(tmp_path / "pic.webp", (320, 240), "WEBP")
    mime, b64 = image_base64(path, None, ImageLimit(max_side=1024, max_bytes=1_000_000))
    assert mime == "image/png" and _decode(b64).format == "PNG"
