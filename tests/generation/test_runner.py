"""The runner against a local server speaking the OpenAI Videos protocol (and the local animatic)."""

from __future__ import annotations

import base64
import io
import shutil
import sqlite3
import time
from dataclasses import replace

import pytest
from fakes.server import FakeServer, Faults, OpenAIVideos
from genkit import FAST, clip_request
from PIL import Image

from mvpipe.errors import InputError, MvpipeError
from mvpipe.generation.journal import Journal
from mvpipe.generation.media import clip_seconds
from mvpipe.generation.provider import ClipRequest
from mvpipe.generation.runner import BudgetExceeded, RunnerSettings, estimate, generate, status, status_table
from mvpipe.workspace import Workspace


def _requests(n: int = 3, **kw) -> list[ClipRequest]:
    return [clip_request("openai", f"s{i}", i, **kw) for i in range(1, n + 1)]


def _posts(srv: FakeServer) -> list:
    return srv.requests_to("POST", "/v1/videos")


def test_each_shot_is_paid_once_and_a_rerun_touches_nothing(tmp_path, workspace, point_at):
    requests = _requests()
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        said: list[str] = []
        takes = generate(requests, workspace, progress=said.append, settings=FAST)
        assert [t.status for t in takes.takes.values()] == ["done"] * 3
        assert sorted(srv.creates.values()) == [1, 1, 1]
        for take in takes.takes.values():
            assert take.path == workspace.takes / f"{take.key}.mp4"
            assert clip_seconds(take.path) >= 3.9
            assert take.job_id in srv.jobs and take.cost_usd == pytest.approx(0.40)
        assert takes.spent_usd == pytest.approx(1.20)
        assert any("running" in s and "%" in s for s in said) and any(s.endswith("downloading") for s in said)
        assert said.index(next(s for s in said if "estimated new spend" in s)) < min(
            i for i, s in enumerate(said) if s.endswith("submitting"))
        before = len(srv.log)
        again = generate(requests, workspace, settings=FAST)
        assert len(srv.log) == before, "a rerun with every take cached must not call the provider"
        assert {k: t.key for k, t in again.takes.items()} == {k: t.key for k, t in takes.takes.items()}
        assert again.spent_usd == 0 and again.estimate.to_spend_usd == 0


def test_concurrency_limit_is_respected_and_used(tmp_path, workspace, point_at):
    requests = _requests(n=7)  # sora-2 declares concurrency 4
    with FakeServer(OpenAIVideos(), latency=0.3) as srv:
        point_at("openai", srv)
        generate(requests, workspace, settings=FAST)
        # a job holds a slot from its creation to the poll that saw it finish (downloads run outside)
        last_poll = {r.path.rsplit("/", 1)[1]: r.at for r in srv.requests_to("GET", r"/v1/videos/[^/]+")}
        spans = [(j.created, last_poll[j.id]) for j in srv.jobs.values()]
    peak = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert peak == 4


def test_budget_refuses_before_any_request_and_dry_run_stops_after_estimate(tmp_path, workspace, point_at):
    requests = _requests()
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        with pytest.raises(BudgetExceeded, match=r"\$1.20 is over --max-cost \$1.00"):
            generate(requests, workspace, max_cost=1.0, settings=FAST)
        said: list[str] = []
        dry = generate(requests, workspace, dry_run=True, progress=said.append, settings=FAST)
        assert srv.log == [] and len(dry.takes) == 0
        assert dry.estimate.to_spend_usd == pytest.approx(1.20) and "estimated new spend: $1.20" in said[0]
        generate(requests, workspace, max_cost=1.2, settings=FAST)
        assert estimate(requests, workspace).to_spend_usd == 0


def test_only_touches_one_key(tmp_path, workspace, point_at):
    requests = _requests()
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        takes = generate(requests, workspace, only=["s2"], settings=FAST)
        assert [t.status for t in takes.takes.values()] == ["skipped", "done", "skipped"]
        assert list(srv.creates) == ["shot s2: a neon street at night"]
        assert not (workspace.takes / f"{takes.takes[('s1', 0)].key}.mp4").exists()
        full = generate(requests, workspace, settings=FAST)
        assert full.takes[("s2", 0)].key == takes.takes[("s2", 0)].key and sorted(srv.creates.values()) == [1, 1, 1]
        changed = [*requests[:2], requests[2].model_copy(update={"take": 2})]  # a retake
        retaken = generate(changed, workspace, settings=FAST)
        assert retaken.takes[("s3", 0)].key != full.takes[("s3", 0)].key
        assert [retaken.takes[k].key == full.takes[k].key for k in full.takes] == [True, True, False]
        assert srv.creates["shot s3: a neon street at night"] == 2 and len(srv.jobs) == 4


