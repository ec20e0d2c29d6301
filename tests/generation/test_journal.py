"""The journal survives its process and tells open jobs from finished ones."""

from __future__ import annotations

import sqlite3

from mvpipe.generation.journal import Journal


def _intend(j: Journal, key: str = "k1"):
    return j.intend(key=key, kind="clip", shot="a", part=0, take=1, provider="openai", model="sora-2",
                    prompt="p", seconds=4.0)


def test_rows_persist_and_open_jobs_are_found(tmp_path):
    j = Journal(tmp_path / "jobs.sqlite")
    rec = _intend(j)
    assert j.open_job("k1").state == "submitting" and j.open_job("k1").job_id is None
    j.update(rec.row, job_id="video_1", state="running", progress=40.0)
    j.close()
    again = Journal(tmp_path / "jobs.sqlite")
    assert again.open_job("k1").job_id == "video_1" and again.claimed_ids("openai") == {"video_1"}
    again.update(rec.row, state="done", cost_usd=0.4)
    assert again.open_job("k1") is None and again.latest("k1").state == "done"
    assert again.spent() == 0.4 and again.spent(["k1", "other"]) == 0.4 and again.spent(["other"]) == 0
    failed = _intend(again)
    again.update(failed.row, state="failed", error="moderation")
    assert again.open_job("k1") is None and [r.state for r in again.jobs("k1")] == ["done", "failed"]
    assert sqlite3.connect(tmp_path / "jobs.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
