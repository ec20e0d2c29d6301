"""The per-piece FFmpeg command: what it decodes and how it conforms a take to the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from asmkit import make_plan, make_song

from mvpipe.assembly import timeline
from mvpipe.assembly.check import frame_signatures
from mvpipe.assembly.encoder import settings
from mvpipe.assembly.graph import piece_command, source_for
from mvpipe.assembly.probe import probe
from mvpipe.ffmpeg import run_ffmpeg


def test_a_take_already_in_the_output_format_is_not_scaled_and_looks_the_same(clips: Path, tmp_path: Path) -> None:
    """A take at the output's size, pixel format and BT.709 skips the scaler, with the scaler's pixels."""
    take = clips / "bt709-320x180.mp4"
    if not take.is_file():
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
                    "-color_range", "tv", str(take)], what="making a BT.709 clip")
    plan = make_plan(make_song(clips / "song.wav", 30), [30], fps=30)
    enc = settings(320, 180, 30, "final", encoder="software")
    part = timeline.pieces(plan)[0]
    info = probe(take)
    assert (info.pix_fmt, info.colorspace, info.full_range) == ("yuv420p", "bt709", False)
    direct = piece_command(part, [source_for(info, 30, 30, "hold")], "cover", enc)
    scaled = piece_command(part, [source_for(info.model_copy(update={"pix_fmt": "unknown"}), 30, 30, "hold")],
                           "cover", enc)
    assert "scale=" not in direct.graph and "scale=" in scaled.graph
    outs = []
    for name, cmd in (("direct", direct), ("scaled", scaled)):
        outs.append(tmp_path / f"{name}.mp4")
        run_ffmpeg(cmd.args(outs[-1]), what=f"rendering the {name} piece")
    a, b = (frame_signatures(p, (320, 180), gray=False).astype(np.int16) for p in outs)
    assert a.shape == b.shape == (30, 180, 320, 3)
    assert np.abs(a - b).mean() < 0.5, "skipping the scaler must not change the picture"
    for fit in ("contain", "blur"):
        assert "scale=" not in piece_command(part, [source_for(info, 30, 30, "hold")], fit, enc).graph


def test_every_transition_but_cut_has_its_filter() -> None:
    from mvpipe.assembly.graph import XFADE
    from mvpipe.storyboard import TRANSITIONS

    assert set(XFADE) == set(TRANSITIONS) - {"cut"}
