"""Runway's task API (``/v1/image_to_video``, ``/v1/text_to_video``, ``/v1/tasks/{id}``).

gen4 video models take references only as a first frame, so characters travel as a keyframe:
``gen4_image`` via ``/v1/text_to_image`` with up to three tagged ``referenceImages`` (the prompt
names them as ``@tag``, which Runway requires), then ``image_to_video`` from that keyframe. Output
URLs are signed and expire within 24-48 h; polling the task again gives fresh ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import httpx

from mvpipe.generation.media import data_uri
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, JobState, shape_table
from mvpipe.generation.remote import ApiClient, HeaderAuth, RemoteProvider

_STATES = {"PENDING": "queued", "THROTTLED": "queued", "RUNNING": "running", "SUCCEEDED": "succeeded",
           "FAILED": "failed", "CANCELLED": "cancelled"}
# gen4_image's 720p-class ratios (sdk-python text_to_image_create_params.py `Gen4Image.ratio`, checked 2026-12-02;
# 5 credits each): the keyframe takes the one nearest the clip's shape.
_KEYFRAME_RATIOS = ((1280, 720), (720, 1280), (720, 720), (960, 720), (720, 960), (1680, 720))


class RunwayProvider(RemoteProvider):
    """gen4 family; a keyframe (gen4_image, 5 credits at 720p) carries the characters."""

    name = "runway"
    base_url = "https://api.dev.runwayml.com"
    base_url_env = "RUNWAYML_BASE_URL"
    key_env = "RUNWAYML_API_SECRET"
    poll_interval = 6.0  # the SDK's wait_for_task_output cadence
    stall_timeout = 900.0  # tasks report progress; 15 min with none moving is stuck

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        return HeaderAuth({"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"})

    def models(self) -> list[Capabilities]:
        # Ratios: runwayml/sdk-python types (checked 2026-12-02): image_to_video_create_params.py `Gen4Turbo.ratio`
        # 1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672; text_to_video_create_params.py `Gen4_5.ratio`
        # only 1280:720 and 720:1280 (so gen4.5, which may go either way, declares those two). Duration: integer
        # 2-10. Prices: Runway's skills rw-api-reference (checked 2026-12-02): 5 / 12 credits a second, gen4_image
        # 5 credits at 720p, $0.01 a credit. Inline images: data URIs up to 5 MB (same reference). Tier 1: 1-2 at once.
        common = dict(provider=self.name, duration_range=(2.0, 10.0), duration_step=1.0, max_references=3,
                      references_as="first_frame", first_frame=True, keyframe_model="gen4_image",
                      keyframe_price=0.05, key_env=[self.key_env], concurrency=2,
                      reference_limit=ImageLimit(max_side=2048, max_bytes=3_600_000))  # 5 MB once base64'd
        wide = {"1280:720": (1280, 720), "720:1280": (720, 1280), "1104:832": (1104, 832),
                "832:1104": (832, 1104), "960:960": (960, 960), "1584:672": (1584, 672)}
        both = {k: wide[k] for k in ("1280:720", "720:1280")}
        return [
            Capabilities(model="gen4_turbo", shapes=shape_table(wide, "720p", 0.05), requires_first_frame=True,
                         **common),
            Capabilities(model="gen4.5", shapes=shape_table(both, "720p", 0.12), **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        body: dict[str, object] = {"model": request.model, "promptText": request.prompt[:1000],
                                   "ratio": request.aspect, "duration": round(request.seconds)}
        if request.seed is not None:
            body["seed"] = request.seed
        if first_frame is not None:
            body["promptImage"] = data_uri(first_frame, (request.width, request.height),
                                           self.capabilities(request.model).reference_limit)
        path = "v1/image_to_video" if first_frame is not None else "v1/text_to_video"
        return client.request("POST", path, json=body, idempotent=False).json()["id"]

    def submit_keyframe(self, request: ClipRequest, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        prompt, refs = request.prompt, []
        for character in request.characters:
            if not character.references or len(refs) >= caps.max_references:
                continue
            tag = _tag(character.name)
            refs.append({"uri": data_uri(character.references[0], None, caps.reference_limit), "tag": tag})
            mentioned = re.subn(rf"(?<![@\w]){re.escape(character.name)}\b", f"@{tag}", prompt, flags=re.I)
            prompt = mentioned[0] if mentioned[1] else f"@{tag} {prompt}"
        body: dict[str, object] = {"model": caps.keyframe_model, "promptText": prompt[:1000],
                                   "ratio": _keyframe_ratio(request.width, request.height)}
        if refs:
            body["referenceImages"] = refs
        return client.request("POST", "v1/text_to_image", json=body, idempotent=False).json()["id"]

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        task = client.request("GET", f"v1/tasks/{job_id}").json()
        state = _STATES.get(task["status"], "running")
        failure = task.get("failure")
        code = task.get("failureCode")
        progress = task.get("progress")
        return JobState(state=state, progress=progress * 100 if progress is not None else None,
                        error=f"{failure} ({code})" if failure and code else failure,
                        retryable=(code or "").startswith("INTERNAL"),  # Runway: retry these; not SAFETY.*
                        billed=state == "failed" and (code or "").startswith("SAFETY.INPUT"),  # "not refundable"
                        download_url=(task.get("output") or [None])[0])

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("DELETE", f"v1/tasks/{job_id}")
        return True


def _keyframe_ratio(width: int, height: int) -> str:
    w, h = min(_KEYFRAME_RATIOS, key=lambda r: abs(math.log(r[0] / r[1] * height / width)))
    return f"{w}:{h}"


def _tag(name: str) -> str:
    """A Runway reference tag for a character: 3-16 chars, a letter first, then letters, digits, '_'."""
    tag = re.sub(r"\W", "_", name)
    tag = tag if tag[:1].isalpha() else f"c_{tag}"
    return tag.ljust(3, "_")[:16]
