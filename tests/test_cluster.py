"""--cluster: assembly on a real Dask cluster (a scheduler and two worker processes on 127.0.0.1).

The video must be frame-identical to a local render (its sound too), every FFmpeg step of the assembly
(pieces, the song's mix and AAC, the join) must really run on the workers, and a cluster that cannot
see the project's folders or read the song must be refused before anything runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mvpipe.cli import main
from mvpipe.ffmpeg import ffmpeg_exe

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")

ROOT = Path(__file__).resolve().parents[1]
BOARD = """\
mvpipe: 1
song: {song}
output: {{height: 720, quality: draft}}
timing: {{end: 10}}
shots:
  - {{id: highway, length: 1 bar, prompt: road, transition: fade-black}}
  - {{id: car, length: 1 bar, prompt: car, transition: crossfade}}
  - {{id: city, length: 2 bars, prompt: city, transition: wipe-left}}
  - {{id: dawn, prompt: dawn, transition: {{type: crossfade, length: 2 beats}}}}
"""


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two single-threaded worker processes, as `dask scheduler` / `dask worker` would run."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as local, distributed.Client(local) as client:
        yield local.scheduler_address, client


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MVPIPE_CACHE", str(tmp_path / "cache"))


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    board = folder / "board.yaml"
    board.write_text(BOARD.format(song=ROOT / "assets" / "demo_song.mp3"))
    return board


def _framemd5(video: Path, stream: str = "v") -> list[str]:
    """Each frame's MD5 (FFmpeg's framemd5 muxer) of the video or audio ``stream``, the header comments left out."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-map", f"0:{stream}", "-f", "framemd5",
                          "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if not line.startswith("#")]


def test_a_cluster_render_is_frame_identical_and_runs_on_the_workers(cluster, tmp_path: Path, capsys,
                                                                    monkeypatch) -> None:
    address, client = cluster
    local, remote = _project(tmp_path / "local"), _project(tmp_path / "remote")
    assert main(["render", str(local)]) == 0
    capsys.readouterr()
    before = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    monkeypatch.setenv("MVPIPE_CLUSTER", address)
    assert main(["render", str(remote), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ran = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values()) - before
    encoded = report["outputs"][0]["pieces_encoded"]
    # every piece's FFmpeg ran on a worker, and so did the song's mix, its AAC and the join: nothing else
    assert encoded >= 7 and ran == encoded + 3
    ours, theirs = tmp_path / "remote" / "out" / "board.mp4", tmp_path / "local" / "out" / "board.mp4"
    frames = _framemd5(ours)
    assert len(frames) == 300 and frames == _framemd5(theirs)
    assert _framemd5(ours, "a") == _framemd5(theirs, "a")
    assert not list((tmp_path / "remote" / ".mvpipe").glob(".cluster-probe-*"))


def test_an_unreachable_scheduler_is_bad_input(tmp_path: Path, capsys) -> None:
    board = _project(tmp_path / "p")
    assert main(["render", str(board), "--cluster", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "field '--cluster': cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert not (tmp_path / "p" / "out").exists()


def _can_unshare() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True) if shutil.which("unshare") else None
    return probe is not None and probe.returncode == 0


def _refused_by_a_worker_without(hidden: Path, board: Path, capsys) -> str:
    """Render ``board`` on a cluster whose one worker, in its own mount namespace, has an empty tmpfs at
    ``hidden`` (a machine without that share); returns the error, after checking nothing was generated."""
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as local, \
            distributed.Client(local) as client:
        worker = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", f'mount -t tmpfs tmpfs "{hidden}" && exec "{sys.executable}" -m '
             f'distributed.cli.dask_worker {local.scheduler_address} --nworkers 1 --nthreads 1 --no-dashboard'],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=60)
            assert main(["render", str(board), "--cluster", local.scheduler_address]) == 2
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert not list((board.parent / ".mvpipe").glob("takes/*.mp4"))   # nothing was generated
    return capsys.readouterr().err


needs_unshare = pytest.mark.skipif(not _can_unshare(),
                                   reason="needs `unshare -m` (root) to give a worker its own view of a folder")


@needs_unshare
def test_a_worker_that_does_not_see_the_folder_is_refused_before_anything_runs(tmp_path: Path, capsys) -> None:
    err = _refused_by_a_worker_without(tmp_path, _project(tmp_path / "p"), capsys)
    assert "field '--cluster': the cluster cannot share this render's takes and pieces: tcp://127.0.0.1:" in err
    assert "cannot use" in err and "No such file or directory" in err and "same path" in err


@needs_unshare
def test_a_worker_that_does_not_see_the_output_folder_is_refused(tmp_path: Path, capsys) -> None:
    board = _project(tmp_path / "p")
    board.write_text(board.read_text().replace("output: {", f"output: {{path: {tmp_path / 'videos' / 'v.mp4'}, "))
    (tmp_path / "videos").mkdir()
    err = _refused_by_a_worker_without(tmp_path / "videos", board, capsys)
    assert f"cannot use {tmp_path / 'videos'}/.cluster-probe-" in err
    assert not list((tmp_path / "videos").iterdir())


@needs_unshare
def test_a_worker_that_cannot_read_the_song_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "music").mkdir()
    song = shutil.copy(ROOT / "assets" / "demo_song.mp3", tmp_path / "music" / "song.mp3")
    board = _project(tmp_path / "p")
    board.write_text(board.read_text().replace(str(ROOT / "assets" / "demo_song.mp3"), str(song)))
    err = _refused_by_a_worker_without(tmp_path / "music", board, capsys)
    assert "field '--cluster': the cluster cannot read this render's songs: tcp://127.0.0.1:" in err
    assert f"cannot read {song}" in err and "same path" in err


def test_a_batch_encodes_every_job_on_the_cluster(cluster, tmp_path: Path, capsys) -> None:
    address, client = cluster
    own = _project(tmp_path / "own")
    (tmp_path / "look.yaml").write_text("output: {height: 720, quality: draft}\n")
    manifest = tmp_path / "week.yaml"
    manifest.write_text(f"template: look.yaml\njobs:\n  - storyboard: {own}\n"
                        f"  - {{song: {ROOT / 'assets' / 'demo_song.mp3'}, id: demo}}\n")
    (tmp_path / "week" / "demo").mkdir(parents=True)
    (tmp_path / "week" / "demo" / "demo.yaml").write_text(BOARD.format(song=ROOT / "assets" / "demo_song.mp3"))
    before = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    assert main(["batch", str(manifest), "--cluster", address, "--parallel", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ran = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values()) - before
    encoded = sum(j["render"]["outputs"][0]["pieces_encoded"] for j in report["jobs"])
    assert [j["status"] for j in report["jobs"]] == ["done", "done"] and ran == encoded + 2 * 3 and encoded >= 14
    videos = [Path(j["outputs"][0]) for j in report["jobs"]]
    assert _framemd5(videos[0]) == _framemd5(videos[1])   # the same storyboard, one job per workspace
