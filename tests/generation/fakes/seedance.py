"""A local server speaking BytePlus ModelArk (Seedance);
each create is checked against ``contracts`` and billed from its price table."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from typing import Any

from PIL import Image

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

KEY = "ark-test-key-0003"
TASKS = "/api/v3/contents/generations/tasks"
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
        if rec.method == "POST" and rec.path == TASKS:
            return "submit", lambda: self.create(srv, json.loads(rec.body))
        if rec.method == "GET" and rec.path == TASKS:  # Ark SDK tasks.list: page_num, page_size, filter.model
            model = rec.query.get("filter.model", [None])[0]
            jobs = [j for j in sorted(srv.jobs.values(), key=lambda j: -j.created)
                    if model is None or j.body["model"] == model]
            size = int(rec.query.get("page_size", ["10"])[0])
            return "list", {"total": len(jobs), "items": [self.task(srv, j) for j in jobs[:size]]}
        if m := re.fullmatch(rf"{TASKS}/cgt-([^/]+)", rec.path):
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