def test_failed_shot_gets_a_stand_in_and_a_rerun_retries_only_it(tmp_path, workspace, point_at):
    requests = [clip_request("openai", "ok", 1),
            clip_request("openai", "bad", 2, prompt="FORBIDDEN dance")]
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        takes = generate(requests, workspace, settings=FAST)
        bad = takes.takes[("bad", 0)]
        assert bad.status == "failed" and "blocked by our moderation system" in bad.error
        assert bad.path.parent.name == "failed" and clip_seconds(bad.path) >= 3.9  # the stand-in card
        assert not (workspace.takes / f"{bad.key}.mp4").exists()
        assert [t.shot for t in takes.failures] == ["bad"] and "moderation" in takes.failure_table()
        assert takes.spent_usd == pytest.approx(0.40), "a failed job is not counted as spend"
        rows = {r.shot: r for r in status(requests, workspace)}
        assert rows["ok"].state == "done" and rows["bad"].state == "failed" and "moderation" in rows["bad"].error
        assert "bad" in status_table(list(rows.values()))
        generate(requests, workspace, settings=FAST)
        assert srv.creates == {"shot ok: a neon street at night": 1, "FORBIDDEN dance": 2}


def test_continue_previous_starts_from_the_last_frame_after_its_predecessor(tmp_path, workspace, point_at):
    first = clip_request("openai", "a", 1)
    second = clip_request("openai", "b", 2, continue_from="a")
    requests = [first, second]
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        takes = generate(requests, workspace, settings=FAST)
        job_a = srv.jobs[takes.takes[("a", 0)].job_id]
        post_b = next(r for r in _posts(srv) if b'"shot b' in r.body)
    assert post_b.at >= srv.downloaded_at[job_a.id], "b is submitted only once a's clip is in"
    uri = __import__("json").loads(post_b.body)["input_reference"]["image_url"]
    frame = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert frame.size == (1280, 720)  # fitted to the output size, as the API requires
    assert takes.takes[("b", 0)].key != second.cache_key(), "the first frame's bytes are part of the key"
    assert [r.state for r in status(requests, workspace)] == ["done", "done"]
    shutil.rmtree(workspace.takes / "frames")  # a's take is in, the last frame b starts from is not taken yet
    before = sorted(workspace.root.rglob("*"))
    assert [r.state for r in status(requests, workspace)] == ["done", "waiting for the previous take"]
    assert [r.status for r in estimate(requests, workspace).rows] == ["cached", "new"]
    generate(requests, workspace, dry_run=True, settings=FAST)
    assert sorted(workspace.root.rglob("*")) == before, "status, estimate and a dry run run no FFmpeg, write nothing"


def test_failed_predecessor_fails_the_continuation_without_paying(tmp_path, workspace, point_at):
    requests = [clip_request("openai", "a", 1, prompt="FORBIDDEN"),
                    clip_request("openai", "b", 2, continue_from="a")]
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        takes = generate(requests, workspace, settings=FAST)
    assert takes.takes[("b", 0)].status == "failed" and "continues from shot 'a'" in takes.takes[("b", 0)].error
    assert list(srv.creates) == ["FORBIDDEN"]


def test_429_burst_on_submit_honours_retry_after_ms_and_submits_once(tmp_path, workspace, point_at):
    faults = Faults(statuses={"submit": [429, 429, 429]}, retry_after_ms="150")
    with FakeServer(OpenAIVideos(), faults=faults) as srv:
        point_at("openai", srv)
        t0 = time.monotonic()
        takes = generate(_requests(n=1), workspace, settings=FAST)
        assert time.monotonic() - t0 >= 0.45
        assert takes.takes[("s1", 0)].status == "done" and len(_posts(srv)) == 4 and len(srv.jobs) == 1


def test_other_4xx_fails_fast_with_the_providers_message(tmp_path, workspace, point_at):
    with FakeServer(OpenAIVideos(), faults=Faults(statuses={"submit": [400]})) as srv:
        point_at("openai", srv)
        takes = generate(_requests(n=1), workspace, settings=FAST)
        take = takes.takes[("s1", 0)]
        assert take.status == "failed" and "answered 400: injected 400 on submit" in take.error
        assert len(_posts(srv)) == 1 and not srv.jobs


def test_lost_submit_reply_is_reconciled_not_resubmitted(tmp_path, workspace, point_at):
    with FakeServer(OpenAIVideos(), faults=Faults(lose_reply=1)) as srv:
        point_at("openai", srv)
        said: list[str] = []
        takes = generate(_requests(n=1), workspace, progress=said.append, settings=FAST)
        assert takes.takes[("s1", 0)].status == "done" and len(srv.jobs) == 1 and len(_posts(srv)) == 1
        assert takes.takes[("s1", 0)].job_id in srv.jobs and any("interrupted" in s for s in said)


def test_intent_is_journaled_before_the_submit_reaches_the_provider(tmp_path, workspace, point_at):
    seen: list[tuple[str, str | None]] = []
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)

        def look(job) -> None:
            db = sqlite3.connect(workspace.journal)
            seen.extend(db.execute("SELECT state, job_id FROM jobs").fetchall())
            db.close()
        srv.on_create = look
        generate(_requests(n=1), workspace, settings=FAST)
    assert seen == [("submitting", None)]
    rec = Journal(workspace.journal).jobs(next(iter(status(_requests(n=1), workspace))).key)
    assert [(r.state, r.job_id is not None, r.cost_usd) for r in rec] == [("done", True, pytest.approx(0.40))]


