"""Storyboard + SongAnalysis + capabilities -> Plan: every cut on an absolute output frame. Pure.

Cut times are converted once to absolute frames (``round(t * fps)`` from the video's start), so a
segment's length is the difference of two absolute frames and rounding never accumulates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, computed_field, field_serializer

from mvpipe.analysis import Section, SongAnalysis
from mvpipe.captions.models import CaptionTrack
from mvpipe.captions.timing import caption_track
from mvpipe.generation.provider import Capabilities, CharacterRef, ClipRequest, Shape
from mvpipe.storyboard import Aspect, Fit, IfShort, Length, Output, Quality, Shot, Storyboard, Subtitles, TransitionName


class Segment(BaseModel):
    """One stretch of the output timeline filled by one take (or one part of a split shot).

    Each fact is held once: the cut is on the output clock in frames (its song time is
    :meth:`Plan.seconds`, which the plan's JSON writes as ``start``/``end``), and what is asked of
    the generator is ``request``, which ``shot``, ``part``, ``generator`` and ``requested_seconds`` read.
    """

    start_frame: int = Field(description="first output frame, absolute")
    end_frame: int = Field(description="one past the last output frame, absolute")
    transition: TransitionName = Field(default="cut", description="how this segment comes in")
    transition_frames: int = Field(default=0, description="length of the incoming transition, centred on the "
                                   "cut; 0 exactly when the transition is a cut")
    head_frames: int = Field(default=0, description="frames the take must supply before start_frame: the incoming "
                             "transition's before the cut (0 for a cut and on the first segment)")
    tail_frames: int = Field(default=0, description="frames the take must supply after end_frame")
    request: ClipRequest
    estimated_cost_usd: float = 0.0
    audio: float = Field(default=0.0, description="level of the take's own sound under the song")
    if_short: IfShort = "hold"

    @computed_field
    @property
    def shot(self) -> str:
        return self.request.shot

    @computed_field
    @property
    def shot_number(self) -> int:
        return self.request.shot_number

    @computed_field
    @property
    def part(self) -> int:
        return self.request.part

    @computed_field(description="provider:model")
    @property
    def generator(self) -> str:
        return f"{self.request.provider}:{self.request.model}"

    @computed_field
    @property
    def requested_seconds(self) -> float:
        return self.request.seconds

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


class Plan(BaseModel):
    """The cut list: what to generate and where each take goes on the output timeline."""

    title: str = ""
    song: Path
    song_sha256: str
    song_start: float = Field(description="song time at output frame 0 (s)")
    song_end: float
    fps: int
    width: int
    height: int
    aspect: Aspect
    fit: Fit = "cover"
    quality: Quality = "final"
    output: Path
    frames: int = Field(description="total output frames: (song_end - song_start) * fps, rounded")
    segments: list[Segment]
    paid_seconds: float = Field(description="seconds of video requested from providers")
    screen_seconds: float = Field(description="seconds of video on screen")
    estimated_cost_usd: float
    warnings: list[str] = Field(default_factory=list)
    captions: CaptionTrack | None = Field(default=None, description="the words, timed to output frames")
    subtitles: Subtitles = "burn"

    def seconds(self, frame: int) -> float:
        """The song time (s) at output frame ``frame``: where a cut on it falls in the song."""
        return round(self.song_start + frame / self.fps, 6)

    @field_serializer("segments", mode="wrap")
    def _segments_with_song_times(self, segments: list[Segment],
                                  handler: SerializerFunctionWrapHandler) -> list[dict[str, Any]]:
        """Each segment as the JSON contract has it: its shot, then its cut in frames and in song seconds."""
        lead = ("shot", "shot_number", "part", "start_frame", "end_frame")
        return [{key: row[key] for key in lead if key in row} | {"start": self.seconds(seg.start_frame),
                                                   "end": self.seconds(seg.end_frame)} | row
                for seg, row in zip(segments, handler(segments), strict=True)]


def plan(board: Storyboard, analysis: SongAnalysis, capabilities: Mapping[str, Capabilities], *,
         take_numbers: Mapping[str, int] | None = None) -> Plan:
    """Lay the storyboard's shots on the song's grid and say what to ask each generator for.

    ``capabilities`` maps every generator spec the storyboard uses (see :func:`generator_specs`)
    to its model's capabilities; ``take_numbers`` overrides shots' take numbers (re-takes).
    Raises :class:`InputError` located in the storyboard when the shots cannot fit the song.
    """
    timing = board.timing
    start = timing.start
    end = timing.end if timing.end is not None else analysis.duration
    for name, value in (("end", end), ("start", start)):
        if value > analysis.duration + 1e-3 or (name == "start" and value >= analysis.duration):
            raise board.error(f"timing.{name} is {value:.2f}s but the song is only {analysis.duration:.2f}s long.",
                              "timing", name)
    grid = _Grid(analysis)
    warnings: list[str] = []
    cuts = _Layout(board, grid, warnings).cuts(grid.index(start), grid.index(end))
    fps = board.output.fps
    total = round((end - start) * fps)
    offset = timing.offset_ms / 1000.0
    inner = [min(total, max(0, round((grid.time(x) + offset - start) * fps))) for x in cuts[1:-1]]
    frames = [0, *inner, total]
    for i in range(len(board.shots)):
        if frames[i + 1] <= frames[i]:
            raise board.error("this shot gets no frames: the shots before it fill the song.", "shots", i,
                              hint="Shorten earlier shots or remove this one.")
    segments = _segments(board, grid, capabilities, frames, start, dict(take_numbers or {}), warnings)
    captions = caption_track(board, grid, cuts, total, analysis.duration, warnings)
    return Plan(
        title=board.title, song=board.song, song_sha256=analysis.sha256, song_start=start, song_end=end,
        fps=fps, width=board.output.size[0], height=board.output.size[1], aspect=board.output.aspect,
        fit=board.output.fit, quality=board.output.quality, output=board.output_path(), frames=total,
        segments=segments, paid_seconds=round(sum(s.requested_seconds for s in segments), 3),
        screen_seconds=round(total / fps, 3),
        estimated_cost_usd=round(sum(s.estimated_cost_usd for s in segments), 2), warnings=warnings,
        captions=captions, subtitles=board.output.subtitles)


def for_output(result: Plan, output: Output) -> Plan:
    """``result`` rendered to another size, fit, quality or path: the same cuts and the same requests,
    so its takes are the ones already made (``output.fps`` must be the plan's; frames are shared)."""
    if output.fps != result.fps:
        raise ValueError(f"an output at {output.fps} fps cannot reuse a plan cut at {result.fps} fps")
    width, height = output.size
    return result.model_copy(update={"width": width, "height": height, "aspect": output.aspect, "fit": output.fit,
                                     "quality": output.quality, "output": output.path,
                                     "subtitles": output.subtitles})


def generator_specs(board: Storyboard) -> dict[str, list[int]]:
    """Every generator spec the storyboard uses -> the indices of the shots that use it."""
    out: dict[str, list[int]] = {}
    for i, shot in enumerate(board.shots):
        out.setdefault(_spec_of(board, shot), []).append(i)
    return out


def final_prompt(board: Storyboard, shot: Shot) -> str:
    """The text sent for a shot: its prompt, each character's description (the same words in every
    shot, which is what keeps characters consistent), the camera and the storyboard's style."""
    parts = [shot.prompt or ""]
    parts += [f"{name}: {board.characters[name].description}" for name in shot.characters]
    if shot.camera:
        parts.append(f"Camera: {shot.camera}")
    if board.style:
        parts.append(f"Style: {board.style}")
    return ". ".join(p.strip().rstrip(".") for p in parts if p.strip()) + "."


def _spec_of(board: Storyboard, shot: Shot) -> str:
    return "footage" if shot.footage is not None else shot.generator or board.generator


class _Grid:
    """The song's beats as a continuous 'beat index' axis, extrapolated past both ends.

    Musical lengths become index differences (a bar is ``meter`` beats), so laying shots out is
    arithmetic on indices; times come back through :meth:`time`.
    """

    def __init__(self, analysis: SongAnalysis) -> None:
        beats = np.asarray(analysis.beats, dtype=float)
        if beats.size < 2:
            period = 60.0 / analysis.tempo if analysis.tempo > 0 else 0.5
            beats = np.arange(0.0, analysis.duration + period, period)
        self.beats = beats
        self.period = float(np.median(np.diff(beats)))
        self.meter = max(1, analysis.meter)
        self.sections = analysis.sections
        down = np.searchsorted(beats, np.asarray(analysis.downbeats, dtype=float) - self.period / 4)
        down = np.unique(down[down < beats.size])
        self.downbeats = down.astype(float) if down.size else np.array([0.0])

    def index(self, t: float) -> float:
        b = self.beats
        if t <= b[0]:
            return (t - b[0]) / self.period
        if t >= b[-1]:
            return b.size - 1 + (t - b[-1]) / self.period
        return float(np.interp(t, b, np.arange(b.size)))

    def time(self, x: float) -> float:
        b = self.beats
        if x <= 0:
            return float(b[0] + x * self.period)
        if x >= b.size - 1:
            return float(b[-1] + (x - (b.size - 1)) * self.period)
        return float(np.interp(x, np.arange(b.size), b))

    def step(self, cut_on: str) -> int:
        return 1 if cut_on == "beat" else self.meter

    def snap(self, x: float, cut_on: str) -> float:
        """The grid point (a beat, or a downbeat) nearest ``x``."""
        if cut_on == "beat":
            return float(round(x))
        d = self.downbeats
        if x < d[0]:
            return float(d[0] - round((d[0] - x) / self.meter) * self.meter)
        if x > d[-1]:
            return float(d[-1] + round((x - d[-1]) / self.meter) * self.meter)
        return float(d[np.argmin(np.abs(d - x))])

    def next_point(self, x: float, cut_on: str) -> float:
        """The first grid point at or after ``x``."""
        snapped = self.snap(x, cut_on)
        return snapped if snapped >= x - 1e-6 else snapped + self.step(cut_on)

    def span(self, at: float, length: Length) -> float:
        """How many beat indices ``length`` covers when it starts at index ``at``."""
        if length.unit == "beats":
            return length.value
        if length.unit == "bars":
            return length.value * self.meter
        return self.index(self.time(at) + length.value) - at

    def seconds(self, at: float, length: Length) -> float:
        return self.time(at + self.span(at, length)) - self.time(at)

    def section_named(self, label: str, after: float) -> Section | None:
        """The first section called ``label`` (exactly, else by letter: 'A' finds "A'") ending after ``after`` s."""
        for exact in (True, False):
            for sec in self.sections:
                if (sec.label if exact else sec.label.rstrip("'")) == label and sec.end > after + 1e-6:
                    return sec
        return None

    def section_at(self, t: float) -> Section | None:
        return next((s for s in self.sections if s.start - 1e-6 <= t < s.end), None)


class _Layout:
    """Where each shot's cut falls, in beat indices.

    Shots with ``section`` are anchors: they end at that section's end, and shots without a length
    before them share the time up to the section's start. The rest share what is left before the
    range end, or take the ``timing.density`` length of the section they start in.
    """

    def __init__(self, board: Storyboard, grid: _Grid, warnings: list[str]) -> None:
        self.board, self.grid, self.warnings = board, grid, warnings
        self.cut_on = board.timing.cut_on

    def cuts(self, b0: float, b1: float) -> list[float]:
        shots, grid = self.board.shots, self.grid
        cuts, cursor, group = [b0], b0, []
        for i, shot in enumerate(shots):
            if shot.section is None:
                group.append(i)
                continue
            sec_start, sec_end = self._section_span(i, cursor, group)
            has_auto = any(shots[j].length is None for j in group)
            cuts += self._fill(group, cursor, sec_start if has_auto else None, first=cursor == b0)
            cursor = cuts[-1]
            if cursor >= sec_end - 0.5:
                raise self.board.error(f"the shots before this one already run past the end of its section "
                                       f"(at {grid.time(sec_end):.1f}s).", "shots", i, "section")
            cursor = min(sec_end, b1)
            cuts.append(cursor)
            group = []
        cuts += self._fill(group, cursor, b1, first=cursor == b0)
        if cuts[-1] > b1 + 0.5:
            need, have = grid.time(cuts[-1]) - grid.time(b0), grid.time(b1) - grid.time(b0)
            raise self.board.error(f"the shots need {need:.1f}s but the song range is only {have:.1f}s.",
                                   "shots", hint="Shorten some shots, or set timing.start/end to use more of the song.")
        if cuts[-1] < b1 - 0.5:
            self.warnings.append(
                f"the shots end at {grid.time(cuts[-1]):.2f}s; the last shot '{shots[-1].id}' holds to the song "
                f"range's end at {grid.time(b1):.2f}s (set timing.end to stop earlier).")
        cuts[-1] = b1
        self._check_bounds(cuts)
        return cuts

    def _section_span(self, i: int, cursor: float, group: list[int]) -> tuple[float, float]:
        """Start and end (beat indices) of the section that shot ``i`` fills."""
        shots, grid = self.board.shots, self.grid
        reach = cursor + sum(grid.span(cursor, shots[j].length) for j in group
                             if isinstance(shots[j].length, Length))
        reach += sum(self.grid.step(self.cut_on) for j in group if shots[j].length is None)
        label = shots[i].section or ""
        if label == "next":
            later = [s for s in grid.sections if grid.index(s.start) > reach + 0.5]
            if not later:
                raise self.board.error("there is no next section after the shots before this one.",
                                       "shots", i, "section")
            return grid.index(later[0].start), grid.index(later[0].end)
        found = grid.section_named(label, grid.time(reach))
        if found is None:
            labels = ", ".join(dict.fromkeys(s.label for s in grid.sections)) or "none"
            raise self.board.error(f"no section '{label}' after {grid.time(reach):.1f}s.", "shots", i, "section",
                                   hint=f"The song's sections: {labels} (see `mvpipe analyze`), or 'next'.")
        return grid.index(found.start), grid.index(found.end)

    def _fill(self, idx: list[int], cursor: float, end: float | None, *, first: bool) -> list[float]:
        """End positions of shots ``idx`` laid from ``cursor``; those without a length share up to ``end``.

        On the storyboard's first shot a musical length is counted from the first grid point, so a
        pickup before the first downbeat is folded into the first shot.
        """
        shots, grid, density = self.board.shots, self.grid, self.board.timing.density
        auto = [j for j in idx if shots[j].length is None]
        after = idx[idx.index(auto[-1]) + 1:] if auto else []
        fixed_after = sum(grid.span(cursor, shots[j].length) for j in after)
        share = 0.0
        if end is not None:
            self._refuse_overflow(idx, cursor, end)
        if auto and end is not None and not density:
            fixed = sum(grid.span(cursor, shots[j].length) for j in idx if isinstance(shots[j].length, Length))
            share = (end - cursor - fixed) / len(auto)
            if share < grid.step(self.cut_on) * 0.5:
                secs = max(0.0, grid.time(cursor + share) - grid.time(cursor))
                raise self.board.error(f"{len(auto)} shot(s) without a length get {secs:.2f}s each: too little.",
                                       "shots", auto[0], "length", hint="Give them lengths, or remove some shots.")
        out: list[float] = []
        pos = cursor
        for j in idx:
            length = shots[j].length
            if isinstance(length, Length):
                unit_grid = "downbeat" if length.unit == "bars" else "beat"
                anchor = grid.next_point(pos, unit_grid) if first and not out and length.unit != "seconds" else pos
                pos = anchor + grid.span(anchor, length)
            elif j == auto[-1] and end is not None:
                # the last one absorbs the others' rounding; the shots after it keep their lengths
                # counted back from `end`, which is itself a cut only if it is on the grid
                pinned = grid.snap(end - fixed_after, "beat") if fixed_after else end
                if density and pinned > pos + 2 * grid.span(pos, self._density_at(pos)):
                    self.warnings.append(f"shot '{shots[j].id}' stretches to {grid.time(pinned):.2f}s to fill the "
                                         "song: add shots to keep the density.")
                pos = pinned
            else:
                target = pos + (grid.span(pos, self._density_at(pos)) if density else share)
                snapped = grid.snap(target, self.cut_on)
                pos = snapped if snapped > pos + 1e-6 else grid.snap(pos + grid.step(self.cut_on), self.cut_on)
            out.append(pos)
        return out

    def _refuse_overflow(self, idx: list[int], cursor: float, end: float) -> None:
        """Blame the first shot whose own length runs past ``end``, not the shots after it that get nothing."""
        pos, grid = cursor, self.grid
        for j in idx:
            length = self.board.shots[j].length
            if isinstance(length, Length):
                pos += grid.span(pos, length)
                if pos > end + 0.5:
                    need, have = grid.time(pos) - grid.time(cursor), grid.time(end) - grid.time(cursor)
                    raise self.board.error(f"with this shot's {length}, the shots up to it need {need:.1f}s but the "
                                           f"song range is only {have:.1f}s.", "shots", j, "length",
                                           hint="Shorten it, or set timing.start/end to use more of the song.")

    def _density_at(self, pos: float) -> Length:
        """The ``timing.density`` length for the section playing at beat index ``pos``."""
        density = self.board.timing.density
        sec = self.grid.section_at(self.grid.time(pos))
        label = sec.label if sec else ""
        for key in (label, label.rstrip("'"), "default"):
            if key in density:
                return density[key]
        return Length(value=2, unit="bars")

    def _check_bounds(self, cuts: list[float]) -> None:
        timing, grid = self.board.timing, self.grid
        if timing.min_shot and timing.max_shot and \
                grid.seconds(cuts[0], timing.min_shot) > grid.seconds(cuts[0], timing.max_shot) + 1e-3:
            raise self.board.error(f"timing.min_shot ({timing.min_shot}) is longer than timing.max_shot "
                                   f"({timing.max_shot}).", "timing", "min_shot", hint="Swap or fix them.")
        for i in range(len(self.board.shots)):
            a, b = cuts[i], cuts[i + 1]
            secs = grid.time(b) - grid.time(a)
            if timing.min_shot and secs < grid.seconds(a, timing.min_shot) - 1e-3:
                raise self.board.error(f"this shot gets {secs:.2f}s, less than timing.min_shot "
                                       f"({timing.min_shot}).", "shots", i, "length")
            if timing.max_shot and secs > grid.seconds(a, timing.max_shot) + 1e-3:
                raise self.board.error(f"this shot gets {secs:.2f}s, more than timing.max_shot "
                                       f"({timing.max_shot}).", "shots", i, "length",
                                       hint="Add shots or give lengths.")


def _segments(board: Storyboard, grid: _Grid, capabilities: Mapping[str, Capabilities], frames: list[int],
              start: float, take_numbers: dict[str, int], warnings: list[str]) -> list[Segment]:
    """Turn cut frames into segments with transitions and clip requests (splitting over-long shots)."""
    fps = board.output.fps
    width, height = board.output.size
    shots = board.shots
    trans = _transition_frames(board, grid, frames, start, warnings)
    heads = [0] + [t // 2 for t in trans[1:]]
    tails = [trans[i + 1] - heads[i + 1] for i in range(len(shots) - 1)] + [0]

    out: list[Segment] = []
    for i, shot in enumerate(shots):
        spec = _spec_of(board, shot)
        if shot.continue_ and not (capabilities[spec].first_frame or capabilities[spec].local):
            raise board.error(f"{spec} takes no first frame, so this shot cannot continue from the last one.",
                              "shots", i, "continue", hint="Remove `continue`, or pick a generator that takes a "
                              "first frame (see `mvpipe providers`).")
        shape, caps = _shape_for(board, shot, capabilities[spec], warnings)
        bounds = _split(grid, caps, frames[i], frames[i + 1], heads[i], tails[i], fps, start)
        if len(bounds) > 2:
            warnings.append(f"shot '{shot.id}' is longer than {caps.spec}'s {caps.max_seconds:g}s maximum: "
                            f"it is generated as {len(bounds) - 1} takes.")
        refs = [CharacterRef(name=n, references=list(board.characters[n].references), ids=board.characters[n].ids)
                for n in shot.characters]
        warnings += _reference_warnings(shot, caps, refs)
        for part in range(len(bounds) - 1):
            a, b = bounds[part], bounds[part + 1]
            head = heads[i] if part == 0 else 0
            tail = tails[i] if part == len(bounds) - 2 else 0
            requested = caps.covering_seconds((head + b - a + tail) / fps)
            request = ClipRequest(
                shot=shot.id, shot_number=i + 1, part=part, take=take_numbers.get(shot.id, shot.take),
                provider=caps.provider, model=caps.model, prompt=final_prompt(board, shot),
                negative_prompt=shot.negative_prompt, seconds=requested, width=shape.width if shape else width,
                height=shape.height if shape else height, aspect=shape.aspect if shape else board.output.aspect,
                resolution=shape.resolution if shape else None, fps=fps, characters=refs,
                continue_from=shots[i - 1].id if shot.continue_ and part == 0 else None,
                footage=shot.footage, seed=shot.seed,
                audio=shot.audio > 0 and caps.native_audio and (shape is None or shape.audio_price is not None))
            # some models take references only with certain lengths (Veo: 8 s): ask for what is paid
            request = request.model_copy(update={"seconds": caps.seconds_for(request)})
            cost = caps.estimate(request)
            out.append(Segment(
                start_frame=a, end_frame=b, transition=shot.transition.type if part == 0 and trans[i] else "cut",
                transition_frames=trans[i] if part == 0 else 0, head_frames=head, tail_frames=tail,
                request=request, estimated_cost_usd=cost, audio=shot.audio, if_short=shot.if_short))
    return out


def _shape_for(board: Storyboard, shot: Shot, caps: Capabilities,
               warnings: list[str]) -> tuple[Shape | None, Capabilities]:
    """The shape a shot's clips are asked at (the one that best covers the output) and the model's limits there."""
    width, height = board.output.size
    shape = caps.pick_shape(width, height, audio=shot.audio > 0 and caps.native_audio)
    first = bool(shot.continue_) or caps.requires_first_frame or (
        caps.references_as == "first_frame" and any(board.characters[n].references for n in shot.characters))
    if shape is not None:
        _, crop, upscale = shape.cover(width, height)
        done = [f"cropped {crop:.0%}"] * bool(crop) + [f"scaled up {upscale:.0%}"] * bool(upscale)
        note = f"{caps.spec} renders {shape.width}x{shape.height} for the {width}x{height} output: " \
               f"{' and '.join(done)} (fit: {board.output.fit})."
        if done and note not in warnings:
            warnings.append(note)
    return shape, caps.narrowed(shape, first)



def _transition_frames(board: Storyboard, grid: _Grid, frames: list[int], start: float,
                       warnings: list[str]) -> list[int]:
    """Each shot's incoming transition in frames (0 for a cut), shortened to fit the shots around it."""
    fps = board.output.fps
    lengths = [frames[i + 1] - frames[i] for i in range(len(board.shots))]
    trans = []
    for i, shot in enumerate(board.shots):
        t = shot.transition
        if t.type == "cut":
            trans.append(0)
            continue
        at = grid.index(start + frames[i] / fps)
        wanted = round(grid.seconds(at, t.length or Length(value=1, unit="beats")) * fps)
        limit = lengths[i] // 2 if i == 0 else min(lengths[i - 1], lengths[i]) // 2 * 2
        if wanted > limit:
            warnings.append(f"shot '{shot.id}': the {t.type} is shortened from {wanted} to {limit} frames "
                            "to fit the shots around it.")
        trans.append(min(wanted, limit))
    return trans


def _reference_warnings(shot: Shot, caps: Capabilities, refs: list[CharacterRef]) -> list[str]:
    """What the model will not take of the shot's reference images, said at plan time."""
    said = []
    if caps.refuses_faces and caps.references_as == "first_frame" and any(
            c.references and caps.provider not in c.ids for c in refs):
        said.append(f"shot '{shot.id}': {caps.spec} refuses first frames showing a real person's face, and "
                    "this shot starts from a character's reference image: use a reference without a real "
                    f"face, or give the character an id registered with {caps.provider} (characters.ids).")
    if caps.max_references and len([r for c in refs for r in c.references]) > caps.max_references:
        said.append(f"shot '{shot.id}': {caps.spec} takes {caps.max_references} reference image(s); "
                    "the first ones are sent.")
    return said

def _split(grid: _Grid, caps: Capabilities, a: int, b: int, head: int, tail: int, fps: int,
           start: float) -> list[int]:
    """Frame bounds of the parts of a segment, each within the model's longest clip.

    Inner cuts go on beats, choosing the split that pays for the fewest seconds (then the fewest
    parts, then the most even); only if the beats are too sparse are the parts cut evenly.
    """
    limit = math.floor(caps.max_seconds * fps + 1e-6) if math.isfinite(caps.max_seconds) else None
    if limit is None or head + (b - a) + tail <= limit:
        return [a, b]
    first, last = math.ceil(grid.index(start + a / fps)), math.floor(grid.index(start + b / fps))
    beat_frames = sorted({round((grid.time(x) - start) * fps) for x in range(first, last + 1)} - {a, b})
    points = [a, *[f for f in beat_frames if a < f < b], b]

    def need(i: int, j: int) -> int:
        return points[j] - points[i] + (head if i == 0 else 0) + (tail if j == len(points) - 1 else 0)

    best: list[tuple[float, int, int] | None] = [(0.0, 0, 0)] + [None] * (len(points) - 1)
    prev = [0] * len(points)
    for j in range(1, len(points)):
        for i in range(j - 1, -1, -1):
            n = need(i, j)
            if n > limit:
                break
            if best[i] is None:
                continue
            paid, parts, widest = best[i]
            cand = (paid + caps.covering_seconds(n / fps), parts + 1, max(widest, n))
            if best[j] is None or cand < best[j]:
                best[j], prev[j] = cand, i
    if best[-1] is None:
        n = math.ceil((head + (b - a) + tail) / limit)
        while True:
            bounds = [a + round((b - a) * k / n) for k in range(n + 1)]
            if all(need_ <= limit for need_ in [bounds[k + 1] - bounds[k] + (head if k == 0 else 0)
                                                 + (tail if k == n - 1 else 0) for k in range(n)]):
                return bounds
            n += 1
    bounds, j = [b], len(points) - 1
    while j:
        j = prev[j]
        bounds.append(points[j])
    return bounds[::-1]
