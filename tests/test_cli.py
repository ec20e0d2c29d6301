"""The command line end to end, on real renders: the demo, bad input, and third-party songs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
from support import make_clip, shared_file, short_board

from mvpipe.cli import main
from mvpipe.ffmpeg import decode_audio
from mvpipe.generation.providers.animatic import shot_colour

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "storyboards" / "demo.yaml"


def _run(*args: str) -> subprocess.CompletedProcess:
    """The real command line, run from a temporary folder (never the checkout), importing this checkout."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "mvpipe.cli", *args], capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), env={**os.environ, "PYTHONPATH": path})


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """Render a copy of the demo project once, through the real command line (its workspace in the copy)."""
    copy = tmp_path_factory.mktemp("demo")
    for folder in ("storyboards", "assets"):
        shutil.copytree(ROOT / folder, copy / folder)
    board = copy / "storyboards" / "demo.yaml"
    out = copy / "demo.mp4"
    proc = _run("render", str(board), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(_run("plan", str(board), "--json").stdout)
    analysis = json.loads(_run("analyze", str(copy / "assets" / "demo_song.mp3"), "--json").stdout)
    return {"out": out, "plan": plan, "analysis": analysis, "board": board}


def test_demo_is_h264_aac_and_exactly_the_song_range_long(demo) -> None:
    with av.open(str(demo["out"])) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert (video.width, video.height) == (1280, 720)
        frames = sum(1 for _ in container.decode(video=0))
    plan = demo["plan"]
    assert frames == plan["frames"] == round((plan["song_end"] - plan["song_start"]) * plan["fps"])


def test_every_cut_is_on_the_frame_nearest_a_beat(demo) -> None:
    plan, beats = demo["plan"], np.array(demo["analysis"]["beats"])
    fps = plan["fps"]
    for seg in plan["segments"][1:]:
        nearest = beats[np.argmin(np.abs(beats - seg["start"]))]
        assert seg["start_frame"] == round((nearest - plan["song_start"]) * fps), seg["shot"]


def _edge_colour(frame: av.VideoFrame) -> np.ndarray:
    """Mean colour of the card's right margin, where the animatic draws no text."""
    rgb = frame.to_ndarray(format="rgb24")
    h, w, _ = rgb.shape
    return rgb[int(0.3 * h):int(0.85 * h), w - w // 40 - 8:w - 8].reshape(-1, 3).mean(axis=0)


def test_shots_change_exactly_at_the_planned_cut_frames(demo) -> None:
    plan = demo["plan"]
    wanted: dict[int, int] = {}
    for seg in plan["segments"]:
        if seg["transition"] == "cut" and seg["start_frame"] > 0:
            wanted[seg["start_frame"] - 1] = seg["shot_number"] - 1
            wanted[seg["start_frame"]] = seg["shot_number"]
    seen: dict[int, np.ndarray] = {}
    with av.open(str(demo["out"])) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                seen[i] = _edge_colour(frame)
    assert len(seen) == len(wanted) >= 6
    for i, shot_number in wanted.items():
        ours = np.array(shot_colour(shot_number))
        if i + 1 in wanted and wanted[i + 1] == shot_number + 1:
            neighbour = np.array(shot_colour(shot_number + 1))
        else:
            neighbour = np.array(shot_colour(shot_number - 1))
        # within YUV/matrix rounding of our colour, and far closer to it than to the other shot's
        assert np.abs(seen[i] - ours).max() < 24, f"frame {i}"
        assert np.linalg.norm(seen[i] - ours) * 3 < np.linalg.norm(seen[i] - neighbour), f"frame {i}"


def test_the_soundtrack_is_the_song_without_offset(demo) -> None:
    plan = demo["plan"]
    rate = 48000
    song = decode_audio(Path(plan["song"]), rate, start=plan["song_start"],
                        duration=plan["song_end"] - plan["song_start"])
    ours = decode_audio(demo["out"], rate)
    assert abs(len(ours) - len(song)) < rate * 0.05
    for at in (1.0, len(song) / rate / 2, len(song) / rate - 3.0):  # start, middle, end: no drift
        a = song[int(at * rate):int((at + 2) * rate)]
        b = ours[int(at * rate) - 480:int((at + 2) * rate) + 480]
        corr = np.correlate(b, a, mode="valid")
        lag = int(np.argmax(corr)) - 480
        assert abs(lag) <= rate // 1000, f"offset {lag / rate * 1000:.2f} ms at {at:.1f}s"
        assert np.corrcoef(a, b[480 + lag:480 + lag + len(a)])[0, 1] > 0.98


def test_render_again_reuses_every_take(demo, tmp_path: Path) -> None:
    takes = demo["board"].parent / ".mvpipe" / "takes"
    before = {p.name: p.stat().st_mtime_ns for p in takes.glob("*.mp4")}
    out = tmp_path / "again.mp4"
    proc = _run("render", str(demo["board"]), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    after = {p.name: p.stat().st_mtime_ns for p in takes.glob("*.mp4")}
    assert before and after == before
    shots = {s["shot"] for s in demo["plan"]["segments"]}
    assert all(f"shot {shot}: done (cached)" in proc.stderr for shot in shots), proc.stderr
    assert ": running" not in proc.stderr


def test_plan_json_is_one_document_with_the_contract_fields() -> None:
    proc = _run("plan", str(DEMO), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"fps", "segments", "estimated_cost_usd", "paid_seconds", "screen_seconds"} <= doc.keys()
    assert {"shot", "start", "end", "requested_seconds", "generator"} <= doc["segments"][0].keys()


def test_analyze_json_has_the_contract_fields() -> None:
    proc = _run("analyze", str(ROOT / "assets" / "demo_song.mp3"), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"tempo", "beats", "downbeats", "sections"} <= doc.keys()
    assert {"start", "end", "label"} <= doc["sections"][0].keys()
    assert doc["tempo"] == pytest.approx(120, abs=1.5) and doc["meter"] == 4


def _board(tmp_path: Path, old: str = "", new: str = "") -> Path:
    text = DEMO.read_text().replace("../assets/", str(ROOT / "assets") + "/")
    assert old in text
    path = tmp_path / "board.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "words"), [
    ("title: Night Drive", "title: [Night Drive", "not valid YAML"),
    ("    camera: slow push-in", "    camra: slow push-in", "unknown key 'camra'"),
    ("demo_song.mp3", "no_such_song.mp3", "song file not found"),
    ("characters: [juno]\n    prompt: juno projects", "characters: [jun]\n    prompt: juno projects",
     "unknown character 'jun'"),
    ("length: 8 bars", "length: eight bars", "cannot parse 'eight bars'"),
    ("generator: animatic", "generator: animagic", "unknown provider 'animagic'"),
])
def test_bad_storyboards_exit_2_naming_the_place(tmp_path: Path, old: str, new: str, words: str) -> None:
    board = _board(tmp_path, old, new)
    proc = _run("render", str(board))
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and str(board) in proc.stderr
    assert proc.stdout == ""


def test_jobs_must_be_a_positive_number(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["render", str(DEMO), "--jobs", "0"])
    assert info.value.code == 2 and "at least 1" in capsys.readouterr().err


def test_a_song_that_is_not_audio_exits_2(tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio")
    board = _board(tmp_path, str(ROOT / "assets" / "demo_song.mp3"), str(fake))
    proc = _run("plan", str(board))
    assert proc.returncode == 2 and "cannot decode audio" in proc.stderr and str(fake) in proc.stderr


def test_max_cost_refuses_before_anything_is_generated(tmp_path: Path, capsys) -> None:
    board = _board(tmp_path)
    assert main(["render", str(board), "--generator", "runway", "--max-cost", "0"]) == 2
    assert "over --max-cost" in capsys.readouterr().err
    assert not (tmp_path / ".mvpipe" / "takes").exists() or not any((tmp_path / ".mvpipe" / "takes").iterdir())


@pytest.mark.parametrize("song", ["Kevin_MacLeod_-_Vibe_Ace.ogg", "admiralbob77_-_Choice_-_Drum-bass.ogg"])
def test_real_songs_render(tmp_path: Path, song: str) -> None:
    src = shared_file("audio", song)
    shutil.copy(src, tmp_path / song)
    board = tmp_path / "board.yaml"
    board.write_text(f"""\
mvpipe: 1
song: {song}
output: {{height: 720, fps: 24, quality: draft}}
timing: {{end: 20}}
shots:
  - {{id: one, length: 2 bars, prompt: first}}
  - {{id: two, prompt: second, transition: crossfade}}
  - {{id: three, prompt: third}}
""")
    out = tmp_path / "out.mp4"
    assert main(["render", str(board), "-o", str(out)]) == 0
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 480


def test_a_dry_run_retake_changes_nothing_and_a_real_one_is_remembered(tmp_path: Path, capsys) -> None:
    board = short_board(tmp_path, car="")
    assert main(["render", str(board), "--retake", "highway", "--dry-run"]) == 0
    assert not (tmp_path / ".mvpipe" / "takes.json").exists()
    assert main(["render", str(board), "--retake", "highway"]) == 0
    assert json.loads((tmp_path / ".mvpipe" / "takes.json").read_text()) == {"highway": 2}
    capsys.readouterr()
    assert main(["plan", str(board), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["segments"][0]["request"]["take"] == 2


def test_more_outputs_cut_the_same_takes(tmp_path: Path, capsys) -> None:
    board = tmp_path / "board.yaml"
    board.write_text(f"""\
mvpipe: 1
song: {ROOT / "assets" / "demo_song.mp3"}
output: {{height: 720, path: {tmp_path / "wide.mp4"}, quality: draft, also: [{{aspect: "9:16", fit: blur}}]}}
timing: {{end: 4}}
shots:
  - {{id: highway, length: 1 bar, prompt: road}}
  - {{id: car, prompt: car, transition: crossfade}}
""")
    assert main(["render", str(board)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "wide.mp4"), str(tmp_path / "wide-9x16.mp4")]
    manifests = [json.loads((tmp_path / f"{name}.manifest.json").read_text()) for name in ("wide", "wide-9x16")]
    assert [(m["width"], m["height"], m["fit"]) for m in manifests] == [(1280, 720, "cover"), (720, 1280, "blur")]
    assert manifests[0]["cuts"] == manifests[1]["cuts"]
    assert [s["take"] for s in manifests[0]["segments"]] == [s["take"] for s in manifests[1]["segments"]]
    assert len(list((tmp_path / ".mvpipe" / "takes").glob("*.mp4"))) == 2  # one take per shot, made once
    for name in ("wide", "wide-9x16"):
        assert main(["check", str(tmp_path / f"{name}.mp4")]) == 0
        with av.open(str(tmp_path / f"{name}.mp4")) as container:
            assert sum(1 for _ in container.decode(video=0)) == 120
    capsys.readouterr()
    assert main(["render", str(board), "--json"]) == 0                 # again, for a script: one JSON report
    report = json.loads(capsys.readouterr().out)
    assert [o["path"] for o in report["outputs"]] == [str(tmp_path / "wide.mp4"), str(tmp_path / "wide-9x16.mp4")]
    assert all(o["pieces_encoded"] == 0 and o["frames"] == 120 for o in report["outputs"])
    assert report["spent_usd"] == 0 and [r["status"] for r in report["estimate"]] == ["cached", "cached"]
    assert [(t["shot"], t["status"]) for t in report["takes"]] == [("highway", "done"), ("car", "done")]
    assert main(["plan", str(board)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("renders, all from the same takes: wide.mp4 (1280x720, cover, "
                                                       "draft), wide-9x16.mp4 (720x1280, blur, draft)")
    assert main(["render", str(board), "--json", "--dry-run", "--retake", "car"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] and "outputs" not in dry and dry["to_spend_usd"] == 0
    assert [(r["shot"], r["status"]) for r in dry["estimate"]] == [("highway", "cached"), ("car", "new")]


def test_check_confirms_the_demo_against_its_manifest(demo) -> None:
    proc = _run("check", str(demo["out"]), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["frames"] == demo["plan"]["frames"] and not report["problems"]


def test_plots_are_written(tmp_path: Path) -> None:
    for command, target in (("analyze", ROOT / "assets" / "demo_song.mp3"), ("plan", DEMO)):
        png = tmp_path / f"{command}.png"
        proc = _run(command, str(target), "--plot", str(png))
        assert proc.returncode == 0, proc.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_the_suites_own_commands_leave_an_empty_home_empty(tmp_path: Path) -> None:
    """The suite (here its plotting and analysis tests, which reach for ~/.cache and matplotlib's
    folder) run with HOME an empty folder and none of the suite's variables set: HOME stays empty."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MVPIPE_CACHE", "MPLCONFIGDIR")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_plot.py"],
                          cwd=ROOT, env={**env, "HOME": str(home)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-0.01", "ten"])
def test_max_cost_must_be_a_finite_amount(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["render", str(DEMO), "--max-cost", value, "--dry-run"])
    assert info.value.code == 2 and "0 or more" in capsys.readouterr().err


def _short_board(tmp_path: Path, extra: str = "") -> Path:
    shutil.copy(ROOT / "assets" / "demo_song.mp3", tmp_path / "song.mp3")
    board = tmp_path / "board.yaml"
    board.write_text(f"mvpipe: 1\nsong: song.mp3\noutput: {{height: 720, quality: draft}}\ntiming: {{end: 4}}\n{extra}"
                     "shots:\n  - {id: a, length: 1 bar, prompt: road}\n  - {id: b, prompt: car}\n")
    return board


@pytest.mark.parametrize("argv", [["render", "{board}", "-o", "{dir}/song.mp3"],
                                  ["plan", "{board}", "--plot", "{board}"],
                                  ["analyze", "{dir}/song.mp3", "--plot", "{dir}/song.mp3"]])
def test_nothing_the_user_made_is_overwritten(tmp_path: Path, argv: list[str]) -> None:
    board = _short_board(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    proc = _run(*(a.format(board=board, dir=tmp_path) for a in argv))
    assert proc.returncode == 2 and "would destroy it" in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing made, nothing changed


def test_check_refuses_what_is_not_a_rendered_video(tmp_path: Path) -> None:
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "empty.mp4").write_bytes(b"")
    shutil.copy(ROOT / "assets" / "demo_song.mp3", tmp_path / "song.mp3")
    make_clip(tmp_path / "v.mp4", seconds=0.5)
    (tmp_path / "v.manifest.json").write_text("{not json")
    for name, words in [("text.mp4", "not a video"), ("empty.mp4", "not a video"), ("song.mp3", "no video stream"),
                        ("v.mp4", "not a render manifest")]:
        proc = _run("check", str(tmp_path / name))
        assert proc.returncode == 2 and words in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    proc = _run("check", str(tmp_path / "v.mp4"), "--manifest", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "manifest not found" in proc.stderr, proc.stderr


def test_problems_found_before_anything_is_generated(tmp_path: Path) -> None:
    """A comfyui render without its workflow, and a workspace that is a file: exit 2, no take made."""
    board = _short_board(tmp_path, "generator: comfyui\n")
    proc = _run("render", str(board))
    assert proc.returncode == 2 and "needs a workflow: set COMFYUI_WORKFLOW" in proc.stderr, proc.stderr
    assert not list((tmp_path / ".mvpipe" / "takes").glob("*.mp4"))
    shutil.rmtree(tmp_path / ".mvpipe")
    (tmp_path / ".mvpipe").write_text("mine")
    proc = _run("render", str(_short_board(tmp_path)))
    assert proc.returncode == 2 and "is a file where mvpipe keeps a folder" in proc.stderr, proc.stderr
    assert (tmp_path / ".mvpipe").read_text() == "mine"


def test_a_truncated_song_and_a_retired_model_are_warned_about_at_plan(tmp_path: Path) -> None:
    board = _short_board(tmp_path, "generator: openai:sora-2\n")
    data = (tmp_path / "song.mp3").read_bytes()
    (tmp_path / "song.mp3").write_bytes(data[:len(data) // 3])
    proc = _run("plan", str(board))
    assert proc.returncode == 0, proc.stderr
    assert "may be cut short" in proc.stderr and "openai:sora-2 is past the retirement date" in proc.stderr


def test_mvpipe_debug_shows_the_traceback_of_any_error(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "text.mp4").write_text("not a video")
    assert main(["check", str(tmp_path / "text.mp4")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.setenv("MVPIPE_DEBUG", "1")
    assert main(["check", str(tmp_path / "text.mp4")]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "not a video FFmpeg reads" in err
