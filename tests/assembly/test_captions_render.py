"""Real renders with lyrics burned in, compared frame by frame with the same render without them.

The pictures are moving test patterns (FFmpeg's testsrc2), so codec noise is what real footage gives,
not the silence of a flat colour. A frame "shows text" when many pixels differ strongly from the
render without lyrics; outside the lines' frames only codec noise may differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysubs2
import pytest
from asmkit import make_plan, make_song, takes_for

from mvpipe.assembly import assemble, check
from mvpipe.assembly.check import frame_signatures
from mvpipe.assembly.probe import stream_facts
from mvpipe.captions.models import CaptionLine, CaptionTrack, CaptionWord
from mvpipe.errors import InputError
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.storyboard import Captions
from mvpipe.workspace import Workspace

W, H = 640, 360
STRONG = 48        # a pixel this far (of 255) from the render without lyrics counts as different
# Measured at 24/30/60 fps: frames with a line have 414-466 such pixels at the least (white text partly
# over the pattern's white), frames without one at most 2 (codec noise: the pieces a line is on are
# re-encoded, and x264 decides a few pixels differently beside the changed ones).
TEXT_PIXELS = 200  # a frame with text has at least this many
NOISE_PIXELS = 8   # a frame without text has at most this many


def pattern(dest: Path, hue: int, fps: int, seconds: float = 6.0) -> Path:
    if not dest.is_file():
        run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={fps}:d={seconds}", "-vf", f"hue=h={hue}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(dest)],
                   what="making a test pattern")
    return dest


def lines_for(total: int) -> list[CaptionLine]:
    """Lines inside a piece, across a hard cut, across a crossfade, and a karaoke line to the last frame."""
    return [CaptionLine(text="inside one piece", start_frame=5, end_frame=17),
            CaptionLine(text="across the cut", start_frame=35, end_frame=47),
            CaptionLine(text="through the crossfade and on", start_frame=80, end_frame=93),
            CaptionLine(text="sing it loud", start_frame=total - 20, end_frame=total,
                        words=[CaptionWord(frame=total - 18, text="sing"), CaptionWord(frame=total - 12, text="it"),
                               CaptionWord(frame=total - 6, text="loud")])]


def render(tmp_path: Path, clips: Path, name: str, fps: int, lines: list[CaptionLine] | None,
           subtitles: str = "burn", workspace: Workspace | None = None) -> tuple[Path, object]:
    song = make_song(clips / "captions-song.wav", 10)
    plan = make_plan(song, [40, 50, 30], [("cut", 0), ("cut", 0), ("crossfade", 10)], fps=fps, width=W, height=H,
                     out=tmp_path / f"{name}.mp4")
    if lines is not None:
        plan = plan.model_copy(update={"captions": CaptionTrack(style=Captions(), lines=lines),
                                       "subtitles": subtitles})
    takes = takes_for(plan, lambda k: pattern(clips / f"pattern{k}-{fps}.mp4", 70 * k, fps))
    out = tmp_path / f"{name}.mp4"
    manifest = assemble(plan, takes, workspace or Workspace(tmp_path / f".mvpipe-{name}"), out)
    return out, manifest


def text_pixels(video: Path, reference: Path) -> np.ndarray:
    """Per frame: pixels differing by more than STRONG from the reference."""
    a = frame_signatures(video, (W, H)).astype(np.int16)
    b = frame_signatures(reference, (W, H)).astype(np.int16)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    return (diff > STRONG).sum(axis=(1, 2))


@pytest.mark.parametrize("fps", [24, 30, 60])
def test_lines_show_on_exactly_their_frames_and_nowhere_else(fps: int, clips: Path, tmp_path: Path) -> None:
    bare, _ = render(tmp_path, clips, "bare", fps, None)
    total = 120
    lines = lines_for(total)
    video, manifest = render(tmp_path, clips, "lyrics", fps, lines)
    assert check(video).ok, check(video).problems                       # captions are no unplanned cuts
    strong = text_pixels(video, bare)
    shown = np.zeros(total, dtype=bool)
    for line in lines:
        shown[line.start_frame:line.end_frame] = True
    assert strong[shown].min() >= TEXT_PIXELS, strong[shown]
    assert strong[~shown].max() <= NOISE_PIXELS, strong[~shown]
    for line in lines:   # first and last frame of each line to the frame
        a, b = line.start_frame, line.end_frame
        assert strong[a] >= TEXT_PIXELS and strong[b - 1] >= TEXT_PIXELS
        assert (a == 0 or strong[a - 1] <= NOISE_PIXELS) and (b == total or strong[b] <= NOISE_PIXELS)
    assert manifest.captions == lines


def test_editing_one_line_re_encodes_only_the_pieces_it_touches(clips: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "a [pro]ject, with: 'quotes'; and \\ slashes" / ".mvpipe")  # paths in a filter graph
    lines = lines_for(120)
    _, first = render(tmp_path, clips, "v", 30, lines, workspace=ws)
    assert first.encoded == 4 and first.reused == 0
    edited = [*lines[:1], lines[1].model_copy(update={"text": "across the cut, edited"}), *lines[2:]]
    _, second = render(tmp_path, clips, "v", 30, edited, workspace=ws)
    # 'across the cut' lies on frames 35-46: the bodies of the first two shots, nothing else
    touched = [p.shots for p in second.pieces if not p.reused]
    assert touched == [["s0"], ["s1"]] and second.reused == 2


def test_sidecars_and_the_soft_track_read_back(clips: Path, tmp_path: Path) -> None:
    lines = lines_for(120)
    video, manifest = render(tmp_path, clips, "soft", 30, lines, subtitles="track")
    bare, _ = render(tmp_path, clips, "bare", 30, None)
    assert text_pixels(video, bare).max() == 0                       # 'track': nothing burned in
    expected = [(x.start_frame * 1000 // 30, x.end_frame * 1000 // 30, x.text) for x in lines]
    assert manifest.sidecars == [video.with_suffix(".srt"), video.with_suffix(".vtt")]
    for path in manifest.sidecars:
        subs = pysubs2.load(str(path))
        assert [(e.start, e.end, e.plaintext.replace("\n", " ")) for e in subs] == expected
    track = tmp_path / "track.srt"
    run_ffmpeg(["-i", str(video), "-map", "0:s:0", "-f", "srt", str(track)], what="reading the soft track")
    subs = pysubs2.load(str(track))
    assert [(e.start, e.end, e.plaintext.replace("\n", " ")) for e in subs] == expected
    assert stream_facts(video).frames == 120 and check(video).ok, check(video).problems
    (tmp_path / "mine.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nmy own\n")
    with pytest.raises(InputError, match="mvpipe did not write it"):   # a file of the user's is never overwritten
        render(tmp_path, clips, "mine", 30, lines)
    assert (tmp_path / "mine.srt").read_text().endswith("my own\n")
    render(tmp_path, clips, "soft", 30, None)                           # lyrics gone: so are their sidecars
    assert not video.with_suffix(".srt").exists() and not video.with_suffix(".vtt").exists()


def test_right_to_left_text_renders_with_a_users_font(clips: Path, tmp_path: Path) -> None:
    arabic = pytest.importorskip("fontpkg_noto_sans_arabic", reason="dev extra fontpkg-noto-sans-arabic")
    font = next((arabic.ROOT / "files").glob("*.ttf"))
    bare, _ = render(tmp_path, clips, "bare", 30, None)
    song = make_song(clips / "captions-song.wav", 10)
    plan = make_plan(song, [40, 50, 30], [("cut", 0), ("cut", 0), ("crossfade", 10)], fps=30, width=W, height=H,
                     out=tmp_path / "rtl.mp4")
    line = CaptionLine(text="\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
                       start_frame=10, end_frame=30)
    plan = plan.model_copy(update={"captions": CaptionTrack(style=Captions(font=font), lines=[line])})
    takes = takes_for(plan, lambda k: pattern(clips / f"pattern{k}-30.mp4", 70 * k, 30))
    assemble(plan, takes, Workspace(tmp_path / ".mvpipe-rtl"), tmp_path / "rtl.mp4")
    strong = text_pixels(tmp_path / "rtl.mp4", bare)
    assert strong[10:30].min() >= TEXT_PIXELS and max(strong[:10].max(), strong[30:].max()) <= NOISE_PIXELS
