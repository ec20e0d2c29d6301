"""Fixtures for assembly tests: real FFmpeg, real clips from the shared folder, a workspace per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from asmkit import shared

from mvpipe.workspace import Workspace


@pytest.fixture
def media() -> Path:
    folder = shared() / "media"
    if not folder.is_dir():
        pytest.skip(f"real test clips not found at {folder} (set MVPIPE_SHARED to the shared folder)")
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / ".mvpipe")


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session folder for generated clips and songs (made once, shared by tests)."""
    return tmp_path_factory.mktemp("clips")
