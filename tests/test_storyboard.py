"""Storyboard loading: valid files load with paths resolved; every mistake is located and explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvpipe.errors import InputError
from mvpipe.storyboard import Length, load

GOOD = """\
mvpipe: 1
title: Night Drive
song: song.wav
output: {aspect: "9:16", height: 720}
characters:
  mara:
    description: woman, silver bob
    references: [mara.png]
shots:
  - id: intro
    length: 4 bars
    prompt: empty highway
  - id: drive
    characters: [mara]
    prompt: mara drives
    transition: {type: crossfade, length: 2 beats}
  - id: end
    length: 3.5s
    prompt: dawn
    continue: previous
"""


def test_valid_storyboard_loads_with_paths_relative_to_it(write_board, tmp_path: Path) -> None:
    (tmp_path / "mara.png").write_bytes(b"png")
    board = load(write_board(GOOD))
    assert board.song == tmp_path / "song.wav"
    assert board.characters["mara"].references == [tmp_path / "mara.png"]
    assert board.shots[0].length == Length(value=4, unit="bars")
    assert board.shots[1].length is None
    assert board.shots[1].transition.type == "crossfade"
    assert board.shots[1].transition.length == Length(value=2, unit="beats")
    assert board.shots[2].length == Length(value=3.5, unit="seconds")
    assert board.shots[2].continue_ == "previous"
    assert board.output.size == (720, 1280)
    assert board.output_path() == tmp_path / "out" / "board.mp4"


@pytest.mark.parametrize(("aspect", "height", "size"), [
    ("16:9", 1080, (1920, 1080)), ("16:9", 720, (1280, 720)), ("9:16", 1080, (1080, 1920)),
    ("1:1", 1080, (1080, 1080)), ("4:5", 1080, (1080, 1350)), ("16:9", 2160, (3840, 2160)),
])
def test_output_size_follows_aspect(write_board, tmp_path: Path, aspect: str, height: int, size) -> None:
    (tmp_path / "mara.png").write_bytes(b"png")
    text = GOOD.replace('output: {aspect: "9:16", height: 720}', f'output: {{aspect: "{aspect}", height: {height}}}')
    assert load(write_board(text)).output.size == size


def _error(write_board, tmp_path: Path, old: str, new: str) -> InputError:
    (tmp_path / "mara.png").write_bytes(b"png")
    assert old in GOOD
    with pytest.raises(InputError) as info:
        load(write_board(GOOD.replace(old, new, 1)))
    err = info.value
    assert err.exit_code == 2
    assert str(err).startswith(str(tmp_path / "board.yaml"))
    return err


@pytest.mark.parametrize(("old", "new", "line", "shot", "field", "words"), [
    ("length: 4 bars", "length: 4 barz", 11, "intro", "length", "cannot parse '4 barz'"),
    ("length: 4 bars", "length: 4", 11, "intro", "length", "has no unit"),
    ("characters: [mara]\n", "characters: [mira]\n", 14, "drive", "characters.0", "Did you mean 'mara'"),
    ("    prompt: mara drives", "    promt: mara drives", 15, "drive", "promt", "Did you mean 'prompt'"),
    ("type: crossfade", "type: crosfade", 16, "drive", "transition.type", "crossfade"),
    ("  - id: end", "  - id: intro", 17, "intro", "id", "duplicate shot id"),
    ("    prompt: dawn\n", "", 17, "end", None, "needs a 'prompt'"),
    ("mvpipe: 1", "mvpipe: 2", 1, None, "mvpipe", "spec version"),
    ("title: Night Drive", "titel: Night Drive", 2, None, "titel", "Did you mean 'title'"),
    ("height: 720", "height: 700", 4, None, "output.height", None),
])
def test_errors_name_line_shot_and_field(write_board, tmp_path, old, new, line, shot, field, words) -> None:
    err = _error(write_board, tmp_path, old, new)
    assert err.line == line, str(err)
    assert err.shot == shot, str(err)
    if field:
        assert err.field == field, str(err)
    if words:
        assert words in str(err)


def test_missing_song_is_named(write_board, tmp_path: Path) -> None:
    err = _error(write_board, tmp_path, "song: song.wav", "song: nowhere.wav")
    assert err.line == 3 and "nowhere.wav" in str(err)


def test_missing_reference_image_is_named(write_board, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load(write_board(GOOD))  # mara.png not written
    assert info.value.line == 8 and "mara.png" in str(info.value)


def test_bad_yaml_names_the_line(write_board, tmp_path: Path) -> None:
    err = _error(write_board, tmp_path, "title: Night Drive", "title: [Night Drive")
    assert err.line in (2, 3) and "not valid YAML" in str(err)


def test_first_shot_cannot_continue(write_board, tmp_path: Path) -> None:
    err = _error(write_board, tmp_path, "    length: 4 bars\n", "    length: 4 bars\n    continue: previous\n")
    assert err.shot == "intro" and "no previous shot" in str(err)


def test_not_a_mapping(write_board) -> None:
    with pytest.raises(InputError, match="YAML mapping"):
        load(write_board("- just\n- a list\n"))
