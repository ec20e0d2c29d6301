"""The journal of remote jobs (SQLite, WAL): what was asked, what it became, what it cost.

A job is written here *before* it is submitted and its provider id right after, so a later run
can re-poll or re-download it instead of paying again. Each statement commits on its own and
``synchronous=FULL`` makes it durable before the next network call. Keys never enter it.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from mvpipe.errors import MvpipeError

State = Literal["submitting", "queued", "running", "succeeded", "done", "failed", "cancelled"]
OPEN_STATES = ("submitting", "queued", "running", "succeeded")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    shot TEXT NOT NULL,
    part INTEGER NOT NULL,
    take INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    seconds REAL NOT NULL,
    job_id TEXT,
    state TEXT NOT NULL,
    progress REAL,
    error TEXT,
    cost_usd REAL NOT NULL DEFAULT 0,
    path TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(key);
"""


class JobRecord(BaseModel):
    """One row of the journal: one paid job (a clip or a keyframe)."""

    row: int
    key: str
    kind: str
    shot: str
    part: int
    take: int
    provider: str
    model: str
    prompt: str
    seconds: float
    job_id: str | None
    state: State
    progress: float | None
    error: str | None
    cost_usd: float
    path: str | None
    created_at: float
    updated_at: float


class Journal:
    """The job journal of one workspace; safe to share between the runner's threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the workspace for one run: two renders at once could each submit the same job.

        The OS drops the lock when the process dies, so a killed run never blocks the next one.
        """
        with open(self.path.with_suffix(".lock"), "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise MvpipeError(f"another mvpipe run is generating in {self.path.parent.parent}; "
                                  "wait for it to finish (its jobs are journaled, none is lost).") from None
            yield

    def intend(self, *, key: str, kind: str, shot: str, part: int, take: int, provider: str, model: str,
               prompt: str, seconds: float) -> JobRecord:
        """Record a job about to be submitted (state ``submitting``, no provider id yet)."""
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO jobs (key, kind, shot, part, take, provider, model, prompt, seconds, state,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,'submitting',?,?)",
                (key, kind, shot, part, take, provider, model, prompt, seconds, now, now))
            row = cur.lastrowid
        return self._get(row)

    def update(self, row: int, **fields: Any) -> None:
        """Set ``fields`` on a row (job_id, state, progress, error, cost_usd, path)."""
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {cols} WHERE row = ?", (*fields.values(), row))

    def latest(self, key: str) -> JobRecord | None:
        """The newest row for ``key``."""
        return self._one("SELECT * FROM jobs WHERE key = ? ORDER BY row DESC LIMIT 1", (key,))

    def open_job(self, key: str) -> JobRecord | None:
        """The newest row for ``key`` that may still turn into a clip without paying again."""
        latest = self.latest(key)
        return latest if latest and latest.state in OPEN_STATES else None

    def claimed_ids(self, provider: str) -> set[str]:
        """Provider job ids some row already owns (so reconciliation never adopts one twice)."""
        with self._lock:
            rows = self._db.execute("SELECT job_id FROM jobs WHERE provider = ? AND job_id IS NOT NULL",
                                    (provider,)).fetchall()
        return {r["job_id"] for r in rows}

    def jobs(self, key: str) -> list[JobRecord]:
        """Every row for ``key``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE key = ? ORDER BY row", (key,)).fetchall()
        return [JobRecord(**dict(r)) for r in rows]

    def spent(self, keys: list[str] | None = None) -> float:
        """Actual USD recorded, for ``keys`` or the whole workspace."""
        with self._lock:
            if keys is None:
                total = self._db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM jobs").fetchone()[0]
            else:
                marks = ",".join("?" * len(keys))
                total = self._db.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM jobs WHERE key IN ({marks})",
                                         keys).fetchone()[0]
        return round(float(total), 4)

    def _get(self, row: int | None) -> JobRecord:
        rec = self._one("SELECT * FROM jobs WHERE row = ?", (row,))
        assert rec is not None
        return rec

    def _one(self, sql: str, args: tuple[Any, ...]) -> JobRecord | None:
        with self._lock:
            r = self._db.execute(sql, args).fetchone()
        return JobRecord(**dict(r)) if r else None
