"""The planner: cuts on the frame nearest their beat, the cut vocabulary, duration grids and cost."""

from __future__ import annotations

import json

import pytest
from support import grid_analysis, write_png

from mvpipe.errors import InputError
from mvpipe.generation.provider import Capabilities, shape_table
from mvpipe.generation.providers import resolve
from mvpipe.planner import Plan, final_prompt, for_output, generator_specs, plan
from mvpipe.storyboard import load

HEAD = """\
mvpipe: 1
song: song.wav
output: {fps: 30, height: 720}
style: neon noir
characters:
  mara: {description: woman with a silver bob}
"""

SORA = Capabilities(provider="sora", model="like", durations=[4, 8, 12], price_per_second=0.10)
VEO = Capabilities(provider="veo", model="like", durations=[4, 6, 8], price_per_second=0.40)
KLING = Capabilities(provider="kling", model="like", durations=[5, 10], price_per_second=0.07)
RUNWAY = Capabilities(provider="runway", model="like", duration_range=(2, 10), duration_step=1,
                      shapes=shape_table({"16:9": (1280, 720)}, "720p", 0.05))


def _plan(write_board, shots: str, analysis=None, timing: str = "", caps: Capabilities | None = None,
          head: str = HEAD) -> Plan:
    board = load(write_board(head + timing + "shots:\n" + shots))
    capabilities = {spec: caps or resolve(spec)[1] for spec in generator_specs(board)}
    return plan(board, analysis or grid_analysis(), capabilities)


def _cut_times(p: Plan) -> list[float]:
    return [p.seconds(s.start_frame) for s in p.segments] + [p.song_end]


def test_lengths_in_bars_beats_and_seconds(write_board) -> None:
    p = _plan(write_board, """\
  - {id: a, length: 2 bars, prompt: x}
  - {id: b, length: 3 beats, prompt: x}
  - {id: c, length: 1.5s, prompt: x}
  - {id: d, prompt: x}
""")
    assert [(s.start_frame, s.end_frame) for s in p.segments] == [(0, 120), (120, 165), (165, 210), (210, 1800)]
    assert p.frames == 1800 and p.segments[-1].end_frame == p.frames


def test_cuts_land_on_the_frame_nearest_their_beat_without_drift(write_board) -> None:
    bpm = 117.3  # a beat is 15.345 frames at 30 fps: naive accumulation would drift
    analysis = grid_analysis(bpm=bpm, duration=120.0, first_beat=0.0)
    shots = "".join(f"  - {{id: s{i}, length: 1 beat, prompt: x}}\n" for i in range(200))
    p = _plan(write_board, shots + "  - {id: last, prompt: x}\n", analysis)
    for i, seg in enumerate(p.segments[1:], start=1):
        assert seg.start_frame == round(analysis.beats[i] * 30)
    assert p.frames == 3600


def test_shots_without_length_share_the_rest_on_downbeats(write_board) -> None:
    p = _plan(write_board, """\
  - {id: a, length: 4 bars, prompt: x}
  - {id: b, prompt: x}
  - {id: c, prompt: x}
  - {id: d, prompt: x}
""")
    bar = 2.0
    for t in _cut_times(p)[1:-1]:
        assert t / bar == pytest.approx(round(t / bar))
    assert _cut_times(p) == [0.0, 8.0, 26.0, 44.0, 60.0]


def test_cut_on_beat(write_board) -> None:
    p = _plan(write_board, "  - {id: a, prompt: x}\n  - {id: b, prompt: x}\n  - {id: c, prompt: x}\n",
              grid_analysis(duration=10.0), timing="timing: {cut_on: beat}\n")
    assert _cut_times(p) == [0.0, 3.5, 7.0, 10.0]


def test_pickup_before_first_downbeat_is_folded_into_the_first_shot(write_board) -> None:
    p = _plan(write_board, "  - {id: a, length: 1 bar, prompt: x}\n  - {id: b, prompt: x}\n",
              grid_analysis(first_beat=0.75, duration=20.0))
    assert p.segments[0].start_frame == 0
    assert p.segments[1].start_frame in (82, 83)  # 2.75 s is half-way between two frames


