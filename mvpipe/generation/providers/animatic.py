"""The animatic: a local, free, deterministic stand-in for a video model.

Each shot becomes a card in a colour of its own (so every cut is visible) carrying the shot
number and id, the final prompt, and the characters' names with their reference thumbnails; a
bar sweeps across the bottom during the clip so motion and timing can be judged. Rendering needs
only Pillow and FFmpeg: no network, no key. It also draws the clearly marked stand-in card for a
shot whose real generation failed.
"""

from __future__ import annotations

import colorsys
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.generation.provider import Capabilities, ClipRequest, Provider
from mvpipe.workspace import atomic_path


def shot_colour(shot_number: int) -> tuple[int, int, int]:
    """The card colour of a shot: hues spaced by the golden ratio so neighbours always differ."""
    hue = (shot_number * 0.6180339887) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.80)
    return round(r * 255), round(g * 255), round(b * 255)


class AnimaticProvider(Provider):
    """Renders every clip locally as a moving card."""

    name = "animatic"

    def models(self) -> list[Capabilities]:
        return [Capabilities(provider=self.name, model="card", max_references=8, references_as="native",
                             first_frame=True, local=True, concurrency=2)]

    def render(self, request: ClipRequest, dest: Path, first_frame: Path | None = None) -> None:
        render_card(request, dest)


def render_card(request: ClipRequest, dest: Path, banner: str | None = None) -> None:
    """Render ``request`` as a card clip at ``dest``; ``banner`` marks a stand-in for a failed shot."""
    with atomic_path(dest.with_suffix(".png")) as card_png:
        _draw_card(request, banner).save(card_png)
        w, h = request.width, request.height
        bar_h = max(4, h // 60)
        # A white bar grows across the bottom over the clip: motion, and a clock for the shot.
        graph = (f"[0:v]format=rgb24[card];color=c=white:s={w}x{bar_h}:r={request.fps}[bar];"
                 f"[card][bar]overlay=x='-W+W*t/{request.seconds:.6f}':y=H-h:shortest=1,"
                 f"format=yuv420p,setsar=1[v]")
        with atomic_path(dest) as tmp:
            run_ffmpeg(["-loop", "1", "-framerate", str(request.fps), "-i", str(card_png),
                        "-filter_complex", graph, "-map", "[v]", "-t", f"{request.seconds:.6f}",
                        "-r", str(request.fps), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
                        "-g", str(request.fps), "-threads", "2", str(tmp)],
                       what=f"rendering the animatic card for shot '{request.shot}'")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _draw_card(request: ClipRequest, banner: str | None) -> Image.Image:
    w, h = request.width, request.height
    img = Image.new("RGB", (w, h), shot_colour(request.shot_number))
    draw = ImageDraw.Draw(img)
    unit = min(w, h)
    margin = unit // 16
    big, mid, small = _font(unit // 9), _font(unit // 26), _font(unit // 34)
    title = f"{request.shot_number}  {request.shot}" + (f"  ·  part {request.part + 1}" if request.part else "")
    draw.text((margin, margin), title, font=big, fill="white")
    y = margin + unit // 8
    if banner:
        draw.rectangle((0, y, w, y + unit // 12), fill=(200, 0, 0))
        draw.text((margin, y + unit // 80), banner[:120], font=mid, fill="white")
        y += unit // 10
    chars_per_line = max(20, int((w - 2 * margin) / (unit / 26 * 0.55)))
    for line in textwrap.wrap(request.prompt, chars_per_line)[:8]:
        draw.text((margin, y), line, font=mid, fill="white")
        y += unit // 20
    thumb_h = unit // 5
    x = margin
    ty = h - margin - thumb_h - unit // 20
    for character in request.characters:
        if character.references:
            with Image.open(character.references[0]) as im:
                thumb = im.convert("RGB")
                thumb.thumbnail((thumb_h * 2, thumb_h))
            img.paste(thumb, (x, ty))
            tw = thumb.width
        else:
            tw = thumb_h
        draw.text((x, ty + thumb_h + unit // 120), character.name, font=small, fill="white")
        x += tw + margin // 2
    footer = f"{request.seconds:.2f}s  {request.width}x{request.height}@{request.fps}"
    draw.text((w - margin - draw.textlength(footer, font=small), margin), footer, font=small, fill="white")
    return img

