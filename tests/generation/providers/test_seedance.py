"""Seedance against a local server speaking ModelArk's content-generation tasks API."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from typing import Any

import pytest
from fakes import contracts
from PIL import Image
from providerkit import (
    Download,
    FakeServer,
    Protocol,
    Recorded,
    Reply,
    assert_all_done,
    check_contract,
    clip_bytes,
    hold_and_maybe_lose,
    moderated,
    run,
    survives_faults,
)

KEY = "ark-test-key-0003"
_TASKS = "/api/v3/contents/generations/tasks"
_CODES = {401: "AuthenticationError", 404: "InvalidEndpoint.NotFound", 429: "RateLimitExceeded.EndpointRPMExceeded",
          500: "InternalServiceError", 503: "ServerOverloaded"}


class ArkTasks(Protocol):
    """Create / get / cancel tasks with the roles, ratios and errors ModelArk documents."""

    def __init__(self) -> None:
        self.overdue = False

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"error": {"code": code or _CODES.get(status, "InternalServiceError"), "message": message,
                          "param": "", "type": "BadRequest"}}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if rec.method == "POST" and rec.path == _TASKS:
            return "submit", lambda: self.create(srv, json.loads(rec.body))
        if rec.method == "GET" and rec.path == _TASKS:  # Ark SDK tasks.list: page_num, page_size, filter.model
            model = rec.query.get("filter.model", [None])[0]
            jobs = [j for j in sorted(srv.jobs.values(), key=lambda j: -j.created)
                    if model is None or j.body["model"] == model]
            size = int(rec.query.get("page_size", ["10"])[0])
            return "list", {"total": len(jobs), "items": [self.task(srv, j) for j in jobs[:size]]}
        if m := re.fullmatch(rf"{_TASKS}/cgt-([^/]+)", rec.path):
            job = srv.job(m[1])
            if rec.method == "DELETE":
                job.cancelled = True
                return "cancel", {}
            return "poll", self.task(srv, job)
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def create(self, srv: FakeServer, body: dict[str, Any]) -> Any:
        if self.overdue:
            raise Reply(403, self.error(403, "Your account has an overdue balance.", "AccountOverdueError"))
        text = [c["text"] for c in body["content"] if c["type"] == "text"][0]
        if "FORBIDDEN" in text:
            raise Reply(400, self.error(400, "The request failed because the input text may contain sensitive "
                                        "information.", "InputTextSensitiveContentDetected"))
        roles = [c["role"] for c in body["content"] if c["type"] == "image_url"]
        if "reference_image" in roles and {"first_frame", "last_frame"} & set(roles):
            raise Reply(400, self.error(400, "reference images cannot be mixed with frames", "InvalidParameter"))
        check_contract(self, contracts.seedance_create(body))
        for c in body["content"]:
            if c["type"] == "image_url":
                head, data = c["image_url"]["url"].split(",", 1)
                assert head.startswith("data:image/") and head.endswith(";base64")
                Image.open(io.BytesIO(base64.b64decode(data))).load()
        job = srv.create("video", body, text, float(body["duration"]), bill=contracts.seedance_bill(body))
        hold_and_maybe_lose(srv, job)
        return {"id": f"cgt-{job.id}"}

    def task(self, srv: FakeServer, job: Any) -> dict[str, Any]:
        state, _ = job.state(time.time())
        out: dict[str, Any] = {"id": f"cgt-{job.id}", "model": job.body["model"], "status": state,
                               "created_at": int(job.created), "updated_at": int(time.time())}
        if state == "succeeded":
            out["content"] = {"video_url": f"{srv.cdn}/cdn/{job.id}.mp4?X-Tos-Expires=86400&X-Tos-Signature=s"}
            out["usage"] = {"completion_tokens": 108900, "total_tokens": 108900}
        if state == "failed":
            out["error"] = {"code": "OutputVideoSensitiveContentDetected",
                            "message": "The output video may contain sensitive information."}
        return out


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch):
    api = ArkTasks()
    with FakeServer(api, key=KEY, latency=0.15) as server:
        monkeypatch.setenv("ARK_BASE_URL", f"{server.url}/api/v3")
        monkeypatch.setenv("ARK_API_KEY", KEY)
        yield server


def _body(srv: FakeServer, words: str) -> dict[str, Any]:
    return next(json.loads(r.body) for r in srv.requests_to("POST", _TASKS) if words in r.body.decode())


def test_a_lost_submit_reply_is_found_in_the_task_list_not_paid_twice(srv: FakeServer, tmp_path) -> None:
    srv.faults.lose_reply = 1  # the task is created, the reply is a 500
    said: list[str] = []
    assert_all_done(run(tmp_path, "seedance:dreamina-seedance-2-0-260128", progress=said.append))
    assert sum(srv.creates.values()) == 2 and srv.requests_to("GET", _TASKS)
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
    assert all("AccountOverdueError" in (t.error or "") for t in result.values())
    assert len(srv.requests_to("POST", _TASKS)) == 4  # 2 + 2 shots, each tried once: nothing retried
