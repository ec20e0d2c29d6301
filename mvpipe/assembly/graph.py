"""The FFmpeg command for one piece: decode only its window of each take, conform it, join it.

One builder serves every piece. A window becomes a chain: seek a little before it (input ``-ss``,
so only the needed stretch is decoded), re-time to the output rate (``fps`` with ``start_time=0``,
so frame ``j`` is the take's picture at ``(offset + j) / fps``), trim in frames, hold the last
frame if the take runs out, then scale to the output size by the fit rule and convert to BT.709.
A transition is ``xfade`` over two such chains of exactly T frames with offset 0, so its
length can never be eaten by a late offset. A seeked read keeps the file's own timestamps
(``-copyts``) and puts the output grid at the file's start, as a read from the start does:
shifting timestamps by the seek point rounds them, which flips the ``fps`` filter's choice
wherever a source frame sits exactly between two slots (every other frame of a 24 fps take at
30 fps). The short pre-roll before each window makes the seeked read see the source frame
nearest to the window's first slot, which may sit just before it.

A transition's outgoing window starts where the body before it ends, usually deep in a long GOP:
read on its own it re-decodes the take from its keyframe. So a body's run can also write the
next ``T`` conformed frames, losslessly (raw video in NUT), as a *lead* that the transition's run
reads instead of the take. The lead is the same chain's output, so the pixels are the same either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from mvpipe.assembly.encoder import EncoderSettings
from mvpipe.assembly.probe import MediaInfo
from mvpipe.assembly.timeline import Piece, Window
from mvpipe.storyboard import Fit, IfShort

# Every transition but "cut" (storyboard.TRANSITIONS, the one list) -> its xfade name.
XFADE = {"crossfade": "fade", "fade-black": "fadeblack", "fade-white": "fadewhite",
         "wipe-left": "wipeleft", "wipe-right": "wiperight", "wipe-up": "wipeup", "wipe-down": "wipedown",
         "slide-left": "slideleft", "slide-right": "slideright", "slide-up": "slideup",
         "slide-down": "slidedown", "zoom": "zoomin"}


@dataclass(frozen=True)
class Source:
    """A segment's take as the assembler reads it."""

    info: MediaInfo
    available: int  # output-rate frames the take holds at its own speed
    speed: float = 1.0  # > 1 when a short take is slowed down to fit (if_short: slow)


@dataclass
class Command:
    """FFmpeg arguments for one piece, with input files kept apart so a cache key can hash their bytes."""

    inputs: list[tuple[list[str], Path]]
    graph: str
    output: list[str]
    lead_output: list[str] = field(default_factory=list)  # options of a second output: the lead frames

    def args(self, dest: Path, lead: Path | None = None) -> list[str]:
        ins = [a for opts, path in self.inputs for a in (*opts, "-i", str(path))]
        second = [*self.lead_output, str(lead)] if self.lead_output and lead is not None else []
        return [*ins, "-filter_complex", self.graph, *self.output, str(dest), *second]


def source_for(info: MediaInfo, need: int, fps: int, if_short: IfShort) -> Source:
    """How a take covers ``need`` output frames: as is, holding its last frame, or slowed to fit."""
    available = max(1, math.ceil(info.duration * fps - 1e-6))
    if need > available and if_short == "slow":
        return Source(info=info, available=available, speed=need / available)
    return Source(info=info, available=available)


