"""Every exception mvpipe raises on purpose, and the exit status each one gives.

The tree, drawn once (the modules that raise a class re-export it from here)::

    MvpipeError                exit 1: something failed that is not the user's input
    ├── FFmpegError            FFmpeg failed: what it was making, the piece, FFmpeg's own last lines
    ├── ProviderError          a provider refused or failed something for good (its own message)
    ├── TransientError         worth another try (a 429, a 5xx, a lost reply)
    ├── BadMedia               a file that does not decode, or is shorter than what was paid for
    ├── JobFailed              a job ended without a usable clip (``billed``: charged all the same)
    │   ├── JobStalled         a job that stopped moving but may still finish: left open, resumed next run
    │   └── DownloadFailed     a paid clip that would not come down intact (kept in the journal)
    ├── WorkspaceBusy          another render holds this workspace (exit 2: run again when it is done)
    └── InputError             exit 2: bad input, located (file, line, shot, field) with what to do
        ├── UnknownGenerator   a generator spec that names no provider or model
        └── BudgetExceeded     the estimate is over --max-cost; nothing was submitted

    KeyboardInterrupt
    └── Interrupted            SIGINT / SIGTERM: the run stops (exit 130 / 143); a rerun continues

``Interrupted`` is not an ``Exception``: the catch-alls that turn one shot's failure into a stand-in
card let a stop through, as they let Ctrl-C through.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path


class MvpipeError(Exception):
    """Something went wrong that is not the user's input: exit status 1."""

    exit_code = 1


class InputError(MvpipeError):
    """Bad input from the user: exit status 2, with the place it came from and what to do.

    The message reads ``FILE:LINE: shot 'ID', field 'F': what is wrong. hint`` with the parts
    that are known, so a user can jump straight to the mistake.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        shot: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.shot = shot
        self.field = field
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        what = []
        if self.shot:
            what.append(f"shot '{self.shot}'")
        if self.field:
            what.append(f"field '{self.field}'")
        prefix = where + (", ".join(what) + ": " if what else "")
        return prefix + self.message + (f" {self.hint}" if self.hint else "")


class FFmpegError(MvpipeError):
    """FFmpeg exited with an error: ``what`` it was doing, the ``piece`` it was making, its last lines."""

    def __init__(self, what: str, returncode: int, tail: list[str], piece: str | None = None) -> None:
        self.what = what
        self.returncode = returncode
        self.tail = tail
        self.piece = piece
        making = f" (making {piece})" if piece else ""
        last = tail[-1] if tail else "FFmpeg printed nothing"
        lines = "".join(f"\n  {line}" for line in tail[:-1])
        super().__init__(f"ffmpeg failed while {what}{making}, exit {returncode}: {last}"
                         + (f"\nits earlier lines:{lines}" if lines else ""))


class ProviderError(MvpipeError):
    """The provider refused or failed something for good; the message is the provider's own."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(MvpipeError):
    """Worth another try. ``ambiguous``: the request may have been acted on (a 5xx or a lost reply)."""

    def __init__(self, message: str, *, retry_after: float | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class BadMedia(MvpipeError):
    """A downloaded file that does not decode, or is shorter than what was paid for."""


class JobFailed(MvpipeError):
    """A job ended without a usable clip; the message is the provider's reason. ``billed``: it is charged anyway."""

    def __init__(self, message: str, *, billed: bool = False) -> None:
        super().__init__(message)
        self.billed = billed


class JobStalled(JobFailed):
    """A job that stopped moving but may still finish (and be billed): it is left open in the journal, not
    submitted again, and the next run resumes polling it."""


class DownloadFailed(JobFailed):
    """A paid clip that would not come down intact; the journal keeps it for the next run."""


class WorkspaceBusy(MvpipeError):
    """Another mvpipe render holds the workspace; nothing was started."""

    exit_code = 2


class UnknownGenerator(InputError):
    """A generator spec that names no registered provider or model; the message says what exists."""


class BudgetExceeded(InputError):
    """The estimate of new spending is over ``max_cost``: nothing was submitted (exit 2)."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is 128 + its number (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
        self.exit_code = 128 + signum


def show_traceback(exc: BaseException) -> None:
    """Print ``exc``'s traceback to stderr when ``MVPIPE_DEBUG`` is set (wherever it was caught)."""
    if os.environ.get("MVPIPE_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
