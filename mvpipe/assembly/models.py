"""What a render records about itself, and what `check` finds in a video: plain JSON models."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from mvpipe.captions.models import CaptionLine


class SegmentRecord(BaseModel):
    """Where one take landed, and how it was stretched to fit."""

    shot: str
    part: int
    start_frame: int
    end_frame: int
    transition: str
    transition_frames: int
    head_frames: int = Field(description="frames of the incoming transition before the cut")
    take: Path
    needed_frames: int = Field(description="output frames the take had to supply (head + body + tail)")
    available_frames: int = Field(description="output frames the take holds")
    speed: float = Field(description="1 unless a short take was slowed to fit")


class PieceRecord(BaseModel):
    """One encoded piece of the video and whether this render made it or found it in the cache."""

    key: str
    kind: str
    start_frame: int
    frames: int
    shots: list[str]
    reused: bool


class RenderManifest(BaseModel):
    """Everything needed to verify a render against its plan (written beside the video)."""

    version: int = 1
    output: Path
    song: Path
    song_start: float
    song_end: float
    fps: int
    frames: int
    width: int
    height: int
    fit: str
    quality: str
    codec: str
    encoder: str
    audio_levels: dict[str, float] = Field(default_factory=dict, description="shot -> clip sound level")
    loudness_lufs: float | None = None
    cuts: list[int] = Field(description="output frames where a hard cut was planned")
    segments: list[SegmentRecord]
    pieces: list[PieceRecord]
    encoded: int
    reused: int
    seconds: float
    warnings: list[str] = Field(default_factory=list)
    sidecars: list[Path] = Field(default_factory=list, description="subtitle files written beside the video")
    captions: list[CaptionLine] = Field(default_factory=list, description="the lines burned in / in the sidecars")


class CheckReport(BaseModel):
    """Measurements of a finished video, compared with its manifest when there is one."""

    video: Path
    manifest: Path | None = None
    frames: int
    expected_frames: int | None = None
    fps: float
    duration: float = Field(description="container duration (s)")
    expected_duration: float | None = None
    uniform_timestamps: bool = Field(description="every video timestamp step is the same")
    cuts_found: list[int]
    cuts_planned: list[int] = Field(default_factory=list)
    cuts_missing: list[int] = Field(default_factory=list)
    cuts_unplanned: list[int] = Field(default_factory=list,
                                      description="abrupt changes outside planned cuts and transitions")
    audio_offset_ms: list[float] = Field(default_factory=list,
                                         description="output audio delay vs the song at the start and the end")
    problems: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
