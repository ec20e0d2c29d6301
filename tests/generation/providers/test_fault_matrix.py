"""Every remote adapter against its own protocol's server, with each fault the issue lists injected."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes.server import FakeServer, Faults, GeminiVeo, OpenAIVideos, RunwayTasks
from genkit import FAST, clip_request

from mvpipe.generation.media import clip_seconds
from mvpipe.generation.runner import generate

ADAPTERS = {"openai": (OpenAIVideos, "openai"), "runway": (RunwayTasks, "runway:gen4.5"), "veo": (GeminiVeo, "veo")}
FAULTS = {
    "429-burst": Faults(statuses={"submit": [429, 429, 429]}, retry_after="0"),
    "5xx-polls": Faults(statuses={"poll": [500, 502, 503, 504]}),
    "truncated": Faults(truncate=1),
    "slow-download": Faults(slow=0.03),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_fault_is_survived_and_paid_once(tmp_path, workspace, point_at, name, fault):
    protocol, generator = ADAPTERS[name]
    faults = replace(FAULTS[fault], statuses={k: list(v) for k, v in FAULTS[fault].statuses.items()})
    with FakeServer(protocol(), latency=0.3, faults=faults) as srv:
        point_at(name, srv)
        take = generate([clip_request(generator, "a", 1, seconds=4)], workspace,
                        settings=replace(FAST, stall_timeout=0.4)).takes[("a", 0)]
        assert take.status == "done", take.error
        assert clip_seconds(take.path) >= 3.9
        stuck = [j for j in srv.jobs.values() if j.stuck]
        assert len(srv.jobs) == 1 + len(stuck), "only a stuck job is ever submitted again"
        job = srv.jobs[take.job_id.rsplit("/", 1)[-1]]  # Veo's id is an operation name ending in it
        assert not job.stuck
        if fault == "truncated":
            assert srv.downloads[job.id] == 2 and faults.truncate == 0, "the half file, then the whole one"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_stuck_job_is_submitted_again_only_after_a_confirmed_cancel(tmp_path, workspace, point_at, name):
    """Runway cancels (DELETE, then the task reads CANCELLED): submitted once more. OpenAI and Veo cannot:
    the shot stops naming the job, and the next run resumes polling that same job."""
    protocol, generator = ADAPTERS[name]
    plan = [clip_request(generator, "a", 1, seconds=4)]
    settings = replace(FAST, stall_timeout=0.4)
    with FakeServer(protocol(), latency=0.3, faults=Faults(stuck=1)) as srv:
        point_at(name, srv)
        take = generate(plan, workspace, settings=settings).takes[("a", 0)]
        [stuck] = [j for j in srv.jobs.values() if j.stuck]
        if name == "runway":
            assert take.status == "done" and stuck.cancelled and len(srv.jobs) == 2
            return
        assert take.status == "failed" and len(srv.jobs) == 1, "never paid twice"
        assert stuck.id in take.error and "run again to resume polling" in take.error
        stuck.stuck = False  # the provider finishes it after all
        again = generate(plan, workspace, settings=settings).takes[("a", 0)]
        assert again.status == "done" and len(srv.jobs) == 1 and again.job_id.endswith(stuck.id)


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_moderation_failure_is_reported_with_the_providers_reason(tmp_path, workspace, point_at, name):
    protocol, generator = ADAPTERS[name]
    with FakeServer(protocol(), latency=0.2) as srv:
        point_at(name, srv)
        takes = generate([clip_request(generator, "a", 1, prompt="FORBIDDEN")],
                         workspace, settings=FAST)
        assert len(srv.jobs) == 1, "a moderation failure is not retried"
    take = takes.takes[("a", 0)]
    assert take.status == "failed" and take.path.is_file() and take.cost_usd == 0
    assert any(word in take.error for word in ("moderation", "usage guidelines")), take.error
