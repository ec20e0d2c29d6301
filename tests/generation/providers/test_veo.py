"""The Veo adapter against a local server speaking the Gemini API's long-running operations."""

from __future__ import annotations

import json

import pytest
from fakes.server import FakeServer, Faults, GeminiVeo
from genkit import FAST, clip_request

from mvpipe.generation.media import clip_seconds
from mvpipe.generation.runner import generate


def test_references_go_natively_as_assets_and_force_8_seconds(tmp_path, workspace, point_at, mara):
    reqs = [clip_request("veo", "a", 1, characters=[mara], prompt="mara waits"),
            clip_request("veo", "b", 2, seconds=5.5)]
    with FakeServer(GeminiVeo()) as srv:
        point_at("veo", srv)
        takes = generate(reqs, workspace, settings=FAST)
        posts = {json.loads(r.body)["instances"][0]["prompt"]: (r, json.loads(r.body))
                 for r in srv.requests_to("POST", r"/v1beta/models/veo-3.1-generate-preview:predictLongRunning")}
        assert all(r.headers.get("x-goog-api-key") == srv.key and "authorization" not in r.headers for r in srv.log)
        assert srv.requests_to("GET", r"/v1beta/files/[^/]+:download")
    _, with_refs = posts["mara waits"]
    [ref] = with_refs["instances"][0]["referenceImages"]
    assert ref["referenceType"] == "asset" and ref["image"]["mimeType"] == "image/png"
    assert with_refs["parameters"] == {"aspectRatio": "16:9", "resolution": "720p", "durationSeconds": 8,
                                       "personGeneration": "allow_adult"}
    assert posts["shot b: a neon street at night"][1]["parameters"]["durationSeconds"] == 6
    assert clip_seconds(takes.takes[("a", 0)].path) >= 7.9 and clip_seconds(takes.takes[("b", 0)].path) >= 5.9
    assert takes.takes[("a", 0)].cost_usd == pytest.approx(8 * 0.40) and takes.estimate.rows[0].seconds == 8


def test_a_chained_first_frame_replaces_references(tmp_path, workspace, point_at, mara):
    reqs = [clip_request("veo", "a", 1), clip_request("veo", "b", 2, characters=[mara], continue_from="a")]
    with FakeServer(GeminiVeo()) as srv:
        point_at("veo", srv)
        generate(reqs, workspace, settings=FAST)
        second = json.loads(srv.requests_to("POST", r".+:predictLongRunning")[1].body)["instances"][0]
    assert "image" in second and "referenceImages" not in second


def test_safety_filtered_operation_fails_with_the_reason(tmp_path, workspace, point_at):
    with FakeServer(GeminiVeo()) as srv:
        point_at("veo", srv)
        take = generate([clip_request("veo", "a", 1, prompt="FORBIDDEN")], workspace,
                        settings=FAST).takes[("a", 0)]
    assert take.status == "failed" and "may violate our usage guidelines" in take.error and take.cost_usd == 0


def test_resource_exhausted_bursts_are_waited_out(tmp_path, workspace, point_at):
    faults = Faults(statuses={"submit": [429, 429], "poll": [429, 503]}, retry_after="0")
    with FakeServer(GeminiVeo(), faults=faults) as srv:
        point_at("veo", srv)
        take = generate([clip_request("veo", "a", 1)], workspace, settings=FAST).takes[("a", 0)]
        assert take.status == "done" and len(srv.jobs) == 1