def test_section_fills_a_named_section_and_auto_shots_fill_up_to_it(write_board) -> None:
    analysis = grid_analysis(duration=48.0, sections=[(0, 16, "A"), (16, 32, "B"), (32, 48, "A'")])
    p = _plan(write_board, """\
  - {id: a, prompt: x}
  - {id: b, prompt: x}
  - {id: chorus, section: B, prompt: x}
  - {id: c, length: 2 bars, prompt: x}
  - {id: last, section: A, prompt: x}
""", analysis)
    assert _cut_times(p) == [0.0, 8.0, 16.0, 32.0, 36.0, 48.0]


def test_section_next_runs_to_the_next_boundary(write_board) -> None:
    analysis = grid_analysis(duration=40.0, sections=[(0, 12, "A"), (12, 28, "B"), (28, 40, "C")])
    p = _plan(write_board, "  - {id: a, length: 1 bar, prompt: x}\n  - {id: b, section: next, prompt: x}\n"
                           "  - {id: c, prompt: x}\n", analysis)
    assert _cut_times(p) == [0.0, 2.0, 28.0, 40.0]


def test_unknown_section_is_an_error_listing_the_song_sections(write_board) -> None:
    analysis = grid_analysis(sections=[(0, 30, "A"), (30, 60, "B")])
    with pytest.raises(InputError, match="no section 'C'") as info:
        _plan(write_board, "  - {id: a, section: C, prompt: x}\n", analysis)
    assert info.value.shot == "a" and "A, B" in str(info.value)


def test_density_per_section(write_board) -> None:
    analysis = grid_analysis(duration=32.0, sections=[(0, 16, "A"), (16, 32, "B")])
    shots = "".join(f"  - {{id: s{i}, prompt: x}}\n" for i in range(12))
    p = _plan(write_board, shots, analysis, timing="timing:\n  density: {A: 2 bars, B: 1 bar}\n")
    assert _cut_times(p) == [0, 4, 8, 12, 16, 18, 20, 22, 24, 26, 28, 30, 32]


def test_min_and_max_shot(write_board) -> None:
    shots = "  - {id: a, length: 1 beat, prompt: x}\n  - {id: b, prompt: x}\n"
    with pytest.raises(InputError, match="less than timing.min_shot") as info:
        _plan(write_board, shots, timing="timing: {min_shot: 1 bar}\n")
    assert info.value.shot == "a"
    with pytest.raises(InputError, match="more than timing.max_shot") as info:
        _plan(write_board, shots, timing="timing: {max_shot: 8 bars}\n")
    assert info.value.shot == "b"


def test_offset_shifts_cuts_but_not_the_range(write_board) -> None:
    p = _plan(write_board, "  - {id: a, length: 2 bars, prompt: x}\n  - {id: b, prompt: x}\n",
              timing="timing: {offset_ms: 100}\n")
    assert p.segments[1].start_frame == 123 and p.frames == 1800


def test_range_start_and_end(write_board) -> None:
    p = _plan(write_board, "  - {id: a, length: 2 bars, prompt: x}\n  - {id: b, prompt: x}\n",
              timing="timing: {start: 10.0, end: 30.0}\n")
    assert p.frames == 600 and p.song_start == 10.0 and p.song_end == 30.0
    assert p.segments[1].start_frame == 120


def test_more_time_than_the_song_has_is_an_error(write_board) -> None:
    with pytest.raises(InputError, match="need 64.0s but the song range is only 60.0s"):
        _plan(write_board, "  - {id: a, length: 16 bars, prompt: x}\n  - {id: b, length: 16 bars, prompt: x}\n")
    with pytest.raises(InputError, match="timing.end is 90.00s"):
        _plan(write_board, "  - {id: a, prompt: x}\n", timing="timing: {end: 90}\n")


def test_the_shot_too_long_for_the_song_is_blamed_not_the_one_after_it(write_board) -> None:
    with pytest.raises(InputError, match="with this shot's 500s, the shots up to it need 500.0s") as info:
        _plan(write_board, "  - {id: a, length: 500s, prompt: x}\n  - {id: b, prompt: x}\n")
    assert (info.value.shot, info.value.field) == ("a", "length") and info.value.line


