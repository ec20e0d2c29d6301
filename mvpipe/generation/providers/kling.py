"""Kling's official API (``/v1/videos/{text2video,image2video,multi-image2video}``), JWT-signed.

Auth is a short-lived HS256 JWT made from an access key and a secret key (Kling's General Info
page: ``iss`` = access key, ``exp`` = now + 30 min, ``nbf`` = now - 5 s); a fresh one is minted
before each expires. Errors carry a business ``code`` beside the HTTP status, and the status alone
misleads: 429 means both "too fast" (1302/1303: retry) and "no balance" (1100-1103: stop), so
:meth:`KlingProvider.classify` reads the code for the shared client. Characters travel natively on
``multi-image2video`` (up to four images, kling-v1-6) and as a first frame elsewhere. ``sound`` stays
off unless a shot asks for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import httpx

from mvpipe.errors import InputError
from mvpipe.generation.media import image_base64
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, JobState, Shape, shape_table
from mvpipe.generation.remote import ApiClient, ProviderError, RemoteProvider, TransientError, retry_after

_STATES = {"submitted": "queued", "processing": "running", "succeed": "succeeded", "failed": "failed"}
_RETRY_CODES = frozenset({1302, 1303, 5000, 5001, 5002})  # too fast, over concurrency, server side
_TOKEN_LIFE = 1800


def jwt_hs256(access_key: str, secret_key: str, now: float | None = None) -> str:
    """The token Kling asks for: header {alg HS256, typ JWT}, payload {iss, exp, nbf}."""
    now = time.time() if now is None else now

    def part(obj: object) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {"iss": access_key, "exp": int(now) + _TOKEN_LIFE, "nbf": int(now) - 5}
    signing = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    sig = hmac.new(secret_key.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


class _FreshToken(httpx.Auth):
    """A JWT on every request, re-minted a minute before it expires."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self._keys = (access_key, secret_key)
        self._token, self._minted = "", 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if time.time() - self._minted > _TOKEN_LIFE - 60:
            self._minted = time.time()
            self._token = jwt_hs256(*self._keys, now=self._minted)
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class KlingProvider(RemoteProvider):
    """Kling v1.6 (4 native references), v2.5 turbo, v2.6 (sound) and v3 (3-15 s)."""

    name = "kling"
    base_url = "https://api-singapore.klingai.com"
    base_url_env = "KLING_BASE_URL"
    key_env = "KLING_ACCESS_KEY"
    secret_env = "KLING_SECRET_KEY"
    poll_interval = 10.0
    # Kling reports no progress and has no cancel; jobs often run past 15 min (ComfyUI raised its Kling limit to
    # ~68 min "to resolve frequent timeout issues", Comfy-Org/ComfyUI PR #8860, checked 2026-12-02): wait an hour.
    stall_timeout = 3600.0

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        secret = environ.get(self.secret_env, "").strip()
        if not secret:
            raise InputError(f"kling needs its secret key too: set {self.secret_env} in the environment.",
                             field="generator")
        return _FreshToken(key, secret)

    def models(self) -> list[Capabilities]:
        # kling.ai/document-api (Image to Video, Text to Video, Reference to Video; checked 2026-12-02):
        # aspect_ratio 16:9, 9:16, 1:1 (image2video follows its image); mode std (720p) or pro (1080p); sound on/off
        # on v2.6 and v3; duration "5"/"10", v3 "3".."15"; images <= 10 MB, >= 300 px.
        # Prices: kling.ai/dev/pricing (2026-09-28; 1 unit = $0.14): std 0.6 units/s silent, 0.9 with sound;
        # pro 0.8 / 1.2. v2.6 std makes no sound (gateway docs), so sound there means pro.
        # The page's kling-v3 rows are used for every model: Kling publishes no separate per-model USD.
        std = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720)}
        pro = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080)}

        def priced(std_audio: float | None, pro_audio: float | None) -> list[Shape]:
            return [*shape_table(std, "std", 0.084, std_audio), *shape_table(pro, "pro", 0.112, pro_audio)]
        common = dict(provider=self.name, first_frame=True, key_env=[self.key_env, self.secret_env], concurrency=3,
                      reference_limit=ImageLimit(max_side=2048, min_side=300, max_bytes=10_000_000))
        five_ten = dict(durations=[5.0, 10.0], references_as="first_frame", max_references=1)
        return [
            Capabilities(model="kling-v2-6", native_audio=True, shapes=priced(None, 0.168), **five_ten, **common),
            Capabilities(model="kling-v3", duration_range=(3.0, 15.0), duration_step=1.0, native_audio=True,
                         references_as="first_frame", max_references=1, shapes=priced(0.126, 0.168), **common),
            Capabilities(model="kling-v2-5-turbo", shapes=priced(None, None), **five_ten, **common),
            Capabilities(model="kling-v1-6", durations=[5.0, 10.0], references_as="native", max_references=4,
                         shapes=priced(None, None), **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        body: dict[str, object] = {"model_name": request.model, "prompt": request.prompt[:2500],
                                   "mode": request.resolution or "std",
                                   "duration": f"{request.seconds:g}",
                                   "external_task_id": f"{_external_prefix(request)}{time.time_ns()}"}
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt[:2500]
        if caps.native_audio:
            body["sound"] = "on" if request.audio else "off"
        refs = request.references[:caps.max_references]
        if caps.references_as == "native" and refs and first_frame is None:
            endpoint = "multi-image2video"
            body["image_list"] = [{"image": image_base64(p, None, caps.reference_limit)[1]} for p in refs]
            body["aspect_ratio"] = request.aspect
        elif first_frame is not None:
            endpoint = "image2video"  # the clip takes the image's aspect: fit it to the output first
            body["image"] = image_base64(first_frame, (request.width, request.height), caps.reference_limit)[1]
        else:
            endpoint = "text2video"
            body["aspect_ratio"] = request.aspect
        reply = client.request("POST", f"v1/videos/{endpoint}", json=body, idempotent=False)
        return f"{endpoint}/{_data(reply)['task_id']}"

    def classify(self, response: httpx.Response) -> TransientError | ProviderError | None:
        """By Kling's business code where the body has one: 1302/1303/500x retry, the rest (1102, 1301) stop."""
        try:
            body = response.json()
            code = body.get("code")
        except (ValueError, AttributeError):
            return None
        if not code:
            return None
        message = f"kling answered {response.status_code}: {body.get('message') or response.reason_phrase} " \
                  f"(code {code})"
        if code in _RETRY_CODES:
            return TransientError(message, retry_after=retry_after(response.headers),
                                  ambiguous=response.status_code >= 500)
        return ProviderError(message, status=response.status_code)

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        data = _data(client.request("GET", f"v1/videos/{job_id}"))
        status = data.get("task_status", "processing")
        videos = (data.get("task_result") or {}).get("videos") or []
        error = (data.get("task_status_msg") or "generation failed") if status == "failed" else None
        return JobState(state=_STATES.get(status, "running"), error=error,
                        download_url=videos[0]["url"] if videos else None)

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        """Recent tasks whose ``external_task_id`` names this clip (Kling's task lists, newest first)."""
        prefix = _external_prefix(request)
        found = []
        for endpoint in ("text2video", "image2video", "multi-image2video"):
            tasks = _data(client.request("GET", f"v1/videos/{endpoint}", params={"pageNum": 1, "pageSize": 100}))
            found += [(t.get("created_at", 0), f"{endpoint}/{t['task_id']}") for t in tasks
                      if (t.get("task_info") or {}).get("external_task_id", "").startswith(prefix)
                      and t.get("created_at", 0) / 1000 >= since]
        return [job for _, job in sorted(found, reverse=True)]


def _external_prefix(request: ClipRequest) -> str:
    """What every submit of this clip's ``external_task_id`` starts with (Kling wants each one unique)."""
    return f"mvpipe-{request.cache_key()}-"


def _data(resp: httpx.Response) -> Any:
    body = resp.json()
    if body.get("code", 0) != 0:
        raise ProviderError(f"kling: {body.get('message', 'error')} (code {body.get('code')})")
    return body["data"]

