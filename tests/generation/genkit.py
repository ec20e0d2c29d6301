"""Helpers for generation tests: plans built from clip requests, fast runner settings, provider env vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvpipe.generation.provider import ClipRequest
from mvpipe.generation.providers import resolve
from mvpipe.generation.remote import RetryPolicy
from mvpipe.generation.runner import RunnerSettings
from mvpipe.planner import Plan, Segment

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


def plan_of(requests: list[ClipRequest], tmp: Path) -> Plan:
    """A plan whose segments are ``requests`` back to back (timing is the assembler's business)."""
    segments, frame = [], 0
    for req in requests:
        n = round(req.seconds * req.fps)
        _, caps = resolve(f"{req.provider}:{req.model}")
        segments.append(Segment(shot=req.shot, shot_number=req.shot_number, part=req.part, start_frame=frame,
                                end_frame=frame + n, start=frame / req.fps, end=(frame + n) / req.fps,
                                generator=caps.spec, request=req, requested_seconds=req.seconds,
                                estimated_cost_usd=caps.estimate(req)))
        frame += n
    return Plan(song=tmp / "song.wav", song_sha256="0" * 64, song_start=0.0, song_end=frame / 24, fps=24,
                width=requests[0].width, height=requests[0].height, aspect="16:9", output=tmp / "out.mp4",
                frames=frame, segments=segments, paid_seconds=sum(r.seconds for r in requests),
                screen_seconds=frame / 24, estimated_cost_usd=sum(s.estimated_cost_usd for s in segments))


