"""The pure cut of a plan into pieces: abutting, centred on the cut, reading each take from its start."""

from __future__ import annotations

from pathlib import Path

import pytest
from asmkit import make_plan

from mvpipe.assembly.timeline import needed_frames, pieces
from mvpipe.errors import MvpipeError

SONG = Path("song.wav")


def test_pieces_abut_and_cover_the_timeline() -> None:
    plan = make_plan(SONG, [30, 40, 20, 50], [("fade-black", 8), ("cut", 0), ("crossfade", 10), ("wipe-up", 7)])
    parts = pieces(plan)
    assert parts[0].start_frame == 0
    for a, b in zip(parts, parts[1:], strict=False):
        assert a.start_frame + a.frames == b.start_frame
    assert parts[-1].start_frame + parts[-1].frames == plan.frames


def test_transition_is_centred_on_the_cut_and_takes_read_from_their_start() -> None:
    plan = make_plan(SONG, [30, 40], [("cut", 0), ("crossfade", 11)])
    body0, trans, body1 = pieces(plan)
    cut = plan.segments[1].start_frame
    # head = 11 // 2 = 5 before the cut, tail = 6 after it
    assert (trans.start_frame, trans.frames) == (cut - 5, 11)
    assert (body0.start_frame, body0.frames) == (0, cut - 5)
    assert (body1.start_frame, body1.frames) == (cut + 6, 40 - 6)
    # outgoing take: its frame 25 is output frame 25; incoming take starts at the transition
    assert (trans.a.segment, trans.a.offset) == (0, 25)
    assert (trans.b.segment, trans.b.offset) == (1, 0)
    assert body1.b.offset == 11
    assert needed_frames(plan, pieces(plan)) == [30 + 6, 5 + 40]


def test_fade_on_the_first_segment_fades_in_from_a_colour() -> None:
    plan = make_plan(SONG, [30, 40], [("fade-white", 12), ("cut", 0)])
    first = pieces(plan)[0]
    assert (first.kind, first.a, first.start_frame, first.frames, first.colour) == ("transition", None, 0, 12,
                                                                                    "white")
    assert first.b.offset == 0


def test_overlapping_transitions_are_refused_with_the_shot_named() -> None:
    plan = make_plan(SONG, [30, 6, 30], [("cut", 0), ("crossfade", 10), ("crossfade", 10)])
    with pytest.raises(MvpipeError, match="s1"):
        pieces(plan)


@pytest.mark.parametrize("field,value", [("transition_frames", 0), ("transition", "cut"), ("head_frames", 3)])
def test_a_plan_that_breaks_what_the_planner_guarantees_is_refused(field: str, value: object) -> None:
    plan = make_plan(SONG, [30, 40], [("fade-white", 12), ("crossfade", 10)])
    which = 0 if field == "head_frames" else 1
    plan.segments[which] = plan.segments[which].model_copy(update={field: value})
    with pytest.raises(MvpipeError, match=f"shot 's{which}'.*not a plan the planner makes"):
        pieces(plan)
