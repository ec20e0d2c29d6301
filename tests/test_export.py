"""Exports read back with OpenTimelineIO's adapters match the render frame by frame, and an independent
engine (MLT's melt) playing the exported edit cuts on the same frames as mvpipe's own render and plays
the song from the same point."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from mvpipe.assembly import manifest_path
from mvpipe.cli import main
from mvpipe.ffmpeg import decode_audio, run_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT / "assets" / "demo_song.mp3"
FPS = 24
BOARD = f"""\
mvpipe: 1
title: Tiny
song: {SONG}
output: {{height: 720, fps: {FPS}, quality: draft, path: out/tiny.mp4}}
timing: {{start: 2, end: 14}}
shots:
  - {{id: one, length: 1 bar, prompt: first, transition: fade-black}}
  - {{id: two, length: 2 bars, prompt: second}}
  - {{id: three, prompt: third, transition: crossfade}}
  - {{id: four, length: 1 bar, prompt: fourth}}
  - {{id: five, prompt: fifth, transition: {{type: wipe-left, length: 2 beats}}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The board rendered with the animatic, its timelines exported by the same run. The song is the demo's
    as WAV: an MP3 starts ~25 ms late in players that ignore its encoder delay (melt does)."""
    folder = tmp_path_factory.mktemp("export")
    song = folder / "song.wav"
    run_ffmpeg(["-i", str(SONG), str(song)], what="decoding the demo song")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MVPIPE_CACHE", str(folder / "cache"))
        board = folder / "board.yaml"
        board.write_text(BOARD.replace(str(SONG), str(song)))
        report = _json("render", str(board), "--export", "otio,fcpxml,edl,xml", "--json")
        plan, analysis = _json("plan", str(board), "--json"), _json("analyze", str(song), "--json")
    video = folder / "out" / "tiny.mp4"
    return {"folder": folder, "board": board, "song": song, "video": video, "plan": plan, "analysis": analysis,
            "report": report,
            "manifest": json.loads(manifest_path(video).read_text())}


def _json(*args: str) -> dict:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(list(args)) == 0
    return json.loads(out.getvalue())


def _read(path: Path) -> otio.schema.Timeline:
    return otio.adapters.read_from_file(str(path), **({"rate": FPS} if path.suffix == ".edl" else {}))


def _expected(manifest: dict, with_transitions: bool, reel: bool = False) -> dict[int, set[tuple[str, int]]]:
    """Output frame -> {(take file, take frame)} as the render read them: a take's frame 0 plays at
    its segment's start minus its head; through a transition both takes are on screen. ``reel``: an
    EDL names a take by its reel, the first 8 characters of its file name."""
    segs = manifest["segments"]
    frames: dict[int, set[tuple[str, int]]] = {}
    for k, seg in enumerate(segs):
        origin = seg["start_frame"] - seg["head_frames"]
        first = origin if with_transitions else seg["start_frame"]
        nxt = segs[k + 1] if k + 1 < len(segs) else None
        tail = nxt["transition_frames"] - nxt["head_frames"] if nxt and with_transitions else 0
        for f in range(first, seg["end_frame"] + tail):
            frames.setdefault(f, set()).add((Path(seg["take"]).name[:8 if reel else None], f - origin))
    return frames


def _played(tl: otio.schema.Timeline, reel: bool = False) -> dict[int, set[tuple[str, int]]]:
    """The same map, from a timeline read back: OTIO's semantics of clip ranges and transition offsets."""
    track = tl.video_tracks()[0]
    items = list(track)
    frames: dict[int, set[tuple[str, int]]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, otio.schema.Clip):
            continue
        rec = item.trimmed_range_in_parent()
        start = round(rec.start_time.rescaled_to(FPS).value)
        end = round(rec.end_time_exclusive().rescaled_to(FPS).value)
        before = items[i - 1] if i and isinstance(items[i - 1], otio.schema.Transition) else None
        after = items[i + 1] if i + 1 < len(items) and isinstance(items[i + 1], otio.schema.Transition) else None
        lo = start - (round(before.in_offset.rescaled_to(FPS).value) if before else 0)
        hi = end + (round(after.out_offset.rescaled_to(FPS).value) if after else 0)
        name = item.metadata["cmx_3600"]["reel"] if reel else \
            Path(item.media_reference.target_url.removeprefix("file://")).name
        src0 = item.source_range.start_time.rescaled_to(FPS).value
        for f in range(lo, hi):
            frames.setdefault(f, set()).add((name, round(src0 + f - start)))
    return frames


def test_render_reports_the_exports_beside_its_video(project) -> None:
    (output,) = project["report"]["outputs"]
    assert output["exports"] == [str(project["video"].with_suffix(s)) for s in (".otio", ".fcpxml", ".edl", ".xml")]


@pytest.mark.parametrize("fmt", ["otio", "edl", "xml"])
def test_every_frame_shows_the_planned_take_frames(project, fmt: str) -> None:
    tl = _read(project["video"].with_suffix(f".{fmt}"))
    edl = fmt == "edl"
    assert _played(tl, reel=edl) == _expected(project["manifest"], with_transitions=True, reel=edl)


def test_fcpxml_cuts_every_clip_on_its_frames_and_marks_its_transition(project) -> None:
    tl = _read(project["video"].with_suffix(".fcpxml"))
    assert _played(tl) == _expected(project["manifest"], with_transitions=False)
    marks = {c.name: [m.name for m in c.markers] for c in tl.video_tracks()[0].find_clips()}
    assert "fade-black 12 frames in" in marks["one"]
    assert "crossfade 12 frames centred on the cut" in marks["three"]
    assert "wipe-left 24 frames centred on the cut" in marks["five"]


def test_the_plan_and_the_render_agree_on_the_segments(project) -> None:
    """The frame maps above are the render's record; the plan says the same cuts and transitions."""
    plan, manifest = project["plan"], project["manifest"]
    assert [(s["shot"], s["start_frame"], s["end_frame"], s["head_frames"], s["transition_frames"])
            for s in plan["segments"]] == \
        [(s["shot"], s["start_frame"], s["end_frame"], s["head_frames"] if k else 0, s["transition_frames"])
         for k, s in enumerate(manifest["segments"])]


@pytest.mark.parametrize("fmt", ["otio", "xml"])
def test_transitions_are_centred_on_the_cuts(project, fmt: str) -> None:
    tl = _read(project["video"].with_suffix(f".{fmt}"))
    got = [(t.name, t.in_offset.value, t.out_offset.value) for t in tl.video_tracks()[0]
           if isinstance(t, otio.schema.Transition)]
    segs = project["plan"]["segments"]
    assert got == [(s["transition"], s["head_frames"], s["transition_frames"] - s["head_frames"])
                   for s in segs if s["transition"] != "cut"]
    assert [g[0] for g in got] == ["fade-black", "crossfade", "wipe-left"]
    assert got[1][1] + got[1][2] == 12 and got[2][1] == got[2][2] == 12


def test_clips_carry_the_takes_metadata(project) -> None:
    tl = _read(project["video"].with_suffix(".otio"))
    clips = tl.video_tracks()[0].find_clips()
    segs = project["plan"]["segments"]
    assert [c.name for c in clips] == [s["shot"] for s in segs]
    for clip, seg, rec in zip(clips, segs, project["manifest"]["segments"], strict=True):
        meta = clip.metadata["mvpipe"]
        assert (meta["shot"], meta["prompt"], meta["provider"], meta["model"], meta["take"]) == \
            (seg["shot"], seg["request"]["prompt"], "animatic", "card", 1)
        assert meta["job_id"] is None and meta["cost_usd"] == 0.0 and meta["status"] == "done"
        assert Path(clip.media_reference.target_url.removeprefix("file://")) == Path(rec["take"])
        assert Path(rec["take"]).is_file()


def test_fcp7_xml_clips_carry_shot_take_and_prompt_as_logging_info(project) -> None:
    tl = _read(project["video"].with_suffix(".xml"))
    logs = [c.metadata["fcp_xml"]["logginginfo"] for c in tl.video_tracks()[0].find_clips()]
    assert [(g["scene"], g["shottake"], g["description"]) for g in logs] == \
        [(s["shot"], "1", s["request"]["prompt"]) for s in project["plan"]["segments"]]
    assert logs[0]["lognote"] == "animatic:card job - $0.00"


@pytest.mark.parametrize("fmt", ["otio", "fcpxml", "xml"])
def test_the_song_plays_from_timing_start(project, fmt: str) -> None:
    tl = _read(project["video"].with_suffix(f".{fmt}"))
    (song,) = tl.audio_tracks()[0].find_clips()
    assert song.media_reference.target_url == project["song"].as_uri()
    assert song.source_range.start_time.to_seconds() == pytest.approx(2.0, abs=1e-9)
    assert song.trimmed_range_in_parent().start_time.value == 0
    assert song.source_range.duration.rescaled_to(FPS).value == project["plan"]["frames"]


@pytest.mark.parametrize("fmt", ["otio", "fcpxml", "edl", "xml"])
def test_section_markers_land_on_their_output_frames(project, fmt: str) -> None:
    tl = _read(project["video"].with_suffix(f".{fmt}"))
    found = {(m.name.lower(), round(m.marked_range.start_time.rescaled_to(FPS).value))
             for m in tl.tracks.markers}
    for clip in tl.video_tracks()[0].find_clips():      # FCPXML and EDL keep markers on clips
        rec, src = clip.trimmed_range_in_parent(), clip.source_range
        for m in clip.markers:
            at = m.marked_range.start_time - src.start_time + rec.start_time
            found.add((m.name.lower(), round(at.rescaled_to(FPS).value)))
    sections = {(n, f) for n, f in found if n.startswith("section ")}
    wanted = {(f"section {sec['label'].lower()}", max(0, round((sec["start"] - 2) * FPS)))
              for sec in project["analysis"]["sections"] if sec["end"] > 2 and sec["start"] < 14}
    assert len(wanted) >= 2 and sections == wanted


def test_every_output_gets_its_own_timeline_and_export_never_renders(project, capsys) -> None:
    folder = project["folder"]
    board = folder / "also.yaml"
    board.write_text(project["board"].read_text().replace("path: out/tiny.mp4}",
                                                          'path: out/also.mp4, also: [{aspect: "9:16"}]}'))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MVPIPE_CACHE", str(folder / "cache"))
        assert main(["export", str(board), "--format", "otio"]) == 0
    out = folder / "out"
    assert capsys.readouterr().out.split() == [str(out / "also.otio"), str(out / "also-9x16.otio")]
    assert not (folder / "out" / "also.mp4").exists()
    wide, tall = (_read(folder / "out" / name) for name in ("also.otio", "also-9x16.otio"))
    assert (wide.metadata["mvpipe"]["width"], tall.metadata["mvpipe"]["width"]) == (1280, 720)
    assert _played(wide) == _played(tall) == _expected(project["manifest"], with_transitions=True)
    takes = [c.media_reference.target_url for c in wide.video_tracks()[0].find_clips()]
    assert all("/skipped/" not in t for t in takes)     # the rendered takes, not stand-in cards


def test_export_before_any_render_uses_animatic_cards(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MVPIPE_CACHE", str(tmp_path / "cache"))
    board = tmp_path / "board.yaml"
    board.write_text(BOARD)
    dest = tmp_path / "cut.edl"
    assert main(["export", str(board), "--format", "edl", "-o", str(dest)]) == 0
    assert capsys.readouterr().out.split() == [str(dest)]
    clips = _read(dest).video_tracks()[0].find_clips()
    assert len(clips) == 5
    assert len(list((tmp_path / ".mvpipe" / "takes" / "skipped").glob("*.mp4"))) == 5
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--format", "aaf"], "unknown export format aaf"),
    (["--format", "otio,edl", "-o", "x.otio"], "-o names one file"),
    (["--format", "otio", "-o", "cut.mp4"], "written to a '.otio' file"),
])
def test_bad_export_requests_exit_2(tmp_path: Path, monkeypatch, capsys, args: list[str], words: str) -> None:
    monkeypatch.setenv("MVPIPE_CACHE", str(tmp_path / "cache"))
    board = tmp_path / "board.yaml"
    board.write_text(BOARD)
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(board), *args]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "cut.mp4").exists()


