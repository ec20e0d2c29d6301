"""Inputs as they come: real clips (WebM/VP8, MP3, odd 10.51 fps, rotation), VFR, 29.97, no or broken audio."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from asmkit import COLOURS, make_clip, make_plan, make_song, takes_for

from mvpipe.assembly import assemble, check
from mvpipe.assembly.check import frame_signatures
from mvpipe.assembly.probe import probe, stream_facts
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.workspace import Workspace


def vfr_clip(dest: Path) -> Path:
    """30 fps with every fourth frame dropped and the gaps kept: a variable frame rate."""
    if not dest.is_file():
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=3", "-vf", "select='not(eq(mod(n,4),1))'",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(dest)],
                   what="making a VFR clip")
    return dest


def rotated_clip(dest: Path) -> Path:
    """A 180x320 picture (red over blue) stored with 90-degree display rotation: landscape when shown."""
    if not dest.is_file():
        plain = dest.with_name("unrotated.mp4")
        run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=180x160:r=25:d=3", "-f", "lavfi", "-i",
                    "color=c=blue:s=180x160:r=25:d=3", "-filter_complex", "[0][1]vstack", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(plain)], what="making a portrait clip")
        run_ffmpeg(["-display_rotation", "90", "-i", str(plain), "-c", "copy", str(dest)],
                   what="tagging rotation")
    return dest


def broken_audio_clip(dest: Path) -> Path:
    """A valid MP4 whose every AAC packet is overwritten with garbage (a damaged download)."""
    if not dest.is_file():
        import av

        tmp = dest.with_name("audio-intact.mp4")
        run_ffmpeg(["-f", "lavfi", "-i", f"color=c={COLOURS[4]}:s=320x180:r=24:d=3", "-f", "lavfi", "-i",
                    "sine=frequency=300:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    str(tmp)], what="making a clip with sound")
        with av.open(str(tmp)) as c:
            spans = [(p.pos, p.size) for p in c.demux(c.streams.audio[0]) if p.size and p.pos is not None]
        data = bytearray(tmp.read_bytes())
        rng = np.random.default_rng(5)
        for pos, size in spans:
            data[pos:pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        dest.write_bytes(bytes(data))
    return dest


def test_probe_sees_rotation_odd_rates_and_broken_audio(media: Path, clips: Path) -> None:
    fire = probe(media / "fire2.mp4")
    assert fire.rotation == 180 and abs(fire.fps - 10.505) < 0.01 and fire.audio_ok
    assert abs(fire.duration - 2.38) < 0.01
    bunny = probe(media / "big_buck_bunny_0_30.webm")
    assert (bunny.width, bunny.height, bunny.fps) == (1280, 720, 24.0)
    assert abs(bunny.duration - 30.0) < 0.05, "WebM has no stream duration: measured from packets"
    rotated = probe(rotated_clip(clips / "rot90.mp4"))
    assert (rotated.width, rotated.height, rotated.rotation) == (320, 180, 90)
    broken = probe(broken_audio_clip(clips / "brokenaudio.mp4"))
    assert broken.has_audio and not broken.audio_ok


def test_mixed_real_inputs_render_frame_exact(media: Path, clips: Path, workspace: Workspace,
                                              tmp_path: Path) -> None:
    song = make_song(clips / "song.wav", 30)
    files = [media / "big_buck_bunny_0_30.webm", media / "chaplin.mp4", media / "fire2.mp4",
             vfr_clip(clips / "vfr.mp4"), make_clip(clips / "ntsc.mp4", COLOURS[2], 3.0, "640x360", "30000/1001"),
             rotated_clip(clips / "rot90.mp4"), broken_audio_clip(clips / "brokenaudio.mp4")]
    lengths = [50, 43, 80, 37, 41, 48, 39]
    trans = [("fade-black", 10), ("crossfade", 8), ("cut", 0), ("slide-left", 6), ("cut", 0), ("zoom", 10),
             ("cut", 0)]
    plan = make_plan(song, lengths, trans, fps=30, width=320, height=180, fit="blur",
                     audio=[0.6, 0.5, 0.8, 0.0, 0.0, 0.0, 1.0])
    out = tmp_path / "real.mp4"
    manifest = assemble(plan, takes_for(plan, lambda k: files[k]), workspace, out)
    facts = stream_facts(out)
    assert facts.frames == plan.frames and facts.uniform
    report = check(out)
    assert report.frames == plan.frames and not report.cuts_missing, report.problems
    assert manifest.audio_levels["s2"] == 0.8
    assert any("s2" in w for w in manifest.warnings), "fire2 (2.38 s, 72 frames) is short for its 80 + 3"
    assert any("s6" in w and "sound" in w for w in manifest.warnings), "the broken audio track is reported, not fatal"
    # the rotated clip shows landscape: red and blue side by side, not stacked
    frame = frame_signatures(out, (32, 18), gray=False)[plan.segments[5].start_frame + 10].astype(int)
    left, right = frame[:, 2:10].reshape(-1, 3).mean(0), frame[:, 22:30].reshape(-1, 3).mean(0)
    top, bottom = frame[2:7, 12:20].reshape(-1, 3).mean(0), frame[11:16, 12:20].reshape(-1, 3).mean(0)
    assert np.abs(left - right).max() > 100 and np.abs(top - bottom).max() < 40


def test_h265_output(clips: Path, workspace: Workspace, tmp_path: Path) -> None:
    import av

    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [20, 20], [("cut", 0), ("crossfade", 6)], fps=24)
    takes = takes_for(plan, lambda k: make_clip(clips / f"h{k}.mp4", COLOURS[k], 2.0))
    out = tmp_path / "hevc.mp4"
    manifest = assemble(plan, takes, workspace, out, codec="h265", encoder="software")
    assert manifest.codec == "h265"
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
        assert c.streams.video[0].codec_tag == "hvc1"
    assert check(out).frames == 40


def test_takes_tagged_every_which_way_join(clips: Path, workspace: Workspace, tmp_path: Path) -> None:
    """A 1080p25 clip tagged BT.709 full range, a 1x1 yuv444p clip and an untagged 640x480 clip as three
    shots: every piece carries the same explicit tags, so they join, and the video says BT.709, TV range."""
    made = {
        "full709.mp4": ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=2", "-pix_fmt", "yuvj420p",
                        "-color_range", "pc", "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace",
                        "bt709"],
        "tiny444.mp4": ["-f", "lavfi", "-i", "color=c=0x3050E0:s=1x1:r=30:d=2", "-pix_fmt", "yuv444p"],
        "plain.mp4": ["-f", "lavfi", "-i", "testsrc=s=640x480:r=30:d=2", "-pix_fmt", "yuv420p"],
    }
    paths = []
    for name, args in made.items():
        paths.append(clips / name)
        if not paths[-1].is_file():
            run_ffmpeg([*args, "-c:v", "libx264", "-preset", "ultrafast", str(paths[-1])], what="a tagged clip")
    song = make_song(clips / "song.wav", 30)
    plan = make_plan(song, [30, 30, 30], [("cut", 0), ("crossfade", 8), ("cut", 0)], fps=24, width=640, height=360)
    out = tmp_path / "mixed.mp4"
    manifest = assemble(plan, takes_for(plan, lambda k: paths[k]), workspace, out)
    assert manifest.frames == 90 == stream_facts(out).frames
    for video in [out, *workspace.pieces.glob("*.mp4")]:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            assert (ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range) == (1, 1, 1, 1), video
            assert stream.sample_aspect_ratio in (None, 1), video
