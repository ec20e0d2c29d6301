"""Kling against a local server speaking its API: JWT auth checked with PyJWT, business error codes."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fakes import contracts
from PIL import Image
from providerkit import (
    Download,
    FakeServer,
    Protocol,
    Recorded,
    Reply,
    check_contract,
    clip_bytes,
    hold_and_maybe_lose,
    run,
)

from mvpipe.errors import InputError
from mvpipe.generation.providers.kling import KlingProvider, jwt_hs256

ACCESS, SECRET = "ak-test-kling-0001", "sk-test-kling-secret-0002-padded-to-32-bytes"
_HTTP_CODE = {400: 1200, 401: 1004, 404: 1203, 429: 1302, 500: 5000, 503: 5001, 504: 5002}
_ENDPOINTS = "text2video|image2video|multi-image2video"


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
        if rec.method == "POST" and (m := re.fullmatch(rf"/v1/videos/({_ENDPOINTS})", rec.path)):
            return "submit", lambda: self.create(srv, m[1], json.loads(rec.body))
        if m := re.fullmatch(rf"/v1/videos/({_ENDPOINTS})/([^/]+)", rec.path):
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


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch):
    with FakeServer(KlingApi(), latency=0.15) as server:
        monkeypatch.setenv("KLING_BASE_URL", server.url)
        monkeypatch.setenv("KLING_ACCESS_KEY", ACCESS)
        monkeypatch.setenv("KLING_SECRET_KEY", SECRET)
        yield server


def _submits(srv: FakeServer) -> list[Recorded]:
    return srv.requests_to("POST", rf"/v1/videos/({_ENDPOINTS})")


def _submit_of(srv: FakeServer, words: str) -> tuple[str, dict[str, Any]]:
    """(endpoint, body) of the submit whose prompt has ``words`` (shots are submitted concurrently)."""
    rec = next(r for r in _submits(srv) if words in json.loads(r.body)["prompt"])
    return rec.path.rsplit("/", 1)[1], json.loads(rec.body)


def test_jwt_is_hs256_with_the_documented_claims() -> None:
    token = jwt_hs256(ACCESS, SECRET, now=1_800_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims == {"iss": ACCESS, "exp": 1_800_001_800, "nbf": 1_799_999_995}


def test_each_request_is_signed_with_a_token_fresh_for_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = KlingProvider().auth(ACCESS, {"KLING_SECRET_KEY": SECRET})
    now = time.time()

    def token_at(t: float) -> dict[str, Any]:
        monkeypatch.setattr(time, "time", lambda: t)
        signed = next(auth.sync_auth_flow(httpx.Request("GET", "http://127.0.0.1/v1/videos/x")))
        token = signed.headers["authorization"].removeprefix("Bearer ")
        return jwt.decode(token, SECRET, algorithms=["HS256"], issuer=ACCESS,
                          options={"verify_exp": False, "verify_nbf": False})

    assert token_at(now) == token_at(now + 600)  # reused while it has long to live
    assert token_at(now + 1790)["exp"] == int(now + 1790) + 1800  # re-minted before it expires


def test_text_and_first_frame_shots_on_kling_v2_6(srv: FakeServer, tmp_path) -> None:
    result = run(tmp_path, "kling:kling-v2-6")
    assert [t.status for t in result.values()] == ["done", "done"], result.failure_table()
    (text_ep, text), (image_ep, image) = _submit_of(srv, "empty road"), _submit_of(srv, "mara drives")
    assert (text_ep, image_ep) == ("text2video", "image2video")
    assert (text["aspect_ratio"], text["duration"], text["sound"], text["mode"]) == ("16:9", "5", "off", "std")
    with Image.open(io.BytesIO(base64.b64decode(image["image"]))) as frame:  # fitted to the output size
        assert frame.size == (1280, 720)
    assert "aspect_ratio" not in image and "mara: woman with a silver bob" in image["prompt"]


def test_references_travel_natively_on_multi_image2video(srv: FakeServer, tmp_path) -> None:
    result = run(tmp_path, "kling:kling-v1-6")
    assert [t.status for t in result.values()] == ["done", "done"], result.failure_table()
    endpoint, multi = _submit_of(srv, "mara drives")
    assert endpoint == "multi-image2video" and len(multi["image_list"]) == 1
    assert _submit_of(srv, "empty road")[0] == "text2video"


def test_rate_and_concurrency_codes_are_retried_and_5xx_polls_survive(srv: FakeServer, tmp_path) -> None:
    srv.faults.statuses = {"submit": [429, 429], "poll": [500, 503]}
    srv.faults.retry_after = "0"
    result = run(tmp_path, "kling:kling-v2-6")
    assert [t.status for t in result.values()] == ["done", "done"], result.failure_table()
    assert sum(srv.creates.values()) == 2


def test_no_balance_fails_at_once_without_retrying(srv: FakeServer, tmp_path) -> None:
    srv.protocol.balance = False
    result = run(tmp_path, "kling:kling-v2-6")
    assert all(t.status == "failed" and "code 1102" in (t.error or "") for t in result.values())
    assert len(_submits(srv)) == 2  # one attempt per shot


def test_moderation_at_submit_and_in_the_task_fail_the_shot(srv: FakeServer, tmp_path) -> None:
    result = run(tmp_path / "a", "kling:kling-v2-6", prompt="FORBIDDEN thing")
    assert "code 1301" in (result[("road", 0)].error or "") and result[("mara", 0)].status == "done"
    srv.faults.moderate = "RISKY"
    result = run(tmp_path / "b", "kling:kling-v2-6", prompt="RISKY thing")
    assert "risk control" in (result[("road", 0)].error or "")


def test_stuck_job_is_never_paid_twice_and_truncated_download_refetched(srv: FakeServer, tmp_path) -> None:
    """Kling has no cancel: a job past the stall limit stops its shot (naming the job); the next run
    resumes polling it instead of paying for another."""
    srv.faults.stuck, srv.faults.truncate = 1, 1
    result = run(tmp_path, "kling:kling-v2-6")
    [stuck] = [j for j in srv.jobs.values() if j.stuck]
    assert sorted(t.status for t in result.values()) == ["done", "failed"]
    assert any(stuck.id in (t.error or "") for t in result.values())
    stuck.stuck = False
    result = run(tmp_path, "kling:kling-v2-6")
    assert [t.status for t in result.values()] == ["done", "done"], result.failure_table()
    assert sum(srv.creates.values()) == 2  # one job a shot, never a second
    assert sorted(srv.downloads.values()) == [1, 2]  # the truncated file was fetched again


def test_download_host_never_sees_the_token(srv: FakeServer, tmp_path) -> None:
    run(tmp_path, "kling:kling-v2-6")
    cdn = [r for r in srv.log if r.path.startswith("/cdn/")]
    assert cdn and all("authorization" not in r.headers for r in cdn)


def test_missing_secret_key_is_bad_input_before_any_request(srv: FakeServer, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("KLING_SECRET_KEY")
    with pytest.raises(InputError, match="KLING_SECRET_KEY"):
        run(tmp_path, "kling:kling-v2-6")
    assert srv.log == []
