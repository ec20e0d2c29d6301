"""Atomic writes: all or nothing, and finished files readable as any file the user makes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mvpipe.workspace import atomic_path, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "video.mp4"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["video.mp4"]


def test_the_temp_keeps_the_extension_and_the_result_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "out" / "video.mp4") as tmp:
            assert tmp.suffix == ".mp4" and tmp.parent == tmp_path / "out"
            tmp.write_bytes(b"x")
        write_text_atomic(tmp_path / "plan.json", "{}")
    finally:
        os.umask(old)
    for path in (tmp_path / "out" / "video.mp4", tmp_path / "plan.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
