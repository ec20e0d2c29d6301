"""Ctrl-C and SIGTERM stop a real render at once and leave nothing half-made; one render per workspace."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mvpipe.cli import main
from mvpipe.workspace import Workspace, atomic_path

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, shots: int = 8) -> Path:
    shutil.copy(ROOT / "assets" / "demo_song.mp3", tmp_path / "song.mp3")
    board = tmp_path / "board.yaml"
    board.write_text("mvpipe: 1\nsong: song.mp3\noutput: {height: 720, quality: draft, path: out/video.mp4}\n"
                     f"timing: {{end: {2 * shots}}}\nshots:\n"
                     + "".join(f"  - {{id: s{i}, length: 1 bar, prompt: shot {i}, transition: crossfade}}\n"
                               for i in range(shots)))
    return board


def _render_until(board: Path, marker: str, sig: int) -> tuple[int, float, str]:
    """Start ``mvpipe render``, send ``sig`` once stderr shows ``marker``; (exit status, seconds to exit, log)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "mvpipe.cli", "render", str(board)], cwd=board.parent, env=env,
                            stderr=subprocess.PIPE, text=True)
    log = []
    for line in proc.stderr:
        log.append(line)
        if marker in line:
            break
    sent = time.monotonic()
    proc.send_signal(sig)
    log.append(proc.stderr.read())
    code = proc.wait(timeout=60)
    return code, time.monotonic() - sent, "".join(log)


def _leftovers(folder: Path) -> list[str]:
    """Half-made files anywhere in the project: hidden temp files, and FFmpeg still writing there."""
    hidden = [str(p.relative_to(folder)) for p in folder.rglob(".*") if p.is_file() and p.name != "render.lock"
              and "journal" not in p.parts]
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(folder) in cmdline.read_text(errors="replace"):
                running.append(cmdline.parent.name)
        except OSError:
            continue
    return hidden + running


@pytest.mark.parametrize(("sig", "marker", "code"), [(signal.SIGINT, ": running", 130),
                                                     (signal.SIGTERM, "pieces to encode", 143)])
def test_a_signal_stops_the_render_at_once_and_a_rerun_continues(tmp_path: Path, sig: int, marker: str,
                                                                 code: int) -> None:
    board = _project(tmp_path)
    status, seconds, log = _render_until(board, marker, sig)
    assert status == code, log
    assert "interrupted; finished work is kept" in log and "internal error" not in log
    assert seconds < 5.0, f"took {seconds:.2f} s to stop"   # measured 0.8-1.2 s on a loaded 2-core machine
    assert _leftovers(tmp_path) == [], "no half-written file and no FFmpeg left behind"
    assert not (tmp_path / "out" / "video.mp4").exists()
    made = {p.name: p.stat().st_mtime_ns for p in (tmp_path / ".mvpipe" / "takes").glob("*.mp4")}
    assert main(["render", str(board)]) == 0
    assert (tmp_path / "out" / "video.mp4").is_file()
    again = {p.name: p.stat().st_mtime_ns for p in (tmp_path / ".mvpipe" / "takes").glob("*.mp4")}
    assert {name: again[name] for name in made} == made, "the rerun kept every take the stopped run made"


def test_a_second_render_of_the_same_workspace_is_refused(tmp_path: Path, capsys) -> None:
    board = _project(tmp_path, shots=2)
    with Workspace(tmp_path / ".mvpipe").lock():
        assert main(["render", str(board)]) == 2
    err = capsys.readouterr().err
    assert f"another mvpipe render (pid {os.getpid()}) is using {tmp_path / '.mvpipe'}; nothing was started" in err
    assert not (tmp_path / ".mvpipe" / "takes").exists()


def test_the_temp_files_of_a_killed_run_are_removed_by_the_next_and_nothing_else(tmp_path: Path) -> None:
    board = _project(tmp_path, shots=2)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyError), atomic_path(out / "video.mp4") as tmp:   # the name a run writes the video under
        name = tmp.name
        raise KeyError
    stale = [out / name, out / ".video.manifest.mvpipe-k2j4h5g6.json", tmp_path / ".mvpipe" / "pieces" / ".x.nut"]
    mine = [out / ".video.notes.mp4", out / ".video.mvpipe-draft.mp4", out / "video.mp4.part"]
    for path in stale + mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("left behind")
    assert main(["render", str(board), "--dry-run"]) == 0
    assert [p for p in stale if p.exists()] == [] and all(p.read_text() == "left behind" for p in mine)
