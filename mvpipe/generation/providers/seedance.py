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
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, JobState, Shape
from mvpipe.generation.remote import ApiClient, RemoteProvider

_STATES = {"queued": "queued", "running": "running", "succeeded": "succeeded", "failed": "failed",
           "cancelled": "cancelled", "expired": "failed"}
_V2_720 = {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112), "9:16": (720, 1280),
           "21:9": (1470, 630)}
_V1_720 = {"16:9": (1248, 704), "4:3": (1120, 832), "1:1": (960, 960), "3:4": (832, 1120), "9:16": (704, 1248),
           "21:9": (1504, 640)}
_V1_1080 = {"16:9": (1920, 1088), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
            "9:16": (1088, 1920), "21:9": (2176, 928)}


def _tokens(sizes: dict[str, tuple[int, int]], resolution: str, usd_per_million: float,
            audio: bool = False) -> list[Shape]:
    """Shapes priced as Ark bills them: width x height x 24 fps / 1024 tokens a second."""
    return [Shape(width=w, height=h, aspect=aspect, resolution=resolution,
                  price=round(w * h * 24 / 1024 * usd_per_million / 1e6, 5),
                  audio_price=round(w * h * 24 / 1024 * usd_per_million / 1e6, 5) if audio else None)
            for aspect, (w, h) in sizes.items()]


class SeedanceProvider(RemoteProvider):
    """Seedance 2.0 (4-15 s, 9 native references, audio) and 1.0 pro (2-12 s, first frame)."""

    name = "seedance"
    base_url = "https://ark.ap-southeast.bytepluses.com/api/v3"
    base_url_env = "ARK_BASE_URL"
    key_env = "ARK_API_KEY"
    poll_interval = 10.0
    stall_timeout = 3600.0  # no progress is reported; a task may queue long (execution_expires_after: 48 h default)

    def models(self) -> list[Capabilities]:
        # ratio 16:9, 4:3, 1:1, 3:4, 9:16, 21:9 (+ adaptive) and resolution 480p / 720p / 1080p (2.0: no 1080p):
        # BytePlus create-task page (checked 2026-12-02). Pixels per ratio: Volcengine's
        # price table for 1.x (1248x704 ... at 720p, 1920x1088 ... at 1080p) and Seedance 2.0's (1280x720 ... at
        # 720p). Billing: tokens = width x height x fps x seconds / 1024 at 24 fps, successful tasks only;
        # 2.0 $7.0 / M tokens (BytePlus pricing, 2026-09-28, [3p-cap]); 1.0 pro $2.5 / M tokens (third-party).
        # Images: 300-6000 px a side, < 30 MB (third-party copies of the 2.0 reference limits).
        common = dict(provider=self.name, duration_step=1.0, first_frame=True, key_env=[self.key_env], concurrency=4,
                      reference_limit=ImageLimit(max_side=6000, min_side=300, max_bytes=30_000_000))
        return [
            Capabilities(model="dreamina-seedance-2-0-260128", duration_range=(4.0, 15.0), references_as="native",
                         max_references=9, native_audio=True, shapes=_tokens(_V2_720, "720p", 7.0, audio=True),
                         **common),
            Capabilities(model="seedance-1-0-pro-250528", duration_range=(2.0, 12.0), references_as="first_frame",
                         max_references=1, shapes=[*_tokens(_V1_720, "720p", 2.5), *_tokens(_V1_1080, "1080p", 2.5)],
                         **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
        limit = caps.reference_limit
        if first_frame is not None:
            content.append(_image(first_frame, "first_frame", limit, (request.width, request.height)))
        elif caps.references_as == "native":
            content += [_image(p, "reference_image", limit) for p in request.references[:caps.max_references]]
        body: dict[str, Any] = {"model": request.model, "content": content, "duration": round(request.seconds),
                                "ratio": request.aspect, "resolution": request.resolution or "720p",
                                "watermark": False}
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

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        """Tasks of this model created since ``since`` that are not failed or cancelled, newest first
        (``GET /contents/generations/tasks`` with ``filter.model``: the Ark SDK's ``tasks.list``; items carry
        id, model, status, created_at in Unix seconds)."""
        reply = client.request("GET", "contents/generations/tasks",
                               params={"page_num": 1, "page_size": 100, "filter.model": request.model}).json()
        items = [t for t in reply.get("items") or [] if t.get("model") == request.model
                 and t.get("status") in ("queued", "running", "succeeded") and t.get("created_at", 0) >= int(since)
                 and all(t.get(k, v) == v for k, v in (("ratio", request.aspect), ("resolution", request.resolution),
                                                       ("duration", round(request.seconds))))]
        return [t["id"] for t in sorted(items, key=lambda t: -t.get("created_at", 0))]

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("DELETE", f"contents/generations/tasks/{job_id}")
        return True


def _image(path: Path, role: str, limit: ImageLimit | None, size: tuple[int, int] | None = None) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_uri(path, size, limit)}, "role": role}
