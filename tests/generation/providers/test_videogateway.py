"""The ``gateway`` provider against local servers speaking the two shapes creators' gateways use.

Rules (the shapes as the articles users follow give them, issue #11, checked 2026-12-02):
``POST /v1/videos/generations {model, prompt, duration, resolution}`` -> ``{data: {id}}``, polled at
``GET /v1/videos/generations/{id}`` -> ``{data: {status, url, progress, error}}``; and ``POST /v1/chat/completions``
with model ``sora-2`` and extra body ``resolution``, ``duration``, ``fps`` -> an id, polled until done.
"""

from __future__ import annotations

import json

import pytest
from fakes.videogateway import KEY, VideoGateway
from providerkit import (
    FakeServer,
    assert_all_done,
    run,
)

from mvpipe.errors import InputError
from mvpipe.generation.journal import Journal
from mvpipe.workspace import Workspace


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
    jobs = {r.job_id for r in Journal(Workspace(tmp_path / ".mvpipe").journal).jobs(result.takes[("road", 0)].key)}
    assert jobs == {result.takes[("road", 0)].job_id}, "journaled like every paid job"


def test_a_gateway_without_its_protocol_is_bad_input_before_any_request(tmp_path, monkeypatch) -> None:
    with FakeServer(VideoGateway("videos-generations"), key=KEY) as srv:
        monkeypatch.setenv("GATEWAY_BASE_URL", srv.url)
        monkeypatch.setenv("GATEWAY_API_KEY", KEY)
        monkeypatch.delenv("GATEWAY_PROTOCOL", raising=False)
        with pytest.raises(InputError, match="GATEWAY_PROTOCOL"):
            run(tmp_path, "gateway:sora-2")
        assert srv.log == []
