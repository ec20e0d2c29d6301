"""Google Veo 3.1 on the Gemini API (``models/{model}:predictLongRunning`` + operation polling).

References travel natively: up to three ``referenceImages`` with ``referenceType: "asset"``,
which the API allows only for 8 s clips and not together with a first frame (a chained first
frame wins; the shared description text still rides in the prompt). The Gemini API always makes
sound with Veo 3.x and refuses ``generateAudio``/``seed``, so neither is sent. Clips stay on the
server two days; their download URI wants the same ``x-goog-api-key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from mvpipe.generation.media import image_base64
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState, RemoteProvider
from mvpipe.generation.remote import ApiClient, HeaderAuth


class VeoProvider(RemoteProvider):
    """Veo 3.1 (standard and fast) through ``generativelanguage.googleapis.com``."""

    name = "veo"
    base_url = "https://generativelanguage.googleapis.com"
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    key_env = "GEMINI_API_KEY"
    poll_interval = 10.0  # the docs' examples poll every 10 s; latency is 11 s to 6 min

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        return HeaderAuth({"x-goog-api-key": key})

    def models(self) -> list[Capabilities]:
        # research/providers.md §4a: Gemini API docs (4/6/8 s, 8 s with references, 16:9 and 9:16 at 720p,
        # up to 3 asset references, first and last frame). Prices per second are third-party copies of
        # Google's page (0.40 standard; 0.10 fast at 720p), not confirmed from Google itself.
        common = dict(provider=self.name, durations=[4.0, 6.0, 8.0], reference_durations=[8.0],
                      sizes={"16:9": "1280x720", "9:16": "720x1280"}, max_references=3, references_as="native",
                      first_frame=True, last_frame=True, native_audio=True, key_env=[self.key_env], concurrency=2)
        return [
            Capabilities(model="veo-3.1-generate-preview", price_per_second=0.40, **common),
            Capabilities(model="veo-3.1-fast-generate-preview", price_per_second=0.10, **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        instance: dict[str, object] = {"prompt": request.prompt}
        if first_frame is not None:
            instance["image"] = _image(first_frame)
        elif request.references:
            instance["referenceImages"] = [{"image": _image(p), "referenceType": "asset"}
                                           for p in request.references[:caps.max_references]]
        conditioned = "image" in instance or "referenceImages" in instance
        parameters: dict[str, object] = {"aspectRatio": request.aspect,
                                         "durationSeconds": round(caps.seconds_for(request)),
                                         "personGeneration": "allow_adult" if conditioned else "allow_all"}
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        body = {"instances": [instance], "parameters": parameters}
        path = f"v1beta/models/{request.model}:predictLongRunning"
        return client.request("POST", path, json=body, idempotent=False).json()["name"]

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        op = client.request("GET", f"v1beta/{job_id}").json()
        if not op.get("done"):
            return JobState(state="running")
        if error := op.get("error"):
            return JobState(state="failed", error=f"{error.get('message')} ({error.get('status', error.get('code'))})")
        result = (op.get("response") or {}).get("generateVideoResponse") or {}
        samples = result.get("generatedSamples") or []
        if not samples:
            reasons = "; ".join(result.get("raiMediaFilteredReasons") or []) or "no video came back"
            return JobState(state="failed", error=f"blocked by safety filters: {reasons}")
        return JobState(state="succeeded", progress=100.0, download_url=samples[0]["video"]["uri"])


def _image(path: Path) -> dict[str, str]:
    mime, b64 = image_base64(path)
    return {"bytesBase64Encoded": b64, "mimeType": mime}