@pytest.mark.parametrize("fault", [Faults(truncate=1), Faults(cut=1)], ids=["truncated", "cut-off"])
def test_bad_download_is_detected_and_fetched_again(tmp_path, workspace, point_at, fault):
    with FakeServer(OpenAIVideos(), faults=fault) as srv:
        point_at("openai", srv)
        takes = generate(_requests(n=1), workspace, settings=FAST)
        take = takes.takes[("s1", 0)]
        assert take.status == "done" and clip_seconds(take.path) >= 3.9
        assert len(srv.requests_to("GET", r"/v1/videos/[^/]+/content")) == 2 and len(srv.jobs) == 1


def test_always_truncated_download_fails_the_shot_but_keeps_the_job(tmp_path, workspace, point_at):
    with FakeServer(OpenAIVideos(), faults=Faults(truncate=99)) as srv:
        point_at("openai", srv)
        take = generate(_requests(n=1), workspace, settings=FAST).takes[("s1", 0)]
        assert take.status == "failed" and "download failed 3 times" in take.error
        srv.faults.truncate = 0
        take = generate(_requests(n=1), workspace, settings=FAST).takes[("s1", 0)]
        assert take.status == "done" and len(srv.jobs) == 1, "the paid job is downloaded again, not redone"


def test_expired_download_link_fails_with_a_clear_reason(tmp_path, workspace, point_at):
    with FakeServer(OpenAIVideos(), faults=Faults(expire_after=0.0)) as srv:
        point_at("openai", srv)
        take = generate(_requests(n=1), workspace, settings=replace(FAST, poll_interval=0.3)).takes[("s1", 0)]
    assert take.status == "failed" and "expired" in take.error


def test_stuck_job_without_cancel_stops_and_the_next_run_resumes_it(tmp_path, workspace, point_at):
    settings = replace(FAST, stall_timeout=0.3)
    with FakeServer(OpenAIVideos(), latency=0.2, faults=Faults(stuck=1)) as srv:
        point_at("openai", srv)
        take = generate(_requests(n=1), workspace, settings=settings).takes[("s1", 0)]
        [job] = srv.jobs.values()
        assert take.status == "failed" and "no progress" in take.error and "99%" in take.error
        assert f"resume polling job {job.id}" in take.error and len(srv.jobs) == 1
        said: list[str] = []
        generate(_requests(n=1), workspace, settings=settings, progress=said.append, dry_run=True)
        assert any("in flight" in s for s in said), "the open job is not estimated as new spend"
        job.stuck = False
        take = generate(_requests(n=1), workspace, settings=settings).takes[("s1", 0)]
        assert take.status == "done" and take.job_id == job.id and len(srv.jobs) == 1


def test_missing_key_is_an_input_error_before_any_request(tmp_path, workspace, point_at, monkeypatch):
    from mvpipe.errors import InputError

    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        monkeypatch.delenv("OPENAI_API_KEY")
        with pytest.raises(InputError, match="set OPENAI_API_KEY"):
            generate(_requests(n=1), workspace, settings=FAST)
        assert srv.log == []


def test_animatic_runs_locally_and_caches(tmp_path):
    ws = Workspace(tmp_path / ".mvpipe")
    requests = [clip_request("animatic", "a", 1, seconds=1.0), clip_request("animatic", "b", 2, seconds=1.0,
                                                                                continue_from="a")]
    takes = generate(requests, ws, settings=FAST)
    assert [t.status for t in takes.takes.values()] == ["done", "done"] and takes.spent_usd == 0
    mtimes = [t.path.stat().st_mtime_ns for t in takes.takes.values()]
    again = generate(requests, ws, settings=FAST)
    assert [t.path.stat().st_mtime_ns for t in again.takes.values()] == mtimes


def test_a_second_run_on_the_same_workspace_waits_its_turn(tmp_path, workspace, point_at):
    with FakeServer(OpenAIVideos()) as srv:
        point_at("openai", srv)
        with Journal(workspace.journal).exclusive():
            with pytest.raises(MvpipeError, match="another mvpipe run is generating"):
                generate(_requests(n=1), workspace, settings=FAST)
        assert not srv.jobs
        assert generate(_requests(n=1), workspace, settings=FAST).takes[("s1", 0)].status == "done"


def test_timing_knobs_come_from_settings_or_the_environment() -> None:
    assert RunnerSettings.from_env({}) == RunnerSettings()  # None: each provider's declared default
    assert RunnerSettings.from_env({"MVPIPE_POLL_INTERVAL": "0.5", "MVPIPE_STALL_TIMEOUT": "60"}) == RunnerSettings(
        poll_interval=0.5, stall_timeout=60.0)
    for bad in ("soon", "0"):
        with pytest.raises(InputError, match="MVPIPE_STALL_TIMEOUT"):
            RunnerSettings.from_env({"MVPIPE_STALL_TIMEOUT": bad})
