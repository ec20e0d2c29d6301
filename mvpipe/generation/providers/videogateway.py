"""Video gateways creators use now: one ``gateway`` provider set by a base URL, a key and a protocol name.

``GATEWAY_BASE_URL`` (e.g. ``https://api.example.com``), ``GATEWAY_API_KEY`` (sent as a bearer token) and
``GATEWAY_PROTOCOL``, one of:

* ``videos-generations``: ``POST {base}/v1/videos/generations`` with ``{model, prompt, duration, resolution}``,
  answered ``{data: {id}}``; polled at ``GET {base}/v1/videos/generations/{id}``, answered
  ``{data: {status, url, progress, error}}``.
* ``chat-completions``: an OpenAI-compatible ``POST {base}/v1/chat/completions`` with model ``sora-2``, the
  prompt as the user message and ``resolution``, ``duration``, ``fps`` as extra body fields, answered at once
  with an id; polled at ``GET {base}/v1/chat/completions/{id}`` until a status says done and the video's URL
  is in the reply (a ``url`` field, or the message content).

Gateways publish no shared contract beyond these shapes, so mvpipe asks only 16:9 at 720p or 1080p (the
assembler fits it to the output) and prices at ``GATEWAY_PRICE_PER_SECOND`` (default $0.10, sora-2's list
price at OpenAI). Jobs are journaled like every paid job; gateways list no jobs, so a lost submit warns.
(``gateway.py`` is the model-table helper for fal and Replicate, a different thing.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from mvpipe.errors import InputError
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState, shape_table
from mvpipe.generation.remote import ApiClient, ProviderError, RemoteProvider

PROTOCOLS = ("videos-generations", "chat-completions")
_STATES = {"queued": "queued", "pending": "queued", "submitted": "queued", "not_start": "queued",
           "in_progress": "running", "processing": "running", "running": "running", "generating": "running",
           "completed": "succeeded", "succeeded": "succeeded", "success": "succeeded", "done": "succeeded",
           "failed": "failed", "failure": "failed", "error": "failed", "cancelled": "cancelled",
           "canceled": "cancelled"}
_URL = re.compile(r"https?://[^\s)\"'<>\]]+")


class VideoGatewayProvider(RemoteProvider):
    """A gateway speaking one of :data:`PROTOCOLS`; the model name is passed through as it is given."""

    name = "gateway"
    base_url = ""
    base_url_env = "GATEWAY_BASE_URL"
    key_env = "GATEWAY_API_KEY"
    poll_interval = 10.0

    def models(self) -> list[Capabilities]:
        try:
            price = float(os.environ.get("GATEWAY_PRICE_PER_SECOND", "0.10"))
        except ValueError:
            raise InputError("GATEWAY_PRICE_PER_SECOND must be a number of USD.",
                             field="GATEWAY_PRICE_PER_SECOND") from None
        shapes = [*shape_table({"16:9": (1280, 720)}, "720p", price, price),
                  *shape_table({"16:9": (1920, 1080)}, "1080p", price, price)]
        return [Capabilities(provider=self.name, model=model, durations=[4.0, 8.0, 12.0], shapes=shapes,
                             native_audio=True, key_env=[self.key_env], concurrency=2)
                for model in ("sora-2", "sora-2-pro")]

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        """Bearer, once the base URL and protocol are known good: checked before anything is paid."""
        if not environ.get(self.base_url_env, "").strip():
            raise InputError(f"the gateway provider needs {self.base_url_env} (e.g. https://api.example.com).",
                             field="generator")
        _protocol(environ)
        return super().auth(key, environ)

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        seconds, resolution = round(request.seconds), request.resolution or "720p"
        if _protocol() == "videos-generations":
            body = {"model": request.model, "prompt": request.prompt, "duration": seconds, "resolution": resolution}
            reply = client.request("POST", "v1/videos/generations", json=body, idempotent=False).json()
            return str(_field(reply, "id", "the create reply"))
        body = {"model": request.model, "messages": [{"role": "user", "content": request.prompt}],
                "resolution": resolution, "duration": seconds, "fps": request.fps}
        reply = client.request("POST", "v1/chat/completions", json=body, idempotent=False).json()
        return str(_field(reply, "id", "the chat reply"))

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        if _protocol() == "videos-generations":
            data = client.request("GET", f"v1/videos/generations/{job_id}").json().get("data") or {}
            url = data.get("url")
        else:
            data = client.request("GET", f"v1/chat/completions/{job_id}").json()
            url = data.get("url") or _content_url(data)
        state = _STATES.get(str(data.get("status", "")).lower(), "running")
        if state == "succeeded" and not url:
            return JobState(state="failed", error="the gateway says the job completed but gives no video URL")
        error = data.get("error")
        reason = (error.get("message") if isinstance(error, dict) else error) or f"the job {state}"
        progress = data.get("progress")
        return JobState(state=state, download_url=url if state == "succeeded" else None,
                        progress=float(progress) if isinstance(progress, (int, float)) else None,
                        error=str(reason) if state in ("failed", "cancelled") else None)


def _protocol(environ: Mapping[str, str] | None = None) -> str:
    name = (os.environ if environ is None else environ).get("GATEWAY_PROTOCOL", "").strip()
    if name not in PROTOCOLS:
        raise InputError(f"GATEWAY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, not {name!r}.",
                         field="GATEWAY_PROTOCOL", hint="See docs/providers.md, 'gateway'.")
    return name


def _field(reply: Any, name: str, what: str) -> Any:
    """``reply[name]`` or ``reply['data'][name]``; a reply without it is the gateway's error, journaled."""
    for node in (reply, (reply or {}).get("data") if isinstance(reply, dict) else None):
        if isinstance(node, dict) and node.get(name):
            return node[name]
    raise ProviderError(f"the gateway's {what} holds no '{name}': {str(reply)[:200]}")


def _content_url(reply: dict[str, Any]) -> str | None:
    for choice in reply.get("choices") or []:
        found = _URL.search(str((choice.get("message") or {}).get("content") or ""))
        if found:
            return found.group(0)
    return None
