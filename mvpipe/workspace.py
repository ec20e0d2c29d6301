"""Where a project's artifacts live, and how they are written (atomically, always).

A storyboard's workspace is the ``.mvpipe/`` folder beside it: takes, rendered pieces, the
generation journal and render manifests. Song analyses are content-addressed and shared across
projects in the user cache (``$MVPIPE_CACHE`` or ``~/.cache/mvpipe``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mvpipe.errors import InputError, WorkspaceBusy


def user_cache() -> Path:
    """Cache shared by all projects: ``$MVPIPE_CACHE``, else ``$XDG_CACHE_HOME/mvpipe``."""
    env = os.environ.get("MVPIPE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mvpipe"


class Workspace:
    """The ``.mvpipe`` folder of one storyboard (or any folder given explicitly)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_storyboard(cls, storyboard_path: Path) -> Workspace:
        return cls(Path(storyboard_path).resolve().parent / ".mvpipe")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold this workspace for one render: a second render of it is refused at once, nothing corrupted.

        The OS drops the lock when the process dies, so a killed render never blocks the next one, whose
        first act is to remove the temp files the killed one left among the pieces.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "render.lock", "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "?"
                raise WorkspaceBusy(f"another mvpipe render (pid {holder}) is using {self.root}; nothing was "
                                    "started. Run this again when it has finished, or stop it first.") from None
            f.truncate(0)
            f.write(str(os.getpid()))
            f.flush()
            for stale in (self.root / "pieces").glob(".*") if (self.root / "pieces").is_dir() else []:
                stale.unlink(missing_ok=True)
            yield

    def check_writable(self) -> None:
        """Refuse a workspace mvpipe cannot write (a read-only folder, a file in its place) before any work."""
        folders = [self.root, *(self.root / sub for sub in _FOLDERS)]
        for path in folders:
            if path.exists() and not path.is_dir():
                raise InputError(f"{path} is a file where mvpipe keeps a folder (takes, pieces, journal).", file=path,
                                 hint="Move the file away.")
        for folder in [p for p in folders if p.is_dir()] or [nearest_folder(self.root)]:
            if not os.access(folder, os.W_OK | os.X_OK):
                raise InputError(f"cannot write into {folder} (permission denied); mvpipe keeps its takes, pieces "
                                 "and journal there.", file=folder,
                                 hint="Make it writable, or copy the project to a folder you can write.")

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def takes(self) -> Path:
        return self._dir("takes")

    @property
    def pieces(self) -> Path:
        return self._dir("pieces")

    @property
    def journal(self) -> Path:
        return self._dir("journal") / "jobs.sqlite"

    @property
    def analysis(self) -> Path:
        return user_cache() / "analysis"

    def take_numbers(self) -> dict[str, int]:
        """Shot id -> take number set by ``--retake`` (kept, so later renders stay on the new take)."""
        path = self.root / "takes.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def set_take_numbers(self, numbers: dict[str, int]) -> None:
        write_text_atomic(self.root / "takes.json", json.dumps(numbers, indent=2, sort_keys=True))


_FOLDERS = ("takes", "pieces", "journal")


def nearest_folder(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists: where a new file there would be created."""
    return next((p for p in (path, *path.parents) if p.exists()), Path(path.anchor or "/"))


def manifest_path(video: Path) -> Path:
    """Where the render manifest of ``video`` lives: ``NAME.manifest.json`` beside it."""
    return video.with_name(video.stem + ".manifest.json")


_TEMP = ".mvpipe-"   # .NAME.mvpipe-XXXXXXXX.EXT: a name no user file has, so a later run can remove it


@contextlib.contextmanager
def atomic_path(dest: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` only if the block succeeds.

    The temp name keeps ``dest``'s extension (FFmpeg picks the container from it), and a crash
    or error leaves ``dest`` untouched and no stray file behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}{_TEMP}", suffix=suffix or dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a finished file gets the usual mode
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def remove_stale_temps(dest: Path) -> int:
    """Remove the hidden temp files of ``dest`` that a killed run left beside it; returns how many.

    Only names :func:`atomic_path` makes are touched. Call it only while holding the workspace's lock.
    """
    dest = Path(dest)
    pattern = re.compile(re.escape(f".{dest.stem}{_TEMP}") + r"[a-z0-9_]{8}" + re.escape(dest.suffix))
    stale = [p for p in dest.parent.glob(f".{glob.escape(dest.stem)}{_TEMP}*")
             if pattern.fullmatch(p.name) and p.is_file()] if dest.parent.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(dest: Path, text: str) -> None:
    """Write ``text`` to ``dest`` so a reader sees the old file or the whole new one, never half."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: the identity of songs, references and takes in every cache key.

    Remembered per (path, size, mtime), so a render that names the same reference image in many
    requests, or a take in several pieces, reads it once.
    """
    st = os.stat(path)
    return _digest(Path(path).resolve(), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1024)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
