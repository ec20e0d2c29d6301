"""Every line of the words on absolute output frames. Pure: called by the planner with its grid.

A time ``t`` in the song lands on frame ``round((t + offset - start) * fps)``, the rule every cut
follows, so a line written on a downbeat appears on the very frame the cut there does. Lines come
from three places: the lyrics file (its own times), ``lyrics.lines`` (``at: 12 bars`` on the grid from
the video's start) and a shot's ``lyrics`` (spread over the shot's bars). A line without an end
lasts until the next line begins; the last one for two bars. Lines before ``timing.start`` or after
``timing.end`` are left out (the video does not show that part of the song); a line that starts
after the song ends, lines that overlap and lines shorter than a frame are errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mvpipe.captions.models import CaptionLine, CaptionTrack, CaptionWord, FileLine
from mvpipe.errors import InputError
from mvpipe.storyboard import Length, Storyboard

_HOLD = 2  # bars the last line stays when nothing ends it


class Grid(Protocol):
    meter: int

    def index(self, t: float) -> float: ...

    def time(self, x: float) -> float: ...

    def span(self, at: float, length: Length) -> float: ...


@dataclass
class _Entry:
    start: int
    end: int | None
    hold: int
    text: str
    error: Callable[[str], InputError]
    words: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Clock:
    """Song time and grid positions -> absolute output frames."""

    grid: Grid
    start: float
    offset: float
    fps: int

    def frame(self, t: float) -> int:
        return round((t + self.offset - self.start) * self.fps)

    def at(self, x: float) -> int:
        return self.frame(self.grid.time(x))

    def hold(self, x: float) -> int:
        return self.at(x + _HOLD * self.grid.meter)


def caption_track(board: Storyboard, grid: Grid, cuts: list[float], total: int, song_end: float,
                  warnings: list[str]) -> CaptionTrack | None:
    """The timed lines of ``board`` (None without lyrics). ``cuts``: grid indices of the shot boundaries."""
    clock = Clock(grid, board.timing.start, board.timing.offset_ms / 1000.0, board.output.fps)
    entries = [*_from_file(board._lyric_file, clock), *_from_lines(board, clock), *_from_shots(board, clock, cuts)]
    if not entries:
        return None
    entries.sort(key=lambda e: e.start)
    lines: list[CaptionLine] = []
    last_end = clock.frame(song_end)
    skipped = 0
    for k, e in enumerate(entries):
        end = e.end if e.end is not None else entries[k + 1].start if k + 1 < len(entries) else e.hold
        if e.start >= last_end:
            raise e.error(f"this line starts at {_secs(e.start, clock)} but the song ends at "
                          f"{_secs(last_end, clock)}.")
        before = lines[-1].end_frame if lines else None
        if k and e.start <= entries[k - 1].start or (before is not None and e.start < before):
            raise e.error(f"this line starts at {_secs(e.start, clock)}, before the line before it ends"
                          + (f" ({_secs(before, clock)})." if before is not None else "."),
                          )
        if end <= e.start:
            raise e.error("this line lasts less than one frame.")
        a, b = max(0, e.start), min(total, end)
        if b <= a:
            skipped += 1
            continue
        words = [CaptionWord(frame=min(max(f, a), b - 1), text=w) for f, w in e.words]
        lines.append(CaptionLine(text=e.text, start_frame=a, end_frame=b, words=words))
    if skipped:
        warnings.append(f"{skipped} lyric line(s) lie outside timing.start..timing.end and are not shown.")
    return CaptionTrack(style=board.captions, lines=lines) if lines else None


def _secs(frame: int, clock: Clock) -> str:
    return f"{clock.start + frame / clock.fps - clock.offset:.2f}s"


def _from_file(lines: list[FileLine], clock: Clock) -> list[_Entry]:
    out = []
    for fl in lines:
        def error(msg: str, fl: FileLine = fl) -> InputError:
            return InputError(msg, file=fl.file, line=fl.line or None)
        out.append(_Entry(start=clock.frame(fl.start), end=clock.frame(fl.end) if fl.end is not None else None,
                          hold=clock.hold(clock.grid.index(fl.start)), text=fl.text, error=error,
                          words=[(clock.frame(t), w) for t, w in fl.words]))
    return out


def _from_lines(board: Storyboard, clock: Clock) -> list[_Entry]:
    origin = clock.grid.index(board.timing.start)
    out = []
    for i, line in enumerate(board.lyrics.lines if board.lyrics is not None else []):
        x = origin + clock.grid.span(origin, line.at) if line.at is not None else origin
        end = clock.at(x + clock.grid.span(x, line.length)) if line.length is not None else None

        def error(msg: str, i: int = i) -> InputError:
            return board.error(msg, "lyrics", "lines", i, "at")
        out.append(_Entry(start=clock.at(x), end=end, hold=clock.hold(x), text=line.text, error=error))
    return out


def _from_shots(board: Storyboard, clock: Clock, cuts: list[float]) -> list[_Entry]:
    """A shot's lines share its length: on whole bars when each gets a bar or more, else on beats."""
    out = []
    for i, shot in enumerate(board.shots):
        n = len(shot.lyrics)
        if not n:
            continue
        x0, x1 = cuts[i], cuts[i + 1]
        each = (x1 - x0) / n
        unit = clock.grid.meter if each >= clock.grid.meter else 1
        starts = [x0 + math.floor(j * each / unit + 0.5) * unit for j in range(n)]
        if len(set(starts)) < n:
            raise board.error(f"{n} lines do not fit this shot's {x1 - x0:.0f} beats; give it fewer lines or "
                              "more length.", "shots", i, "lyrics")
        bounds = [clock.at(x) for x in starts] + [clock.at(x1)]
        for j, text in enumerate(shot.lyrics):
            def error(msg: str, i: int = i, j: int = j) -> InputError:
                return board.error(msg, "shots", i, "lyrics", j)
            out.append(_Entry(start=bounds[j], end=bounds[j + 1], hold=bounds[j + 1], text=text, error=error))
    return out
