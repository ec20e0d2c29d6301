"""A local server speaking Luma's Dream Machine and Agents APIs;
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
