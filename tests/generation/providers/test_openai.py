"""The OpenAI Videos protocol adapter: requests valid against OpenAI's spec, responses the SDK parses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from fakes.server import FakeServer, Faults, OpenAIVideos, Recorded
from genkit import FAST, clip_request

from mvpipe.generation.providers.openai import OpenAIVideosProvider
from mvpipe.generation.remote import ApiClient
from mvpipe.generation.runner import generate

SPEC = Path(os.environ.get("MVPIPE_SHARED") or Path(__file__).resolve().parents[4] / "shared") / \
    "contracts" / "openai-openapi.yaml"


@pytest.fixture(scope="module")
def openapi():
    """OpenAI's published spec (the file itself fails strict meta-validation, so that check is off)."""
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} not present")
    from openapi_core import Config, OpenAPI

    with open(SPEC) as f:
        doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return OpenAPI.from_dict(doc, config=Config(spec_validator_cls=None))


def _validate(api, rec: Recorded, status: int, body: bytes | None = None) -> None:
    from openapi_core.testing import MockRequest, MockResponse

    req = MockRequest("https://api.openai.com", rec.method.lower(), rec.path,
                      args={k: v[0] for k, v in rec.query.items()}, headers=rec.headers,
                      data=rec.body or None,
                      content_type=rec.headers.get("content-type", "application/json"))
    api.validate_request(req)
    if body is not None:
        api.validate_response(req, MockResponse(body, status_code=status, content_type="application/json"))


def test_every_request_we_send_is_valid_against_openais_spec(tmp_path, workspace, point_at, mara, openapi):
    reqs = [clip_request("openai", "a", 1, characters=[mara], prompt="mara: silver bob, red jacket; mara waits"),
            clip_request("openai", "b", 2, continue_from="a", seconds=8),
            clip_request("openai:sora-2-pro", "c", 3, seconds=12)]
    with FakeServer(OpenAIVideos(), faults=Faults(lose_reply=1)) as srv:
        point_at("openai", srv)
        takes = generate(reqs, workspace, settings=FAST)
        assert [t.status for t in takes.takes.values()] == ["done"] * 3
        kinds = {(r.method, r.path.rsplit("/", 1)[-1] if r.path.endswith("content") else r.path.count("/"))
                 for r in srv.log}
        assert kinds >= {("POST", 2), ("GET", 2), ("GET", 3), ("GET", "content")}, "create, list, poll, content"
        for rec in srv.log:
            _validate(openapi, rec, 200)
        posted = [json.loads(r.body) for r in srv.requests_to("POST", "/v1/videos")]
    first = next(p for p in posted if p["prompt"].startswith("mara"))
    assert first["characters"] == [{"id": "char_mara"}] and first["input_reference"]["image_url"].startswith(
        "data:image/png;base64,")
    assert {p["seconds"] for p in posted} == {"4", "8", "12"} and {p["size"] for p in posted} == {"1280x720"}


def test_our_servers_responses_match_the_spec_and_parse_with_the_official_sdk(openapi):
    import openai  # test dependency: the official SDK reads what our server says
    with FakeServer(OpenAIVideos(), latency=0.05) as srv:
        client = openai.OpenAI(api_key=srv.key, base_url=srv.url + "/v1", max_retries=0)
        video = client.videos.create(prompt="a calico cat playing a piano", seconds="4", size="1280x720")
        assert video.status == "queued" and video.id in srv.jobs
        done = client.videos.poll(video.id, poll_interval_ms=20)
        assert done.status == "completed" and done.progress == 100 and done.seconds == "4"
        listed = client.videos.list(limit=10)
        assert [v.id for v in listed.data] == [video.id]
        content = client.videos.download_content(video.id)
        assert content.read()[4:8] == b"ftyp"
        srv.faults.moderate = "piano"
        failed = client.videos.poll(client.videos.create(prompt="a piano").id, poll_interval_ms=20)
        assert failed.status == "failed" and failed.error.code == "moderation_blocked"
        with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
            openai.OpenAI(api_key="wrong", base_url=srv.url + "/v1", max_retries=0).videos.retrieve(video.id)
        for rec in srv.log[:-1]:
            if not rec.path.endswith("/content"):
                _validate(openapi, rec, 200, _replay(srv, rec))


def _replay(srv: FakeServer, rec: Recorded) -> bytes:
    """The JSON a recorded GET gets now (creates are validated through their recorded request only)."""
    if rec.method != "GET":
        return json.dumps(OpenAIVideos().resource(srv, next(iter(srv.jobs.values())))).encode()
    import httpx

    return httpx.get(srv.url + rec.path, params={k: v[0] for k, v in rec.query.items()},
                     headers={"Authorization": f"Bearer {srv.key}"}).content


def test_retired_endpoint_is_warned_about_only_at_openai_itself():
    provider = OpenAIVideosProvider()
    official = ApiClient(provider, environ={"OPENAI_API_KEY": "k"})
    gateway = ApiClient(provider, environ={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://gw.example/v1"})
    assert "shut down on 2026-09-24" in provider.warnings(official)[0]
    assert provider.warnings(gateway) == []
    assert provider.capabilities("sora-2").durations == [4.0, 8.0, 12.0]
