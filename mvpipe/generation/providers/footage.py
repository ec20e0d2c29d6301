"""The user's own footage as a take: a clip file, or one picked from a folder, cut like any other.

Nothing is generated or re-encoded here: the file's bytes become the take, whatever its container,
size, frame rate or audio, and the assembler fits it to its slot (trimmed when long; held or slowed
per ``if_short`` when short). FFmpeg reads the container from the content, not the take's name.

From a folder the pick is deterministic: clips sorted by path, the shot's storyboard position
walks through them (so neighbouring shots drawing on one folder get different clips whenever it
holds enough), and ``seed`` or a retake shifts the pick along. The take's cache key covers the
picked clip's bytes, so a changed folder or a moved shot makes a new take.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mvpipe.errors import InputError
from mvpipe.generation.media import clip_seconds
from mvpipe.generation.provider import Capabilities, ClipRequest, Provider
from mvpipe.storyboard import VIDEO_SUFFIXES, clips_in  # what counts as footage is part of the input contract
from mvpipe.workspace import atomic_path, file_digest


class FootageProvider(Provider):
    """Uses the file named by a shot's ``footage:`` (local, free, any length)."""

    name = "footage"

    def models(self) -> list[Capabilities]:
        return [Capabilities(provider=self.name, model="clip", local=True, concurrency=2)]

    def key_inputs(self, request: ClipRequest) -> dict[str, str]:
        """The picked clip's digest: a clip added to the folder, or a shot moved, can change the pick."""
        try:
            return {"clip": file_digest(pick(request.footage, request))} if request.footage else {}
        except InputError:
            return {}  # nothing to pick: render says why, for this shot alone

    def render(self, request: ClipRequest, dest: Path, first_frame: Path | None = None) -> None:
        if request.footage is None:
            raise InputError("the 'footage' generator needs 'footage: PATH' on the shot.", shot=request.shot,
                             field="footage")
        source = pick(request.footage, request)
        clip_seconds(source, decode=False)  # refuses a file with no video stream, naming it
        with atomic_path(dest) as tmp:
            tmp.unlink()
            try:
                os.link(source, tmp)  # same bytes, no copy, where the filesystem allows
            except OSError:
                shutil.copyfile(source, tmp)


def pick(footage: Path, request: ClipRequest) -> Path:
    """The clip a shot uses: ``footage`` itself, or for a folder the clip this shot's position selects."""
    if footage.is_file():
        return footage
    if not footage.is_dir():
        raise InputError(f"footage not found: {footage}.", shot=request.shot, field="footage")
    clips = clips_in(footage)
    if not clips:
        raise InputError(f"no video files in the footage folder {footage}.", shot=request.shot, field="footage",
                         hint=f"Put clips there ({', '.join(sorted(VIDEO_SUFFIXES)[:6])}, ...).")
    index = request.shot_number - 1 + (request.seed or 0) + request.take - 1
    return clips[index % len(clips)]
