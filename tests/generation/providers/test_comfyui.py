"""ComfyUI against a local server speaking its /prompt, /history, /upload/image and /view routes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.comfyui import WORKFLOW, ComfyServer
from providerkit import FakeServer, assert_all_done, run

from mvpipe.errors import InputError


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch, tmp_path):
    workflow = tmp_path / "workflow_api.json"
    workflow.write_text(json.dumps(WORKFLOW))
    with FakeServer(ComfyServer(), latency=0.15) as server:
        monkeypatch.setenv("COMFYUI_URL", server.url)
        monkeypatch.setenv("COMFYUI_WORKFLOW", str(workflow))
        yield server


def _graph(srv: FakeServer, words: str) -> dict[str, Any]:
    return next(json.loads(r.body)["prompt"] for r in srv.requests_to("POST", "/prompt") if words in r.body.decode())


def test_placeholders_are_filled_typed_and_the_reference_is_uploaded(srv: FakeServer, tmp_path) -> None:
    result = run(tmp_path, "comfyui")
    assert_all_done(result)
    assert all(t.cost_usd == 0 and t.job_id in srv.jobs for t in result.takes.values())  # journaled, free
    road, mara = _graph(srv, "empty road"), _graph(srv, "mara drives")
    assert road["20"]["inputs"] == {"width": 1280, "height": 720, "length": 12}  # 1 s at 12 fps, as ints
    assert mara["20"]["inputs"]["length"] == 84 and isinstance(road["3"]["inputs"]["seed"], int)
    assert road["6"]["inputs"]["text"].endswith(", cinematic") and road["12"]["inputs"]["image"] == ""
    assert mara["12"]["inputs"]["image"] in srv.protocol.uploads and len(srv.protocol.uploads) == 1
    assert "authorization" not in srv.log[0].headers


def test_5xx_on_upload_and_polls_and_truncated_download_are_retried(srv: FakeServer, tmp_path) -> None:
    srv.faults.statuses = {"poll": [500, 502], "upload": [503]}
    srv.faults.truncate = 1
    assert_all_done(run(tmp_path, "comfyui"))
    assert sorted(srv.downloads.values()) == [1, 2]
    assert len(srv.requests_to("POST", "/upload/image")) == 2 and len(srv.protocol.uploads) == 1


def test_workflow_errors_fail_the_shot_with_the_reason(srv: FakeServer, tmp_path) -> None:
    srv.faults.moderate = "empty road"
    result = run(tmp_path, "comfyui")
    assert "CUDA out of memory" in (result.takes[("road", 0)].error or "")
    assert result.takes[("mara", 0)].status == "done"
    assert sum(srv.creates.values()) == 2  # a failed workflow is not run again


def test_a_stuck_prompt_is_interrupted_and_run_once_more(srv: FakeServer, tmp_path) -> None:
    srv.faults.stuck = 1
    assert_all_done(run(tmp_path, "comfyui"))
    stuck = [j for j in srv.jobs.values() if j.stuck]
    assert len(stuck) == 1 and stuck[0].cancelled and sum(srv.creates.values()) == 3


def test_an_unanswered_submit_is_sent_again_without_talk_of_billing(srv: FakeServer, tmp_path) -> None:
    srv.faults.statuses = {"submit": [503]}
    said: list[str] = []
    assert_all_done(run(tmp_path, "comfyui", progress=said.append))
    warned = [s for s in said if "cannot list its jobs" in s]
    assert warned and all("it may run twice" in s and "billed" not in s for s in warned)


def test_no_workflow_is_bad_input(srv: FakeServer, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("COMFYUI_WORKFLOW")
    with pytest.raises(InputError, match="COMFYUI_WORKFLOW"):  # refused before any shot is submitted
        run(tmp_path, "comfyui")
    assert sum(srv.creates.values()) == 0


def test_an_edited_workflow_makes_new_takes(srv: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, "comfyui"))
    assert_all_done(run(tmp_path, "comfyui"))
    assert sum(srv.creates.values()) == 2  # unchanged workflow: the takes are reused
    workflow = tmp_path / "workflow_api.json"
    workflow.write_text(workflow.read_text().replace('"steps": 20', '"steps": 30'))
    assert_all_done(run(tmp_path, "comfyui"))
    assert sum(srv.creates.values()) == 4
