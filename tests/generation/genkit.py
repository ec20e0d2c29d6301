"""Helpers for generation tests: clip requests, fast runner settings, provider env vars."""

from __future__ import annotations

from typing import Any

from mvpipe.generation.provider import ClipRequest
from mvpipe.generation.providers import resolve
from mvpipe.generation.remote import RetryPolicy
from mvpipe.generation.runner import RunnerSettings

KEYS = {"openai": "OPENAI_API_KEY", "runway": "RUNWAYML_API_SECRET", "veo": "GEMINI_API_KEY"}
BASES = {"openai": ("OPENAI_BASE_URL", "/v1"), "runway": ("RUNWAYML_BASE_URL", ""),
         "veo": ("GOOGLE_GEMINI_BASE_URL", "")}
SECRET = "sk-live-DO-NOT-LEAK-7f3a9c"

FAST = RunnerSettings(poll_interval=0.02, poll_jitter=0.2, stall_timeout=1.0, http_timeout=3.0,
                      retry=RetryPolicy(attempts=5, backoff=0.01, max_backoff=0.05, max_retry_after=1.0),
                      download_attempts=3, expiry_margin=0.0)


def clip_request(generator: str, shot: str, number: int, prompt: str | None = None, seconds: float = 4.0,
                 **extra: Any) -> ClipRequest:
    """A request shaped like the planner's for a 1280x720 output: the model's covering shape (local
    models: 160x90) and its accepted length."""
    _, caps = resolve(generator)
    shape = caps.pick_shape(1280, 720)
    w, h = (shape.width, shape.height) if shape else (160, 90)
    return ClipRequest(shot=shot, shot_number=number, provider=caps.provider, model=caps.model,
                       prompt=prompt or f"shot {shot}: a neon street at night", seconds=caps.covering_seconds(seconds),
                       width=w, height=h, aspect=shape.aspect if shape else "16:9",
                       resolution=shape.resolution if shape else None, fps=24, **extra)
