"""Lyrics in, timed, set: files read (LRC, enhanced LRC, SRT, VTT, ASS), lines on frames, rows, ASS, sidecars."""

from __future__ import annotations

import json
from pathlib import Path

import pysubs2
import pytest
from support import grid_analysis

from mvpipe.api import load  # the full load: the lyrics file read, the font checked
from mvpipe.captions.layout import Frame, header, piece_script, rows, sidecars
from mvpipe.captions.source import read_file
from mvpipe.cli import main
from mvpipe.errors import InputError
from mvpipe.generation.providers import resolve
from mvpipe.planner import Plan, generator_specs, plan

HEAD = """\
mvpipe: 1
song: song.wav
output: {fps: 30, height: 720}
"""
SHOTS = """\
shots:
  - {id: a, length: 4 bars, prompt: x}
  - {id: b, prompt: x}
"""
FRAME = Frame(width=1280, height=720, aspect="16:9", fps=30)


def _plan(write_board, body: str, shots: str = SHOTS, **grid) -> Plan:
    board = load(write_board(HEAD + body + shots))
    return plan(board, grid_analysis(**grid), {s: resolve(s)[1] for s in generator_specs(board)})


def _spans(p: Plan) -> list[tuple[str, int, int]]:
    assert p.captions is not None
    return [(x.text, x.start_frame, x.end_frame) for x in p.captions.lines]


# --- reading files -------------------------------------------------------------------------------------------

def test_enhanced_lrc_gives_line_and_word_times(tmp_path: Path) -> None:
    f = tmp_path / "w.lrc"
    f.write_text("[ti:Test]\n[ar:mvpipe]\n[00:01.00]<00:01.00>one <00:01.50>two <00:02.25>three\n"
                 "[00:04.00]plain line\n[00:06.50]\n", encoding="utf-8")
    lines = read_file(f)
    assert [(x.text, x.start, x.end, x.line) for x in lines] == [("one two three", 1.0, 4.0, 3),
                                                                  ("plain line", 4.0, 6.5, 4)]
    assert [t for t, _ in lines[0].words] == [1.0, 1.5, 2.25]
    assert [w.strip() for _, w in lines[0].words] == ["one", "two", "three"]


def test_lrc_repeated_times_offset_and_order(tmp_path: Path) -> None:
    f = tmp_path / "w.lrc"
    f.write_text("[offset:+500]\n[00:10.00][00:02.00]chorus\n[00:05.00]verse\n", encoding="utf-8")
    lines = read_file(f)
    # a positive offset shows the words sooner; a line with two times is sung twice
    assert [(x.text, x.start, x.end) for x in lines] == [("chorus", 1.5, 4.5), ("verse", 4.5, 9.5),
                                                         ("chorus", 9.5, None)]


@pytest.mark.parametrize("name,text", [
    ("w.srt", "1\n00:00:01,000 --> 00:00:02,500\nfirst <i>line</i>\n\n2\n00:00:03,000 --> 00:00:04,000\nsecond\n"),
    ("w.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nfirst line\n\n00:00:03.000 --> 00:00:04.000\nsecond\n"),
])
def test_srt_and_vtt_are_read_by_pysubs2(tmp_path: Path, name: str, text: str) -> None:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    assert [(x.text, x.start, x.end) for x in read_file(f)] == [("first line", 1.0, 2.5), ("second", 3.0, 4.0)]


def test_ass_karaoke_tags_give_word_times(tmp_path: Path) -> None:
    subs = pysubs2.SSAFile()
    subs.events.append(pysubs2.SSAEvent(start=2000, end=4000, text="{\\k50}sing {\\k100}it {\\k50}loud"))
    f = tmp_path / "w.ass"
    subs.save(str(f))
    (line,) = read_file(f)
    assert line.text == "sing it loud" and [t for t, _ in line.words] == [2.0, 2.5, 3.5]


