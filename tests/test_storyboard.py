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


ALSO = """output:
  aspect: "16:9"
  height: 720
  fit: cover
  also:
    - {aspect: "9:16", fit: blur}
    - {aspect: "1:1", height: 1080, quality: draft, path: square.mp4}
"""


def test_more_outputs_inherit_what_they_leave_out_and_get_their_own_paths(write_board, tmp_path: Path) -> None:
    (tmp_path / "mara.png").write_bytes(b"png")
    board = load(write_board(GOOD.replace('output: {aspect: "9:16", height: 720}\n', ALSO)))
    main, tall, square = board.outputs()
    assert (main.path, main.size, main.fit, main.quality) == (tmp_path / "out" / "board.mp4", (1280, 720), "cover",
                                                             "final")
    assert (tall.path, tall.size, tall.fit, tall.quality) == (tmp_path / "out" / "board-9x16.mp4", (720, 1280),
                                                             "blur", "final")
    assert (square.path, square.size, square.quality) == (tmp_path / "square.mp4", (1080, 1080), "draft")
    assert {o.fps for o in board.outputs()} == {30} and all(not o.also for o in board.outputs())


@pytest.mark.parametrize(("old", "new", "line", "field", "words"), [
    ("{aspect: \"9:16\", fit: blur}", "{aspect: \"9:16\", fps: 24}", 9, "output.also.0.fps", "unknown key 'fps'"),
    ("path: square.mp4", "path: out/board.mp4", 10, "output.also.1", "would overwrite board.mp4"),
    ("{aspect: \"1:1\", height: 1080, quality: draft, path: square.mp4}", "{aspect: \"9:16\", quality: draft}", 10,
     "output.also.1", "would overwrite board-9x16.mp4"),
])
def test_bad_extra_outputs_are_located(write_board, tmp_path: Path, old: str, new: str, line: int, field: str,
                                       words: str) -> None:
    (tmp_path / "mara.png").write_bytes(b"png")
    with pytest.raises(InputError) as info:
        load(write_board(GOOD.replace('output: {aspect: "9:16", height: 720}\n', ALSO.replace(old, new))))
    err = info.value
    assert (err.exit_code, err.line, err.field) == (2, line, field), str(err)
    assert words in str(err)


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
