"""Seedance against a local server speaking ModelArk's content-generation tasks API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.seedance import KEY, TASKS, ArkTasks
from providerkit import (
    FakeServer,
    assert_all_done,
    moderated,
    run,
    survives_faults,
)


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch):
    api = ArkTasks()
    with FakeServer(api, key=KEY, latency=0.15) as server:
        monkeypatch.setenv("ARK_BASE_URL", f"{server.url}/api/v3")
        monkeypatch.setenv("ARK_API_KEY", KEY)
        yield server


def _body(srv: FakeServer, words: str) -> dict[str, Any]:
    return next(json.loads(r.body) for r in srv.requests_to("POST", TASKS) if words in r.body.decode())


def test_a_lost_submit_reply_is_found_in_the_task_list_not_paid_twice(srv: FakeServer, tmp_path) -> None:
    srv.faults.lose_reply = 1  # the task is created, the reply is a 500
    said: list[str] = []
    assert_all_done(run(tmp_path, "seedance:dreamina-seedance-2-0-260128", progress=said.append))
    assert sum(srv.creates.values()) == 2 and srv.requests_to("GET", TASKS)
    assert any("from an interrupted run" in s for s in said)


def test_references_travel_natively_and_audio_is_off(srv: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, "seedance:dreamina-seedance-2-0-260128"))
    road, mara = _body(srv, "empty road"), _body(srv, "mara drives")
    assert [c["type"] for c in road["content"]] == ["text"]
    assert [c.get("role") for c in mara["content"]] == [None, "reference_image"]
    assert (mara["ratio"], mara["resolution"], mara["duration"], mara["generate_audio"]) == ("16:9", "720p", 7, False)
    assert (road["duration"], road["watermark"]) == (4, False)  # 1 s on screen; the model's shortest is 4


def test_first_frame_models_get_the_reference_as_first_frame(srv: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, "seedance:seedance-1-0-pro-250528"))
    mara = _body(srv, "mara drives")
    assert [c.get("role") for c in mara["content"]] == [None, "first_frame"] and "generate_audio" not in mara
    assert (mara["resolution"], _body(srv, "empty road")["duration"]) == ("720p", 2)  # the 720p output's shape


def test_faults(srv: FakeServer, tmp_path) -> None:
    survives_faults(srv, tmp_path, "seedance:dreamina-seedance-2-0-260128")


def test_input_moderation_and_overdue_account_fail_at_once(srv: FakeServer, tmp_path) -> None:
    assert "InputTextSensitiveContentDetected" in moderated(srv, tmp_path / "a", "seedance:seedance-1-0-pro-250528")
    srv.protocol.overdue = True
    result = run(tmp_path / "b", "seedance:seedance-1-0-pro-250528")
    assert all("AccountOverdueError" in (t.error or "") for t in result.takes.values())
    assert len(srv.requests_to("POST", TASKS)) == 4  # 2 + 2 shots, each tried once: nothing retried