@pytest.mark.parametrize("name,data,line,what", [
    ("w.lrc", b"[00:01.00]ok\n[xx:yy]bad\n", 2, "unknown tag '[xx:yy]'"),
    ("w.lrc", b"[00:01.00]ok\nno time here\n", 2, "without a [mm:ss.xx] time"),
    ("w.lrc", b"[00:01.00]ok <b>bold</b>\n", 1, "unknown tag '<b>'"),
    ("w.lrc", b"[00:01.00]ok\n[00:02.00]caf\xe9\n", 2, "not UTF-8"),
    ("w.lrc", b"[00:01.00]<00:01.50>a <00:01.20>b\n", 1, "word times go backwards"),
    ("w.ass", b"[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, "
              b"MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\pos(1,2)}x\n",
     6, "unknown tag '\\pos(1,2)'"),
])
def test_bad_files_are_located_by_line(tmp_path: Path, name: str, data: bytes, line: int, what: str) -> None:
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_file(f)
    assert err.value.file == str(f) and err.value.line == line and what in err.value.message


def test_unreadable_unknown_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "dir.lrc").mkdir()
    (tmp_path / "w.txt").write_text("x")
    for name, what in (("dir.lrc", "cannot read"), ("w.txt", "'.txt'"), ("none.srt", "not found")):
        with pytest.raises(InputError, match=what):
            read_file(tmp_path / name)


# --- the storyboard and the font -----------------------------------------------------------------------------

def test_storyboard_errors_exit_2_before_analysis(write_board, tmp_path: Path, capsys) -> None:
    (tmp_path / "w.lrc").write_text("[00:01.00]fine\n[00:02.00]\u4f60\u597d\n", encoding="utf-8")
    path = write_board(HEAD + "lyrics: w.lrc\n" + SHOTS)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'w.lrc'}:2:" in err and "U+4F60" in err and "Noto Sans CJK" in err


@pytest.mark.parametrize("body,line,field,what", [
    ("captions: {font: nothere.ttf}\n", 4, "captions.font", "font file not found"),
    ("lyrics: [{at: 1 bar, text: 'go \U0001F697'}]\n", 4, "lyrics.lines.0.text", "U+1F697"),
    ("lyrics: [{at: 1 bar, text: '\u0645\u0631\u062d\u0628\u0627'}]\n", 4, "lyrics.lines.0.text", "Noto Sans Arabic"),
    ("lyrics: [{at: 1 barz, text: hi}]\n", 4, "lyrics.lines.0.at", "cannot parse"),
    ("captions: {colour: white}\n", 4, "captions.colour", "not a colour"),
    ("captions: {sise: 0.1}\n", 4, "captions.sise", "Did you mean 'size'"),
])
def test_storyboard_lyrics_errors_are_located(write_board, body: str, line: int, field: str, what: str) -> None:
    with pytest.raises(InputError) as err:
        load(write_board(HEAD + body + SHOTS))
    assert (err.value.line, err.value.field) == (line, field) and what in str(err.value)


def test_a_users_font_that_covers_the_script_is_accepted(write_board, tmp_path: Path) -> None:
    arabic = pytest.importorskip("fontpkg_noto_sans_arabic", reason="dev extra fontpkg-noto-sans-arabic")
    font = next((arabic.ROOT / "files").glob("*.ttf"))
    board = load(write_board(HEAD + f"captions: {{font: '{font}'}}\n"
                             "lyrics: [{at: 1 bar, text: '\u0645\u0631\u062d\u0628\u0627 \u0628\u0643'}]\n" + SHOTS))
    assert board.captions.font == font


# --- timing --------------------------------------------------------------------------------------------------

def test_grid_lines_land_on_bars_and_beats_from_the_videos_start(write_board) -> None:
    p = _plan(write_board, "timing: {start: 2.0}\nlyrics:\n  - {at: 12 bars, text: twelve, length: 1 bar}\n"
                           "  - {at: 33 beats, text: thirty-three}\n  - {at: 1.5s, text: early}\n"
                           "  - {at: 0 bars, text: first}\n")
    # 120 bpm, 30 fps: a beat is 15 frames, a bar 60; 'at' counts from the video's start (song 2.0 s)
    assert _spans(p) == [("first", 0, 45), ("early", 45, 495), ("thirty-three", 495, 720), ("twelve", 720, 780)]


def test_offset_ms_moves_lines_with_the_cuts(write_board) -> None:
    p = _plan(write_board, "timing: {offset_ms: 100}\nlyrics: [{at: 4 bars, text: x, length: 1 bar}]\n")
    assert _spans(p) == [("x", 243, 303)] and p.segments[1].start_frame == 243


