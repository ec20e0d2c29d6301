"""Replicate's predictions API as a gateway: ``POST /v1/models/{owner}/{name}/predictions``,
``GET /v1/predictions/{id}``, ``POST .../cancel``. Bearer ``$REPLICATE_API_TOKEN``.

Replicate removes a prediction's files an hour after it ends, so the runner's prompt download
matters here. Images travel inline as data URIs.
"""

from __future__ import annotations

from pathlib import Path

from mvpipe.generation.provider import ClipRequest, ImageLimit, JobState, shape_table
from mvpipe.generation.providers.gateway import GatewayModel, GatewayProvider
from mvpipe.generation.remote import ApiClient, unix_time

_STATES = {"starting": "queued", "processing": "running", "succeeded": "succeeded", "failed": "failed",
           "canceled": "cancelled", "aborted": "cancelled"}


class ReplicateProvider(GatewayProvider):
    """Any video model on Replicate, described by the model table."""

    name = "replicate"
    base_url = "https://api.replicate.com"
    base_url_env = "REPLICATE_BASE_URL"
    key_env = "REPLICATE_API_TOKEN"
    poll_interval = 5.0
    # Inline files: a data URI is "only recommended if the file is less than 1MB"
    # (replicate.com/docs/topics/predictions/input-files, checked 2026-12-02).
    image_limit = ImageLimit(max_side=1280, max_bytes=1_000_000)
    # bytedance/seedance-2.0's API page (replicate.com/bytedance/seedance-2.0, version affbecc3; checked 2026-12-02):
    # image, reference_images (<= 9, not with a first frame), generate_audio, duration, aspect_ratio 16:9, 4:3, 1:1,
    # 3:4, 9:16, 21:9, 9:21, adaptive; resolution 480p / 720p. Pixels as on BytePlus (seedance.py). Price: Replicate's
    # own was not found; BytePlus's token price at 720p ($0.14/s) stands in.
    builtin = [
        GatewayModel(id="bytedance/seedance-2.0", duration_range=(4.0, 15.0), image_field="image",
                     references_field="reference_images", max_references=9, audio_field="generate_audio",
                     resolution_field="resolution", output="", price_per_second=0.14,
                     shapes=shape_table({"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960),
                                         "3:4": (834, 1112), "9:16": (720, 1280), "21:9": (1470, 630)},
                                        "720p", 0.14, 0.14)),
    ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        body = {"input": self.entry(request.model).input_for(request, first_frame, self.image_limit)}
        reply = client.request("POST", f"v1/models/{request.model}/predictions", json=body, idempotent=False)
        return f"{request.model}#{reply.json()['id']}"

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        model, ident = self.split(job_id)
        pred = client.request("GET", f"v1/predictions/{ident}").json()
        state = _STATES.get(pred.get("status", ""), "running")
        url = self.entry(model).video_url(pred.get("output")) if state == "succeeded" else None
        if state == "succeeded" and not url:
            return JobState(state="failed", error="the prediction's output holds no video")
        return JobState(state=state, download_url=url, error=str(pred.get("error") or f"prediction {state}")
                        if state in ("failed", "cancelled") else None)

    def list_recent(self, request: ClipRequest, since: float, client: ApiClient) -> list[str] | None:
        """Predictions of this model made since ``since`` with this prompt (``GET /v1/predictions``, newest
        first, as replicate-python's ``predictions.list``); the first page is enough for a submit just lost."""
        page = client.request("GET", "v1/predictions").json()
        found = [p for p in page.get("results") or [] if p.get("model") == request.model
                 and (p.get("input") or {}).get("prompt") == request.prompt and unix_time(p.get("created_at")) >= since
                 and p.get("status") not in ("failed", "canceled", "aborted")]
        return [f"{request.model}#{p['id']}" for p in found]

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("POST", f"v1/predictions/{self.split(job_id)[1]}/cancel")
        return True

