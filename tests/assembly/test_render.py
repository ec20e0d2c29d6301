"""Real renders: frame counts, cut frames, transitions, short takes, incremental re-render, audio offset."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from asmkit import COLOURS, make_clip, make_plan, make_song, rgb, takes_for

from mvpipe.assembly import assemble, check, timeline
from mvpipe.assembly.check import frame_signatures
from mvpipe.assembly.probe import stream_facts
from mvpipe.assembly.render import work
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.workspace import Workspace

FPS_MIX = ["24", "25", "30000/1001", "10.51", "60", "30"]
SIZE_MIX = ["320x180", "640x480", "1280x720", "200x200", "180x320", "160x90"]


def frames_rgb(video: Path, size: tuple[int, int] = (32, 18)) -> np.ndarray:
    return frame_signatures(video, size, gray=False).astype(np.int16)


def centre(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[h // 4:3 * h // 4, w // 4:3 * w // 4].reshape(-1, 3).mean(axis=0)


def near(frame: np.ndarray, colour: tuple[int, int, int], tol: float = 14.0) -> bool:
    return bool(np.abs(centre(frame) - np.array(colour)).max() <= tol)


def pure(frame: np.ndarray, colour: tuple[int, int, int], tol: float = 14.0) -> bool:
    """Every pixel of the (small) frame is ``colour``: no trace of another picture anywhere."""
    return bool(np.abs(frame.reshape(-1, 3) - np.array(colour)).max() <= tol)


def frame_hashes(video: Path) -> list[str]:
    raw = frame_signatures(video, (320, 180), gray=False)
    return [hashlib.sha256(f.tobytes()).hexdigest() for f in raw]


def colour_takes(plan, clips: Path, seconds: float = 4.0):
    return takes_for(plan, lambda k: make_clip(clips / f"c{k % 8}-{FPS_MIX[k % 6].replace('/', '_')}.mp4",
                                               COLOURS[k % 8], seconds, SIZE_MIX[k % 6], FPS_MIX[k % 6]))


def test_hard_cuts_land_on_planned_frames_from_mixed_inputs(clips: Path, workspace: Workspace,
                                                            tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    lengths = [17, 23, 9, 31, 12, 26, 15, 20]
    plan = make_plan(song, lengths, fps=30)
    out = tmp_path / "cuts.mp4"
    manifest = assemble(plan, colour_takes(plan, clips), workspace, out)
    facts = stream_facts(out)
    assert facts.frames == plan.frames == sum(lengths)
    assert facts.uniform and facts.step == pytest.approx(1 / 30)
    frames = frames_rgb(out)
    assert len(frames) == plan.frames
    for k, seg in enumerate(plan.segments):
        assert near(frames[seg.start_frame], rgb(COLOURS[k % 8])), f"first frame of segment {k}"
        assert near(frames[seg.end_frame - 1], rgb(COLOURS[k % 8])), f"last frame of segment {k}"
    report = check(out)
    assert report.ok, report.problems
    assert report.cuts_found == manifest.cuts == [s.start_frame for s in plan.segments[1:]]


@pytest.mark.parametrize("name", ["crossfade", "fade-black", "fade-white", "wipe-left", "wipe-right", "wipe-up",
                                  "wipe-down", "slide-left", "slide-right", "slide-up", "slide-down", "zoom"])
def test_transition_spans_exactly_its_frames_centred_on_the_cut(name: str, clips: Path, workspace: Workspace,
                                                                tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    t = 9
    plan = make_plan(song, [20, 20], [("cut", 0), (name, t)])
    out = tmp_path / f"{name}.mp4"
    assemble(plan, colour_takes(plan, clips), workspace, out)
    frames = frames_rgb(out)
    assert len(frames) == 40
    a, b = rgb(COLOURS[0]), rgb(COLOURS[1])
    first = 20 - t // 2                       # the transition starts head frames before the cut
    assert all(pure(frames[i], a) for i in range(first)), "outgoing shot untouched before the transition"
    mixed = [i for i in range(first, first + t) if not pure(frames[i], a) and not pure(frames[i], b)]
    assert mixed and mixed[0] >= first and mixed[-1] == first + t - 1, f"transition frames {mixed}"
    if name != "zoom":                        # zoomin spends its first half zooming into the outgoing shot
        assert first + t // 2 in mixed, "under way at the cut"
    assert all(pure(frames[i], b) for i in range(first + t, 40)), "incoming shot clean after the transition"
    report = check(out)
    assert report.ok and report.cuts_unplanned == [], (report.problems, report.cuts_found)
    if name == "fade-black":
        assert centre(frames[first + t // 2]).max() < 40, "fades through black at its middle"
    if name == "fade-white":
        assert centre(frames[first + t // 2]).min() > 200, "fades through white at its middle"


def test_fade_in_on_the_first_segment_starts_black(clips: Path, workspace: Workspace, tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [30, 20], [("fade-black", 12), ("cut", 0)])
    out = tmp_path / "fadein.mp4"
    assemble(plan, colour_takes(plan, clips), workspace, out)
    frames = frames_rgb(out)
    assert centre(frames[0]).max() < 12
    assert not near(frames[6], rgb(COLOURS[0]))
    assert all(near(frames[i], rgb(COLOURS[0])) for i in range(12, 30))
    assert near(frames[30], rgb(COLOURS[1]))


def ramp_clip(dest: Path, frames: int, fps: int = 24) -> Path:
    """A grey ramp, one step per frame, so which take frame is shown can be read back (``ramp``)."""
    if not dest.is_file():
        run_ffmpeg(["-f", "lavfi", "-i", f"nullsrc=s=64x36:r={fps}:d={frames / fps}",
                    "-vf", "geq=lum='40+6*N':cb=128:cr=128,format=yuv420p", "-c:v", "libx264", "-preset",
                    "ultrafast", "-qp", "0", str(dest)], what="making a ramp clip")
    return dest


@pytest.mark.parametrize("mode", ["hold", "slow"])
def test_short_take_holds_or_slows_and_warns(mode: str, clips: Path, workspace: Workspace,
                                             tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [24, 48], fps=24, width=64, height=36, if_short=mode)
    clip = ramp_clip(clips / "ramp24.mp4", 24)          # 1 s: half of what segment 1 needs
    takes = takes_for(plan, lambda k: clip)
    out = tmp_path / f"{mode}.mp4"
    manifest = assemble(plan, takes, workspace, out)
    assert len(manifest.warnings) == 1 and "s1" in manifest.warnings[0]
    levels = frame_signatures(clip, (64, 36)).mean(axis=(1, 2))
    luma = frame_signatures(out, (64, 36)).mean(axis=(1, 2))
    shown = [int(np.abs(levels - v).argmin()) for v in luma[24:]]   # which take frame each output frame is
    assert shown[0] == 0 and shown[-1] == 23, "starts on the take's first frame, ends on its last"
    if mode == "hold":
        assert shown == list(range(24)) + [23] * 24, "plays at its own speed, then holds its last frame"
    else:
        assert all(b - a in (0, 1) for a, b in zip(shown, shown[1:], strict=False)), "slowed: never jumps"
        assert abs(shown[24] - 12) <= 1, "half speed: halfway through the take at the middle"


def test_changing_one_shot_re_encodes_only_its_pieces_and_matches_a_full_render(
        clips: Path, tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [20, 18, 22, 16, 24, 20], [("cut", 0), ("crossfade", 6), ("cut", 0), ("wipe-left", 8),
                                                      ("fade-black", 6), ("cut", 0)])
    takes = colour_takes(plan, clips)
    ws = Workspace(tmp_path / "incremental")
    first = assemble(plan, takes, ws, tmp_path / "a.mp4")
    assert first.reused == 0
    changed = dict(takes)
    changed[("s3", 0)] = takes[("s3", 0)].model_copy(
        update={"path": make_clip(clips / "changed.mp4", "0x808080", 4.0, "320x240", "25")})
    again = assemble(plan, changed, ws, tmp_path / "b.mp4")
    touched = [p for p in again.pieces if "s3" in p.shots]
    assert again.encoded == len(touched) == 3          # s3's body and the two transitions touching it
    assert all(not p.reused for p in touched) and all(p.reused for p in again.pieces if "s3" not in p.shots)
    full = assemble(plan, changed, Workspace(tmp_path / "fresh"), tmp_path / "c.mp4")
    assert full.reused == 0
    assert frame_hashes(tmp_path / "b.mp4") == frame_hashes(tmp_path / "c.mp4")
    assert frame_hashes(tmp_path / "a.mp4") != frame_hashes(tmp_path / "b.mp4")


def test_pieces_encoded_side_by_side_give_the_same_video(clips: Path, tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [20, 18, 22, 16, 24, 20], [("cut", 0), ("crossfade", 6), ("slide-up", 6), ("wipe-left", 8),
                                                      ("fade-black", 6), ("zoom", 4)])
    takes = colour_takes(plan, clips)
    said: list[str] = []
    assemble(plan, takes, Workspace(tmp_path / "one"), tmp_path / "one.mp4", jobs=1)
    assemble(plan, takes, Workspace(tmp_path / "three"), tmp_path / "three.mp4", jobs=3, progress=said.append)
    assert sum("from the lead" in m for m in said) == 5       # every transition still read its body's lead
    assert frame_hashes(tmp_path / "one.mp4") == frame_hashes(tmp_path / "three.mp4")


def test_the_piece_cache_keeps_what_outputs_use_and_drops_old_leftovers(clips: Path, tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 10)
    plan = make_plan(song, [60, 60, 60], [("cut", 0), ("crossfade", 6), ("cut", 0)])
    takes = colour_takes(plan, clips)
    ws = Workspace(tmp_path / "ws")
    said: list[str] = []
    assemble(plan, takes, ws, tmp_path / "a.mp4", progress=said.append)
    first = {p.name for p in ws.pieces.iterdir() if p.is_file()}
    changed = dict(takes)
    changed[("s1", 0)] = takes[("s1", 0)].model_copy(
        update={"path": make_clip(clips / "grey.mp4", "0x808080", 4.0, "320x240", "25")})
    assemble(plan, changed, ws, tmp_path / "b.mp4")       # another output: a's pieces are still a's
    stray = ws.pieces / ".abandoned.12345.mp4"             # what a killed run leaves behind
    stray.write_bytes(b"x" * 1000)
    day_old = time.time() - 2 * 24 * 3600
    for f in ws.pieces.iterdir():
        if f.is_file():
            os.utime(f, (day_old, day_old))
    assemble(plan, changed, ws, tmp_path / "b.mp4", progress=said.append)
    after = {p.name for p in ws.pieces.iterdir() if p.is_file()}
    assert first <= after and not stray.exists()          # every file of a.mp4 kept, however old
    assert [m for m in said if m.startswith("removed")] == ["removed 1 cached files no render uses any more (0 MB)"]
    (tmp_path / "a.mp4").unlink()                          # a gone: the next render frees what only a used
    again = assemble(plan, changed, ws, tmp_path / "b.mp4")
    left = {p.name for p in ws.pieces.iterdir() if p.is_file()}
    assert {f"{p.key}.mp4" for p in again.pieces} <= left
    assert first - left == {f for f in first if f.endswith(".mp4")} - {f"{p.key}.mp4" for p in again.pieces}
    assert again.reused == len(again.pieces)


def test_audio_stays_on_the_song_after_44_segments(clips: Path, workspace: Workspace, tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    lengths = [7 + (k * 5) % 9 for k in range(44)]
    trans = [("crossfade", 4) if k % 3 == 1 else ("cut", 0) for k in range(44)]
    plan = make_plan(song, lengths, trans, fps=25, width=64, height=36, song_start=1.37)
    out = tmp_path / "long.mp4"
    assemble(plan, colour_takes(plan, clips, seconds=1.5), workspace, out)
    report = check(out)
    assert report.frames == plan.frames and report.uniform_timestamps
    assert len(report.audio_offset_ms) == 2
    assert all(abs(o) < 1.0 for o in report.audio_offset_ms), report.audio_offset_ms
    assert report.duration == pytest.approx(plan.frames / 25, abs=1 / 25)


def test_clip_sound_is_mixed_under_its_own_segment_only(clips: Path, workspace: Workspace,
                                                        tmp_path: Path) -> None:
    from mvpipe.ffmpeg import decode_audio

    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [48, 48, 48], fps=24, audio=[0.0, 1.0, 0.0])
    tone = make_clip(clips / "tone.mp4", COLOURS[1], 3.0, audio=True)
    takes = takes_for(plan, lambda k: tone if k == 1 else make_clip(clips / f"c{k}.mp4", COLOURS[k], 3.0))
    out = tmp_path / "mix.mp4"
    manifest = assemble(plan, takes, workspace, out)
    assert manifest.audio_levels == {"s1": 1.0}
    sound = decode_audio(out, 16000)

    def tone_energy(a: float, b: float) -> float:
        x = sound[int(a * 16000):int(b * 16000)]
        spec = np.abs(np.fft.rfft(x))
        freqs = np.fft.rfftfreq(len(x), 1 / 16000)
        return float(spec[(freqs > 430) & (freqs < 450)].mean() / spec[(freqs > 1000) & (freqs < 3000)].mean())

    assert tone_energy(2.2, 3.8) > 10 * tone_energy(0.2, 1.8)
    assert tone_energy(4.2, 5.8) < 2 * tone_energy(0.2, 1.8)


def test_outputs_in_every_aspect_and_fit(clips: Path, workspace: Workspace, tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    wide = make_clip(clips / "wide.mp4", "0xE03030", 2.0, "320x180", "24")
    for (w, h), fit in [((180, 320), "contain"), ((240, 240), "blur"), ((216, 270), "cover")]:
        plan = make_plan(song, [12, 12], fps=24, width=w, height=h, fit=fit)
        out = tmp_path / f"{w}x{h}-{fit}.mp4"
        assemble(plan, takes_for(plan, lambda k: wide), workspace, out)
        frame = frame_signatures(out, (w, h), gray=False)[5].astype(int)
        assert frame.shape == (h, w, 3)
        top = frame[: h // 10].reshape(-1, 3).mean(axis=0)
        if fit == "contain":
            assert top.max() < 20, "letterbox bars are black"
        else:
            assert top[0] > 120, "cover and blur fill the frame with the picture's colour"
        assert np.abs(frame[h // 2, w // 2] - np.array(rgb("0xE03030"))).max() < 14


def test_loudness_normalisation_reaches_its_target(clips: Path, workspace: Workspace, tmp_path: Path) -> None:
    from mvpipe.ffmpeg import run_ffmpeg

    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [96, 96], fps=24, width=64, height=36)
    out = tmp_path / "loud.mp4"
    assemble(plan, colour_takes(plan, clips), workspace, out, loudness=-23.0)
    log = run_ffmpeg(["-i", str(out), "-af", "loudnorm=print_format=json", "-f", "null", "-"], what="measuring",
                     loglevel="info").log
    measured = json.loads(log[log.rindex("{"):log.rindex("}") + 1])
    assert float(measured["input_i"]) == pytest.approx(-23.0, abs=1.0)


def test_check_reports_a_video_that_does_not_match_its_manifest(clips: Path, workspace: Workspace,
                                                                tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [20, 20, 20], fps=24)
    out = tmp_path / "tampered.mp4"
    manifest = assemble(plan, colour_takes(plan, clips), workspace, out)
    doc = manifest.model_dump(mode="json")
    doc["frames"] += 5
    doc["cuts"] = [20, 33]
    doc["song_start"] = 0.125
    bad = tmp_path / "bad.manifest.json"
    bad.write_text(json.dumps(doc))
    report = check(out, bad)
    assert not report.ok
    assert report.cuts_missing == [33]
    assert any("frames" in p for p in report.problems)
    # the manifest now says the song starts 125 ms later than it does: the audio is 125 ms late against it
    assert report.audio_offset_ms and all(abs(o - 125.0) < 1.0 for o in report.audio_offset_ms)


def test_transition_reads_the_same_frames_from_the_lead_as_from_its_take(clips: Path, tmp_path: Path) -> None:
    """A body hands its outgoing frames to the next transition; seeking the take must give the same pixels.

    Moving 24 fps pictures at 30 fps: every other source frame sits exactly between two output
    slots, so a seek that rounds timestamps would repeat a different frame than a full read.
    """
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [40, 36, 40], [("cut", 0), ("crossfade", 8), ("wipe-left", 6)], fps=30)
    paths = []
    for k in range(3):
        dest = clips / f"moving{k}-24.mp4"
        if not dest.is_file():
            run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s=320x180:r=24:d=3,hue=h={k * 90}", "-c:v", "libx264",
                        "-preset", "ultrafast", "-g", "250", "-pix_fmt", "yuv420p", str(dest)], what="making a clip")
        paths.append(dest)
    takes = takes_for(plan, lambda k: paths[k])
    ws = Workspace(tmp_path / "ws")
    said: list[str] = []
    first = assemble(plan, takes, ws, tmp_path / "a.mp4", progress=said.append)
    assert sum("from the lead" in s for s in said) == 2
    assert not list(ws.pieces.glob("*.nut")), "leads are removed once used"
    transitions = [p.key for p in first.pieces if p.kind == "transition"]
    from_lead = {k: (ws.pieces / f"{k}.mp4").read_bytes() for k in transitions}
    for k in transitions:
        (ws.pieces / f"{k}.mp4").unlink()
    said.clear()
    again = assemble(plan, takes, ws, tmp_path / "b.mp4", progress=said.append)
    assert again.encoded == 2 and not any("from the lead" in s for s in said)
    assert {k: (ws.pieces / f"{k}.mp4").read_bytes() for k in transitions} == from_lead
    assert frame_hashes(tmp_path / "a.mp4") == frame_hashes(tmp_path / "b.mp4")


def test_the_work_list_is_decided_without_ffmpeg(tmp_path: Path) -> None:
    """Pieces already cached, and a second piece with the same key, are not encoded; a body encoded in
    this run hands its transition the outgoing frames; a transition after a cached body reads the take."""
    plan = make_plan(tmp_path / "never-read.wav", [20, 20, 20], [("cut", 0), ("crossfade", 6), ("crossfade", 6)])
    parts = timeline.pieces(plan)
    assert [p.kind for p in parts] == ["body", "transition", "body", "transition", "body"]
    keys = ["b0", "t1", "b1", "t2", "b0"]                 # the last body's pixels equal the first's
    todo = work(parts, keys, tmp_path, cached={"b1.mp4"})
    assert todo.encode == {"b0": 0, "t1": 1, "t2": 3}
    assert todo.handed == {1}, "t2 follows a cached body: it reads its outgoing frames from the take"
    assert todo.leads == {1: tmp_path / "t1.lead.nut", 3: tmp_path / "t2.lead.nut"}
    assert todo.paths == [tmp_path / f"{k}.mp4" for k in keys]
