"""The OpenAI Videos API protocol (``/v1/videos``), as spoken by OpenAI and by gateways.

OpenAI's own endpoint for it shut down on 2026-09-24 (Sora API deprecation); gateways keep
speaking the protocol, so point ``OPENAI_BASE_URL`` at one. References travel as the first frame
(``input_reference``, fitted to exactly the output ``size``, which the API requires); characters
registered with ``POST /videos/characters`` go by id in ``characters`` where the storyboard gives one
(the API also wants the character's name in the prompt, which the planner's description carries).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from mvpipe.generation.media import data_uri
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, JobState, shape_table
from mvpipe.generation.remote import ApiClient, RemoteProvider

_STATES = {"queued": "queued", "in_progress": "running", "completed": "succeeded", "failed": "failed"}
_RETIRED = date(2026, 9, 24)


class OpenAIVideosProvider(RemoteProvider):
    """Sora-family models over the Videos API (JSON body, polling, ``/content`` download)."""

    name = "openai"
    base_url = "https://api.openai.com/v1"
    base_url_env = "OPENAI_BASE_URL"
    key_env = "OPENAI_API_KEY"
    poll_interval = 10.0  # the guide's 10-20 s; the ``openai-poll-after-ms`` header overrides it

    def models(self) -> list[Capabilities]:
        # Sizes: the spec's VideoSize enum (../shared/contracts/openai-openapi.yaml `VideoSize`: 720x1280, 1280x720,
        # 1024x1792, 1792x1024; checked 2026-12-02); the guide gives the 1024/1792 sizes to sora-2-pro only. The
        # guide's 1920x1080 is not in the spec's enum, so it is not sent. Seconds: `VideoSeconds` "4","8","12".
        # Prices: OpenAI's pricing page (a copy, checked 2026-12-02): sora-2 $0.10/s;
        # sora-2-pro $0.30/s at 720x1280, $0.50/s at 1024x1792. Sound is always on and costs nothing extra.
        # input_reference: one image, <= 20 MB (spec `ImageRefParam`), the size of the video; faces are refused
        # ("Input images with faces of humans are currently rejected", video-generation guide, checked 2026-12-02).
        common = dict(provider=self.name, durations=[4.0, 8.0, 12.0], max_references=1,
                      references_as="first_frame", first_frame=True, native_audio=True, retires=_RETIRED,
                      key_env=[self.key_env], concurrency=4, refuses_faces=True,
                      reference_limit=ImageLimit(max_side=1792, max_bytes=20_000_000))
        hd = {"16:9": (1280, 720), "9:16": (720, 1280)}
        return [
            Capabilities(model="sora-2", shapes=shape_table(hd, "720p", 0.10, 0.10), **common),
            Capabilities(model="sora-2-pro", shapes=[
                *shape_table(hd, "720p", 0.30, 0.30),
                *shape_table({"16:9": (1792, 1024), "9:16": (1024, 1792)}, "1024p", 0.50, 0.50)], **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        body: dict[str, object] = {"model": request.model, "prompt": request.prompt,
                                   "seconds": f"{request.seconds:g}", "size": f"{request.width}x{request.height}"}
        if first_frame is not None:
            limit = self.capabilities(request.model).reference_limit
            body["input_reference"] = {"image_url": data_uri(first_frame, (request.width, request.height), limit)}
        ids = [{"id": c.ids[self.name]} for c in request.characters if self.name in c.ids]
        if ids:
            body["characters"] = ids[:2]  # "A single video can include up to two characters"
        return client.request("POST", "videos", json=body, idempotent=False).json()["id"]

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        resp = client.request("GET", f"videos/{job_id}")
        video = resp.json()
        hint = resp.headers.get("openai-poll-after-ms")
        error = video.get("error") or {}
        return JobState(state=_STATES.get(video["status"], "running"), progress=video.get("progress"),
                        error=_reason(error) if error else None, expires_at=video.get("expires_at"),
                        download_url=f"videos/{job_id}/content" if video["status"] == "completed" else None,
                        poll_after=float(hint) / 1000 if hint else None)

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        videos = client.request("GET", "videos", params={"limit": 100, "order": "desc"}).json()["data"]
        want = (request.model, request.prompt, f"{request.width}x{request.height}", f"{request.seconds:g}")
        return [v["id"] for v in videos if v.get("created_at", 0) >= int(since)
                and (v.get("model"), v.get("prompt"), v.get("size"), v.get("seconds")) == want]

    def warnings(self, client: ApiClient) -> list[str]:
        if "api.openai.com" in client.base_url and time.time() >= time.mktime(_RETIRED.timetuple()):
            return [f"OpenAI's own Videos API shut down on {_RETIRED.isoformat()}; set OPENAI_BASE_URL to a "
                    "gateway that still speaks the protocol"]
        return []


def _reason(error: dict[str, object]) -> str:
    code, message = error.get("code"), error.get("message") or "generation failed"
    return f"{message} ({code})" if code else str(message)
