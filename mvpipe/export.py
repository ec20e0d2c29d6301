"""Plan + takes -> the edit as data for an editor: OpenTimelineIO, written as .otio, FCPXML, FCP 7 XML or EDL.

The timeline is the render's own arithmetic, not a second copy of it: one video track where every
segment is a clip of its take, the source range read from the same window the assembler reads
(:mod:`mvpipe.assembly.timeline`, at the take's own frame rate) and the record range the plan's
output frames (frame 0 is the video's first frame); each transition centred on its cut (OTIO's
in/out offsets are the plan's head and tail frames); the song on an audio track from
``timing.start``; song sections (and, on request, downbeats) as markers. The files are written by
OpenTimelineIO's maintained adapters. FCPXML and EDL keep markers only on clips, so for them each
marker moves onto the clip under it (same record frame), and a transition the format cannot hold
(any in FCPXML, whose adapter writes none; a fade-in at the start in an EDL) becomes a marker at its
cut. An export overwrites only a file it wrote itself, unchanged since.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import opentimelineio as otio

from mvpipe.analysis import SongAnalysis
from mvpipe.assembly import timeline as cuts
from mvpipe.assembly.graph import Source, source_for
from mvpipe.assembly.probe import probe
from mvpipe.errors import InputError
from mvpipe.generation.provider import Take
from mvpipe.planner import Plan, Segment
from mvpipe.workspace import atomic_path, file_digest, write_text_atomic

# format -> (OpenTimelineIO adapter, file suffix); xml is Final Cut Pro 7 XML, which Premiere Pro reads
FORMATS: dict[str, tuple[str, str]] = {"otio": ("otio_json", ".otio"), "fcpxml": ("fcpx_xml", ".fcpxml"),
                                       "edl": ("cmx_3600", ".edl"), "xml": ("fcp_xml", ".xml")}
# formats whose adapters keep timeline markers and every transition, written from the timeline as is
_WHOLE = ("otio", "xml")
RT, Range = otio.opentime.RationalTime, otio.opentime.TimeRange


def parse_formats(text: str, option: str = "--format") -> list[str]:
    """``"otio,edl"`` -> ``["otio", "edl"]``; an unknown name is bad input (exit 2)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise InputError(f"unknown export format {', '.join(bad) or repr(text)}.", field=option,
                         hint=f"Use one or more of {', '.join(FORMATS)}, separated by commas.")
    return list(dict.fromkeys(names))


def export_path(video: Path, fmt: str) -> Path:
    """Where the timeline of ``video`` goes by default: beside it, ``NAME.otio`` (``.fcpxml``, ``.edl``, ``.xml``)."""
    return Path(video).with_suffix(FORMATS[fmt][1])


def build(plan: Plan, takes: Mapping[tuple[str, int], Take], analysis: SongAnalysis, *,
          downbeats: bool = False) -> otio.schema.Timeline:
    """The plan as an OTIO timeline of the takes; ``downbeats`` adds a marker on every bar."""
    fps = plan.fps
    need = cuts.needed_frames(plan, cuts.pieces(plan))
    tl = otio.schema.Timeline(name=plan.title or plan.output.stem, global_start_time=RT(0, fps))
    tl.metadata["mvpipe"] = {"fps": fps, "frames": plan.frames, "width": plan.width, "height": plan.height,
                             "aspect": plan.aspect, "fit": plan.fit, "song_start": plan.song_start,
                             "output": str(plan.output)}
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for k, seg in enumerate(plan.segments):
        take = takes[(seg.shot, seg.part)]
        src = source_for(probe(take.path), need[k], fps, seg.if_short)
        if seg.transition_frames:
            if k == 0:  # a fade-in: a dissolve from nothing, all of it after the cut
                video.append(otio.schema.Gap(source_range=Range(RT(0, fps), RT(0, fps))))
            video.append(_transition(seg, fps))
        video.append(_clip(seg, take, src, fps, head=seg.head_frames, need=need[k]))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(_song(plan, analysis))
    tl.tracks.extend([video, audio])
    tl.tracks.markers.extend(_markers(plan, analysis, downbeats))
    return tl


def _rate(fps: float) -> float:
    """A take's frame rate as OTIO keeps it: whole when it is (30.0 -> 30), else exact to the float."""
    return float(round(fps)) if abs(fps - round(fps)) < 1e-3 else fps


