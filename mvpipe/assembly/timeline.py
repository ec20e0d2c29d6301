"""Cut the plan's timeline into pieces: each segment's body, and each transition's overlap. Pure.

A transition of T frames into segment k spans output frames [start_k - head_k, start_k - head_k + T);
the body of segment k is what lies between its incoming and outgoing transitions. Every piece is
a whole number of frames at absolute output positions, so the joined pieces are the timeline and
a cut stays on its planned frame. A segment's take is read from its own frame 0 at output frame
``start_frame - head_frames``; a piece of it is therefore a window ``[offset, offset + frames)``
of the take re-timed to the output frame rate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from mvpipe.errors import MvpipeError
from mvpipe.planner import Plan, Segment
from mvpipe.storyboard import TransitionName


class Window(BaseModel):
    """Output-rate frames ``[offset, offset + frames)`` of one segment's take."""

    segment: int
    offset: int
    frames: int


class Piece(BaseModel):
    """One independently encoded stretch of the output: a body (one window) or a transition (two)."""

    kind: Literal["body", "transition"]
    start_frame: int
    frames: int
    a: Window | None = None
    b: Window
    transition: TransitionName = "cut"
    colour: str = "black"

    @property
    def segments(self) -> list[int]:
        return [w.segment for w in (self.a, self.b) if w is not None]


def pieces(plan: Plan) -> list[Piece]:
    """The plan's pieces in output order; they abut and together cover ``[0, plan.frames)``."""
    segs = plan.segments
    _validate(plan)
    out: list[Piece] = []
    for k, seg in enumerate(segs):
        origin = seg.start_frame - seg.head_frames
        t_in = seg.transition_frames
        if t_in:
            a = Window(segment=k - 1, offset=origin - _origin(segs, k - 1), frames=t_in) if k else None
            colour = "white" if seg.transition == "fade-white" else "black"
            out.append(Piece(kind="transition", start_frame=origin, frames=t_in, a=a,
                             b=Window(segment=k, offset=0, frames=t_in), transition=seg.transition,
                             colour=colour))
        body_start = origin + t_in if t_in else seg.start_frame
        nxt = segs[k + 1] if k + 1 < len(segs) else None
        body_end = nxt.start_frame - nxt.head_frames if nxt is not None else seg.end_frame
        if body_end < body_start:
            raise MvpipeError(f"shot '{seg.shot}': its transitions overlap ({body_end - body_start} frames of "
                              "body); shorten them or lengthen the shot.")
        if body_end > body_start:
            out.append(Piece(kind="body", start_frame=body_start, frames=body_end - body_start,
                             b=Window(segment=k, offset=body_start - origin, frames=body_end - body_start)))
    return out


def needed_frames(plan: Plan, parts: list[Piece]) -> list[int]:
    """Output-rate frames each segment's take must supply (head + frames + tail)."""
    need = [0] * len(plan.segments)
    for p in parts:
        for w in (p.a, p.b):
            if w is not None:
                need[w.segment] = max(need[w.segment], w.offset + w.frames)
    return need


def _origin(segs: list[Segment], k: int) -> int:
    return segs[k].start_frame - segs[k].head_frames


def _validate(plan: Plan) -> None:
    segs = plan.segments
    if not segs:
        raise MvpipeError("the plan has no segments.")
    if segs[0].start_frame != 0 or segs[-1].end_frame != plan.frames:
        raise MvpipeError(f"the plan's segments cover frames {segs[0].start_frame}..{segs[-1].end_frame}, "
                          f"not 0..{plan.frames}.")
    for prev, seg in zip(segs, segs[1:], strict=False):
        if seg.start_frame != prev.end_frame:
            raise MvpipeError(f"shot '{seg.shot}' starts at frame {seg.start_frame}, not where "
                              f"'{prev.shot}' ends ({prev.end_frame}).")
    for k, seg in enumerate(segs):
        if seg.end_frame <= seg.start_frame:
            raise MvpipeError(f"shot '{seg.shot}' has no frames ({seg.start_frame}..{seg.end_frame}).")
        if k and seg.start_frame - seg.head_frames < segs[k - 1].start_frame:
            raise MvpipeError(f"shot '{seg.shot}': its transition starts before '{segs[k - 1].shot}' does.")
        if (seg.transition == "cut") != (seg.transition_frames == 0) or (k == 0 and seg.head_frames):
            raise MvpipeError(f"shot '{seg.shot}': a {seg.transition} of {seg.transition_frames} frames with "
                              f"{seg.head_frames} head frames is not a plan the planner makes.")

