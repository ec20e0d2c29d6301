"""The analysis pipeline: decode, features, tempo and beats, beat level, meter and downbeats, sections;
cached by the audio's content hash (and the user's timing hints, when given)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mvpipe.analysis.beats import NO_PULSE_BPM, Tracked, track_beats
from mvpipe.analysis.cache import read_cache, write_cache
from mvpipe.analysis.common import FPS, HOP, SR
from mvpipe.analysis.decode import decode_song
from mvpipe.analysis.features import ENERGY_DECIMATE, Features, energy_curve, features
from mvpipe.analysis.hints import read_beat_times
from mvpipe.analysis.meter import METER_MIN_BEATS, bars, choose_level
from mvpipe.analysis.model import SongAnalysis, TempoCandidate, TimingHints
from mvpipe.analysis.sections import find_sections
from mvpipe.workspace import file_digest

# Below this share of the evidence (a softmax over the levels' scores) the chosen level is called
# ambiguous and the user is told which key pins it. On the 24 real recordings (v19) the levels read
# wrong measured 0.50-0.72 and the right ones 0.52-0.76: 0.55 warns on 1 of the 4 wrong (a piano
# piece at 148 or 74 BPM) and 1 of the 20 right (a rock shuffle at 143 or 72 BPM).
AMBIGUOUS_BELOW = 0.55


def analyze(song: Path, cache_dir: Path | None = None, *,
            progress: Callable[[str], None] | None = None, hints: TimingHints | None = None) -> SongAnalysis:
    """Analyse ``song`` (any format FFmpeg decodes), reusing ``cache_dir/<sha256>.json`` if present.

    ``hints`` is the user's word (storyboard ``timing.bpm``, ``meter``, ``first_downbeat``, ``beats``).
    Raises :class:`mvpipe.errors.InputError` when the file is missing or holds no audio, or the beats
    file is unreadable. ``progress`` receives one-line messages about slow steps.
    """
    song = Path(song)
    hints = hints or TimingHints()
    say = progress or (lambda _msg: None)
    user_beats = read_beat_times(hints.beats) if hints.beats is not None else None
    sha = file_digest(song) if song.is_file() else ""
    key = "-".join(filter(None, [sha, hints.key()]))
    cache_file = Path(cache_dir) / f"{key}.json" if cache_dir is not None and sha else None
    if cache_file is not None:
        cached = read_cache(cache_file)
        if cached is not None:
            return cached
    say(f"decoding {song.name}")
    y = decode_song(song, SR)  # raises InputError naming the file when missing or not audio
    say("analysing beats, bars and sections")
    result = _analyze_samples(y, sha, say, hints, user_beats)
    if cache_file is not None:
        write_cache(cache_file, result)
    return result


def _beats(feats: Features, duration: float, hints: TimingHints, user_beats: list[float] | None,
           say: Callable[[str], None]) -> tuple[Tracked, list[str]]:
    """The beat grid (user's file, or tracked near the user's tempo, or tracked) and warnings about it."""
    if user_beats is not None:
        frames = np.unique(np.round(np.array(user_beats) * FPS).astype(int))
        return Tracked(frames[frames / FPS <= duration], None), []
    tracked = track_beats(feats, hints.bpm)
    heard = [None if b is None else b[b / FPS <= duration] for b in (tracked.beats, tracked.loose)]  # padded last frame
    tracked = tracked._replace(beats=heard[0], loose=heard[1])
    warnings = []
    if len(tracked.beats) < 2:
        say("no beat found (shorter than 2 s, silent, or no onsets that stand out): "
            "beats are empty and the song is one section")
    elif not tracked.steady:
        warnings.append(f"no steady pulse found: the beats are an even grid at {hints.bpm or NO_PULSE_BPM:g} BPM; "
                        "set timing.bpm and timing.first_downbeat, or timing.beats: FILE, to give the song's own")
        say(warnings[-1])
    elif len(tracked.beats) < METER_MIN_BEATS:
        say(f"only {len(tracked.beats)} beats: too few to tell the meter, assuming 4/4")
    return tracked, warnings


def _level(feats: Features, tracked: Tracked, hints: TimingHints) -> tuple[np.ndarray, list[TempoCandidate], float]:
    """The beats at the chosen level, the levels weighed, and the chosen one's share of the evidence."""
    if hints.bpm is not None or not tracked.steady:
        return tracked.beats, [], 1.0
    beats, ranked = choose_level(feats, tracked.loose if tracked.loose is not None else tracked.beats,
                                 tracked.periodicity, held=tracked.beats)
    if not ranked:
        return beats, [], 1.0
    total = sum(math.exp(s - ranked[0][1]) for _, s in ranked)
    return beats, [TempoCandidate(bpm=b, score=s) for b, s in ranked], round(1.0 / total, 3)


def _analyze_samples(y: np.ndarray, sha: str, say: Callable[[str], None], hints: TimingHints,
                     user_beats: list[float] | None) -> SongAnalysis:
    duration = len(y) / SR
    feats = features(y)
    tracked, warnings = _beats(feats, duration, hints, user_beats, say)
    beat_frames, candidates, confidence = _level(feats, tracked, hints)
    if candidates and confidence < AMBIGUOUS_BELOW:
        other = candidates[1].bpm
        warnings.append(f"the beat level is ambiguous: {candidates[0].bpm:.0f} BPM ({confidence:.0%} of the "
                        f"evidence) or {other:.0f} BPM; set timing.bpm to pin the one you hear")
    beat_frames, meter, downbeat_idx = bars(feats, beat_frames, meter=hints.meter,
                                            first_downbeat=None if hints.first_downbeat is None
                                            else round(hints.first_downbeat * FPS))
    beats = beat_frames / FPS
    downbeats = beats[downbeat_idx]
    return SongAnalysis(
        sha256=sha,
        duration=round(duration, 4),
        tempo=round(_tempo_bpm(beats), 2),
        meter=meter,
        beats=[round(float(t), 4) for t in beats],
        downbeats=[round(float(t), 4) for t in downbeats],
        sections=find_sections(feats, beat_frames, downbeat_idx, duration),
        energy_hop=HOP * ENERGY_DECIMATE / SR,
        energy=[round(float(v), 4) for v in energy_curve(feats)],
        tempo_candidates=candidates,
        confidence=confidence,
        steady_pulse=tracked.steady,
        warnings=warnings,
    )


def _tempo_bpm(beats: np.ndarray) -> float:
    """Dominant tempo: the median over 4-beat spans, which is 4x finer than one frame-quantised gap."""
    if len(beats) < 2:
        return 0.0
    span = min(4, len(beats) - 1)
    return float(60.0 * span / np.median(beats[span:] - beats[:-span]))
