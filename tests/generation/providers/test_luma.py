"""Luma against a local server speaking Dream Machine's and the Agents API's ``/generations``."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from typing import Any

import lumaai
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

KEY = "luma-api-test-0004"


class LumaGenerations(Protocol):
    """Both surfaces: ``agents`` switches field names, states and output shape."""

    def __init__(self, agents: bool) -> None:
        self.agents = agents
        self.prefix = "/v1" if agents else "/dream-machine/v1"

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"detail": message}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        create = f"{self.prefix}/generations" + ("" if self.agents else "/video")  # Luma OpenAPI @2520034
        if rec.method == "POST" and rec.path == create:
            return "submit", lambda: self.create(srv, json.loads(rec.body))
        if rec.method == "GET" and rec.path == f"{self.prefix}/generations" and not self.agents:
            gens = [self.generation(srv, job) for job in sorted(srv.jobs.values(), key=lambda j: -j.created)]
            return "list", {"generations": gens[:int(rec.query.get("limit", ["10"])[0])], "count": len(gens),
                            "has_more": False, "limit": 100, "offset": 0}
        if m := re.fullmatch(rf"{self.prefix}/generations/([^/]+)", rec.path):
            return "poll", self.generation(srv, srv.job(m[1]))
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def create(self, srv: FakeServer, body: dict[str, Any]) -> Any:
        video = body.get("video", {}) if self.agents else body
        check_contract(self, contracts.luma_agents_create(body) if self.agents else contracts.luma_create(body))
        if self.agents and "start_frame" in video:
            Image.open(io.BytesIO(base64.b64decode(video["start_frame"]["data"]))).load()
        job = srv.create("video", body, body["prompt"], float(video["duration"][:-1]),
                         bill=contracts.luma_bill(self.agents, body))
        hold_and_maybe_lose(srv, job)
        return 201, self.generation(srv, job), {}

    def generation(self, srv: FakeServer, job: Any) -> dict[str, Any]:
        state, _ = job.state(time.time())
        luma_state = {"running": "processing" if self.agents else "dreaming", "succeeded": "completed"}.get(state,
                                                                                                            state)
        url = f"{srv.cdn}/cdn/{job.id}.mp4?X-Amz-Expires=3600" if state == "succeeded" else None
        gen: dict[str, Any] = {"id": job.id, "state": luma_state, "model": job.body.get("model"),
                               "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.created))}
        if self.agents:
            gen.update(type="video", output=[{"type": "video", "url": url}] if url else [],
                       failure_code="content_moderated" if state == "failed" else None,
                       failure_reason="Prompt not allowed" if state == "failed" else None)
        else:
            gen.update(generation_type="video", assets={"video": url} if url else None,
                       failure_reason="400: prompt not allowed because advanced moderation failed"
                       if state == "failed" else None, request=job.body)
        return gen


def _server(monkeypatch: pytest.MonkeyPatch, agents: bool):
    server = FakeServer(LumaGenerations(agents), key=KEY, latency=0.15)
    base, key = ("LUMA_AGENTS_BASE_URL", "LUMA_AGENTS_API_KEY") if agents else ("LUMAAI_BASE_URL", "LUMAAI_API_KEY")
    monkeypatch.setenv(base, server.url + server.protocol.prefix)
    monkeypatch.setenv(key, KEY)
    return server


@pytest.fixture
def dream(monkeypatch: pytest.MonkeyPatch):
    with _server(monkeypatch, agents=False) as server:
        yield server


@pytest.fixture
def agents(monkeypatch: pytest.MonkeyPatch):
    with _server(monkeypatch, agents=True) as server:
        yield server


def _bodies(srv: FakeServer) -> dict[str, dict[str, Any]]:
    return {json.loads(r.body)["prompt"].split()[0]: json.loads(r.body)
            for r in srv.requests_to("POST", rf"{srv.protocol.prefix}/generations(/video)?")}


def test_dream_machine_text_shots_parse_with_the_official_sdk(dream: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, "luma:ray-2"))
    bodies = _bodies(dream)
    assert (bodies["an"]["duration"], bodies["mara"]["duration"]) == ("5s", "9s")
    assert "keyframes" not in bodies["mara"] and bodies["an"]["aspect_ratio"] == "16:9"
    sdk = lumaai.LumaAI(auth_token=KEY, base_url=dream.url + "/dream-machine/v1")
    gen = sdk.generations.get(next(iter(dream.jobs)))
    assert gen.state == "completed" and gen.assets and gen.assets.video and gen.assets.video.startswith(dream.cdn)


def test_agents_api_sends_the_first_frame_inline(agents: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, "luma-agents:ray-3.2"))
    mara = _bodies(agents)["mara"]
    # "10s clips support text-to-video only": a shot starting from an image is asked at 5 s
    assert (mara["type"], mara["model"], mara["video"]["duration"]) == ("video", "ray-3.2", "5s")
    with Image.open(io.BytesIO(base64.b64decode(mara["video"]["start_frame"]["data"]))) as frame:
        assert frame.size == (1280, 720) and mara["video"]["start_frame"]["media_type"] == "image/png"


def test_a_lost_submit_reply_is_found_in_the_generation_list_not_paid_twice(dream: FakeServer, tmp_path) -> None:
    dream.faults.lose_reply = 1                       # the job is created, the reply is a 500
    said: list[str] = []
    assert_all_done(run(tmp_path, "luma:ray-2", progress=said.append))
    assert sum(dream.creates.values()) == 2 and any("from an interrupted run; resuming it" in m for m in said)
    listed = lumaai.LumaAI(auth_token=KEY, base_url=dream.url + "/dream-machine/v1").generations.list(limit=100)
    assert sorted(g.id for g in listed.generations) == sorted(dream.jobs)


def test_faults(dream: FakeServer, tmp_path) -> None:
    survives_faults(dream, tmp_path, "luma:ray-flash-2", cancels=False)  # Luma can delete, not cancel


def test_moderation_reasons_come_through(dream: FakeServer, agents: FakeServer, tmp_path) -> None:
    assert "advanced moderation failed" in moderated(dream, tmp_path / "a", "luma:ray-2")
    assert "content_moderated" in moderated(agents, tmp_path / "b", "luma-agents:ray-3.2")


def test_unknown_ids_are_provider_errors(dream: FakeServer) -> None:
    with pytest.raises(lumaai.NotFoundError):
        lumaai.LumaAI(auth_token=KEY, base_url=dream.url + "/dream-machine/v1").generations.get(uuid.uuid4().hex)
