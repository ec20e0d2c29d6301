"""Luma: the Dream Machine API (ray-2, ray-flash-2) and the newer Agents API (ray-3.2).

Both create ``/generations`` and poll ``/generations/{id}``; they differ in field names. Dream
Machine takes keyframes (``keyframes.frame0/frame1``) only as image URLs, which mvpipe has none
of for local files, so its models declare no first frame and characters reach them in words only;
the Agents API takes inline images (``video.start_frame`` as ``{data, media_type}``), so ray-3.2
gets characters as a first frame. Neither makes sound. Agents output links expire after an hour.
An interrupted submit is found again on Dream Machine by its generation list (each generation echoes
its request); the Agents API documents no list, so there it is submitted again, with a warning.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from mvpipe.generation.media import image_base64
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState, RemoteProvider
from mvpipe.generation.remote import ApiClient, ProviderError

_STATES = {"queued": "queued", "dreaming": "running", "processing": "running", "completed": "succeeded",
           "failed": "failed"}
_SIZES_720 = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "720x720"}
_ASPECTS = {"4:5": "3:4"}  # storyboard aspects Luma lacks -> the nearest it has


class LumaProvider(RemoteProvider):
    """Dream Machine: 5 s or 9 s, text only (keyframes would need public image URLs)."""

    name = "luma"
    base_url = "https://api.lumalabs.ai/dream-machine/v1"
    base_url_env = "LUMAAI_BASE_URL"
    key_env = "LUMAAI_API_KEY"
    poll_interval = 5.0

    def models(self) -> list[Capabilities]:
        # Per generation at 720p (third-party transcription of Luma's rates): ray-2 5 s $0.71, 9 s $1.27.
        common = dict(provider=self.name, durations=[5.0, 9.0], sizes=_SIZES_720, key_env=[self.key_env],
                      concurrency=2, price_per_second=0.142)
        return [Capabilities(model="ray-2", **common), Capabilities(model="ray-flash-2", **common)]

    def body(self, request: ClipRequest, first_frame: Path | None) -> dict[str, Any]:
        if first_frame is not None:
            raise ProviderError("luma's Dream Machine API takes a first frame only as a public image URL; "
                                "use luma-agents:ray-3.2 for shots that start from an image")
        return {"model": request.model, "prompt": request.prompt, "generation_type": "video",
                "aspect_ratio": _ASPECTS.get(request.aspect, request.aspect),
                "duration": f"{request.seconds:g}s", "resolution": "720p"}

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        return client.request("POST", "generations", json=self.body(request, first_frame),
                              idempotent=False).json()["id"]

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        gen = client.request("GET", f"generations/{job_id}").json()
        state = _STATES.get(gen.get("state", ""), "running")
        reason = " ".join(str(gen[k]) for k in ("failure_reason", "failure_code") if gen.get(k))
        return JobState(state=state, error=(reason or "generation failed") if state == "failed" else None,
                        download_url=self.video_url(gen))

    def video_url(self, gen: dict[str, Any]) -> str | None:
        return (gen.get("assets") or {}).get("video")

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        """Generations made since ``since`` whose echoed ``request`` is this clip's (``GET /generations``
        lists newest first and each generation carries the body it was created from)."""
        want = self.body(request, None)
        gens = client.request("GET", "generations", params={"limit": 100, "offset": 0}).json()["generations"]
        return [g["id"] for g in gens if _created(g) >= since
                and all((g.get("request") or {}).get(k) == v for k, v in want.items())]


class LumaAgentsProvider(LumaProvider):
    """Agents API: ray-3.2, 5 s or 10 s, first and last frame inline."""

    name = "luma-agents"
    base_url = "https://agents.lumalabs.ai/v1"
    base_url_env = "LUMA_AGENTS_BASE_URL"
    key_env = "LUMA_AGENTS_API_KEY"

    def models(self) -> list[Capabilities]:
        # No captured list price; fal resells ray-3.2 at 720p for $1.08 per 5 s.
        return [Capabilities(provider=self.name, model="ray-3.2", durations=[5.0, 10.0], sizes=_SIZES_720,
                             references_as="first_frame", max_references=1, first_frame=True, last_frame=True,
                             key_env=[self.key_env], concurrency=2, price_per_second=0.216)]

    def body(self, request: ClipRequest, first_frame: Path | None) -> dict[str, Any]:
        video: dict[str, Any] = {"duration": f"{request.seconds:g}s", "resolution": "720p"}
        if first_frame is not None:
            mime, data = image_base64(first_frame, (request.width, request.height))
            video["start_frame"] = {"data": data, "media_type": mime}
        return {"prompt": request.prompt, "type": "video", "model": request.model,
                "aspect_ratio": _ASPECTS.get(request.aspect, request.aspect), "video": video}

    def video_url(self, gen: dict[str, Any]) -> str | None:
        return next((o["url"] for o in gen.get("output") or [] if o.get("type") == "video"), None)

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        return None  # no list of generations is documented for the Agents API


def _created(gen: dict[str, Any]) -> float:
    """A generation's ``created_at`` (ISO 8601) as a Unix time; 0 when missing or unreadable."""
    try:
        return datetime.fromisoformat(str(gen.get("created_at")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