def test_an_export_never_overwrites_a_file_mvpipe_did_not_write(project, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MVPIPE_CACHE", str(project["folder"] / "cache"))
    board, edl = str(project["board"]), project["video"].with_suffix(".edl")
    assert main(["export", board, "--format", "edl"]) == 0          # its own earlier export: rewritten
    edited = edl.read_text().replace("TITLE: Tiny", "TITLE: Tiny, trimmed in an editor")
    edl.write_text(edited)
    assert main(["export", board, "--format", "edl"]) == 2
    assert f"{edl}: this file exists and was not written by mvpipe (or was changed since)" in capsys.readouterr().err
    assert edl.read_text() == edited
    mine = project["folder"] / "mine.otio"
    mine.write_text("{}")
    assert main(["export", board, "--format", "otio", "-o", str(mine)]) == 2
    assert mine.read_text() == "{}"


def test_an_unknown_format_stops_render_before_anything_is_made(tmp_path: Path, monkeypatch, capsys) -> None:
    board = tmp_path / "board.yaml"
    board.write_text(BOARD)
    assert main(["render", str(board), "--export", "otio,prproj"]) == 2
    assert "unknown export format prproj" in capsys.readouterr().err
    assert not (tmp_path / ".mvpipe").exists()


def test_a_rate_the_format_cannot_hold_is_refused_before_anything_is_made(tmp_path: Path, capsys) -> None:
    board = tmp_path / "board.yaml"
    board.write_text(BOARD.replace(f"fps: {FPS}", "fps: 12"))
    assert main(["export", str(board), "--format", "edl"]) == 2
    assert f"{board}:4: field 'output.fps': cannot write edl at 12 fps" in capsys.readouterr().err
    assert main(["render", str(board), "--export", "otio,fcpxml"]) == 2
    assert f"{board}:4: field 'output.fps': FCPXML has no format for 12 fps" in capsys.readouterr().err
    assert not (tmp_path / ".mvpipe").exists() and not (tmp_path / "out").exists()


# -- an independent engine plays the edit -------------------------------------------------------------


def _colours(path: Path) -> np.ndarray:
    """Median colour of every frame: an animatic card's colour (text and bar are a small part of it)."""
    with av.open(str(path)) as container:
        return np.array([np.median(f.to_ndarray(format="rgb24")[::4, ::4].reshape(-1, 3), axis=0)
                         for f in container.decode(video=0)])


def _switch(colours: np.ndarray, a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> int:
    """The first frame in [lo, hi) closer to colour ``b`` than to ``a``."""
    d = np.linalg.norm(colours[lo:hi] - b, axis=1) < np.linalg.norm(colours[lo:hi] - a, axis=1)
    return lo + int(np.argmax(d)) if d.any() else hi


def test_melt_plays_the_exported_edit_with_the_same_cuts(project, tmp_path: Path) -> None:
    melt = shutil.which("melt")
    if melt is None:
        pytest.skip("MLT's melt is not installed (Debian: apt-get install melt); .ci/run installs it")
    tl = _read(project["video"].with_suffix(".otio"))
    mlt = tmp_path / "edit.mlt"
    otio.adapters.write_to_file(tl, str(mlt), adapter_name="mlt_xml", width=256, height=144, progressive=1,
                                sample_aspect_num=1, sample_aspect_den=1, display_aspect_num=16,
                                display_aspect_den=9)
    played = tmp_path / "melt.mkv"
    proc = subprocess.run([melt, "-silent", str(mlt), "-consumer", f"avformat:{played}", "vcodec=ffv1",
                           "acodec=pcm_s16le", "frequency=48000", "channels=1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and played.is_file(), proc.stderr[-2000:]
    ours, theirs = _colours(project["video"]), _colours(played)
    segs = project["manifest"]["segments"]
    assert len(ours) == len(theirs) == project["plan"]["frames"]
    mid = [ours[(s["start_frame"] + s["end_frame"]) // 2] for s in segs]
    windows = []
    for k, seg in enumerate(segs):
        t, origin = seg["transition_frames"], seg["start_frame"] - seg["head_frames"]
        before = mid[k - 1] if k else np.zeros(3)
        lo, hi = (origin, origin + t) if t else (seg["start_frame"] - 1, seg["start_frame"] + 1)
        lo = max(lo, 0)
        ours_at, theirs_at = _switch(ours, before, mid[k], lo, hi + 1), _switch(theirs, before, mid[k], lo, hi + 1)
        if t:   # the same transition window; the change of colour within a frame of the other's
            assert abs(ours_at - theirs_at) <= 1, (seg["shot"], ours_at, theirs_at)
            windows.append((origin, origin + t))
        else:   # a hard cut: the very frame
            assert ours_at == theirs_at == seg["start_frame"], (seg["shot"], ours_at, theirs_at)
    outside = [f for f in range(len(ours)) if not any(a <= f < b for a, b in windows)]
    assert np.abs(ours[outside] - theirs[outside]).max() < 8   # every other frame: the same picture
    _assert_song_from(played, project["song"], start=2.0, seconds=len(ours) / FPS)


def _assert_song_from(video: Path, song: Path, start: float, seconds: float) -> None:
    """The video's sound is the song from ``start``, within a millisecond, at its start, middle and end."""
    rate = 48000
    want = decode_audio(song, rate, start=start, duration=seconds)
    got = decode_audio(video, rate)
    assert abs(len(got) - len(want)) < rate * 0.05
    for at in (0.5, seconds / 2, seconds - 2.5):
        a = want[int(at * rate):int((at + 2) * rate)]
        b = got[int(at * rate) - 480:int((at + 2) * rate) + 480]
        lag = int(np.argmax(np.correlate(b, a, mode="valid"))) - 480
        assert abs(lag) <= rate // 1000, f"the song is {lag / rate * 1000:.2f} ms off at {at:.1f}s"
        assert np.corrcoef(a, b[480 + lag:480 + lag + len(a)])[0, 1] > 0.99


def test_source_ranges_are_in_each_takes_own_rate(tmp_path: Path, monkeypatch, capsys) -> None:
    """24 fps footage in a 30 fps video: ranges in take frames; a short take slowed or held as the render does."""
    monkeypatch.setenv("MVPIPE_CACHE", str(tmp_path / "cache"))
    for name, colour, seconds in (("long", "red", 3), ("short", "green", 0.5), ("held", "blue", 0.5)):
        run_ffmpeg(["-f", "lavfi", "-i", f"color=c={colour}:s=320x180:r=24:d={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(tmp_path / f"{name}.mp4")], what="a test clip")
    board = tmp_path / "board.yaml"
    board.write_text(f"""\
mvpipe: 1
song: {SONG}
output: {{height: 720, fps: 30, quality: draft, path: out/mixed.mp4}}
timing: {{end: 4}}
shots:
  - {{id: long, length: 1 bar, footage: long.mp4}}
  - {{id: short, length: 2 beats, footage: short.mp4, if_short: slow, transition: crossfade}}
  - {{id: held, length: 2 beats, footage: held.mp4}}
""")
    assert main(["render", str(board), "--export", "otio"]) == 0     # footage becomes a take when rendered
    capsys.readouterr()
    tl = otio.adapters.read_from_file(str(tmp_path / "out" / "mixed.otio"))
    long, short, held = tl.video_tracks()[0].find_clips()
    assert {c.source_range.start_time.rate for c in (long, short, held)} == {24}
    # 1 bar at 120 BPM = 60 frames at 30 fps = 48 take frames; the crossfade (1 beat, 15 frames) takes
    # 7 frames of 'short' before its cut, and its 0.5 s take is slowed to fill 7 + 30 frames: 15/37 speed
    assert (long.source_range.start_time.value, long.source_range.duration.value) == (0, 48)
    assert short.source_range.start_time.value == pytest.approx(7 * 24 / 30 * 15 / 37)
    assert short.source_range.duration.value == pytest.approx(30 * 24 / 30)
    (warp,) = short.effects
    assert isinstance(warp, otio.schema.LinearTimeWarp) and warp.time_scalar == pytest.approx(15 / 37)
    assert short.media_reference.available_range.duration.value == pytest.approx(12)
    assert len(held.effects) == 0 and held.metadata["mvpipe"]["held_from_frame"] == 15
    assert [round(c.trimmed_range_in_parent().start_time.rescaled_to(30).value) for c in (long, short, held)] \
        == [0, 60, 90]
    manifest = json.loads(manifest_path(tmp_path / "out" / "mixed.mp4").read_text())
    assert [s["speed"] for s in manifest["segments"]] == [1.0, pytest.approx(37 / 15), 1.0]


def test_downbeats_on_request_are_markers_on_their_frames(project, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MVPIPE_CACHE", str(project["folder"] / "cache"))
    dest = tmp_path / "bars.otio"
    assert main(["export", str(project["board"]), "--format", "otio", "--downbeats", "-o", str(dest)]) == 0
    capsys.readouterr()
    bars = [m for m in _read(dest).tracks.markers if m.metadata["mvpipe"]["kind"] == "downbeat"]
    wanted = [round((t - 2) * FPS) for t in project["analysis"]["downbeats"] if 0 <= round((t - 2) * FPS) < 288]
    assert len(wanted) >= 5
    assert [round(m.marked_range.start_time.value) for m in bars] == wanted
    assert not [m for m in _read(project["video"].with_suffix(".otio")).tracks.markers
                if m.metadata["mvpipe"]["kind"] == "downbeat"]
