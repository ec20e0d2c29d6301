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
from mvpipe.generation.provider import Capabilities, ClipRequest, ImageLimit, JobState, Shape, shape_table
from mvpipe.generation.remote import ApiClient, HeaderAuth, RemoteProvider


class VeoProvider(RemoteProvider):
    """Veo 3.1 (standard and fast) through ``generativelanguage.googleapis.com``."""

    name = "veo"
    base_url = "https://generativelanguage.googleapis.com"
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    key_env = "GEMINI_API_KEY"
    poll_interval = 10.0  # the docs' examples poll every 10 s; latency is 11 s to 6 min
    stall_timeout = 1200.0  # the operation reports no progress; the docs give at most 6 min at peak

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        return HeaderAuth({"x-goog-api-key": key})

    def models(self) -> list[Capabilities]:
        # ai.google.dev/gemini-api/docs/video (updated 2026-03-05, checked 2026-12-02): durationSeconds 4/6/8, "must
        # be 8" with reference images or at 1080p; aspectRatio "16:9" or "9:16" only; resolution "720p" (default) or
        # "1080p"; up to 3 asset references; first frame (`image`). Sound is always on. Prices: ai.google.dev pricing
        # (2026-09-24, read through dated third-party copies of the page): Veo 3.1 $0.40/s at 720p and 1080p;
        # Fast $0.10/s at 720p, $0.12/s at 1080p.
        common = dict(provider=self.name, durations=[4.0, 6.0, 8.0], reference_durations=[8.0], max_references=3,
                      references_as="native", first_frame=True, native_audio=True, key_env=[self.key_env],
                      concurrency=2, reference_limit=ImageLimit(max_side=1920, max_bytes=20_000_000))
        hd = {"16:9": (1280, 720), "9:16": (720, 1280)}
        full = {"16:9": (1920, 1080), "9:16": (1080, 1920)}

        def priced(p720: float, p1080: float) -> list[Shape]:
            return [*shape_table(hd, "720p", p720, p720), *shape_table(full, "1080p", p1080, p1080, durations=(8.0,))]
        return [
            Capabilities(model="veo-3.1-generate-preview", shapes=priced(0.40, 0.40), **common),
            Capabilities(model="veo-3.1-fast-generate-preview", shapes=priced(0.10, 0.12), **common),
        ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        caps = self.capabilities(request.model)
        instance: dict[str, object] = {"prompt": request.prompt}
        if first_frame is not None:
            instance["image"] = _image(first_frame, caps.reference_limit, (request.width, request.height))
        elif request.references:
            instance["referenceImages"] = [{"image": _image(p, caps.reference_limit), "referenceType": "asset"}
                                           for p in request.references[:caps.max_references]]
        conditioned = "image" in instance or "referenceImages" in instance
        parameters: dict[str, object] = {"aspectRatio": request.aspect, "resolution": request.resolution or "720p",
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


def _image(path: Path, limit: ImageLimit | None, size: tuple[int, int] | None = None) -> dict[str, str]:
    mime, b64 = image_base64(path, size, limit)
    return {"bytesBase64Encoded": b64, "mimeType": mime}
