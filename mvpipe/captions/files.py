"""What a render with lyrics writes: each piece's ASS and the font libass reads (in the piece cache), and the
.srt/.vtt sidecars beside the video."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from mvpipe.captions.fonts import font_file
from mvpipe.captions.layout import Frame, burn_filter, header, piece_script, sidecars
from mvpipe.errors import InputError
from mvpipe.workspace import atomic_path, file_digest, write_text_atomic

if TYPE_CHECKING:
    from mvpipe.planner import Plan

SIDECARS = ("srt", "vtt")


def frame_of(plan: Plan) -> Frame:
    return Frame(width=plan.width, height=plan.height, aspect=plan.aspect, fps=plan.fps)


def burns(plan: Plan, spans: list[tuple[int, int]], folder: Path) -> tuple[list[str], list[Path]]:
    """For each piece (first frame, frames): the filters that burn its lines in ('' when none touch it), and
    the cache files they read. Each ASS is named by its content, so a piece's command changes with its lines."""
    track = plan.captions
    if track is None or plan.subtitles not in ("burn", "both"):
        return [""] * len(spans), []
    frame = frame_of(plan)
    font = font_file(track.style)
    digest = file_digest(font)
    fonts = folder / f"font-{digest[:16]}"
    if not (fonts / font.name).is_file():
        fonts.mkdir(parents=True, exist_ok=True)
        with atomic_path(fonts / font.name) as tmp:
            shutil.copyfile(font, tmp)
    head = header(track, frame, digest)
    out, used = [], []
    for start, frames in spans:
        script = piece_script(track, frame, head, start, frames)
        if script is None:
            out.append("")
            continue
        path = folder / f"captions-{hashlib.sha256(script.encode()).hexdigest()[:32]}.ass"
        if not path.is_file():
            write_text_atomic(path, script)
        used.append(path)
        out.append(burn_filter(path, fonts, frame.fps, start))
    return out, used


def sidecar_paths(video: Path) -> list[Path]:
    return [video.with_suffix(f".{ext}") for ext in SIDECARS]


def _made_before(manifest: Path) -> set[Path]:
    try:
        return {Path(p) for p in json.loads(manifest.read_text()).get("sidecars", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def check_sidecars(video: Path, manifest: Path) -> None:
    """Refuse to overwrite a .srt/.vtt beside the video that an earlier render of it did not write."""
    made = _made_before(manifest)
    for path in sidecar_paths(video):
        if path.exists() and path not in made:
            raise InputError("this subtitle file is in the way and mvpipe did not write it.", file=path,
                             hint="Move it, or give the video another 'output.path'.")


def write_sidecars(plan: Plan, video: Path, manifest: Path) -> list[Path]:
    """Write ``VIDEO.srt`` and ``VIDEO.vtt`` (atomically) and return their paths. Without lyrics, the ones
    the video's previous render wrote (``manifest`` lists them) are removed: they no longer match it."""
    if plan.captions is None:
        for path in _made_before(manifest) & set(sidecar_paths(video)):
            path.unlink(missing_ok=True)
        return []
    texts = sidecars(plan.captions, frame_of(plan))
    paths = sidecar_paths(video)
    for path, ext in zip(paths, SIDECARS, strict=True):
        write_text_atomic(path, texts[ext])
    return paths
