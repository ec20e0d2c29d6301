"""Fixtures shared by the top-level tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_board(tmp_path: Path):
    """Write a storyboard YAML (and a stand-in song file beside it) and return its path."""
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")  # the planner never reads it; loading only checks it exists

    def write(text: str, name: str = "board.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
