"""mvpipe batch: many videos under one budget, one limit per provider, failures kept to their job, reruns free."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from mvpipe.cli import main
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.generation.providers.animatic import AnimaticProvider

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> Path:
    """Two 12 s songs cut from the demo song (made by this project), and a template for the channel."""
    folder = tmp_path_factory.mktemp("channel")
    for name, start in (("one", 0), ("two", 40)):
        run_ffmpeg(["-ss", str(start), "-i", str(ROOT / "assets" / "demo_song.mp3"), "-t", "12",
                    str(folder / f"{name}.wav")], what="cutting a test song")
    (folder / "look.yaml").write_text("output: {height: 720, quality: draft}\nstyle: neon noir\n"
                                      "density: {default: 1 bar}\n")
    return folder


def _batch(capsys, *args: str) -> tuple[int, dict]:
    code = main(["batch", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_jobs_from_a_template_and_a_failing_job_that_stops_nothing(songs: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"not a video")  # refused when its job loads: bad input, exit 2
    (tmp_path / "own.yaml").write_text(f"""\
mvpipe: 1
song: {songs / "two.wav"}
output: {{height: 720, quality: draft}}
shots:
  - {{id: intro, length: 1 bar, prompt: road}}
  - {{id: clip, footage: broken.mp4}}
""")
    manifest = tmp_path / "week.yaml"
    manifest.write_text(f"""\
template: {songs / "look.yaml"}
jobs:
  - song: {songs / "one.wav"}
    title: First
    outputs: ["16:9", "9:16"]
  - storyboard: own.yaml
""")
    code, report = _batch(capsys, str(manifest))
    assert code == 2 and not report["ok"]
    first, own = report["jobs"]
    assert (first["id"], first["status"], own["id"], own["status"]) == ("one", "done", "own", "failed")
    assert [Path(p).name for p in first["outputs"]] == ["one.mp4", "one-9x16.mp4"]
    assert all(Path(p).is_file() for p in first["outputs"])
    assert "broken.mp4" in own["error"] and "clip" in own["error"]
    folder = tmp_path / "week"
    assert json.loads((folder / "batch-report.json").read_text()) == report
    assert json.loads((folder / "reports" / "one.json").read_text())["status"] == "done"
    board = (folder / "one" / "one.yaml").read_text()
    assert "title: First" in board and "style: neon noir" in board and "aspect: '9:16'" in board

    code, again = _batch(capsys, str(manifest))       # a rerun: the finished video is skipped
    assert code == 2 and [j["status"] for j in again["jobs"]] == ["skipped", "failed"]
    assert again["jobs"][0]["outputs"] == first["outputs"]


def test_a_csv_manifest_and_one_limit_per_provider_for_all_jobs(songs: Path, tmp_path: Path, capsys,
                                                                 monkeypatch) -> None:
    running, peak, lock = [0], [0], threading.Lock()
    real = AnimaticProvider.render

    def counted(self, request, dest, first_frame=None):  # the real render, counting renders in flight
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.3)
            return real(self, request, dest, first_frame)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(AnimaticProvider, "render", counted)
    manifest = tmp_path / "week.csv"
    manifest.write_text(f"song,template,id,title\n{songs / 'one.wav'},{songs / 'look.yaml'},a,A\n"
                        f"{songs / 'two.wav'},{songs / 'look.yaml'},b,B\n")
    code, report = _batch(capsys, str(manifest), "--parallel", "2")
    assert code == 0 and report["ok"] and [j["status"] for j in report["jobs"]] == ["done", "done"]
    shots = sum(len(j["render"]["takes"]) for j in report["jobs"])
    assert shots >= 8 and peak[0] == 2   # the animatic's limit is 2 for the account, not 2 per video


def test_one_budget_for_the_whole_batch_checked_before_any_spend(songs: Path, tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "paid.yaml"
    manifest.write_text(f"""\
template: {songs / "look.yaml"}
jobs:
  - {{song: {songs / "one.wav"}, generator: "runway:gen4_turbo"}}
  - {{song: {songs / "two.wav"}, generator: "runway:gen4_turbo"}}
""")
    code, dry = _batch(capsys, str(manifest), "--dry-run")
    assert code == 0 and [j["status"] for j in dry["jobs"]] == ["estimated", "estimated"]
    each = [j["to_spend_usd"] for j in dry["jobs"]]
    assert min(each) > 0 and dry["to_spend_usd"] == pytest.approx(sum(each))
    assert main(["batch", str(manifest), "--max-cost", f"{max(each) + 0.01:.2f}"]) == 2
    err = capsys.readouterr().err
    assert f"batch's estimated new spend ${sum(each):.2f}" in err and "nothing was submitted" in err
    assert list(tmp_path.rglob("jobs.sqlite")) == []  # the estimate wrote no journal: no job was even journaled


def test_bad_manifests_name_file_line_and_field(songs: Path, tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(f"jobs:\n  - song: {songs / 'one.wav'}\n  - song: missing.wav\n")
    assert main(["batch", str(manifest)]) == 2
    assert "bad.yaml:3: field 'jobs.1': song file not found" in capsys.readouterr().err
    manifest.write_text(f"jobs:\n  - song: {songs / 'one.wav'}\n    titel: x\n")
    assert main(["batch", str(manifest)]) == 2
    assert "bad.yaml:3: field 'jobs.0.titel': Extra inputs are not permitted." in capsys.readouterr().err
    manifest.write_text(f"jobs:\n  - song: {songs / 'one.wav'}\n  - song: {songs / 'one.wav'}\n")
    assert main(["batch", str(manifest)]) == 2
    assert "two jobs are called 'one'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
