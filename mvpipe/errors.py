"""The two kinds of failure the command line distinguishes (exit 2 vs exit 1)."""

from __future__ import annotations

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
