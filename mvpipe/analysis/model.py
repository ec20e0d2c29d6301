"""What song analysis hands the planner."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Section(BaseModel):
    """A stretch of the song between two downbeats; sections with the same letter repeat."""

    start: float
    end: float
    label: str = Field(description="A, B, A' ... : the same letter means the same material")
    energy: float = Field(description="mean RMS energy, normalised so the loudest section is 1.0")


class SongAnalysis(BaseModel):
    """Everything the planner needs to know about a song. Times are seconds from the song's start."""

    sha256: str = Field(description="content hash of the audio file; the cache key")
    duration: float
    tempo: float = Field(description="dominant tempo in BPM at the beat level reported in `beats`")
    meter: int = Field(description="beats per bar")
    beats: list[float]
    downbeats: list[float] = Field(description="the first beat of each bar; a subset of `beats`")
    sections: list[Section]
    energy_hop: float = Field(description="seconds between samples of `energy`")
    energy: list[float] = Field(description="onset-strength curve, normalised to 0..1")
