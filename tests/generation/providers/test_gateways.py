"""fal and Replicate against local servers speaking their queue / predictions APIs, and the model table."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import fal_client
import httpx
import pytest
import replicate
from fakes import contracts
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

from mvpipe.errors import InputError
from mvpipe.generation.providers import resolve
from mvpipe.generation.providers.gateway import user_models

KEY = "test-gateway-key-0005"
FAL_MODEL = "fal-ai/kling-video/v2.1/master/text-to-video"
REP_MODEL = "bytedance/seedance-2.0"


class FalQueue(Protocol):
    """``queue.fal.run``: submit to the app path, status and result under ``{owner}/{alias}/requests``."""

    def auth_ok(self, headers: dict[str, str], key: str) -> bool:
        return headers.get("authorization") == f"Key {key}"

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"detail": [{"loc": ["body"], "msg": message, "type": code or "server_error"}]}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if rec.method == "PUT" and (m := re.fullmatch(r"/[^/]+/[^/]+/requests/([^/]+)/cancel", rec.path)):
            srv.job(m[1]).cancelled = True
            return "cancel", {"status": "CANCELLATION_REQUESTED"}
        if m := re.fullmatch(r"/([^/]+/[^/]+)/requests/([^/]+)(/status)?", rec.path):
            job = srv.job(m[2])
            state, _ = job.state(time.time())
            if m[3]:
                status = {"queued": "IN_QUEUE", "running": "IN_PROGRESS"}.get(state, "COMPLETED")
                body: dict[str, Any] = {"status": status, "request_id": job.id, "logs": None}
                if status == "IN_QUEUE":
                    body["queue_position"] = 0
                if status == "COMPLETED":
                    body["metrics"] = {"inference_time": 0.1}
                if state == "failed":
                    body.update(error="Generation failed: output flagged", error_type="content_policy_violation")
                return "poll", body
            return "result", {"video": {"url": f"{srv.cdn}/cdn/{job.id}.mp4", "content_type": "video/mp4"}}
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        if rec.method == "POST":
            return "submit", lambda: self.create(srv, rec.path.lstrip("/"), json.loads(rec.body))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def create(self, srv: FakeServer, app: str, body: dict[str, Any]) -> Any:
        if "FORBIDDEN" in body["prompt"]:
            raise Reply(422, self.error(422, "The content could not be processed because it contained material "
                                        "flagged by a content checker.", "content_policy_violation"))
        check_contract(self, contracts.fal_create(body))
        job = srv.create("video", body, body["prompt"], float(body["duration"]), bill=contracts.fal_bill(body))
        hold_and_maybe_lose(srv, job)
        base = f"{srv.url}/{'/'.join(app.split('/')[:2])}/requests/{job.id}"
        return {"request_id": job.id, "response_url": base, "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel", "queue_position": 0}


class Predictions(Protocol):
    """Replicate's ``/v1/models/{o}/{n}/predictions`` and ``/v1/predictions/{id}`` (RFC 7807 errors)."""

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"type": "about:blank", "title": code or "error", "status": status, "detail": message}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if rec.method == "POST" and (m := re.fullmatch(r"/v1/models/([^/]+/[^/]+)/predictions", rec.path)):
            return "submit", lambda: self.create(srv, m[1], json.loads(rec.body)["input"])
        if rec.method == "GET" and rec.path == "/v1/predictions":  # newest first, cursor-paged
            jobs = sorted(srv.jobs.values(), key=lambda j: -j.created)
            return "list", {"next": None, "previous": None, "results": [self.prediction(srv, j) for j in jobs]}
        if m := re.fullmatch(r"/v1/predictions/([^/]+)(/cancel)?", rec.path):
            job = srv.job(m[1])
            if m[2]:
                job.cancelled = True
            return ("cancel" if m[2] else "poll"), self.prediction(srv, job)
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}", "Not found"))

    def create(self, srv: FakeServer, model: str, inputs: dict[str, Any]) -> Any:
        check_contract(self, contracts.replicate_create(inputs))
        job = srv.create(model, inputs, inputs["prompt"], float(inputs["duration"]),
                         bill=contracts.replicate_bill(inputs))
        hold_and_maybe_lose(srv, job)
        return 201, self.prediction(srv, job), {}

    def prediction(self, srv: FakeServer, job: Any) -> dict[str, Any]:
        state, _ = job.state(time.time())
        status = {"queued": "starting", "running": "processing", "cancelled": "canceled"}.get(state, state)
        return {"id": job.id, "model": job.kind, "version": "v1", "status": status, "input": job.body,
                "output": f"{srv.cdn}/cdn/{job.id}.mp4" if status == "succeeded" else None,
                "error": "The output was flagged as sensitive (E005)" if status == "failed" else None,
                "logs": "", "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.created)),
                "urls": {"get": f"{srv.url}/v1/predictions/{job.id}",
                         "cancel": f"{srv.url}/v1/predictions/{job.id}/cancel"}}


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