def _clip(seg: Segment, take: Take, src: Source, fps: int, head: int, need: int) -> otio.schema.Clip:
    """The segment's take from output frame ``start_frame``; the take's frame 0 plays ``head`` frames earlier.

    ``need``: output frames the render reads from the take (head, body and tail), which may be more
    than it holds: then the render slows it (a time warp here) or holds its last frame (noted)."""
    rate = _rate(src.info.fps)
    per_frame = rate / (fps * src.speed)          # take frames per output frame
    ref = otio.schema.ExternalReference(
        target_url=take.path.resolve().as_uri(),
        available_range=Range(RT(0, rate), RT(src.info.duration * rate, rate)))
    ref.name = take.path.name
    ref.metadata["fcpx"] = {"note": f"{seg.shot}: {seg.request.prompt}"}
    clip = otio.schema.Clip(
        name=seg.shot + (f"#{seg.part + 1}" if seg.part else ""), media_reference=ref,
        # the duration is the record length (an OTIO clip's length on its track), in take frames
        source_range=Range(RT(head * per_frame, rate), RT(seg.frames * rate / fps, rate)))
    clip.metadata["mvpipe"] = {
        "shot": seg.shot, "shot_number": seg.shot_number, "part": seg.part, "prompt": seg.request.prompt,
        "provider": take.provider, "model": take.model, "take": take.take, "job_id": take.job_id,
        "cost_usd": take.cost_usd, "status": take.status, "record_start_frame": seg.start_frame,
        "record_end_frame": seg.end_frame}
    clip.metadata["fcp_xml"] = {"logginginfo": {    # FCP 7 XML's logging fields
        "scene": seg.shot, "shottake": str(take.take), "description": seg.request.prompt,
        "lognote": f"{take.provider}:{take.model} job {take.job_id or '-'} ${take.cost_usd:.2f}"}}
    if src.speed != 1.0:                          # a short take slowed to fit (if_short: slow)
        clip.effects.append(otio.schema.LinearTimeWarp(name="slow to fit", time_scalar=1 / src.speed))
    elif src.available < need:                    # output frames into the take where its last frame is held
        clip.metadata["mvpipe"]["held_from_frame"] = src.available
    return clip


def _transition(seg: Segment, fps: int) -> otio.schema.Transition:
    """The dissolve into ``seg``, ``head_frames`` of it before the cut; mvpipe's own kind in its name."""
    frames, before = seg.transition_frames, seg.head_frames
    t = otio.schema.Transition(name=seg.transition, transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                               in_offset=RT(before, fps), out_offset=RT(frames - before, fps))
    t.metadata["mvpipe"] = {"transition": seg.transition, "frames": frames}
    return t


def _song(plan: Plan, analysis: SongAnalysis) -> otio.schema.Clip:
    fps = plan.fps
    ref = otio.schema.ExternalReference(target_url=Path(plan.song).resolve().as_uri(),
                                        available_range=Range(RT(0, fps), RT(analysis.duration * fps, fps)))
    ref.name = Path(plan.song).name
    return otio.schema.Clip(name=Path(plan.song).name, media_reference=ref,
                            source_range=Range(RT(plan.song_start * fps, fps), RT(plan.frames, fps)))


def _markers(plan: Plan, analysis: SongAnalysis, downbeats: bool) -> list[otio.schema.Marker]:
    """Sections (and bars) that start inside the video, at the output frame nearest their start."""
    fps, out = plan.fps, []

    def frame(t: float) -> int | None:
        f = round((t - plan.song_start) * fps)
        return f if 0 <= f < plan.frames else None

    for sec in analysis.sections:
        at = frame(sec.start) if sec.end > plan.song_start else None
        at = 0 if at is None and sec.start < plan.song_start < sec.end else at
        if at is not None:
            out.append(_marker(f"section {sec.label}", at, fps, otio.schema.MarkerColor.BLUE,
                               {"kind": "section", "label": sec.label, "energy": sec.energy}))
    if downbeats:
        for bar, t in enumerate(analysis.downbeats, start=1):
            if (at := frame(t)) is not None:
                out.append(_marker(f"bar {bar}", at, fps, otio.schema.MarkerColor.YELLOW, {"kind": "downbeat"}))
    return sorted(out, key=lambda m: m.marked_range.start_time.value)


def _marker(name: str, frame: int, fps: int, colour: str, meta: dict) -> otio.schema.Marker:
    marker = otio.schema.Marker(name=name, marked_range=Range(RT(frame, fps), RT(0, fps)), color=colour)
    marker.metadata["mvpipe"] = meta
    return marker


