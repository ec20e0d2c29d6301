"""fal and Replicate against local servers speaking their queue / predictions APIs, and the model table."""

from __future__ import annotations

import json
import re
import uuid

import fal_client
import httpx
import pytest
import replicate
from fakes.gateways import FAL_MODEL, KEY, REP_MODEL, FalQueue, Predictions
from providerkit import (
    FakeServer,
    assert_all_done,
    moderated,
    run,
    survives_faults,
)

from mvpipe.errors import InputError
from mvpipe.generation.providers import resolve
from mvpipe.generation.providers.gateway import user_models


@pytest.fixture
def fal(monkeypatch: pytest.MonkeyPatch):
    with FakeServer(FalQueue(), key=KEY, latency=0.15) as server:
        monkeypatch.setenv("FAL_QUEUE_URL", server.url)
        monkeypatch.setenv("FAL_KEY", KEY)
        yield server


@pytest.fixture
def rep(monkeypatch: pytest.MonkeyPatch):
    with FakeServer(Predictions(), key=KEY, latency=0.15) as server:
        monkeypatch.setenv("REPLICATE_BASE_URL", server.url)
        monkeypatch.setenv("REPLICATE_API_TOKEN", KEY)
        yield server


def test_fal_text_model_and_sdk_parses_our_replies(fal: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, f"fal:{FAL_MODEL}"))
    sent = [json.loads(r.body) for r in fal.requests_to("POST", f"/{FAL_MODEL}")]
    assert sorted(b["duration"] for b in sent) == ["10", "5"] and all("image_url" not in b for b in sent)
    job = next(iter(fal.jobs))
    base = f"{fal.url}/fal-ai/kling-video/requests/{job}"
    handle = fal_client.SyncRequestHandle(request_id=job, response_url=base, status_url=f"{base}/status",
                                          cancel_url=f"{base}/cancel",
                                          client=httpx.Client(headers={"Authorization": f"Key {KEY}"}))
    assert isinstance(handle.status(), fal_client.Completed)
    assert handle.get()["video"]["url"].startswith(fal.cdn)
    handle.cancel()                                   # the SDK's cancel is the request our adapter sends
    assert fal.jobs[job].cancelled


def test_fal_faults_and_422_moderation(fal: FakeServer, tmp_path) -> None:
    survives_faults(fal, tmp_path / "a", f"fal:{FAL_MODEL}", cancels=False)  # a running request may not stop
    assert "content checker" in moderated(fal, tmp_path / "b", f"fal:{FAL_MODEL}")


def test_replicate_references_natively_and_sdk_parses_our_replies(rep: FakeServer, tmp_path) -> None:
    assert_all_done(run(tmp_path, f"replicate:{REP_MODEL}"))
    sent = {json.loads(r.body)["input"]["prompt"].split()[0]: json.loads(r.body)["input"]
            for r in rep.requests_to("POST", f"/v1/models/{REP_MODEL}/predictions")}
    assert sent["mara"]["reference_images"][0].startswith("data:image/png;base64,")
    assert (sent["mara"]["generate_audio"], sent["an"]["duration"], sent["an"]["resolution"]) == (False, 4, "720p")
    pred = replicate.Client(api_token=KEY, base_url=rep.url).predictions.get(next(iter(rep.jobs)))
    assert pred.status == "succeeded" and str(pred.output).startswith(rep.cdn)


def test_replicate_faults_and_failed_prediction(rep: FakeServer, tmp_path) -> None:
    survives_faults(rep, tmp_path / "a", f"replicate:{REP_MODEL}")
    assert "E005" in moderated(rep, tmp_path / "b", f"replicate:{REP_MODEL}")


def test_replicate_lost_submit_reply_is_found_in_the_prediction_list(rep: FakeServer, tmp_path) -> None:
    rep.faults.lose_reply = 1  # the prediction is created, the reply is a 500
    assert_all_done(run(tmp_path, f"replicate:{REP_MODEL}"))
    assert sum(rep.creates.values()) == 2 and rep.requests_to("GET", "/v1/predictions")


def test_users_add_models_in_yaml_without_code(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "models.yaml"
    table.write_text("replicate:\n  - id: acme/clipper\n    durations: [6]\n    image_field: first_frame_image\n"
                     "    price_per_second: 0.08\n")
    monkeypatch.setenv("MVPIPE_MODELS", str(table))
    _, caps = resolve("replicate:acme/clipper")
    assert (caps.durations, caps.references_as, caps.price(6.0)) == ([6.0], "first_frame", 0.48)
    assert resolve(f"replicate:{REP_MODEL}")[1].max_references == 9  # built-ins stay


@pytest.mark.parametrize("text, message", [
    ("fal:\n  - id: x/y\n", "fal.0.price_per_second: Field required"),
    ("fal:\n  - id: x/y\n    price_per_second: 1\n    duraton: 5\n", "fal.0.duraton: Extra inputs are not permitted"),
    ("fal: [", "not valid YAML"),
])
def test_a_bad_model_table_is_bad_input_naming_the_entry(tmp_path, monkeypatch, text: str, message: str) -> None:
    table = tmp_path / "models.yaml"
    table.write_text(text)
    monkeypatch.setenv("MVPIPE_MODELS", str(table))
    with pytest.raises(InputError, match=re.escape(message)) as err:
        user_models("fal")
    assert str(table) in str(err.value)


def test_missing_table_named_by_env_is_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MVPIPE_MODELS", str(tmp_path / f"{uuid.uuid4().hex}.yaml"))
    with pytest.raises(InputError, match="model table not found"):
        user_models("replicate")
