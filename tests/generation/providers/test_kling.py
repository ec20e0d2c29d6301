"""Kling against a local server speaking its API: JWT auth checked with PyJWT, business error codes."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from fakes.kling import ACCESS, ENDPOINTS, SECRET, KlingApi
from PIL import Image
from providerkit import (
    FakeServer,
    Recorded,
    run,
)

from mvpipe.errors import InputError
from mvpipe.generation.providers.kling import KlingProvider, jwt_hs256


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch):
    with FakeServer(KlingApi(), latency=0.15) as server:
        monkeypatch.setenv("KLING_BASE_URL", server.url)
        monkeypatch.setenv("KLING_ACCESS_KEY", ACCESS)
        monkeypatch.setenv("KLING_SECRET_KEY", SECRET)
        yield server


def _submits(srv: FakeServer) -> list[Recorded]:
    return srv.requests_to("POST", rf"/v1/videos/({ENDPOINTS})")


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
    assert [t.status for t in result.takes.values()] == ["done", "done"], result.failure_table()
    (text_ep, text), (image_ep, image) = _submit_of(srv, "empty road"), _submit_of(srv, "mara drives")
    assert (text_ep, image_ep) == ("text2video", "image2video")
    assert (text["aspect_ratio"], text["duration"], text["sound"], text["mode"]) == ("16:9", "5", "off", "std")
    with Image.open(io.BytesIO(base64.b64decode(image["image"]))) as frame:  # fitted to the output size
        assert frame.size == (1280, 720)
    assert "aspect_ratio" not in image and "mara: woman with a silver bob" in image["prompt"]


def test_references_travel_natively_on_multi_image2video(srv: FakeServer, tmp_path) -> None:
    result = run(tmp_path, "kling:kling-v1-6")
    assert [t.status for t in result.takes.values()] == ["done", "done"], result.failure_table()
    endpoint, multi = _submit_of(srv, "mara drives")
    assert endpoint == "multi-image2video" and len(multi["image_list"]) == 1
    assert _submit_of(srv, "empty road")[0] == "text2video"


def test_rate_and_concurrency_codes_are_retried_and_5xx_polls_survive(srv: FakeServer, tmp_path) -> None:
    srv.faults.statuses = {"submit": [429, 429], "poll": [500, 503]}
    srv.faults.retry_after = "0"
    result = run(tmp_path, "kling:kling-v2-6")
    assert [t.status for t in result.takes.values()] == ["done", "done"], result.failure_table()
    assert sum(srv.creates.values()) == 2


def test_no_balance_fails_at_once_without_retrying(srv: FakeServer, tmp_path) -> None:
    srv.protocol.balance = False
    result = run(tmp_path, "kling:kling-v2-6")
    assert all(t.status == "failed" and "code 1102" in (t.error or "") for t in result.takes.values())
    assert len(_submits(srv)) == 2  # one attempt per shot


def test_moderation_at_submit_and_in_the_task_fail_the_shot(srv: FakeServer, tmp_path) -> None:
    result = run(tmp_path / "a", "kling:kling-v2-6", prompt="FORBIDDEN thing")
    assert "code 1301" in (result.takes[("road", 0)].error or "") and result.takes[("mara", 0)].status == "done"
    srv.faults.moderate = "RISKY"
    result = run(tmp_path / "b", "kling:kling-v2-6", prompt="RISKY thing")
    assert "risk control" in (result.takes[("road", 0)].error or "")


def test_stuck_job_is_never_paid_twice_and_truncated_download_refetched(srv: FakeServer, tmp_path) -> None:
    """Kling has no cancel: a job past the stall limit stops its shot (naming the job); the next run
    resumes polling it instead of paying for another."""
    srv.faults.stuck, srv.faults.truncate = 1, 1
    result = run(tmp_path, "kling:kling-v2-6")
    [stuck] = [j for j in srv.jobs.values() if j.stuck]
    assert sorted(t.status for t in result.takes.values()) == ["done", "failed"]
    assert any(stuck.id in (t.error or "") for t in result.takes.values())
    stuck.stuck = False
    result = run(tmp_path, "kling:kling-v2-6")
    assert [t.status for t in result.takes.values()] == ["done", "done"], result.failure_table()
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
