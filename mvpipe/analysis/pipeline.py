"""The analysis pipeline: decode, features, tempo and beats, meter and downbeats, sections; cached by the
audio's content hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mvpipe.analysis.beats import track_beats
from mvpipe.analysis.cache import read_cache, write_cache
from mvpipe.analysis.common import FPS, HOP, SR
from mvpipe.analysis.features import ENERGY_DECIMATE, energy_curve, features
from mvpipe.analysis.meter import METER_MIN_BEATS, bars
from mvpipe.analysis.model import SongAnalysis
from mvpipe.analysis.sections import find_sections
from mvpipe.ffmpeg import decode_audio
from mvpipe.workspace import file_digest


def analyze(song: Path, cache_dir: Path | None = None, *,
            progress: Callable[[str], None] | None = None) -> SongAnalysis:
    """Analyse ``song`` (any format FFmpeg decodes), reusing ``cache_dir/<sha256>.json`` if present.

    Raises :class:`mvpipe.errors.InputError` when the file is missing or holds no audio.
    ``progress`` receives one-line messages about slow steps.
    """
    song = Path(song)
    say = progress or (lambda _msg: None)
    sha = file_digest(song) if song.is_file() else ""
    cache_file = Path(cache_dir) / f"{sha}.json" if cache_dir is not None and sha else None
    if cache_file is not None:
        cached = read_cache(cache_file)
        if cached is not None:
            return cached
    say(f"decoding {song.name}")
    y = decode_audio(song, SR)  # raises InputError naming the file when missing or not audio
    say("analysing beats, bars and sections")
    result = _analyze_samples(y, sha, say)
    if cache_file is not None:
        write_cache(cache_file, result)
    return result


def _analyze_samples(y: np.ndarray, sha: str, say: Callable[[str], None]) -> SongAnalysis:
    duration = len(y) / SR
    feats = features(y)
    beat_frames = track_beats(feats)
    beat_frames = beat_frames[beat_frames / FPS <= duration]  # the padded last frame can lie past the end
    if len(beat_frames) < 2:
        say("no beat found (shorter than 2 s, silent, or no onsets that stand out): "
            "beats are empty and the song is one section")
    elif len(beat_frames) < METER_MIN_BEATS:
        say(f"only {len(beat_frames)} beats: too few to tell the meter, assuming 4/4")
    beat_frames, meter, downbeat_idx = bars(feats, beat_frames)
    beats = beat_frames / FPS
    downbeats = beats[downbeat_idx]
    tempo = _tempo_bpm(beats)
    sections = find_sections(feats, beat_frames, downbeat_idx, duration)
    energy = energy_curve(feats)
    return SongAnalysis(
        sha256=sha,
        duration=round(duration, 4),
        tempo=round(tempo, 2),
        meter=meter,
        beats=[round(float(t), 4) for t in beats],
        downbeats=[round(float(t), 4) for t in downbeats],
        sections=sections,
        energy_hop=HOP * ENERGY_DECIMATE / SR,
        energy=[round(float(v), 4) for v in energy],
    )


def _tempo_bpm(beats: np.ndarray) -> float:
    """Dominant tempo: the median over 4-beat spans, which is 4x finer than one frame-quantised gap."""
    if len(beats) < 2:
        return 0.0
    span = min(4, len(beats) - 1)
    return float(60.0 * span / np.median(beats[span:] - beats[:-span]))

