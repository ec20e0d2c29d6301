"""The ``gateway`` provider against local servers speaking the two shapes creators' gateways use.

Rules (the shapes as the articles users follow give them, issue #11, checked 2026-12-02):
``POST /v1/videos/generations {model, prompt, duration, resolution}`` -> ``{data: {id}}``, polled at
``GET /v1/videos/generations/{id}`` -> ``{data: {status, url, progress, error}}``; and ``POST /v1/chat/completions``
with model ``sora-2`` and extra body ``resolution``, ``duration``, ``fps`` -> an id, polled until done.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from providerkit import (
    Download,
    FakeServer,
    Protocol,
    Recorded,
    Reply,
    assert_all_done,
    clip_bytes,
    hold_and_maybe_lose,
    run,
)

from mvpipe.errors import InputError
from mvpipe.generation.journal import Journal
from mvpipe.workspace import Workspace

KEY = "gw-test-key-0005"


class VideoGateway(Protocol):
    def __init__(self, shape: str) -> None:
        self.shape = shape

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"error": {"message": message, "type": "invalid_request_error", "code": code}}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        path = "/v1/videos/generations" if self.shape == "videos-generations" else "/v1/chat/completions"
        if rec.method == "POST" and rec.path == path:
            return "submit", lambda: self.create(srv, json.loads(rec.body))
        if rec.method == "GET" and (m := re.fullmatch(rf"{path}/([^/]+)", rec.path)):
            return "poll", self.status(srv, srv.job(m[1]))
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def create(self, srv: FakeServer, body: dict[str, Any]) -> Any:
        wanted = {"model", "prompt", "duration", "resolution"} if self.shape == "videos-generations" else {
            "model", "messages", "duration", "resolution", "fps"}
        if not wanted <= body.keys() or body["resolution"] not in ("720p", "1080p") or not isinstance(
                body["duration"], int):
            raise Reply(400, self.error(400, f"invalid request: {sorted(body)}", "invalid_request"))
        prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        job = srv.create("video", body, prompt, float(body["duration"]), bill=0.10 * body["duration"])
        hold_and_maybe_lose(srv, job)
        if self.shape == "videos-generations":
            return {"code": "success", "data": {"id": job.id, "status": "queued"}}
        return {"id": job.id, "object": "chat.completion", "model": body["model"], "status": "queued",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Your video is queued."}}]}

    def status(self, srv: FakeServer, job: Any) -> dict[str, Any]:
        state, progress = job.state(time.time())
        status = {"queued": "queued", "running": "in_progress", "succeeded": "completed"}.get(state, state)
        url = f"{srv.cdn}/cdn/{job.id}.mp4" if status == "completed" else None
        if self.shape == "videos-generations":
            return {"data": {"id": job.id, "status": status, "url": url, "progress": progress,
                             "error": "content policy" if status == "failed" else None}}
        content = f"Here is your video: [video]({url})" if url else "Generating..."
        return {"id": job.id, "object": "chat.completion", "status": status,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


@pytest.mark.parametrize("shape", ["videos-generations", "chat-completions"])
def test_both_gateway_shapes_render_journal_and_bill_as_estimated(shape, tmp_path, monkeypatch) -> None:
    with FakeServer(VideoGateway(shape), key=KEY, latency=0.1) as srv:
        monkeypatch.setenv("GATEWAY_BASE_URL", srv.url)
        monkeypatch.setenv("GATEWAY_API_KEY", KEY)
        monkeypatch.setenv("GATEWAY_PROTOCOL", shape)
        result = run(tmp_path, "gateway:sora-2")
        assert_all_done(result)
        assert not srv.refused() and len(srv.jobs) == 2
        assert abs(result.estimate.to_spend_usd - srv.charged()) <= 0.05 * srv.charged()
    posted = json.loads(srv.requests_to("POST", r"/v1/.*")[0].body)
    assert posted["model"] == "sora-2" and posted["resolution"] == "720p" and posted["duration"] in (4, 8)
    jobs = {r.job_id for r in Journal(Workspace(tmp_path / ".mvpipe").journal).jobs(result[("road", 0)].key)}
    assert jobs == {result[("road", 0)].job_id}, "journaled like every paid job"


def test_a_gateway_without_its_protocol_is_bad_input_before_any_request(tmp_path, monkeypatch) -> None:
    with FakeServer(VideoGateway("videos-generations"), key=KEY) as srv:
        monkeypatch.setenv("GATEWAY_BASE_URL", srv.url)
        monkeypatch.setenv("GATEWAY_API_KEY", KEY)
        monkeypatch.delenv("GATEWAY_PROTOCOL", raising=False)
        with pytest.raises(InputError, match="GATEWAY_PROTOCOL"):
            run(tmp_path, "gateway:sora-2")
        assert srv.log == []
