"""The user's word on timing: beat times made elsewhere (a DAW or click-track export, another tracker)
and where a bar starts. Read here, so a bad file fails with its name and line before anything is spent."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from mvpipe.errors import InputError

_FORMATS = "one time in seconds a line, 'time position' lines as in .beats files, or a CSV with a header"


def read_beat_times(path: Path) -> list[float]:
    """Beat times in seconds from ``path``, strictly increasing; InputError naming the file and line."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the beats file: {exc.__class__.__name__}.", file=path,
                         field="timing.beats") from None
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()
             and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError("the beats file is empty.", file=path, field="timing.beats", hint=f"Expected {_FORMATS}.")
    if not _is_number(lines[0][1].replace(",", " ").split()[0]):  # a header: read as CSV
        times = _csv_times(path, text)
    else:
        times = [(n, _number(path, n, line.replace(",", " ").split()[0])) for n, line in lines]
    for (_, a), (n, b) in zip(times, times[1:], strict=False):
        if b <= a:
            raise InputError(f"beat times must increase: {b:g} s after {a:g} s.", file=path, line=n,
                             field="timing.beats")
    if len(times) < 2:
        raise InputError("the beats file holds one beat; a grid needs two or more.", file=path, field="timing.beats")
    return [t for _, t in times]


def _csv_times(path: Path, text: str) -> list[tuple[int, float]]:
    """A CSV with a header: the column named like time/beat/seconds/onset, else the first."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader)]
    col = next((i for i, h in enumerate(header) if any(w in h for w in ("time", "beat", "sec", "onset"))), 0)
    out = []
    for n, row in enumerate(reader, 2):
        if row and any(cell.strip() for cell in row):
            if col >= len(row):
                raise InputError(f"this row has no column '{header[col]}'.", file=path, line=n, field="timing.beats")
            out.append((n, _number(path, n, row[col].strip())))
    return out


def _is_number(s: str) -> bool:
    try:
        return np.isfinite(float(s))
    except ValueError:
        return False


def _number(path: Path, line: int, s: str) -> float:
    if not _is_number(s) or float(s) < 0:
        raise InputError(f"'{s}' is not a time in seconds.", file=path, line=line, field="timing.beats",
                         hint=f"Expected {_FORMATS}.")
    return float(s)