def piece_command(piece: Piece, sources: list[Source], fit: Fit, enc: EncoderSettings, *,
                  lead_in: Path | None = None, lead_out: int = 0, burn: str = "") -> Command:
    """The command that renders ``piece``; ``sources`` is indexed by segment.

    ``lead_in``: a transition reads its outgoing window from this lead file instead of the take.
    ``lead_out``: a body also writes its window's next ``lead_out`` frames as a second output.
    ``burn``: filters drawn on the piece's finished frames (captions), not on the lead.
    """
    inputs: list[tuple[list[str], Path]] = []
    chains: list[str] = []
    for name, window in (("a", piece.a), ("b", piece.b)):
        if window is None:
            continue
        if name == "a" and lead_in is not None:
            # Lossless frames already conformed; restate what NUT does not carry: the link's timebase and
            # rate, and the colour tags (without them the transition's pixels differed from the seek path).
            chains.append(f"[{len(inputs)}:v]settb=1/{enc.fps},setpts=N,fps={enc.fps},setsar=1,"
                          "setparams=range=tv:colorspace=bt709[a]")
            inputs.append((["-f", "nut"], lead_in))
            continue
        if lead_out:
            window = window.model_copy(update={"frames": window.frames + lead_out})
        opts, chain = _window_chain(len(inputs), window, sources[window.segment], enc, fit)
        inputs.append((enc.decode_args + opts, sources[window.segment].info.path))
        chains.append(f"{chain}[{name}]")
    if piece.kind == "transition":
        if piece.a is None:
            chains.append(f"color=c={piece.colour}:s={enc.width}x{enc.height}:r={enc.fps},"
                          f"trim=end_frame={piece.frames},format=yuv420p,setsar=1[a]")
        kind = "fade" if piece.a is None and piece.transition in ("fade-black", "fade-white") \
            else XFADE[piece.transition]
        chains.append(f"[a][b]xfade=transition={kind}:duration={piece.frames / enc.fps!r}:offset=0"
                      f"{burn}{enc.filter_tail}[v]")
    elif lead_out:
        chains[-1] = (chains[-1].removesuffix("[b]") + f",split[body][lead];[body]trim=end_frame={piece.frames}"
                      f"{burn}{enc.filter_tail}[v];[lead]trim=start_frame={piece.frames},setpts=PTS-STARTPTS[l]")
    else:
        chains[-1] = chains[-1].removesuffix("[b]") + f"{burn}{enc.filter_tail}[v]"
    output = ["-map", "[v]", "-an", "-sn", "-dn", *enc.video_args, "-frames:v", str(piece.frames),
              "-fps_mode", "passthrough", "-video_track_timescale", str(enc.timescale),
              "-map_metadata", "-1", "-f", "mp4"]
    lead = ["-map", "[l]", "-c:v", "rawvideo", "-frames:v", str(lead_out), "-fps_mode", "passthrough",
            "-f", "nut"] if lead_out else []
    return Command(inputs=[(enc.input_args + o, p) for o, p in inputs], graph=";".join(chains), output=output,
                   lead_output=lead)


def _window_chain(index: int, w: Window, src: Source, enc: EncoderSettings, fit: Fit) -> tuple[list[str], str]:
    """Input options and filter chain that yield exactly ``w.frames`` conformed frames of the window."""
    fps = enc.fps
    if src.speed == 1.0:
        first = min(w.offset, src.available - 1)          # past the end: hold the last frame
        real = max(1, min(w.frames, src.available - first))
    else:
        first, real = w.offset, w.frames
    frame_period = fps * src.speed / max(src.info.fps, 1e-3)   # output frames per source frame
    pre = min(first, math.ceil(frame_period) + 1)
    seek = (first - pre) / (fps * src.speed)
    opts = ["-ss", f"{seek:.6f}", "-copyts"] if seek > 0 else []
    origin = src.info.start * src.speed if seek > 0 else 0.0
    steps = [f"[{index}:v]"]
    if src.speed != 1.0:
        steps.append(f"setpts=PTS*{src.speed!r},")
    steps.append(f"fps={fps}:start_time={origin!r},trim=start_frame={first}:end_frame={first + real},"
                 "setpts=PTS-STARTPTS,"
                 f"tpad=stop_mode=clone:stop=-1,trim=end_frame={w.frames},")
    if abs(src.info.sar - 1.0) > 1e-3:
        steps.append("scale=trunc(iw*sar/2)*2:ih,setsar=1,")
    steps.append(_fit(fit, enc, src.info, index))
    return opts, "".join(steps)


def _fit(fit: Fit, enc: EncoderSettings, info: MediaInfo, index: int) -> str:
    """Scale/crop/pad to the output size (cover, contain, or contain over a blurred cover)."""
    w, h = enc.width, enc.height
    matrix = info.colorspace or ("bt709" if info.height >= 720 else "smpte170m")
    tail = ",setsar=1,format=yuv420p"
    if (info.width, info.height, info.pix_fmt, matrix, info.full_range) == (w, h, "yuv420p", "bt709", False) \
            and abs(info.sar - 1.0) < 1e-3:
        # Already the output's size and colours: every fit is the picture itself, and a scaler
        # that converts nothing still copies every pixel (~2 ms a 1080p frame). Tag it as scale would.
        return "setparams=range=tv:colorspace=bt709" + tail
    conv = f"flags={enc.scaler}:in_color_matrix={matrix}:out_color_matrix=bt709:out_range=tv"
    cover = f"scale={w}:{h}:force_original_aspect_ratio=increase:{conv},crop={w}:{h}"
    inside = f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2:{conv}"
    if fit == "cover":
        return cover + tail
    if fit == "contain":
        return f"{inside},pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black" + tail
    # blur: the picture contained, over itself covered and blurred (blurred at 1/8 size: cheap).
    sw, sh = max(2, w // 16 * 2), max(2, h // 16 * 2)
    fg, bg, small = f"fg{index}", f"bg{index}", f"sm{index}"
    return (f"split[{fg}][{small}];[{small}]scale={sw}:{sh}:force_original_aspect_ratio=increase:{conv},"
            f"crop={sw}:{sh},boxblur=4:2,scale={w}:{h}:flags=bilinear[{bg}];[{fg}]{inside}[{fg}s];"
            f"[{bg}][{fg}s]overlay=(W-w)/2:(H-h)/2" + tail)
