"""Runway's task API (``/v1/image_to_video``, ``/v1/text_to_video``, ``/v1/tasks/{id}``).

gen4 video models take references only as a first frame, so characters travel as a keyframe:
``gen4_image`` via ``/v1/text_to_image`` with up to three tagged ``referenceImages`` (the prompt
names them as ``@tag``, which Runway requires), then ``image_to_video`` from that keyframe. Output
URLs are signed and expire within 24-48 h; polling the task again gives fresh ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import httpx

from mvpipe.generation.media import data_uri
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState, RemoteProvider
from mvpipe.generation.remote import ApiClient, HeaderAuth

_STATES = {"PENDING": "queued", "THROTTLED": "queued", "RUNNING": "running", "SUCCEEDED": "succeeded",
           "FAILED": "failed", "CANCELLED": "cancelled"}
_KEYFRAME_RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "1:1": "1024:1024", "4:3": "1168:880"}


class RunwayProvider(RemoteProvider):
    """gen4 family; a keyframe (gen4_image, 5 credits at 720p) carries the characters."""

    name = "runway"
    base_url = "https://api.dev.runwayml.com"
    base_url_env = "RUNWAYML_BASE_URL"
    key_env = "RUNWAYML_API_SECRET"
    poll_interval = 6.0  # the SDK's wait_for_task_output cadence

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        return HeaderAuth({"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"})

    def models(self) -> list[Capabilities]:
        # Facts from research/providers.md §2: SDK create params (ratios, 2-10 s integer durations, also
        # listed by a reseller for gen4_turbo), Runway's skills price table (5 / 12 credits per second,
        # gen4_image 5 credits at 720p, $0.01 a credit), tier 1 concurrency 1-2.
        common = dict(provider=self.name, duration_range=(2.0, 10.0), duration_step=1.0, max_references=3,
                      references_as="first_frame", first_frame=True, keyframe_model="gen4_image",
                      keyframe_price=0.05, key_env=[self.key_env], concurrency=2)
        wide = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "960x960", "4:3": "1104x832", "3:4": "832x1104"}
        return [
            Capabilities(model="gen4_turbo", sizes=wide, price_per_second=0.05, requires_first_frame=True, **common),
            Capabilities(model="gen4.5", sizes={"16:9": "1280x720", "9:16": "720x1280"}, price_per_second=0.12,
                         **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        body: dict[str, object] = {"model": request.model, "promptText": request.prompt[:1000],
                                   "ratio": f"{request.width}:{request.height}", "duration": round(request.seconds)}
        if request.seed is not None:
            body["seed"] = request.seed
        if first_frame is not None:
            body["promptImage"] = data_uri(first_frame)
        path = "v1/image_to_video" if first_frame is not None else "v1/text_to_video"
        return client.request("POST", path, json=body, idempotent=False).json()["id"]

    def submit_keyframe(self, request: ClipRequest, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        prompt, refs = request.prompt, []
        for character in request.characters:
            if not character.references or len(refs) >= caps.max_references:
                continue
            tag = _tag(character.name)
            refs.append({"uri": data_uri(character.references[0]), "tag": tag})
            mentioned = re.subn(rf"(?<![@\w]){re.escape(character.name)}\b", f"@{tag}", prompt, flags=re.I)
            prompt = mentioned[0] if mentioned[1] else f"@{tag} {prompt}"
        body: dict[str, object] = {"model": caps.keyframe_model, "promptText": prompt[:1000],
                                   "ratio": _KEYFRAME_RATIOS.get(request.aspect, "1024:1024")}
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
                        download_url=(task.get("output") or [None])[0])

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("DELETE", f"v1/tasks/{job_id}")
        return True


def _tag(name: str) -> str:
    """A Runway reference tag for a character: 3-16 chars, a letter first, then letters, digits, '_'."""
    tag = re.sub(r"\W", "_", name)
    tag = tag if tag[:1].isalpha() else f"c_{tag}"
    return tag.ljust(3, "_")[:16]
