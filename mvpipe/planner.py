"""Storyboard + SongAnalysis + capabilities -> Plan: every cut on an absolute output frame. Pure.

Cut times are converted once to absolute frames (``round(t * fps)`` from the video's start), so a
segment's length is the difference of two absolute frames and rounding never accumulates.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from mvpipe.generation.provider import ClipRequest


class Segment(BaseModel):
    """One stretch of the output timeline filled by one take (or one part of a split shot)."""

    shot: str
    shot_number: int
    part: int = 0
    start_frame: int = Field(description="first output frame, absolute")
    end_frame: int = Field(description="one past the last output frame, absolute")
    start: float = Field(description="song time of the cut into this segment (s)")
    end: float = Field(description="song time of the cut out of it (s)")
    transition: str = Field(default="cut", description="how this segment comes in")
    transition_frames: int = Field(default=0, description="length of the incoming transition, centred on the cut")
    head_frames: int = Field(default=0, description="frames the take must supply before start_frame")
    tail_frames: int = Field(default=0, description="frames the take must supply after end_frame")
    generator: str = Field(description="provider:model")
    request: ClipRequest
    requested_seconds: float
    estimated_cost_usd: float = 0.0
    audio: float = Field(default=0.0, description="level of the take's own sound under the song")
    if_short: str = "hold"

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


class Plan(BaseModel):
    """The cut list: what to generate and where each take goes on the output timeline."""

    title: str = ""
    song: Path
    song_sha256: str
    song_start: float = Field(description="song time at output frame 0 (s)")
    song_end: float
    fps: int
    width: int
    height: int
    aspect: str
    fit: str = "cover"
    quality: str = "final"
    output: Path
    frames: int = Field(description="total output frames: (song_end - song_start) * fps, rounded")
    segments: list[Segment]
    paid_seconds: float = Field(description="seconds of video requested from providers")
    screen_seconds: float = Field(description="seconds of video on screen")
    estimated_cost_usd: float
    warnings: list[str] = Field(default_factory=list)
