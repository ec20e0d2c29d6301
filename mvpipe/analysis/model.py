"""What song analysis hands the planner."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, Field

from mvpipe.workspace import file_digest


class Section(BaseModel):
    """A stretch of the song between two downbeats; sections with the same letter repeat."""

    start: float
    end: float
    label: str = Field(description="A, B, A' ... : the same letter means the same material")
    energy: float = Field(description="mean RMS energy, normalised so the loudest section is 1.0")


class TempoCandidate(BaseModel):
    """A beat level the analysis weighed: its tempo and its score (log evidence; higher is likelier)."""

    bpm: float
    score: float


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
    tempo_candidates: list[TempoCandidate] = Field(
        default_factory=list, description="beat levels weighed (BPM, score), best first; empty when none was weighed")
    confidence: float = Field(default=1.0, description="how sure the beat level is, 0..1 (1 when the user gave it)")
    steady_pulse: bool = Field(default=True, description="false: no pulse heard, `beats` is an even grid")
    warnings: list[str] = Field(default_factory=list, description="what the planner should tell the user")


class TimingHints(BaseModel):
    """The user's word on the song's time (storyboard ``timing.*``), for songs the analysis finds ambiguous."""

    bpm: float | None = Field(default=None, description="the beat level: the tracker follows the song near it")
    meter: int | None = Field(default=None, description="beats a bar")
    first_downbeat: float | None = Field(default=None, description="seconds: where a bar starts")
    beats: Path | None = Field(default=None, description="a file of beat times made elsewhere, used as they are")

    def key(self) -> str:
        """A short stable digest of the hints, for the cache file's name ('' when none are given)."""
        if self == TimingHints():
            return ""
        doc = self.model_dump(mode="json")
        if self.beats is not None and self.beats.is_file():
            doc["beats_digest"] = file_digest(self.beats)
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]
