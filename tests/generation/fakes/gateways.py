"""A local server speaking fal's queue and Replicate's predictions;
each create is checked against ``contracts`` and billed from its price table."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fakes import contracts
from fakes.server import (
    Download,
    FakeServer,
    Protocol,
    Recorded,
    Reply,
    check_contract,
    clip_bytes,
    hold_and_maybe_lose,
)

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