@pytest.mark.parametrize("timing", ["{min_shot: 4 bars, max_shot: 1 bar}", "{min_shot: 8s, max_shot: 1 bar}"])
def test_min_shot_longer_than_max_shot_is_located(write_board, timing: str) -> None:
    with pytest.raises(InputError, match="is longer than timing.max_shot") as info:
        _plan(write_board, "  - {id: a, prompt: x}\n  - {id: b, prompt: x}\n", timing=f"timing: {timing}\n")
    assert (info.value.shot, info.value.field) == (None, "timing.min_shot") and info.value.line


def test_fewer_shots_than_song_hold_the_last_one_with_a_warning(write_board) -> None:
    p = _plan(write_board, "  - {id: a, length: 2 bars, prompt: x}\n  - {id: b, length: 2 bars, prompt: x}\n")
    assert p.segments[-1].end_frame == p.frames
    assert any("holds to the song range's end" in w for w in p.warnings)


def test_transitions_are_centred_on_the_cut(write_board) -> None:
    p = _plan(write_board, """\
  - {id: a, length: 2 bars, prompt: x, transition: fade-black}
  - {id: b, length: 2 bars, prompt: x, transition: crossfade}
  - {id: c, prompt: x, transition: {type: wipe-left, length: 0.25s}}
""")
    a, b, c = p.segments
    assert (a.transition, a.transition_frames, a.head_frames) == ("fade-black", 15, 0)
    assert (b.transition_frames, b.head_frames, a.tail_frames) == (15, 7, 8)
    assert (c.transition_frames, c.head_frames, b.tail_frames, c.tail_frames) == (8, 4, 4, 0)
    assert b.requested_seconds == pytest.approx((7 + 120 + 4) / 30)


def test_a_segment_has_transition_frames_exactly_when_it_has_a_transition(write_board) -> None:
    # what the assembler and the exports read without re-deriving: no frames for a cut, no head on the first
    p = _plan(write_board, """\
  - {id: a, length: 1 bar, prompt: x, transition: fade-black}
  - {id: b, prompt: x, transition: crossfade}
  - {id: c, length: 1 bar, prompt: x}
  - {id: d, length: 2 bars, prompt: x, transition: {type: wipe-left, length: 0.25s}}
""", grid_analysis(bpm=100.0, duration=40.0), caps=KLING)
    assert [s.part for s in p.segments if s.shot == "b"] == [0, 1, 2, 3]
    assert [(s.shot, s.transition) for s in p.segments if s.transition_frames] == [
        ("a", "fade-black"), ("b", "crossfade"), ("d", "wipe-left")]
    assert all((s.transition == "cut") == (s.transition_frames == 0) for s in p.segments)
    assert all(0 <= s.head_frames <= s.transition_frames for s in p.segments)
    assert p.segments[0].head_frames == 0


@pytest.mark.parametrize(("caps", "length", "asked"), [
    (SORA, "3.5s", [4]), (SORA, "5s", [8]), (SORA, "11.9s", [12]), (SORA, "20s", [8, 12]),
    (VEO, "4.5s", [6]), (VEO, "7s", [8]), (VEO, "14s", [6, 8]),
    (KLING, "4s", [5]), (KLING, "6s", [10]), (KLING, "18s", [10, 10]),
    (RUNWAY, "1.2s", [2]), (RUNWAY, "3.2s", [4]), (RUNWAY, "10s", [10]), (RUNWAY, "16s", [8, 8]),
])
def test_duration_grids_ask_for_the_shortest_covering_clip(write_board, caps, length, asked) -> None:
    p = _plan(write_board, f"  - {{id: a, length: {length}, prompt: x}}\n  - {{id: b, length: 1 beat, prompt: x}}\n",
              grid_analysis(bpm=60.0, duration=200.0), caps=caps, timing="timing: {end: %s}\n"
              % (float(length[:-1]) + 1.0))
    first = [s for s in p.segments if s.shot == "a"]
    assert sorted(s.requested_seconds for s in first) == sorted(asked)
    assert all(s.requested_seconds * 30 >= s.frames + s.head_frames + s.tail_frames for s in first)


