"""ComfyUI: a server the user runs on their own GPU, driven through its HTTP API.

The user exports their video workflow in API format and marks the inputs mvpipe fills with
placeholder strings: ``"{{prompt}}"``, ``"{{negative_prompt}}"``, ``"{{seed}}"``, ``"{{width}}"``,
``"{{height}}"``, ``"{{frames}}"``, ``"{{fps}}"``, ``"{{seconds}}"`` and ``"{{image}}"`` (the first
frame, uploaded with ``/upload/image``). A placeholder that is a whole string becomes a typed value.
The job goes to ``POST /prompt``, is followed on ``/history/{prompt_id}`` and fetched from ``/view``.

It runs like any remote job (journal, polling, stall detection, verified download) and costs
nothing: its capabilities say ``local``. No key is needed; ``COMFYUI_API_KEY``, where set, goes as a
bearer token to a proxy in front. Settings: ``COMFYUI_URL`` (default ``http://127.0.0.1:8188``) and
``COMFYUI_WORKFLOW`` (the JSON file).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from mvpipe.errors import InputError
from mvpipe.generation.media import image_base64
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState
from mvpipe.generation.remote import ApiClient, ProviderError, RemoteProvider
from mvpipe.workspace import file_digest

_VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".gif")


class ComfyUIProvider(RemoteProvider):
    """A user's own ComfyUI workflow (local, free, any length)."""

    name = "comfyui"
    base_url = "http://127.0.0.1:8188"
    base_url_env = "COMFYUI_URL"
    key_env = "COMFYUI_API_KEY"
    key_required = False
    poll_interval = 1.0
    stall_timeout = 1800.0  # history shows no progress while a prompt renders: allow a long local render

    def models(self) -> list[Capabilities]:
        return [Capabilities(provider=self.name, model="workflow", references_as="first_frame", max_references=1,
                             first_frame=True, local=True, concurrency=1)]

    def key_inputs(self, request: ClipRequest) -> dict[str, str]:
        """The workflow file's digest: an edited workflow makes new takes."""
        path = os.environ.get("COMFYUI_WORKFLOW")
        return {"workflow": file_digest(Path(path))} if path and Path(path).is_file() else {}

    def warnings(self, client: ApiClient) -> list[str]:
        """None; a missing or unreadable workflow is bad input, refused here before any shot is submitted."""
        _workflow()
        return []

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        workflow = _workflow()
        values: dict[str, Any] = {
            "prompt": request.prompt, "negative_prompt": request.negative_prompt or "",
            "seed": request.seed if request.seed is not None else int(request.cache_key()[:8], 16),
            "width": request.width, "height": request.height, "fps": request.fps,
            "frames": round(request.seconds * request.fps), "seconds": request.seconds,
            "image": _upload(client, first_frame, request) if first_frame is not None else ""}
        reply = client.request("POST", "prompt", json={"prompt": _fill(workflow, values),
                                                       "client_id": uuid.uuid4().hex}, idempotent=False).json()
        if reply.get("node_errors"):
            raise ProviderError(f"comfyui refused the workflow: {json.dumps(reply['node_errors'])[:300]}")
        return reply["prompt_id"]

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        entry = client.request("GET", f"history/{job_id}").json().get(job_id)
        status = (entry or {}).get("status") or {}
        if status.get("status_str") == "error":
            messages = [m[1].get("exception_message", m[0]) for m in status.get("messages", [])
                        if m[0] == "execution_error"]
            return JobState(state="failed", error=f"the workflow failed: {'; '.join(messages) or 'error'}")
        if not entry or not status.get("completed", True):
            return JobState(state="running")  # queued or rendering: history lists a prompt only once it ends
        url = _video(entry.get("outputs") or {})
        return JobState(state="succeeded" if url else "failed", download_url=url,
                        error=None if url else "the workflow finished without saving a video (add a SaveVideo node)")

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        """Drop the prompt from the queue, or stop it where it is the one rendering."""
        client.request("POST", "queue", json={"delete": [job_id]})
        client.request("POST", "interrupt", json={"prompt_id": job_id})
        return True


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
    body = client.request("POST", "upload/image", files=files, data={"type": "input", "overwrite": "true"}).json()
    return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]


def _video(outputs: dict[str, Any]) -> str | None:
    """The ``/view`` URL of the first video among the outputs (SaveVideo lists videos under ``images``;
    VHS under ``gifs``)."""
    for node in outputs.values():
        for key in ("videos", "gifs", "images"):
            for item in node.get(key) or []:
                if str(item.get("filename", "")).lower().endswith(_VIDEO_SUFFIXES):
                    query = httpx.QueryParams(filename=item["filename"], subfolder=item.get("subfolder", ""),
                                              type=item.get("type", "output"))
                    return f"view?{query}"
    return None
