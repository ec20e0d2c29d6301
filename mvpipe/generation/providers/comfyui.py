"""ComfyUI: a server the user runs on their own GPU, driven through its HTTP API.

The user exports their video workflow in API format and marks the inputs mvpipe fills with
placeholder strings: ``"{{prompt}}"``, ``"{{negative_prompt}}"``, ``"{{seed}}"``, ``"{{width}}"``,
``"{{height}}"``, ``"{{frames}}"``, ``"{{fps}}"``, ``"{{seconds}}"`` and ``"{{image}}"`` (the first
frame, uploaded with ``/upload/image``). A placeholder that is a whole string becomes a typed value.
The job goes to ``POST /prompt``, is followed on ``/history/{prompt_id}`` and fetched from ``/view``.

It is local and free, so it renders in place (no journal, no budget); the HTTP still goes through
the shared client for retries and safe downloads. Settings: ``COMFYUI_URL`` (default
``http://127.0.0.1:8188``), ``COMFYUI_WORKFLOW`` (the JSON file), ``COMFYUI_TIMEOUT`` (seconds
without progress before giving up, default 1800), ``COMFYUI_POLL_INTERVAL`` (default 1).
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from mvpipe.errors import InputError, MvpipeError
from mvpipe.generation.media import BadMedia, clip_seconds, image_base64
from mvpipe.generation.provider import Capabilities, ClipRequest, Provider
from mvpipe.generation.remote import ApiClient, ProviderError, RetryPolicy

_VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".gif")


class ComfyUIProvider(Provider):
    """A user's own ComfyUI workflow (local, free, any length)."""

    name = "comfyui"
    base_url = "http://127.0.0.1:8188"
    base_url_env = "COMFYUI_URL"
    key_env = "COMFYUI_API_KEY"  # optional: sent as a bearer token when a proxy in front wants one

    def models(self) -> list[Capabilities]:
        return [Capabilities(provider=self.name, model="workflow", references_as="first_frame", max_references=1,
                             first_frame=True, local=True, concurrency=1)]

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key != "-" else {}

    def render(self, request: ClipRequest, dest: Path, first_frame: Path | None = None) -> None:
        workflow = _workflow()
        client = ApiClient(self, environ={**os.environ, self.key_env: os.environ.get(self.key_env) or "-"},
                           retry=RetryPolicy(attempts=4, backoff=0.5, max_backoff=10.0))
        try:
            image = first_frame or (request.references[0] if request.references else None)
            values: dict[str, Any] = {
                "prompt": request.prompt, "negative_prompt": request.negative_prompt or "",
                "seed": request.seed if request.seed is not None else int(request.cache_key()[:8], 16),
                "width": request.width, "height": request.height, "fps": request.fps,
                "frames": round(request.seconds * request.fps), "seconds": request.seconds,
                "image": _upload(client, image, request) if image is not None else ""}
            graph = _fill(workflow, values)
            reply = client.request("POST", "prompt", json={"prompt": graph, "client_id": uuid.uuid4().hex},
                                   idempotent=False).json()
            if reply.get("node_errors"):
                raise ProviderError(f"comfyui refused the workflow: {json.dumps(reply['node_errors'])[:300]}")
            url = _wait(client, reply["prompt_id"])
            for attempt in range(2):  # a cut-short file decodes short: fetch it once more
                client.download(url, dest)
                try:
                    clip_seconds(dest)
                    return
                except BadMedia:
                    dest.unlink()
                    if attempt:
                        raise
        finally:
            client.close()


def _workflow() -> dict[str, Any]:
    path = os.environ.get("COMFYUI_WORKFLOW")
    if not path:
        raise InputError("the comfyui generator needs a workflow: set COMFYUI_WORKFLOW to an API-format JSON file.",
                         field="generator", hint="In ComfyUI: Workflow > Export (API).")
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the ComfyUI workflow: {exc}", file=path) from None


def _fill(node: Any, values: dict[str, Any]) -> Any:
    """The workflow with every ``{{name}}`` placeholder replaced (a whole-string one keeps its type)."""
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    if isinstance(node, str) and "{{" in node:
        for name, value in values.items():
            if node == f"{{{{{name}}}}}":
                return value
            node = node.replace(f"{{{{{name}}}}}", str(value))
    return node


def _upload(client: ApiClient, image: Path, request: ClipRequest) -> str:
    """Upload the first frame (fitted to the output size) to the server's input folder; its name there."""
    _, data = image_base64(image, (request.width, request.height))
    files = {"image": (f"mvpipe-{request.cache_key()[:16]}.png", base64.b64decode(data), "image/png")}
    resp = httpx.post(client.url("upload/image"), files=files, data={"type": "input", "overwrite": "true"},
                      timeout=60.0)
    if not resp.is_success:
        raise ProviderError(f"comfyui refused the image upload ({resp.status_code}): {resp.text[:200]}")
    body = resp.json()
    return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]


def _wait(client: ApiClient, prompt_id: str) -> str:
    """Poll ``/history/{id}`` until the prompt ends; the ``/view`` URL of its video."""
    timeout = float(os.environ.get("COMFYUI_TIMEOUT", "1800"))
    interval = float(os.environ.get("COMFYUI_POLL_INTERVAL", "1"))
    started = time.monotonic()
    while True:
        entry = client.request("GET", f"history/{prompt_id}").json().get(prompt_id)
        if entry:
            status = entry.get("status") or {}
            if status.get("status_str") == "error":
                messages = [m[1].get("exception_message", m[0]) for m in status.get("messages", [])
                            if m[0] == "execution_error"]
                raise ProviderError(f"comfyui: the workflow failed: {'; '.join(messages) or 'error'}")
            if status.get("completed", True):
                return _video(entry.get("outputs") or {})
        if time.monotonic() - started > timeout:
            raise MvpipeError(f"comfyui: prompt {prompt_id} did not finish within {timeout:g} s")
        time.sleep(interval)


def _video(outputs: dict[str, Any]) -> str:
    """The first video among the outputs (SaveVideo lists videos under ``images``; VHS under ``gifs``)."""
    for node in outputs.values():
        for key in ("videos", "gifs", "images"):
            for item in node.get(key) or []:
                if str(item.get("filename", "")).lower().endswith(_VIDEO_SUFFIXES):
                    query = httpx.QueryParams(filename=item["filename"], subfolder=item.get("subfolder", ""),
                                              type=item.get("type", "output"))
                    return f"view?{query}"
    raise ProviderError("comfyui: the workflow finished without saving a video (add a SaveVideo node)")
