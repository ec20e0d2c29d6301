"""Luma: the Dream Machine API (ray-2, ray-flash-2) and the newer Agents API (ray-3.2).

Dream Machine creates at ``POST /generations/video`` (its current OpenAPI; ``/generations`` is GET-only
there), the Agents API at ``POST /generations``; both poll ``/generations/{id}`` and differ in field names. Dream
Machine takes keyframes (``keyframes.frame0/frame1``) only as image URLs, which mvpipe has none
of for local files, so its models declare no first frame and characters reach them in words only;
the Agents API takes inline images (``video.start_frame`` as ``{data, media_type}``), so ray-3.2
gets characters as a first frame. Neither makes sound. Agents output links expire after an hour.
An interrupted submit is found again on Dream Machine by its generation list (each generation echoes
its request); the Agents API documents no list, so there it is submitted again, with a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvpipe.generation.media import image_base64
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, JobState, Shape, shape_table
from mvpipe.generation.remote import ApiClient, ProviderError, RemoteProvider, unix_time

_STATES = {"queued": "queued", "dreaming": "running", "processing": "running", "completed": "succeeded",
           "failed": "failed"}
_DM_ASPECTS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
_AGENT_ASPECTS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")


def _luma_shapes(aspects: tuple[str, ...], p720: float, p1080: float) -> list[Shape]:
    """720p and 1080p at each aspect, the shortest side being the resolution."""
    def sizes(short: int) -> dict[str, tuple[int, int]]:
        out = {}
        for aspect in aspects:
            a, b = (int(n) for n in aspect.split(":"))
            out[aspect] = (round(short * a / b / 2) * 2, short) if a >= b else (short, round(short * b / a / 2) * 2)
        return out
    return [*shape_table(sizes(720), "720p", p720), *shape_table(sizes(1080), "1080p", p1080)]


class LumaProvider(RemoteProvider):
    """Dream Machine: 5 s or 9 s, text only (keyframes would need public image URLs)."""

    name = "luma"
    base_url = "https://api.lumalabs.ai/dream-machine/v1"
    base_url_env = "LUMAAI_BASE_URL"
    key_env = "LUMAAI_API_KEY"
    poll_interval = 5.0
    create_path = "generations/video"

    def models(self) -> list[Capabilities]:
        # Luma's OpenAPI (lumalabs/lumaai-api openapi.yaml @2520034, 2025-06-24; checked 2026-12-02): create at
        # POST /generations/video; `AspectRatio` 1:1, 16:9, 9:16, 4:3, 3:4, 21:9, 9:21; resolution 540p, 720p,
        # 1080p, 4k; duration "5s"/"9s". Luma states no pixel sizes: the shortest side is the resolution.
        # Prices per generation (Comfy-Org/docs PR #514, third-party; no official list was reachable): ray-2 720p
        # $0.71 / 5 s, $1.27 / 9 s; 1080p $1.59 / 5 s, $2.87 / 9 s. ray-flash-2 at the same page's 4k ratio (0.344).
        common = dict(provider=self.name, durations=[5.0, 9.0], key_env=[self.key_env], concurrency=2)
        return [Capabilities(model="ray-2", shapes=_luma_shapes(_DM_ASPECTS, 0.142, 0.318), **common),
                Capabilities(model="ray-flash-2", shapes=_luma_shapes(_DM_ASPECTS, 0.049, 0.109), **common)]

    def body(self, request: ClipRequest, first_frame: Path | None) -> dict[str, Any]:
        if first_frame is not None:
            raise ProviderError("luma's Dream Machine API takes a first frame only as a public image URL; "
                                "use luma-agents:ray-3.2 for shots that start from an image")
        return {"model": request.model, "prompt": request.prompt, "generation_type": "video",
                "aspect_ratio": request.aspect, "duration": f"{request.seconds:g}s",
                "resolution": request.resolution or "720p"}

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        return client.request("POST", self.create_path, json=self.body(request, first_frame),
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
        return [g["id"] for g in gens if unix_time(g.get("created_at")) >= since
                and all((g.get("request") or {}).get(k) == v for k, v in want.items())]


class LumaAgentsProvider(LumaProvider):
    """Agents API: ray-3.2, 5 s or 10 s, first and last frame inline."""

    name = "luma-agents"
    base_url = "https://agents.lumalabs.ai/v1"
    base_url_env = "LUMA_AGENTS_BASE_URL"
    key_env = "LUMA_AGENTS_API_KEY"
    create_path = "generations"

    def models(self) -> list[Capabilities]:
        # luma-agents-python (2026-06-09; checked 2026-12-02): video.duration "5s"/"10s", video.resolution 540p,
        # 720p, 1080p, start_frame {data, media_type}; ray-3.2 video aspects 9:16, 3:4, 1:1, 4:3, 16:9, 21:9 (Comfy,
        # third-party). "10s clips support text-to-video only" (Luma's ray-3.2 readme on Replicate): with a first
        # frame only 5 s. No list price was captured; fal resells ray-3.2 at $0.72 (540p), $1.08 (720p), $2.16
        # (1080p) per 5 s, used here.
        return [Capabilities(provider=self.name, model="ray-3.2", durations=[5.0, 10.0], first_frame_durations=[5.0],
                             shapes=_luma_shapes(_AGENT_ASPECTS, 0.216, 0.432), references_as="first_frame",
                             max_references=1, first_frame=True, key_env=[self.key_env], concurrency=2,
                             reference_limit=ImageLimit(max_side=2048, max_bytes=10_000_000))]

    def body(self, request: ClipRequest, first_frame: Path | None) -> dict[str, Any]:
        video: dict[str, Any] = {"duration": f"{request.seconds:g}s", "resolution": request.resolution or "720p"}
        if first_frame is not None:
            mime, data = image_base64(first_frame, (request.width, request.height),
                                      self.capabilities(request.model).reference_limit)
            video["start_frame"] = {"data": data, "media_type": mime}
        return {"prompt": request.prompt, "type": "video", "model": request.model,
                "aspect_ratio": request.aspect, "video": video}

    def video_url(self, gen: dict[str, Any]) -> str | None:
        return next((o["url"] for o in gen.get("output") or [] if o.get("type") == "video"), None)

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        return None  # no list of generations is documented for the Agents API

