"""Fixtures for generation tests; helpers live in genkit.py and the fake servers in fakes/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from genkit import BASES, KEYS

from mvpipe.generation.provider import CharacterRef
from mvpipe.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / ".mvpipe")


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch):
    """``point_at(provider, server)``: the provider's base-URL and key variables aimed at a fake server."""
    def aim(provider: str, server: Any) -> None:
        env, suffix = BASES[provider]
        monkeypatch.setenv(env, server.url + suffix)
        monkeypatch.setenv(KEYS[provider], server.key)
    return aim


@pytest.fixture
def mara(tmp_path: Path) -> CharacterRef:
    """A character with a real reference image."""
    from PIL import Image

    path = tmp_path / "mara.png"
    Image.new("RGB", (64, 96), (200, 40, 40)).save(path)
    return CharacterRef(name="mara", references=[path], ids={"openai": "char_mara"})
