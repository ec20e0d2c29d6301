"""The analysis cache: one JSON file per song, keyed by the audio's content hash and tagged with the
algorithm version, so analyses from older code are recomputed."""

from __future__ import annotations

import json
from pathlib import Path

from mvpipe.analysis.model import SongAnalysis
from mvpipe.workspace import write_text_atomic

# Bump whenever the algorithm changes, so cached analyses from older code are recomputed.
ANALYSIS_VERSION = 20


def read_cache(path: Path) -> SongAnalysis | None:
    """The cached analysis, or None when absent, unreadable or written by another algorithm version."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("analysis_version") != ANALYSIS_VERSION:
        return None
    try:
        return SongAnalysis.model_validate(doc["analysis"])
    except (KeyError, ValueError):
        return None


def write_cache(path: Path, result: SongAnalysis) -> None:
    """Store ``result`` with the current algorithm version, atomically."""
    doc = {"analysis_version": ANALYSIS_VERSION, "analysis": result.model_dump(mode="json")}
    write_text_atomic(path, json.dumps(doc))