def test_paid_seconds_and_cost(write_board) -> None:
    p = _plan(write_board, "  - {id: a, length: 3s, prompt: x}\n  - {id: b, length: 5s, prompt: x}\n",
              grid_analysis(bpm=60.0, duration=8.0), caps=SORA)
    assert [s.requested_seconds for s in p.segments] == [4, 8]
    assert p.paid_seconds == 12 and p.screen_seconds == 8
    assert p.estimated_cost_usd == pytest.approx(1.20)
    assert [s.estimated_cost_usd for s in p.segments] == [pytest.approx(0.4), pytest.approx(0.8)]


def test_split_parts_are_cut_on_beats(write_board) -> None:
    p = _plan(write_board, "  - {id: a, prompt: x}\n", grid_analysis(bpm=100.0, duration=30.0), caps=KLING)
    parts = [s for s in p.segments if s.shot == "a"]
    # 30 s in 10 s clips: no 3-way split lands on beats (0.6 s), so 4 parts on beats, paying 35 s
    assert [s.part for s in parts] == [0, 1, 2, 3]
    assert sum(s.requested_seconds for s in parts) == 35
    for s in parts[1:]:
        assert s.start_frame == round(round(p.seconds(s.start_frame) / 0.6) * 0.6 * 30)
    assert all(s.frames + s.head_frames + s.tail_frames <= 300 for s in parts)


def test_prompt_carries_characters_camera_and_style(write_board) -> None:
    board = load(write_board(HEAD + "shots:\n  - {id: a, prompt: mara runs, characters: [mara], camera: low angle}\n"))
    text = final_prompt(board, board.shots[0])
    assert text == "mara runs. mara: woman with a silver bob. Camera: low angle. Style: neon noir."


def test_another_output_keeps_the_cuts_and_the_requests(write_board) -> None:
    head = HEAD.replace("output: {fps: 30, height: 720}", "output: {fps: 30, height: 720, also: [{aspect: '9:16'}]}")
    board = load(write_board(head + "shots:\n  - {id: a, length: 2 bars, prompt: x}\n  - {id: b, prompt: x}\n"))
    main = plan(board, grid_analysis(), {spec: resolve(spec)[1] for spec in generator_specs(board)})
    tall = for_output(main, board.outputs()[1])
    assert (tall.width, tall.height, tall.aspect, tall.output.name) == (720, 1280, "9:16", "board-9x16.mp4")
    assert tall.segments == main.segments and tall.frames == main.frames
    assert [s.request for s in tall.segments] == [s.request for s in main.segments]  # the same takes
    with pytest.raises(ValueError, match="24 fps"):
        for_output(main, board.outputs()[1].model_copy(update={"fps": 24}))


def test_planning_is_pure(write_board) -> None:
    shots = "  - {id: a, length: 2 bars, prompt: x}\n  - {id: b, prompt: x}\n"
    assert _plan(write_board, shots) == _plan(write_board, shots)


def test_the_json_states_each_cut_in_song_seconds_and_reads_back_as_the_same_plan(write_board) -> None:
    p = _plan(write_board, "  - {id: a, prompt: x}\n  - {id: b, length: 3s, prompt: y, transition: crossfade}\n",
              grid_analysis(bpm=100.0, duration=40.0), caps=KLING, timing="timing: {start: 0.7}\n")
    rows = json.loads(p.model_dump_json())["segments"]
    assert len(rows) == 5 and [r["part"] for r in rows] == [0, 1, 2, 3, 0]
    assert [(r["start"], r["end"]) for r in rows] == [(round(0.7 + s.start_frame / 30, 6),
                                                      round(0.7 + s.end_frame / 30, 6)) for s in p.segments]
    assert [(r["shot"], r["generator"], r["requested_seconds"]) for r in rows] == [
        (s.request.shot, "kling:like", s.request.seconds) for s in p.segments]
    assert Plan.model_validate_json(p.model_dump_json()) == p


def test_fixed_shots_after_shared_ones_are_counted_back_from_the_end_onto_beats(write_board) -> None:
    analysis = grid_analysis(duration=60.3, first_beat=0.02)  # the song ends between beats
    shots = "  - {id: a, prompt: x}\n  - {id: b, prompt: x}\n  - {id: outro, length: 4 bars, prompt: x}\n"
    p = _plan(write_board, shots, analysis)
    outro = p.segments[-1]
    assert outro.start_frame == round(analysis.beats[round((p.seconds(outro.start_frame) - 0.02) / 0.5)] * 30)
    assert p.seconds(outro.start_frame) == pytest.approx(52.52, abs=1 / 30)  # the beat nearest 60.3 s - 4 bars (8 s)


