"""Shared scaffolding for provider tests: real clips made with FFmpeg and clip requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.generation.provider import ClipRequest


def make_clip(dest: Path, *, seconds: float = 1.0, size: str = "160x90", fps: int = 24, colour: str = "red",
              audio: bool = False) -> Path:
    """A real little clip (moving test pattern over ``colour``); the container follows the suffix."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}",
            "-f", "lavfi", "-i", f"color=c={colour}:s={size}:r={fps}:d={seconds}"]
    graph = "[0:v][1:v]blend=all_mode=average,format=yuv420p[v]"
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
    args += ["-filter_complex", graph, "-map", "[v]"] + (["-map", "2:a", "-c:a", "aac"] if audio else [])
    codec = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"] if dest.suffix == ".webm" else [
        "-c:v", "libx264", "-preset", "ultrafast"]
    run_ffmpeg([*args, *codec, "-threads", "1", "-t", f"{seconds}", str(dest)], what=f"making {dest.name}")
    return dest


def request(**overrides: Any) -> ClipRequest:
    """A clip request with small defaults; any field can be overridden."""
    fields: dict[str, Any] = dict(shot="s1", shot_number=1, provider="footage", model="clip",
                                  prompt="a quiet street at dawn", seconds=2.0, width=320, height=180,
                                  aspect="16:9", fps=24)
    return ClipRequest(**{**fields, **overrides})
