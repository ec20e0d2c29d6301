"""Storyboard loading: valid files load with paths resolved; every mistake is located and explained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import make_clip, write_png

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
    write_png(tmp_path / "mara.png")
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
    write_png(tmp_path / "mara.png")
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
    write_png(tmp_path / "mara.png")
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
    write_png(tmp_path / "mara.png")
    with pytest.raises(InputError) as info:
        load(write_board(GOOD.replace('output: {aspect: "9:16", height: 720}\n', ALSO.replace(old, new))))
    err = info.value
    assert (err.exit_code, err.line, err.field) == (2, line, field), str(err)
    assert words in str(err)


def _error(write_board, tmp_path: Path, old: str, new: str) -> InputError:
    write_png(tmp_path / "mara.png")
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


def _laughs() -> str:
    """The "billion laughs": 1 KB of YAML whose aliases expand to 10^9 values."""
    text = 'mvpipe: 1\nsong: song.wav\nl0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, 10):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
    return text + "shots:\n  - {id: a, prompt: x}\n"


@pytest.mark.parametrize(("text", "line", "shot", "field", "words"), [
    (_laughs(), 3, None, "l4", "expands to more than 20,000 values"),
    ("mvpipe: 1\ntitle: " + "[" * 5000 + "]" * 5000 + "\n", None, None, None, "nested too deeply"),
    ("mvpipe: 1\nsong: song.wav\ntitle: x\n" + "".join(f"k{i}: v\n" for i in range(25000)), None, None, None,
     "more than 20,000 values"),
    ('mvpipe: 1\nsong: song.wav\ntitle: "a\\0b"\nshots: [{id: a, prompt: x}]\n', 3, None, "title", "NUL character"),
    ("mvpipe: 1\nsong: song.wav\ntitle: a\ntitle: b\nshots: [{id: a, prompt: x}]\n", 4, None, "title",
     "'title' is given twice (first on line 3)"),
    ("mvpipe: 1\nsong: song.wav\nshots:\n  - id: a\n    prompt: x\n    camera: pan\n    camera: tilt\n", 7, "a",
     "camera", "given twice"),
    ("mvpipe: 1\nsong: song.wav\noutput: {aspect: 16:9}\nshots: [{id: a, prompt: x}]\n", 3, None, "output.aspect",
     'YAML read the unquoted 16:9 as the number 969; write it in quotes: aspect: "16:9"'),
    ("mvpipe: 1\nsong: song.wav\ntiming: {end: .inf}\nshots: [{id: a, prompt: x}]\n", 3, None, "timing.end",
     "finite number"),
])
def test_hostile_yaml_is_refused_at_its_place(write_board, text: str, line: int | None, shot: str | None,
                                              field: str | None, words: str) -> None:
    with pytest.raises(InputError) as info:
        load(write_board(text))
    err = info.value
    assert (err.exit_code, err.line, err.shot, err.field) == (2, line, shot, field), str(err)
    assert words in str(err)


@pytest.mark.parametrize(("raw", "line", "words"), [
    (b"mvpipe: 1\nsong: song.wav\ntitle: caf\xe9\n", 3, "not UTF-8 text (byte 0xe9)"),
    (b"mvpipe: 1\ntitle: a\x00b\n", 2, "a NUL character"),
    (b"mvpipe: 1\ntitle: " + b"x" * 600_000 + b"\n", None, "a storyboard is a small text file"),
])
def test_a_file_that_is_not_a_small_text_file_is_refused(tmp_path: Path, raw: bytes, line: int | None,
                                                         words: str) -> None:
    path = tmp_path / "board.yaml"
    path.write_bytes(raw)
    with pytest.raises(InputError) as info:
        load(path)
    assert (info.value.line, info.value.file) == (line, str(path)) and words in str(info.value)


SIMPLE = "mvpipe: 1\nsong: song.wav\n{extra}shots:\n  - {{id: a, prompt: x{shot}}}\n"


@pytest.mark.parametrize(("extra", "shot", "files", "field", "words"), [
    ("output: {path: song.wav}\n", "", {}, "output.path", "song.wav is the song; writing the output there would"),
    ("output: {path: board.yaml}\n", "", {}, "output.path", "is the storyboard"),
    ("output: {path: clip.mp4}\n", ", footage: clip.mp4", {"clip.mp4": "real"}, "output.path", "shot 'a''s footage"),
    ("output: {path: clips/new.mp4}\n", ", footage: clips", {"clips/a.mp4": "real"}, "output.path",
     "is inside shot 'a''s footage"),
    ("output: {path: .mvpipe/takes/x.mp4}\n", "", {}, "output.path", "inside mvpipe's workspace"),
    ("output: {path: folder}\n", "", {"folder/x": "x"}, "output.path", "is a folder, not a file name"),
    ("output: {path: afile/v.mp4}\n", "", {"afile": "x"}, "output.path", "which is a file"),
    ("output: {also: [{aspect: '9:16', path: song.wav}]}\n", "", {}, "output.also.0", "is the song"),
    ("characters: {m: {description: d, references: [m.png]}}\n", ", characters: [m]", {"m.png": "text"},
     "characters.m.references.0", "not a complete image"),
    ("characters: {m: {description: d, references: [m.png]}}\n", ", characters: [m]", {"m.png": "bomb"},
     "characters.m.references.0", "more than mvpipe reads (40 megapixels)"),
    ("", ", footage: f.mp4", {"f.mp4": "text"}, "footage", "not a video FFmpeg reads"),
    ("", ", footage: f.png", {"f.png": "bomb"}, "footage", "more than mvpipe reads"),
    ("", ", footage: empty", {"empty/readme.txt": "x"}, "footage", "no video files in the footage folder"),
])
def test_outputs_never_overwrite_inputs_and_media_are_checked_at_load(
        write_board, tmp_path: Path, extra: str, shot: str, files: dict[str, str], field: str, words: str) -> None:
    for name, kind in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "real":
            make_clip(path, seconds=0.5)
        elif kind == "bomb":   # 7000x6000 (42 MP) of zeros: a small file that decodes to 126 MB
            from PIL import Image
            Image.new("L", (7000, 6000)).save(path)
        else:
            path.write_text(kind)
    with pytest.raises(InputError) as info:
        load(write_board(SIMPLE.format(extra=extra, shot=shot)))
    err = info.value
    assert err.exit_code == 2 and err.field == field and err.line is not None and words in str(err), str(err)
    assert err.shot == ("a" if field == "footage" else None)


def test_an_output_that_is_the_song_under_another_name_is_refused(write_board, tmp_path: Path) -> None:
    board = load(write_board(SIMPLE.format(extra="", shot="")))
    os.link(tmp_path / "song.wav", tmp_path / "linked.mp4")
    with pytest.raises(InputError, match="linked.mp4 is the song") as info:
        board.with_overrides(output=tmp_path / "linked.mp4")
    assert info.value.field == "--output" and (tmp_path / "song.wav").read_bytes() == b"RIFF"
    assert board.with_overrides(output=tmp_path / "fine.mp4").outputs()[0].path == tmp_path / "fine.mp4"


def test_devices_link_loops_and_whole_disks_are_refused(write_board, tmp_path: Path) -> None:
    board = load(write_board(SIMPLE.format(extra="", shot="")))
    with pytest.raises(InputError, match="/dev/null is a device or pipe"):
        board.with_overrides(output=Path("/dev/null"))   # os.replace would swap the device for a video
    os.symlink(tmp_path / "loop-a", tmp_path / "loop-b")
    os.symlink(tmp_path / "loop-b", tmp_path / "loop-a")
    with pytest.raises(InputError, match="cannot be resolved") as info:
        load(write_board(SIMPLE.format(extra="output: {path: loop-a}\n", shot="")))
    assert info.value.field == "output.path"
    with pytest.raises(InputError, match="holds more than 10,000 files") as info:
        load(write_board(SIMPLE.format(extra="", shot=", footage: /")))
    assert (info.value.shot, info.value.field) == ("a", "footage")