def test_native_references_that_force_a_length_are_planned_and_priced(write_board, tmp_path) -> None:
    write_png(tmp_path / "mara.png")
    head = HEAD.replace("{description: woman with a silver bob}",
                        "{description: woman with a silver bob, references: [mara.png], ids: {openai: char_1}}")
    veo_refs = VEO.model_copy(update={"references_as": "native", "max_references": 3, "reference_durations": [8]})
    shots = "  - {id: a, length: 3s, prompt: x, characters: [mara]}\n  - {id: b, length: 3s, prompt: x}\n"
    p = _plan(write_board, shots, grid_analysis(bpm=60.0, duration=6.0), caps=veo_refs, head=head)
    assert [s.requested_seconds for s in p.segments] == [8, 4]
    assert p.estimated_cost_usd == pytest.approx(12 * 0.40)
    assert p.segments[0].request.characters[0].ids == {"openai": "char_1"}


def test_cost_uses_the_price_of_the_shape_that_covers_the_output(write_board) -> None:
    # two shapes: 720p at 0.05/s, 1080p at 0.30/s; a 720p output asks for 720p, a 1080p one for 1080p
    caps = RUNWAY.model_copy(update={"shapes": [*shape_table({"16:9": (1280, 720)}, "720p", 0.05),
                                                *shape_table({"16:9": (1920, 1080)}, "1080p", 0.30)]})
    for height, size, rate in ((720, (1280, 720), 0.05), (1080, (1920, 1080), 0.30)):
        head = HEAD.replace("height: 720", f"height: {height}")
        p = _plan(write_board, "  - {id: a, length: 4s, prompt: x}\n", grid_analysis(bpm=60.0, duration=4.0),
                  caps=caps, head=head)
        req = p.segments[0].request
        assert (req.width, req.height, req.resolution) == (*size, f"{size[1]}p")
        assert p.estimated_cost_usd == pytest.approx(4 * rate)


def test_shape_keeps_the_orientation_then_crops_least_then_costs_least(write_board) -> None:
    caps = RUNWAY.model_copy(update={"shapes": shape_table(
        {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720)}, "720p", 0.05)})
    picked = {}
    for aspect in ("16:9", "9:16", "1:1", "4:5"):
        head = HEAD.replace("height: 720", f'height: 1080, aspect: "{aspect}"')
        p = _plan(write_board, "  - {id: a, length: 4s, prompt: x}\n", grid_analysis(bpm=60.0, duration=4.0),
                  caps=caps, head=head)
        picked[aspect] = p.segments[0].request.aspect
    # 4:5 loses 20 % from 1:1, 30 % from 9:16
    assert picked == {"16:9": "16:9", "9:16": "9:16", "1:1": "1:1", "4:5": "1:1"}


def test_continue_on_a_model_without_a_first_frame_is_refused_at_plan_time(write_board) -> None:
    shots = "  - {id: a, length: 2s, prompt: x}\n  - {id: b, length: 2s, prompt: y, continue: previous}\n"
    with pytest.raises(InputError) as err:
        _plan(write_board, shots, grid_analysis(bpm=60.0, duration=4.0), caps=SORA)
    assert "takes no first frame" in str(err.value) and "continue" in str(err.value)




def test_a_face_photo_as_soras_first_frame_is_warned_about_at_plan_time(write_board, tmp_path) -> None:
    write_png(tmp_path / "mara.png")
    head = HEAD.replace("{description: woman with a silver bob}",
                        "{description: woman with a silver bob, references: [mara.png]}")
    shots = "  - {id: a, length: 4s, prompt: x, characters: [mara]}\n"
    p = _plan(write_board, shots, grid_analysis(bpm=60.0, duration=4.0), caps=resolve("openai")[1], head=head)
    assert any("refuses first frames showing a real person's face" in w and "'a'" in w for w in p.warnings)
    registered = head.replace("references: [mara.png]}", "references: [mara.png], ids: {openai: char_1}}")
    p = _plan(write_board, shots, grid_analysis(bpm=60.0, duration=4.0), caps=resolve("openai")[1], head=registered)
    assert not any("face" in w for w in p.warnings)
