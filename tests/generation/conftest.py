"""Fixtures for generation tests: plans built from clip requests, fast runner settings, fake servers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fakeserver.py, shared with scripts/bench_runner.py

from mvpipe.generation.provider import CharacterRef, ClipRequest  # noqa: E402
from mvpipe.generation.providers import resolve  # noqa: E402
from mvpipe.generation.remote import RetryPolicy  # noqa: E402
from mvpipe.generation.runner import RunnerSettings  # noqa: E402
from mvpipe.planner import Plan, Segment  # noqa: E402
from mvpipe.workspace import Workspace  # noqa: E402

KEYS = {"openai": "OPENAI_API_KEY", "runway": "RUNWAYML_API_SECRET", "veo": "GEMINI_API_KEY"}
BASES = {"openai": ("OPENAI_BASE_URL", "/v1"), "runway": ("RUNWAYML_BASE_URL", ""),
         "veo": ("GOOGLE_GEMINI_BASE_URL", "")}
SECRET = "sk-live-DO-NOT-LEAK-7f3a9c"

FAST = RunnerSettings(poll_interval=0.02, poll_jitter=0.2, stall_timeout=1.0, http_timeout=3.0,
                      retry=RetryPolicy(attempts=5, backoff=0.01, max_backoff=0.05, max_retry_after=1.0),
                      download_attempts=3, expiry_margin=0.0)


def clip_request(generator: str, shot: str, number: int, prompt: str | None = None, seconds: float = 4.0,
                 **extra: Any) -> ClipRequest:
    """A request shaped like the planner's: the model's native size for 16:9 and its accepted length."""
    _, caps = resolve(generator)
    w, h = (int(v) for v in (caps.native_size("16:9") or "160x90").split("x"))
    return ClipRequest(shot=shot, shot_number=number, provider=caps.provider, model=caps.model,
                       prompt=prompt or f"shot {shot}: a neon street at night", seconds=caps.covering_seconds(seconds),
                       width=w, height=h, aspect="16:9", fps=24, **extra)


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


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / ".mvpipe")


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch):
    """``point_at(provider, server)``: the provider's base-URL and key variables aimed at a fake server."""
    def aim(provider: str, server: Any) -> None:
        env, suffix = BASES[provider]
        monkeypatch.setenv(env, server.url + suffix)
        monkeypatch.setenv(KEYS[provider], server.key)
    return aim


@pytest.fixture
def mara(tmp_path: Path) -> CharacterRef:
    """A character with a real reference image."""
    from PIL import Image

    path = tmp_path / "mara.png"
    Image.new("RGB", (64, 96), (200, 40, 40)).save(path)
    return CharacterRef(name="mara", references=[path], ids={"openai": "char_mara"})
