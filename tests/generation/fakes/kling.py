"""A local server speaking Kling's official API;
each create is checked against ``contracts`` and billed from its price table."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from typing import Any

import jwt
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

ACCESS, SECRET = "ak-test-kling-0001", "sk-test-kling-secret-0002-padded-to-32-bytes"

_HTTP_CODE = {400: 1200, 401: 1004, 404: 1203, 429: 1302, 500: 5000, 503: 5001, 504: 5002}
ENDPOINTS = "text2video|image2video|multi-image2video"


class KlingApi(Protocol):
    """``/v1/videos/{endpoint}`` create and query, as Kling's General Info and model pages describe."""

    def __init__(self) -> None:
        self.balance = True
        self.external: dict[str, str] = {}

    def auth_ok(self, headers: dict[str, str], key: str) -> bool:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=ACCESS,
                                options={"require": ["exp", "nbf", "iss"]})
        except jwt.PyJWTError:
            return False
        return 0 < claims["exp"] - time.time() <= 1800

    def error(self, status: int, message: str, code: Any = None) -> Any:
        code = int(code) if str(code).isdigit() else code
        return {"code": code if isinstance(code, int) else _HTTP_CODE.get(status, 5000), "message": message,
                "request_id": uuid.uuid4().hex}

    def route(self, srv: FakeServer, rec: Recorded) -> tuple[str, Any]:
        if rec.method == "POST" and (m := re.fullmatch(rf"/v1/videos/({ENDPOINTS})", rec.path)):
            return "submit", lambda: self.create(srv, m[1], json.loads(rec.body))
        if m := re.fullmatch(rf"/v1/videos/({ENDPOINTS})/([^/]+)", rec.path):
            job = srv.job(self.external.get(m[2], m[2]))
            return "poll", {"code": 0, "message": "SUCCEED", "request_id": "r", "data": self.task(srv, job)}
        if m := re.fullmatch(r"/cdn/([^/.]+)\.mp4", rec.path):
            return "download", Download(srv.job(m[1]), clip_bytes(srv.job(m[1]).seconds))
        raise Reply(404, self.error(404, f"no route {rec.path}"))

    def create(self, srv: FakeServer, endpoint: str, body: dict[str, Any]) -> Any:
        if not self.balance:
            raise Reply(429, self.error(429, "resource pack exhausted", 1102))
        if "FORBIDDEN" in body["prompt"]:
            raise Reply(400, self.error(400, "Failure to pass the risk control system", 1301))
        check_contract(self, contracts.kling_create(endpoint, body))
        for image in [body.get("image")] + [i["image"] for i in body.get("image_list", [])]:
            if image is not None:
                Image.open(io.BytesIO(base64.b64decode(image, validate=True))).load()  # raw base64, no data: prefix
        if endpoint == "multi-image2video" and (body["model_name"] != "kling-v1-6" or len(body["image_list"]) > 4):
            raise Reply(400, self.error(400, "image_list: kling-v1-6 takes up to 4 images", 1201))
        if body["external_task_id"] in self.external:
            raise Reply(400, self.error(400, "external_task_id already exists", 1201))
        job = srv.create(endpoint, body, body["prompt"], float(body["duration"]), bill=contracts.kling_bill(body))
        self.external[body["external_task_id"]] = job.id
        hold_and_maybe_lose(srv, job)
        return {"code": 0, "message": "SUCCEED", "request_id": "r", "data": self.task(srv, job)}

    def task(self, srv: FakeServer, job: Any) -> dict[str, Any]:
        state, _ = job.state(time.time())
        status = {"queued": "submitted", "running": "processing", "succeeded": "succeed"}.get(state, "failed")
        data: dict[str, Any] = {"task_id": job.id, "task_status": status, "created_at": int(job.created * 1000),
                                "updated_at": int(time.time() * 1000),
                                "task_info": {"external_task_id": job.body["external_task_id"]}}
        if status == "failed":
            data["task_status_msg"] = "Failure to pass the risk control system"
        if status == "succeed":
            data["task_result"] = {"videos": [{"id": job.id, "url": f"{srv.cdn}/cdn/{job.id}.mp4",
                                               "duration": f"{job.seconds:g}"}]}
        return data
