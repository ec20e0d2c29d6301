"""Fixtures shared by every test: an environment cleaned of what changes behaviour, and storyboard files."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Variables that change what mvpipe does, whatever the developer's shell holds (as httpx's suite
# clears its own): mvpipe's knobs, every provider's key and endpoint, the cache and config
# folders, and proxies (httpx would route the fake servers on 127.0.0.1 through one).
# MVPIPE_SHARED only says where the third-party test media are; it is kept.
_CHANGES_BEHAVIOUR = re.compile(
    r"^(MVPIPE_(?!SHARED$).*|COMFYUI_.*|GATEWAY_.*|XDG_(CACHE|CONFIG|DATA)_HOME|MPLCONFIGDIR"
    r"|.*_(API_KEY|API_SECRET|API_TOKEN|ACCESS_KEY|SECRET_KEY|KEY|TOKEN|BASE_URL|QUEUE_URL|URL)"
    r"|(HTTPS?|ALL|NO)_PROXY|(https?|all|no)_proxy)$")


@pytest.fixture(scope="session", autouse=True)
def clean_environ(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The whole session (module fixtures and subprocesses included) runs in a cleaned environment with
    an empty ``$HOME`` and the song-analysis cache and matplotlib's folder in temporary folders; the
    session fails if anything was written to that ``$HOME``. Yields the ``$HOME``."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if _CHANGES_BEHAVIOUR.match(name):
                mp.delenv(name)
        mp.setenv("HOME", str(home))
        mp.setenv("MVPIPE_CACHE", str(tmp_path_factory.mktemp("mvpipe-cache")))
        mp.setenv("MPLCONFIGDIR", str(tmp_path_factory.mktemp("matplotlib")))
        yield home
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert not written, f"the test suite wrote into $HOME: {written[:10]}"


def _checkout_state() -> str:
    """``git status`` with ignored files (``.mvpipe/``, ``out/``), less the caches Python and pytest keep."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    caches = ("__pycache__", ".pytest_cache", ".ruff_cache", ".egg-info")
    return "\n".join(line for line in proc.stdout.splitlines() if not any(c in line for c in caches))


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _checkout_state()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the suite changed the checkout (a test wrote outside its temporary folder)."""
    before, after = session.config.stash.get(_BEFORE, ""), _checkout_state()
    if after != before:
        new = sorted(set(after.splitlines()) - set(before.splitlines()))
        print(f"\nthe test suite changed the checkout ({ROOT}):\n" + "\n".join(new or after.splitlines()))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[str]()


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
