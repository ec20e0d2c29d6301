"""Luma against a local server speaking Dream Machine's and the Agents API's ``/generations``."""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any

import lumaai
import pytest
from fakes.luma import KEY, LumaGenerations
from PIL import Image
from providerkit import (
    FakeServer,
    assert_all_done,
    moderated,
    run,
    survives_faults,
)


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