def check_rate(fmt: str, fps: int) -> None:
    """Refuse (exit 2) a frame rate the format cannot hold, before anything is rendered: a one-frame
    timeline goes through the same writer."""
    tl = otio.schema.Timeline(name="check", global_start_time=RT(0, fps))
    tl.metadata["mvpipe"] = {"fps": fps}
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Clip(name="check", media_reference=otio.schema.ExternalReference(
        target_url="file:///check.mp4", available_range=Range(RT(0, fps), RT(1, fps))),
        source_range=Range(RT(0, fps), RT(1, fps))))
    tl.tracks.append(track)
    _text(tl, fmt)


def check_dest(fmt: str, dest: Path) -> Path:
    """``dest`` if its suffix is the format's: an export never lands on a video or other file by a slip."""
    dest, suffix = Path(dest), FORMATS[fmt][1]
    if dest.suffix.lower() != suffix:
        raise InputError(f"a {fmt} export is written to a '{suffix}' file, not '{dest.name}'.", field="-o",
                         hint=f"Name it {dest.with_suffix(suffix).name}.")
    return dest


def write(tl: otio.schema.Timeline, fmt: str, dest: Path, *, ledger: Path) -> Path:
    """Write ``tl`` as ``fmt`` to ``dest`` atomically.

    ``ledger`` (a JSON file in the workspace) remembers the digest of every export written, so a file
    at ``dest`` that mvpipe did not write, or that was changed since (an editor saved over it), is
    never overwritten.
    """
    dest = check_dest(fmt, dest)
    key = str(dest.resolve())
    written = json.loads(ledger.read_text()) if ledger.is_file() else {}
    if dest.exists() and written.get(key) != file_digest(dest):
        raise InputError("this file exists and was not written by mvpipe (or was changed since); it is left alone.",
                         file=dest, hint="Move it away, or export to another file with -o.")
    text = _text(tl, fmt)
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    written[key] = file_digest(dest)
    write_text_atomic(ledger, json.dumps(written, indent=2, sort_keys=True))
    return dest


def _text(tl: otio.schema.Timeline, fmt: str) -> str:
    adapter, fps = FORMATS[fmt][0], tl.metadata["mvpipe"]["fps"]
    # the adapters edit what they are given
    copy = tl.deepcopy() if fmt in _WHOLE else _for_clip_formats(tl.deepcopy(), fmt)
    try:
        if fmt == "edl":
            return otio.adapters.write_to_string(copy, adapter_name=adapter, rate=fps)
        text = otio.adapters.write_to_string(copy, adapter_name=adapter)
    except ValueError as exc:                     # e.g. "SMPTE timecode does not support this rate"
        raise InputError(f"cannot write {fmt} at {fps} fps: {exc}.", field="output.fps",
                         hint="Editors' timecode needs 24, 25, 30, 50 or 60 fps.") from None
    if 'frameDuration=""' in text:                # the FCPXML adapter knows only the editors' rates
        raise InputError(f"FCPXML has no format for {fps} fps.", field="output.fps",
                         hint="Use 24, 25, 30, 50 or 60 fps for an FCPXML export.")
    return text


def _for_clip_formats(tl: otio.schema.Timeline, fmt: str) -> otio.schema.Timeline:
    """What FCPXML and EDL can hold: markers only on clips, and (FCPXML: no) transitions only between clips.

    A transition the format cannot carry becomes a marker on the clip it leads into, at the cut.
    """
    video = tl.video_tracks()[0]
    for k, item in reversed(list(enumerate(video))):
        fade_in = k == 1 and isinstance(video[0], otio.schema.Gap)
        if isinstance(item, otio.schema.Transition) and (fade_in or fmt == "fcpxml"):
            clip = video[k + 1]
            frames = item.metadata["mvpipe"]["frames"]
            clip.markers.append(otio.schema.Marker(
                name=f"{item.name} {frames} frames" + (" in" if fade_in else " centred on the cut"),
                color=otio.schema.MarkerColor.GREEN, metadata=item.metadata,
                marked_range=Range(clip.source_range.start_time, RT(0, clip.source_range.start_time.rate))))
            del video[k]
            if fade_in:                           # the empty gap it dissolves from
                del video[0]
    for marker in list(tl.tracks.markers):
        at = marker.marked_range.start_time
        for clip in video.find_clips():
            rec = clip.trimmed_range_in_parent()
            if rec.start_time <= at < rec.end_time_exclusive():
                start = clip.source_range.start_time + (at - rec.start_time).rescaled_to(clip.source_range.start_time)
                clip.markers.append(otio.schema.Marker(
                    name=marker.name, color=marker.color, metadata=marker.metadata,
                    marked_range=Range(start, RT(0, start.rate))))
                break
    tl.tracks.markers.clear()
    return tl
