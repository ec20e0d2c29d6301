"""The Runway adapter against a local server speaking Runway's task API."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

from fakes.server import FakeServer, Faults, RunwayTasks
from genkit import FAST, clip_request
from PIL import Image

from mvpipe.generation.journal import Journal
from mvpipe.generation.provider import Take
from mvpipe.generation.runner import RunnerSettings, generate
from mvpipe.workspace import Workspace


def _take(tmp_path, workspace: Workspace, shot: str = "a", number: int = 1, settings: RunnerSettings = FAST,
          progress=None, **request) -> Take:
    """Generate one gen4.5 shot through the runner and return its take."""
    return generate([clip_request("runway:gen4.5", shot, number, **request)], workspace,
                    progress=progress, settings=settings).takes[(shot, 0)]


def test_characters_travel_as_a_tagged_keyframe_then_image_to_video(tmp_path, workspace, point_at, mara):
    req = clip_request("runway:gen4_turbo", "a", 1, characters=[mara], prompt="Mara runs; mara: silver bob",
                       seconds=3.2)
    with FakeServer(RunwayTasks()) as srv:
        point_at("runway", srv)
        takes = generate([req], workspace, settings=FAST)
        assert takes.takes[("a", 0)].status == "done"
        [kf] = srv.requests_to("POST", "/v1/text_to_image")
        [i2v] = srv.requests_to("POST", "/v1/image_to_video")
        cdn = [r for r in srv.log if r.path.startswith("/cdn/")]
        api = [r for r in srv.log if not r.path.startswith("/cdn/")]
    kf_body, i2v_body = json.loads(kf.body), json.loads(i2v.body)
    assert kf_body["model"] == "gen4_image" and kf_body["ratio"] == "1280:720"
    assert kf_body["promptText"] == "@mara runs; @mara: silver bob"
    assert [r["tag"] for r in kf_body["referenceImages"]] == ["mara"]
    assert base64.b64decode(kf_body["referenceImages"][0]["uri"].split(",")[1]) == mara.references[0].read_bytes()
    keyframe = Image.open(io.BytesIO(base64.b64decode(i2v_body["promptImage"].split(",")[1])))
    assert keyframe.size == (1280, 720), "the keyframe the server made, fitted to the clip's ratio, starts the clip"
    assert i2v_body["duration"] == 4 and i2v_body["ratio"] == "1280:720" and i2v_body["model"] == "gen4_turbo"
    assert kf.at < i2v.at
    assert all(r.headers.get("authorization") == f"Bearer {srv.key}" and r.headers["x-runway-version"] ==
               "2024-11-06" for r in api)
    assert cdn and all("authorization" not in r.headers for r in cdn), "the key never goes to the CDN"
    assert takes.spent_usd == 0.05 + 4 * 0.05


def test_text_to_video_without_references_where_the_model_allows_it(tmp_path, workspace, point_at):
    with FakeServer(RunwayTasks()) as srv:
        point_at("runway", srv)
        _take(tmp_path, workspace)
        assert len(srv.requests_to("POST", "/v1/text_to_video")) == 1
        assert not srv.requests_to("POST", "/v1/text_to_image")


def test_stuck_task_is_cancelled_and_submitted_once_more(tmp_path, workspace, point_at):
    with FakeServer(RunwayTasks(), latency=0.2, faults=Faults(stuck=1)) as srv:
        point_at("runway", srv)
        said: list[str] = []
        take = _take(tmp_path, workspace, progress=said.append, settings=replace(FAST, stall_timeout=0.3))
        [deleted] = srv.requests_to("DELETE", r"/v1/tasks/.+")
        stuck = deleted.path.rsplit("/", 1)[1]
        assert srv.jobs[stuck].stuck and srv.jobs[stuck].cancelled
        assert take.status == "done" and take.job_id != stuck and len(srv.jobs) == 2
        assert any("99%" in s and "cancelled it" in s for s in said)


def test_refused_signed_link_is_refreshed_by_polling_again(tmp_path, workspace, point_at):
    with FakeServer(RunwayTasks(), faults=Faults(deny_links=1)) as srv:
        point_at("runway", srv)
        take = _take(tmp_path, workspace)
        assert take.status == "done" and len([r for r in srv.log if r.path.startswith("/cdn/")]) == 2


def test_moderation_failure_carries_runways_reason_and_is_recorded_as_spent(tmp_path, workspace, point_at):
    """SAFETY.INPUT.* failures are "not refundable" (runwayml/skills rw-api-reference, checked 2026-12-02)."""
    with FakeServer(RunwayTasks()) as srv:
        point_at("runway", srv)
        take = _take(tmp_path, workspace, prompt="FORBIDDEN")
    assert take.status == "failed" and take.error == ("Your prompt was flagged by our content moderation. "
                                                      "(SAFETY.INPUT.TEXT)")
    assert Journal(workspace.journal).spent() == 4 * 0.12  # gen4.5, 4 s, billed though it failed


def test_5xx_on_submit_without_a_job_list_is_resubmitted_with_a_warning(tmp_path, workspace, point_at):
    with FakeServer(RunwayTasks(), faults=Faults(statuses={"submit": [503, 502]}, retry_after="0")) as srv:
        point_at("runway", srv)
        said: list[str] = []
        take = _take(tmp_path, workspace, progress=said.append)
        assert take.status == "done" and len(srv.jobs) == 1
        assert len(srv.requests_to("POST", "/v1/text_to_video")) == 3
        assert any("cannot list its jobs" in s and "may be billed twice" in s for s in said)


def test_internal_bad_output_is_submitted_once_more_then_reported(tmp_path, workspace, point_at):
    with FakeServer(RunwayTasks(), faults=Faults(bad_output=1)) as srv:
        point_at("runway", srv)
        take = _take(tmp_path, workspace)
        assert take.status == "done" and len(srv.jobs) == 2 and not srv.jobs[take.job_id].broken
        srv.faults.bad_output = 2
        take = _take(tmp_path, workspace, "b", 2)
        assert take.status == "failed" and "INTERNAL.BAD_OUTPUT.CODE01" in take.error and "one retry" in take.error
        assert len(srv.jobs) == 4
