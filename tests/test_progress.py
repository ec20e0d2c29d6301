"""Progress: the plain timestamped lines off a terminal (as before), live bars on one, from the same messages."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console
from support import short_board

import mvpipe
from mvpipe.progress import LiveView, wants_live

ROOT = Path(__file__).resolve().parents[1]
_STAMP = re.compile(r"^\[ *\d+\.\ds\] ")


@pytest.fixture
def board(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MVPIPE_CACHE", str(tmp_path / "cache"))
    return short_board(tmp_path)


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mvpipe.cli", *args], cwd=ROOT, env=env, **kwargs)


def test_off_a_terminal_the_lines_are_plain_and_timestamped(board: Path) -> None:
    proc = _cli("render", str(board), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{board.parent / 'out.mp4'}\n"
    lines = proc.stderr.splitlines()
    assert "\x1b" not in proc.stderr
    stamped = [line for line in lines if _STAMP.match(line)]
    table = [line for line in lines if not _STAMP.match(line)]  # the estimate is one message of several lines
    assert [row.split()[0] for row in table] == ["highway", "car", "estimated"]
    assert table[-1] == "estimated new spend: $0.00"
    texts = [_STAMP.sub("", line) for line in stamped]
    assert ["shot", "part", "generator", "seconds", "USD", "status"] in [t.split() for t in texts]
    for expected in ("analysing demo_song.mp3", "shot highway: done", "shot car: done",
                     "joining pieces and muxing the song", "done (spent $0.00 this run)"):
        assert expected in texts
    assert any(re.fullmatch(r"\d+ of \d+ pieces to encode \(.+\), 0 cached", t) for t in texts)
    times = [float(line[1:].split("s]")[0]) for line in stamped]
    assert times == sorted(times)


def test_a_json_report_or_a_pipe_gets_no_bars() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_live(Tty(), json_output=False)
    assert not wants_live(Tty(), json_output=True)
    assert not wants_live(io.StringIO(), json_output=False)


def test_on_a_terminal_the_same_messages_draw_bars(board: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system="standard")
    with LiveView(console) as view:
        report = mvpipe.render(board, progress=view)
        view("[week-1] shot intro: running 40%")          # a batch's job prefixes its lines
        view("warning: something a person must read")
        view("shot outro: failed: moderation")
    out = screen.getvalue()
    assert report.outputs and "\x1b[" in out
    rows = re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out))

    def last(name: str) -> list[str]:  # the row of that bar as last drawn, cell by cell
        return [row for row in rows if row.lstrip("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ").startswith(name)][-1].split()

    assert "running" in last("shot highway") and "running" in last("shot car")  # each shot had its bar
    assert "100%" in last("takes") and last("encode")[-3:-1] == ["100%", "done"]
    assert last("analysis")[-3:-1] == ["100%", "done"] and "plan: 2 segments" in out
    assert last("week-1 shot intro")[-4:-1] == ["40%", "running", "40%"]
    assert "shot outro: failed: moderation" in out                  # a failure also gets a line of its own
    assert "warning: something a person must read" in out and f"wrote {board.parent / 'out.mp4'}" in out
    assert "estimated new spend: $0.00" in out             # what the bars do not draw is printed, not dropped


def test_a_real_terminal_gets_bars_and_stdout_stays_the_path(board: Path) -> None:
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = _cli("render", str(board), stdout=subprocess.PIPE, stderr=slave, text=True, timeout=600)
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen
    assert proc.stdout == f"{board.parent / 'out.mp4'}\n"
    assert "\x1b[" in screen and "shot highway" in screen and "encode" in screen
    assert not _STAMP.search(screen.replace("\r", "\n"))
