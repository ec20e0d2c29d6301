"""A local server speaking the two video-gateway shapes (issue #11);
each create is checked against ``contracts`` and billed from its price table."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fakes.server import (
    Download,
    FakeServer,
    Protocol,
    Recorded,
    Reply,
    clip_bytes,
    hold_and_maybe_lose,
)

KEY = "gw-test-key-0005"


class VideoGateway(Protocol):
    def __init__(self, shape: str) -> None:
        self.shape = shape

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"error": {"message": message, "type": "invalid_request_error", "code": code}}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        path = "/v1/videos/generations" if self.shape == "videos-generations" else "/v1/chat/completions"
        if rec.method == "POST" and rec.path == path:
            return "submit", lambda: self.create(srv, json.loads(rec.body))
        if rec.method == "GET" and (m := re.fullmatch(rf"{path}/([^/]+)", rec.path)):
            return "poll", self.status(srv, srv.job(m[1]))
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def create(self, srv: FakeServer, body: dict[str, Any]) -> Any:
        wanted = {"model", "prompt", "duration", "resolution"} if self.shape == "videos-generations" else {
            "model", "messages", "duration", "resolution", "fps"}
        if not wanted <= body.keys() or body["resolution"] not in ("720p", "1080p") or not isinstance(
                body["duration"], int):
            raise Reply(400, self.error(400, f"invalid request: {sorted(body)}", "invalid_request"))
        prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        job = srv.create("video", body, prompt, float(body["duration"]), bill=0.10 * body["duration"])
        hold_and_maybe_lose(srv, job)
        if self.shape == "videos-generations":
            return {"code": "success", "data": {"id": job.id, "status": "queued"}}
        return {"id": job.id, "object": "chat.completion", "model": body["model"], "status": "queued",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Your video is queued."}}]}

    def status(self, srv: FakeServer, job: Any) -> dict[str, Any]:
        state, progress = job.state(time.time())
        status = {"queued": "queued", "running": "in_progress", "succeeded": "completed"}.get(state, state)
        url = f"{srv.cdn}/cdn/{job.id}.mp4" if status == "completed" else None
        if self.shape == "videos-generations":
            return {"data": {"id": job.id, "status": status, "url": url, "progress": progress,
                             "error": "content policy" if status == "failed" else None}}
        content = f"Here is your video: [video]({url})" if url else "Generating..."
        return {"id": job.id, "object": "chat.completion", "status": status,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
