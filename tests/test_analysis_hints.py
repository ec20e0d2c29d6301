"""The user's word on timing: storyboard keys validated with located errors, beat files in the three
formats (and their errors by line), and the analysis following what the user said."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from support import eval_generator

from mvpipe.analysis import TimingHints, analyze
from mvpipe.analysis.hints import read_beat_times
from mvpipe.errors import InputError
from mvpipe.storyboard import load

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rock172(tmp_path_factory) -> tuple[Path, dict]:
    gen = eval_generator()
    out = tmp_path_factory.mktemp("hints")
    parts = [gen.Part("A", 4, "rock", 172), gen.Part("B", 4, "rock", 172)]
    return out / "rock172.wav", gen.make(gen.Song("rock172", "test", "numpy", 7, parts), out)


# ------------------------------------------------------------------------------------ beat files


@pytest.mark.parametrize(("name", "text"), [
    ("plain.txt", "0.5\n1.0\n\n1.5\n2.0\n"),
    ("madmom.beats", "0.5 1\n1.0\t2\n1.5 3\n2.0 4\n"),
    ("daw.csv", "bar,time_s,label\n1,0.5,a\n1,1.0,b\n1,1.5,c\n2,2.0,d\n"),
    ("comments.txt", "# exported beats\n0.5\n1.0\n1.5\n2.0\n"),
])
def test_beat_files_in_each_format_give_the_times(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert read_beat_times(path) == [0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("0.5\n1.0\nabc\n", 3, "'abc' is not a time"),
    ("0.5\n1.0\n0.9\n", 3, "must increase"),
    ("time\n0.5\n-1\n", 3, "'-1' is not a time"),
    ("0.5 1\n", None, "one beat"),
    ("\n\n", None, "empty"),
])
def test_bad_beat_files_name_the_file_and_line(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    path = tmp_path / "beats.txt"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_beat_times(path)
    assert info.value.line == line and words in str(info.value) and str(path) in str(info.value)
    assert info.value.exit_code == 2


# ------------------------------------------------------------------------------ storyboard keys

BOARD = """\
mvpipe: 1
song: song.wav
timing:
  {key}
shots:
  - id: a
    prompt: road
"""


def test_timing_keys_load_with_the_beats_path_relative_to_the_board(write_board, tmp_path: Path) -> None:
    (tmp_path / "beats.txt").write_text("0.5\n1.0\n")
    board = load(write_board(BOARD.format(key="{bpm: 86, meter: 3, first_downbeat: 1.25, beats: beats.txt}")
                             .replace("  {", "{").replace("timing:\n", "timing: ")))
    assert (board.timing.bpm, board.timing.meter, board.timing.first_downbeat) == (86, 3, 1.25)
    assert board.timing.beats == tmp_path / "beats.txt"


@pytest.mark.parametrize(("key", "field", "words"), [
    ("bpm: 500", "timing.bpm", "400"),
    ("bpm: fast", "timing.bpm", "number"),
    ("meter: 0", "timing.meter", "1"),
    ("meter: 3.5", "timing.meter", "integer"),
    ("first_downbeat: -1", "timing.first_downbeat", "0"),
    ("beats: nowhere.txt", "timing.beats", "beats file not found"),
])
def test_bad_timing_keys_are_located(write_board, tmp_path: Path, key: str, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        load(write_board(BOARD.format(key=key)))
    err = info.value
    assert err.line == 4 and err.field == field and words in str(err), str(err)


# --------------------------------------------------------------------------- the analysis follows


def test_the_users_bpm_fixes_the_level(rock172) -> None:
    path, truth = rock172
    assert analyze(path).tempo == pytest.approx(172, rel=0.03)
    half = analyze(path, hints=TimingHints(bpm=86))
    assert half.tempo == pytest.approx(86, rel=0.03) and half.confidence == 1.0
    off = np.abs(np.array(half.beats)[:, None] - np.array(truth["beats"])[None, :]).min(axis=1)
    assert np.mean(off < 0.07) >= 0.95  # every other true beat, not the off-beats between them


def test_the_users_meter_and_first_downbeat_place_the_bars(rock172) -> None:
    path, truth = rock172
    beats = truth["beats"]
    result = analyze(path, hints=TimingHints(meter=3, first_downbeat=beats[5]))
    assert result.meter == 3
    assert any(abs(d - beats[5]) < 0.05 for d in result.downbeats)
    gaps = np.diff([result.beats.index(d) for d in result.downbeats])
    assert set(gaps) == {3}


def test_a_beats_file_is_used_as_it_is_and_cached_apart(rock172, tmp_path: Path) -> None:
    path, _ = rock172
    mine = tmp_path / "mine.beats"
    mine.write_text("".join(f"{t:.3f} {k % 4 + 1}\n" for k, t in enumerate(np.arange(0.3, 10.0, 0.5))))
    cache = tmp_path / "cache"
    plain = analyze(path, cache)
    given = analyze(path, cache, hints=TimingHints(beats=mine))
    assert given.beats == pytest.approx(list(np.arange(0.3, 10.0, 0.5)), abs=0.006)
    assert given.tempo == pytest.approx(120, rel=0.01)
    assert len(list(cache.iterdir())) == 2 and analyze(path, cache) == plain


def test_analyze_json_carries_candidates_confidence_and_warnings(tmp_path: Path) -> None:
    sr = 22050
    noise = tmp_path / "noise.wav"
    wavfile.write(noise, sr, (0.1 * np.random.default_rng(3).standard_normal(15 * sr)).astype(np.float32))
    proc = subprocess.run([sys.executable, "-m", "mvpipe.cli", "analyze", str(noise), "--json", "--bpm", "90"],
                          capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT),
                                                                            "MVPIPE_CACHE": str(tmp_path / "c")})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"tempo_candidates", "confidence", "steady_pulse", "warnings"} <= doc.keys()
    assert doc["steady_pulse"] is False and doc["tempo"] == pytest.approx(90, rel=0.02)
    assert "warning: no steady pulse" in proc.stderr and "90 BPM" in proc.stderr
    bad = subprocess.run([sys.executable, "-m", "mvpipe.cli", "analyze", str(noise), "--meter", "0"],
                         capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert bad.returncode == 2 and "--meter" in bad.stderr


def test_plan_warns_when_the_song_has_no_pulse_and_says_which_keys_fix_it(tmp_path: Path) -> None:
    sr = 22050
    wavfile.write(tmp_path / "ambient.wav", sr,
                  (0.1 * np.random.default_rng(4).standard_normal(20 * sr)).astype(np.float32))
    board = tmp_path / "board.yaml"
    board.write_text("mvpipe: 1\nsong: ambient.wav\ngenerator: animatic\nshots:\n"
                     "  - id: a\n    length: 2 bars\n    prompt: fog\n  - id: b\n    prompt: sea\n")
    env = {"PYTHONPATH": str(ROOT), "MVPIPE_CACHE": str(tmp_path / "c"), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "mvpipe.cli", "plan", str(board)],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "warning: no steady pulse" in proc.stderr and "timing.bpm" in proc.stderr
    board.write_text(board.read_text().replace("generator:", "timing: {bpm: 90}\ngenerator:"))
    proc = subprocess.run([sys.executable, "-m", "mvpipe.cli", "plan", str(board), "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    segments = json.loads(proc.stdout)["segments"]
    assert segments[0]["end"] - segments[0]["start"] == pytest.approx(8 * 60 / 90, abs=0.05)  # 2 bars at 90