def test_a_shots_lines_share_its_bars(write_board) -> None:
    shots = "shots:\n  - {id: a, length: 4 bars, prompt: x}\n  - {id: b, length: 6 bars, prompt: x, " \
            "lyrics: \"one\\ntwo\\nthree\\nfour\"}\n  - {id: c, length: 3 beats, prompt: x, lyrics: [d, e, f]}\n" \
            "  - {id: z, prompt: x}\n"
    p = _plan(write_board, "", shots)
    # 6 bars / 4 lines = 1.5 bars each -> starts on whole bars 0, 2, 3, 5 (half up); 3 beats / 3 lines -> beats
    assert _spans(p) == [("one", 240, 360), ("two", 360, 420), ("three", 420, 540), ("four", 540, 600),
                         ("d", 600, 615), ("e", 615, 630), ("f", 630, 645)]


def test_file_times_follow_timing_start_and_the_last_line_holds_two_bars(write_board, tmp_path: Path) -> None:
    (tmp_path / "w.lrc").write_text("[00:01.00]before the video\n[00:03.00]\n[00:03.50]straddles\n[00:05.00]five\n"
                                    "[00:07.01]seven\n", encoding="utf-8")
    p = _plan(write_board, "timing: {start: 4.0}\nlyrics: w.lrc\n")
    assert _spans(p) == [("straddles", 0, 30), ("five", 30, 90), ("seven", 90, 210)]
    assert "1 lyric line(s) lie outside timing.start..timing.end and are not shown." in p.warnings


@pytest.mark.parametrize("text,line,what", [
    ("1\n00:00:01,000 --> 00:00:03,000\na\n\n2\n00:00:02,000 --> 00:00:04,000\nb\n", 6, "before the line before"),
    ("1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:01:02,000 --> 00:01:04,000\nb\n", 6, "the song ends at 60.00s"),
    ("1\n00:00:01,000 --> 00:00:01,010\na\n", 2, "less than one frame"),
])
def test_overlaps_lines_past_the_end_and_blinks_are_errors(write_board, tmp_path: Path, text: str, line: int,
                                                           what: str) -> None:
    (tmp_path / "w.srt").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        _plan(write_board, "lyrics: w.srt\n")
    assert err.value.file == str(tmp_path / "w.srt") and err.value.line == line and what in err.value.message


def test_overlapping_storyboard_lines_name_the_line(write_board) -> None:
    with pytest.raises(InputError) as err:
        _plan(write_board, "lyrics:\n  - {at: 1 bar, text: a, length: 2 bars}\n  - {at: 2 bars, text: b}\n")
    assert err.value.field == "lyrics.lines.1.at" and err.value.line == 6


# --- setting -------------------------------------------------------------------------------------------------

def test_rows_are_balanced_within_the_limit() -> None:
    words = "every mile a little brighter than the last".split()
    got = [" ".join(words[i] for i in r) for r in rows(words, lambda t: len(t) <= 26, len)]
    assert got == ["every mile a little", "brighter than the last"]
    assert [len(r) for r in rows(words, lambda t: len(t) <= 80, len)] == [8]
    # a word longer than the limit keeps its row
    assert rows(["supercalifragilistic", "x"], lambda t: len(t) <= 8, len) == [[0], [1]]
    cjk = list("\u6211\u4eec\u4e00\u8d77\u5f00\u8f66\u56de\u5bb6")   # unspaced: breaks between any two
    assert [len(r) for r in rows(cjk, lambda t: len(t) <= 5, len)] == [4, 4]


def _track(write_board, body: str):
    p = _plan(write_board, body)
    assert p.captions is not None
    return p.captions


def test_piece_scripts_hold_only_their_lines_in_frame_numbered_time(write_board) -> None:
    track = _track(write_board, "lyrics:\n  - {at: 1 bar, text: one, length: 1 bar}\n"
                                "  - {at: 3 bars, text: two, length: 1 bar}\n")
    head = header(track, FRAME, "d")
    assert piece_script(track, FRAME, head, 0, 60) is None         # frames 0-59: before 'one'
    first = piece_script(track, FRAME, head, 0, 61)
    assert first is not None and "Dialogue: 0,0:00:00.60,0:00:01.20,L,,0,0,0,,one" in first and "two" not in first
    both = piece_script(track, FRAME, head, 100, 100)
    assert both.count("Dialogue:") == 2 and "0:00:01.80,0:00:02.40" in both
    assert "PlayResX: 1280" in head and "PlayResY: 720" in head and "Noto Sans" in head


