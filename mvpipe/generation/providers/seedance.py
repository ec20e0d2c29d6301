"""ByteDance Seedance on BytePlus ModelArk (``/contents/generations/tasks``).

A task's ``content`` is the prompt plus images with roles: ``first_frame`` / ``last_frame`` for
keyframe mode, or up to nine ``reference_image`` (2.0) for reference mode; the API refuses a mix,
so a first frame (a chained shot) wins over references. Output settings are top-level fields.
2.0 makes sound unless ``generate_audio`` is false, which is what we send unless a shot asks.
Moderation (``*SensitiveContentDetected``, 400) and ``AccountOverdueError`` (403) fail at once;
rate limits (429) are retried by the shared client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvpipe.generation.media import data_uri
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState, RemoteProvider
from mvpipe.generation.remote import ApiClient

_STATES = {"queued": "queued", "running": "running", "succeeded": "succeeded", "failed": "failed",
           "cancelled": "cancelled", "expired": "failed"}
_RATIOS = {"16:9", "4:3", "1:1", "3:4", "9:16", "21:9"}


class SeedanceProvider(RemoteProvider):
    """Seedance 2.0 (4-15 s, 9 native references, audio) and 1.0 pro (2-12 s, first frame)."""

    name = "seedance"
    base_url = "https://ark.ap-southeast.bytepluses.com/api/v3"
    base_url_env = "ARK_BASE_URL"
    key_env = "ARK_API_KEY"
    poll_interval = 10.0

    def models(self) -> list[Capabilities]:
        common = dict(provider=self.name, duration_step=1.0, first_frame=True, last_frame=True,
                      key_env=[self.key_env], concurrency=4)
        # Billed by tokens = w*h*fps*s/1024; the USD per second below are that at 24 fps and the
        # third-party-reported token prices (2.0 ~46 CNY/M, 1.0 pro $2.5/M): estimates, not list prices.
        return [
            Capabilities(model="dreamina-seedance-2-0-260128", duration_range=(4.0, 15.0), references_as="native",
                         max_references=9, native_audio=True, price_per_second=0.14,
                         sizes={"16:9": "1280x720", "9:16": "720x1280", "1:1": "960x960"}, **common),
            Capabilities(model="seedance-1-0-pro-250528", duration_range=(2.0, 12.0), references_as="first_frame",
                         max_references=1, price_per_second=0.12, price_by_size={"1280x720": 0.054},
                         sizes={"16:9": "1920x1080", "9:16": "1080x1920", "1:1": "1440x1440"}, **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
        if first_frame is not None:
            content.append(_image(first_frame, "first_frame", (request.width, request.height)))
        elif caps.references_as == "native":
            content += [_image(p, "reference_image") for p in request.references[:caps.max_references]]
        size = caps.native_size(request.aspect) or f"{request.width}x{request.height}"
        body: dict[str, Any] = {"model": request.model, "content": content, "duration": round(request.seconds),
                                "ratio": request.aspect if request.aspect in _RATIOS else "adaptive",
                                "resolution": f"{min(int(n) for n in size.split('x'))}p", "watermark": False}
        if request.seed is not None:
            body["seed"] = request.seed
        if caps.native_audio:
            body["generate_audio"] = request.audio
        return client.request("POST", "contents/generations/tasks", json=body, idempotent=False).json()["id"]

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        task = client.request("GET", f"contents/generations/tasks/{job_id}").json()
        status = task.get("status", "running")
        error = task.get("error") or {}
        reason = f"{error.get('message', status)} ({error.get('code')})" if error else f"the task {status}"
        state = _STATES.get(status, "running")
        return JobState(state=state, error=reason if state == "failed" else None,
                        download_url=(task.get("content") or {}).get("video_url"))

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("DELETE", f"contents/generations/tasks/{job_id}")
        return True


def _image(path: Path, role: str, size: tuple[int, int] | None = None) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_uri(path, size)}, "role": role}
