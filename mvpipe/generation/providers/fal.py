"""fal.ai's queue API as a gateway: ``POST queue.fal.run/{app}``, then ``/requests/{id}/status``
and ``/requests/{id}``, cancelled with ``PUT /requests/{id}/cancel`` (these paths drop the app's
sub-path, as the SDK does).

Auth is ``Authorization: Key $FAL_KEY``. A finished request with an ``error`` failed; content
policy refusals come back as 422 and are not retried. Images travel inline as data URIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from mvpipe.generation.provider import ClipRequest, ImageLimit, JobState, shape_table
from mvpipe.generation.providers.gateway import GatewayModel, GatewayProvider
from mvpipe.generation.remote import ApiClient, HeaderAuth

_STATES = {"IN_QUEUE": "queued", "IN_PROGRESS": "running", "COMPLETED": "succeeded"}


class FalProvider(GatewayProvider):
    """Any video model on fal's queue, described by the model table."""

    name = "fal"
    base_url = "https://queue.fal.run"
    base_url_env = "FAL_QUEUE_URL"
    key_env = "FAL_KEY"
    poll_interval = 5.0
    # fal.ai/models/fal-ai/kling-video/v2.1/master/text-to-video/llms.txt (checked 2026-12-02): duration "5"/"10",
    # aspect_ratio 16:9, 9:16, 1:1, negative_prompt, no seed; "$1.40 for 5s ... $0.28 each additional second".
    # Kling 2.1 master renders 1080p. Inline images: fal takes data URIs; 10 MB is mvpipe's own bound.
    image_limit = ImageLimit(max_side=2048, max_bytes=10_000_000)
    builtin = [
        GatewayModel(id="fal-ai/kling-video/v2.1/master/text-to-video", durations=[5.0, 10.0],
                     duration_format="string", negative_prompt_field="negative_prompt", seed_field=None,
                     price_per_second=0.28,
                     shapes=shape_table({"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080)},
                                        "1080p", 0.28)),
    ]

    def auth(self, key: str, environ: Mapping[str, str]) -> httpx.Auth:
        return HeaderAuth({"Authorization": f"Key {key}"})

    def submit(self, request: ClipRequest, first_frame: Path | None, client: ApiClient) -> str:
        body = self.entry(request.model).input_for(request, first_frame, self.image_limit)
        reply = client.request("POST", request.model, json=body, idempotent=False).json()
        return f"{request.model}#{reply['request_id']}"

    def poll(self, job_id: str, client: ApiClient) -> JobState:
        base = self._requests(job_id)
        status = client.request("GET", f"{base}/status", params={"logs": "false"}).json()
        state = _STATES.get(status.get("status", ""), "running")
        if status.get("error"):
            return JobState(state="failed", error=f"{status['error']} ({status.get('error_type', 'error')})")
        if state != "succeeded":
            return JobState(state=state)
        url = self.entry(self.split(job_id)[0]).video_url(client.request("GET", base).json())
        return JobState(state="succeeded" if url else "failed", download_url=url,
                        error=None if url else "the result holds no video")

    def cancel(self, job_id: str, client: ApiClient) -> bool:
        client.request("PUT", f"{self._requests(job_id)}/cancel")
        return True

    def _requests(self, job_id: str) -> str:
        """``{owner}/{app}/requests/{id}``: status, result and cancel drop the app's sub-path."""
        model, request_id = self.split(job_id)
        return "/".join(model.split("/")[:2]) + f"/requests/{request_id}"