def test_karaoke_word_durations_add_up_to_the_line(write_board, tmp_path: Path) -> None:
    (tmp_path / "w.lrc").write_text("[00:02.00]<00:02.10>a <00:02.50>b <00:03.00>c\n[00:04.00]\n", encoding="utf-8")
    track = _track(write_board, "lyrics: w.lrc\n")
    script = piece_script(track, FRAME, header(track, FRAME, "d"), 0, 300)
    assert ",K,," in script and "{\\k3}{\\k12}a{\\k15} b{\\k30} c" in script   # 3 frames before the first word


def test_sidecars_read_back_with_pysubs2(write_board) -> None:
    track = _track(write_board, "lyrics:\n  - {at: 1 beat, text: 'one two three four five six seven eight nine "
                                "ten eleven twelve', length: 1 bar}\n  - {at: 7 beats, text: 'b'}\n")
    for ext, text in sidecars(track, FRAME).items():
        subs = pysubs2.SSAFile.from_string(text, format_=ext)
        # a frame n is at n/30 s: times are rounded down to the ms so each line starts on its own frame
        assert [(e.start, e.end) for e in subs] == [(500, 2500), (3500, 7500)]   # the last holds 2 bars
        assert subs[0].plaintext == "one two three four five six seven\neight nine ten eleven twelve"


# --- end to end: the example storyboard, offline -------------------------------------------------------------

def test_the_example_renders_with_captions_in_each_outputs_safe_zone(tmp_path: Path, capsys) -> None:
    import av
    import numpy as np
    import yaml

    from mvpipe.captions.layout import SAFE_ZONES

    root = Path(__file__).resolve().parents[1] / "storyboards"
    doc = yaml.safe_load((root / "lyrics.yaml").read_text())
    doc.update(song=str(root.parent / "assets" / "demo_song.mp3"), timing={"end": 12})
    doc["output"].update(path=str(tmp_path / "lyrics.mp4"), subtitles="burn")
    doc["lyrics"]["file"] = str(root / "night_drive.lrc")
    doc["shots"] = [doc["shots"][0], dict(doc["shots"][1], length="2 bars")]
    board = tmp_path / "lyrics.yaml"
    board.write_text(yaml.safe_dump(doc))
    assert main(["render", str(board)]) == 0
    capsys.readouterr()
    bare = dict(doc, lyrics=None, output=dict(doc["output"], path=str(tmp_path / "bare.mp4")))
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(bare))
    assert main(["render", str(tmp_path / "bare.yaml")]) == 0        # the same takes, without the words
    for name, aspect in (("lyrics", "16:9"), ("lyrics-9x16", "9:16")):
        manifest = json.loads((tmp_path / f"{name}.manifest.json").read_text())
        assert [Path(p).name for p in manifest["sidecars"]] == [f"{name}.srt", f"{name}.vtt"]
        assert manifest["captions"][1]["text"] == "Headlights on the empty road"
        assert main(["check", str(tmp_path / f"{name}.mp4")]) == 0
        other = tmp_path / name.replace("lyrics", "bare")
        with av.open(str(tmp_path / f"{name}.mp4")) as a, av.open(str(other.with_suffix(".mp4"))) as b:
            pairs = zip(a.decode(video=0), b.decode(video=0), strict=True)
            diffs = [np.abs(fa.to_ndarray(format="gray").astype(int) - fb.to_ndarray(format="gray").astype(int)) > 48
                     for k, (fa, fb) in enumerate(pairs) if k % 10 == 0]
        ys, xs = np.nonzero(np.any(diffs, axis=0))
        h, w = diffs[0].shape
        left, right, top, bottom = SAFE_ZONES[aspect]
        assert xs.size and xs.min() >= left * w and xs.max() < (1 - right) * w and ys.max() < (1 - bottom) * h
