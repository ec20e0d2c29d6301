"""Replicate's predictions API as a gateway: ``POST /v1/models/{owner}/{name}/predictions``,
``GET /v1/predictions/{id}``, ``POST .../cancel``. Bearer ``$REPLICATE_API_TOKEN``.

Replicate removes a prediction's files an hour after it ends, so the runner's prompt download
matters here. Images travel inline as data URIs.
"""

from __future__ import annotations

from pathlib import Path

from mvpipe.generation.provider import ClipRequest, JobState
from mvpipe.generation.providers.gateway import GatewayModel, GatewayProvider
from mvpipe.generation.remote import ApiClient

_STATES = {"starting": "queued", "processing": "running", "succeeded": "succeeded", "failed": "failed",
           "canceled": "cancelled", "aborted": "cancelled"}


class ReplicateProvider(GatewayProvider):
    """Any video model on Replicate, described by the model table."""

    name = "replicate"
    base_url = "https://api.replicate.com"
    base_url_env = "REPLICATE_BASE_URL"
    key_env = "REPLICATE_API_TOKEN"
    poll_interval = 5.0
    builtin = [
        GatewayModel(id="bytedance/seedance-2.0", duration_range=(4.0, 15.0), image_field="image",
                     last_image_field="last_frame_image", references_field="reference_images", max_references=9,
                     audio_field="generate_audio", inputs={"resolution": "720p"}, output="",
                     sizes={"16:9": "1280x720", "9:16": "720x1280", "1:1": "960x960"}, price_per_second=0.14),
    ]

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        body = {"input": self.entry(request.model).input_for(request, first_frame)}
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

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("POST", f"v1/predictions/{self.split(job_id)[1]}/cancel")
        return True
