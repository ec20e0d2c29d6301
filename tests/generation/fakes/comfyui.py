"""A local server speaking ComfyUI's HTTP API;
each create is checked against ``contracts`` and billed from its price table."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fakes.server import Download, FakeServer, Protocol, Recorded, Reply, clip_bytes

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}, cinematic"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}"}},
    "12": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
    "20": {"class_type": "EmptyHunyuanLatentVideo",
           "inputs": {"width": "{{width}}", "height": "{{height}}", "length": "{{frames}}"}},
    "30": {"class_type": "SaveVideo", "inputs": {"filename_prefix": "mvpipe", "fps": "{{fps}}"}},
}


class ComfyServer(Protocol):
    """The routes of ComfyUI's ``server.py`` that a client driving a workflow uses."""

    def __init__(self) -> None:
        self.uploads: list[str] = []

    def auth_ok(self, headers: dict[str, str], key: str) -> bool:
        return True

    def error(self, status: int, message: str, code: str | None = None) -> Any:
        return {"error": {"type": code or "server_error", "message": message}, "node_errors": {}}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if rec.method == "POST" and rec.path == "/upload/image":
            name = re.search(rb'name="image"; filename="([^"]+)"', rec.body)[1].decode()
            return "upload", lambda: self.uploads.append(name) or {"name": name, "subfolder": "", "type": "input"}
        if rec.method == "POST" and rec.path == "/prompt":
            body = json.loads(rec.body)
            graph = body["prompt"]
            job = srv.create("video", graph, graph["6"]["inputs"]["text"], graph["20"]["inputs"]["length"] / 12)
            return "submit", {"prompt_id": job.id, "number": len(srv.jobs), "node_errors": {}}
        if rec.method == "POST" and rec.path == "/queue":
            return "cancel", {}  # a pending prompt leaves the queue; a running one needs /interrupt
        if rec.method == "POST" and rec.path == "/interrupt":
            srv.job(json.loads(rec.body)["prompt_id"]).cancelled = True
            return "cancel", {}
        if m := re.fullmatch(r"/history/([^/]+)", rec.path):
            return "poll", self.history(srv.job(m[1]))
        if rec.path == "/view" and rec.query["type"] == ["output"]:
            job = srv.job(rec.query["filename"][0].split("_")[1])
            return "download", Download(job, clip_bytes(job.seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def history(self, job: Any) -> dict[str, Any]:
        state, _ = job.state(time.time())
        if state in ("queued", "running"):
            return {}
        ok = state == "succeeded"
        messages = [["execution_start", {"prompt_id": job.id}]] + ([] if ok else [
            ["execution_error", {"prompt_id": job.id, "node_id": "3", "exception_message": "CUDA out of memory"}]])
        outputs = {"30": {"images": [{"filename": f"mvpipe_{job.id}_00001_.mp4", "subfolder": "",
                                      "type": "output"}], "animated": [True]}} if ok else {}
        return {job.id: {"prompt": [1, job.id, job.body, {}, ["30"]], "outputs": outputs,
                         "status": {"status_str": "success" if ok else "error", "completed": ok,
                                    "messages": messages}}}
