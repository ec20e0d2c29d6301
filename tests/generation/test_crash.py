"""kill -9 a render while jobs are in flight, rerun: every job submitted once, every paid clip used."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes.server import FakeServer, Faults, OpenAIVideos
from genkit import FAST, clip_request
from pydantic import TypeAdapter

from mvpipe.generation.provider import ClipRequest
from mvpipe.generation.runner import generate

HERE = Path(__file__).parent
RENDER = """
import sys
sys.path.insert(0, {here!r})
from genkit import FAST
from pydantic import TypeAdapter
from mvpipe.generation.provider import ClipRequest
from mvpipe.generation.runner import generate
from mvpipe.workspace import Workspace
requests = TypeAdapter(list[ClipRequest]).validate_json(open({requests!r}).read())
generate(requests, Workspace({ws!r}), progress=print, settings=FAST)
"""


def _wait_for(cond, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting for the render to get going"
        time.sleep(0.02)


def test_kill_9_mid_flight_then_rerun_pays_each_job_once(tmp_path, workspace, point_at):
    extra = {1: " QUICK", 3: " HOLD"}
    reqs = [clip_request("openai", f"s{i}", i, prompt=f"shot {i}" + extra.get(i, "")) for i in range(1, 5)]
    requests_file = tmp_path / "requests.json"
    requests_file.write_bytes(TypeAdapter(list[ClipRequest]).dump_json(reqs))
    # s1 finishes at once and downloads slowly (killed mid-download); s3's job is created but its reply
    # never arrives before the kill; s2 and s4 are running at the provider
    faults = Faults(hold_submit={"HOLD": 60.0}, latency_for={"QUICK": 0.1}, slow=0.5)
    with FakeServer(OpenAIVideos(), latency=3.0, faults=faults) as srv:
        point_at("openai", srv)
        code = RENDER.format(here=str(HERE), requests=str(requests_file), ws=str(workspace.root))
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            def in_flight() -> bool:
                polled = {r.path.rsplit("/", 1)[1] for r in srv.requests_to("GET", r"/v1/videos/[^/]+")}
                return len(srv.jobs) == 4 and len(polled) == 3 and any(
                    p.is_file() for p in workspace.takes.glob(".*.mp4"))
            _wait_for(in_flight)
            states = [srv.jobs[j].state(time.time())[0] != "succeeded" for j in srv.jobs]
            assert sorted(states) == [False, True, True, True], "three in flight, one downloading"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL

        db = sqlite3.connect(workspace.journal)
        rows = dict(db.execute("SELECT shot, job_id IS NOT NULL FROM jobs").fetchall())
        db.close()
        assert rows == {"s1": 1, "s2": 1, "s3": 0, "s4": 1}, "s3 died between submit and record"

        srv.faults.hold_submit, srv.faults.slow = {}, 0.0
        said: list[str] = []
        takes = generate(reqs, workspace, progress=said.append, settings=FAST)

        assert [t.status for t in takes.takes.values()] == ["done"] * 4
        assert sorted(srv.creates.values()) == [1, 1, 1, 1], "every shot's job was submitted exactly once"
        assert len(srv.requests_to("POST", "/v1/videos")) == 4
        assert {t.job_id for t in takes.takes.values()} == set(srv.jobs), "every paid clip is used"
        assert all(srv.downloads[j] >= 1 for j in srv.jobs)
        assert any("s3" in s and "interrupted run" in s for s in said)
        assert sum(t.cost_usd for t in takes.takes.values()) == pytest.approx(4 * 0.40)
        assert takes.spent_usd == pytest.approx(3 * 0.40), "s1 was paid for (and journaled) before the kill"
        assert not [p for p in workspace.takes.rglob(".*") if p.is_file()], "no half-written file is left"


def test_ctrl_c_mid_flight_keeps_every_job_id_and_a_rerun_pays_nothing_again(tmp_path, workspace, point_at):
    reqs = [clip_request("openai", f"s{i}", i, prompt=f"shot {i}") for i in range(1, 5)]
    requests_file = tmp_path / "requests.json"
    requests_file.write_bytes(TypeAdapter(list[ClipRequest]).dump_json(reqs))
    stoppable = ("from mvpipe import interrupt\ntry:\n    with interrupt.handling_signals():\n"
                 "        generate(requests")
    code = RENDER.format(here=str(HERE), requests=str(requests_file), ws=str(workspace.root)).replace(
        "generate(requests", stoppable) + "except KeyboardInterrupt as exc:\n    sys.exit(exc.exit_code)\n"
    with FakeServer(OpenAIVideos(), latency=30.0) as srv:
        point_at("openai", srv)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            def polling() -> bool:
                polled = {r.path.rsplit("/", 1)[1] for r in srv.requests_to("GET", r"/v1/videos/[^/]+")}
                return len(srv.jobs) == 4 and len(polled) == 4
            _wait_for(polling)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
            stopped = time.monotonic() - sent
        finally:
            proc.kill()
        assert proc.returncode == 130, proc.stderr.read().decode()
        assert stopped < 5.0, f"took {stopped:.2f} s to stop"
        db = sqlite3.connect(workspace.journal)
        rows = db.execute("SELECT shot, job_id, state FROM jobs").fetchall()
        db.close()
        assert sorted(shot for shot, _, _ in rows) == ["s1", "s2", "s3", "s4"]
        assert {state for _, _, state in rows} <= {"queued", "running"}, "nothing was marked failed or cancelled"
        assert {job_id for _, job_id, _ in rows} == set(srv.jobs), "every submitted job kept its id"
        for job in srv.jobs.values():
            job.latency = 0.0
        takes = generate(reqs, workspace, settings=FAST)
        assert [t.status for t in takes.takes.values()] == ["done"] * 4
        assert sorted(srv.creates.values()) == [1, 1, 1, 1], "the rerun resumed the jobs, submitting none again"
