"""Progress for people: live bars on a terminal, built from the same lines the plain log prints.

Every stage reports in one-line messages (``shot drive: running 40%``, ``3 of 9 pieces to encode``,
``encoded body drive (48 frames)``); off a terminal they are printed as they come, with the seconds
since start. On a terminal :class:`LiveView` reads the same messages and draws them as rich progress
bars: the song's analysis, each shot's take (queued, running %, downloading, done, failed) and the
encode. There is one stream of progress, so the plain log and the bars cannot disagree, and a message
the view does not draw (warnings, the estimate) is printed above the bars, never dropped.
"""

from __future__ import annotations

import re
import threading
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

_JOB = re.compile(r"^\[(?P<job>[^\]]+)\] (?P<rest>.*)$", re.DOTALL)
_SHOT = re.compile(r"^shot (?P<shot>\S+): (?P<state>.+)$")
_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)%")
_TODO = re.compile(r"^(?P<todo>\d+) of (?P<total>\d+) pieces to encode")
_ANALYSIS = ("analysing ", "decoding ")
_FINAL = ("done", "failed", "skipped")


class LiveView:
    """A progress callback that draws bars on ``console`` (stderr by default) while in a ``with`` block."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.bars = Progress(SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(bar_width=28),
                             TaskProgressColumn(), TextColumn("{task.fields[state]}"), TimeElapsedColumn(),
                             console=self.console)
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LiveView:
        self.bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.bars.stop()

    def __call__(self, message: str) -> None:
        found = _JOB.match(message)
        job, text = (found["job"] + " ", found["rest"]) if found else ("", message)
        with self._lock:
            if not self._draw(job, text):
                self.bars.console.print(message, highlight=False, markup=False)

    def _draw(self, job: str, text: str) -> bool:
        """Update the bar ``text`` is about; False when it is about none (it is printed instead)."""
        if (shot := _SHOT.match(text)) is not None:
            self._shot(job, shot["shot"], shot["state"])
            return not shot["state"].startswith("failed")   # a failure is also worth a line of its own
        if text.startswith(_ANALYSIS):
            self._task(f"{job}analysis", state=text[:40], total=None)
            return True
        if text.startswith("plan: "):
            self._finish(f"{job}analysis")
            return False   # the plan's summary is worth a line of its own
        if (todo := _TODO.match(text)) is not None:
            self._task(f"{job}encode", state=text.split(" (")[0], total=max(1, int(todo["todo"])), completed=0)
            return True
        if text.startswith("encoded "):
            self._advance(f"{job}encode", text[len("encoded "):][:40])
            return True
        if text.startswith("joining pieces"):
            self._task(f"{job}encode", state="joining pieces, muxing the song")
            return True
        if text.startswith("wrote "):
            self._finish(f"{job}encode")
            return False   # the path of a finished video is worth a line of its own
        return False

    def _shot(self, job: str, shot: str, state: str) -> None:
        """A shot's own bar while its take is being made; once it is finished, one more on the takes bar."""
        name = f"{job}shot {shot}"
        new = name not in self._tasks
        percent = _PERCENT.search(state)
        done = state.startswith(_FINAL)
        self._task(name, state=state[:40], completed=100 if done else float(percent[1]) if percent else None)
        self._task(f"{job}takes", state="", total=None)
        takes = self._tasks[f"{job}takes"]
        total = self.bars.tasks[[t.id for t in self.bars.tasks].index(takes)].total or 0
        self.bars.update(takes, total=total + 1 if new else total, advance=1 if done else 0,
                         state=state if state.startswith("failed") else f"latest: {shot} {state}"[:40])
        if done:
            self.bars.update(self._tasks[name], visible=False)   # a long song has dozens of shots

    def _task(self, name: str, *, state: str, total: float | None = 100, completed: float | None = None) -> None:
        task = self._tasks.get(name)
        if task is None:
            task = self._tasks[name] = self.bars.add_task(name, total=total, state=state)
        update: dict = {"state": state}
        if completed is not None:
            update["completed"] = completed
        self.bars.update(task, **update)

    def _advance(self, name: str, state: str) -> None:
        if name in self._tasks:
            self.bars.update(self._tasks[name], advance=1, state=state)

    def _finish(self, name: str) -> None:
        task = self._tasks.get(name)
        if task is not None:
            total = self.bars.tasks[[t.id for t in self.bars.tasks].index(task)].total
            self.bars.update(task, total=total or 1, completed=total or 1, state="done")


def wants_live(stream: object, json_output: bool) -> bool:
    """Bars only for a person: on a terminal, and never when stdout is a JSON document for a script."""
    isatty = getattr(stream, "isatty", None)
    return not json_output and bool(isatty and isatty())
