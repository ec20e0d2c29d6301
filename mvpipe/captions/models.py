"""What the captions stages hand each other: lines read from a file, and lines timed to output frames."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from mvpipe.storyboard import Captions


class FileLine(BaseModel):
    """A line as a lyrics file times it, in song seconds (``end`` None: until the next line)."""

    text: str
    start: float
    end: float | None = None
    words: list[tuple[float, str]] = Field(default_factory=list, description="(song seconds, word) when known")
    file: Path
    line: int


class CaptionWord(BaseModel):
    frame: int = Field(description="absolute output frame where the word is sung")
    text: str


class CaptionLine(BaseModel):
    """A line on the output timeline: shown on frames ``[start_frame, end_frame)``."""

    text: str
    start_frame: int
    end_frame: int
    words: list[CaptionWord] = Field(default_factory=list)


class CaptionTrack(BaseModel):
    """Every line of a render and how they are set; the plan carries it to the assembler."""

    style: Captions
    lines: list[CaptionLine]
