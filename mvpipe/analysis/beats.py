"""Beats: Ellis-style dynamic programming against the local tempo, then a per-passage check that moves
beats onto the off-beats where the bands say those are the beat (syncopation)."""

from __future__ import annotations

import numpy as np

from mvpipe.analysis.common import FPS, backtrace, local_gain, pulse_strength, smooth
from mvpipe.analysis.features import Features
from mvpipe.analysis.tempo import local_bpm

BEAT_BPM_RANGE = (60.0, 200.0)  # where a beat level may land after octave resolution


def _dp_beats(onset: np.ndarray, period: np.ndarray, tightness: float = 100.0) -> np.ndarray:
    """Dynamic-programming beat tracker (Ellis 2007) with a per-frame period in frames.

    Frames are solved in blocks no longer than the shortest allowed beat gap, so every predecessor
    of a block is already final and each block is one vectorised numpy step.
    """
    n = len(onset)
    if n == 0:
        return np.zeros(0, dtype=int)
    local = onset / max(float(onset.std()), 1e-10)
    lo_gap = np.maximum(1, np.round(period / 2)).astype(int)
    hi_gap = np.round(2 * period).astype(int)
    offsets = np.arange(int(lo_gap.min()), int(hi_gap.max()) + 1)
    with np.errstate(divide="ignore"):
        pen = -tightness * np.log(offsets[None, :] / period[:, None]) ** 2
    pen[(offsets[None, :] < lo_gap[:, None]) | (offsets[None, :] > hi_gap[:, None])] = -np.inf
    cum = np.zeros(n)
    back = np.full(n, -1)
    block = int(lo_gap.min())
    for t0 in range(0, n, block):
        t = np.arange(t0, min(t0 + block, n))
        prev = t[:, None] - offsets[None, :]
        cand = np.where(prev >= 0, cum[np.maximum(prev, 0)], -np.inf) + pen[t]
        best = cand.argmax(axis=1)
        best_val = cand[np.arange(len(t)), best]
        # a chain may only start within the first two beats of the song
        start_ok = t < hi_gap[t]
        take = np.isfinite(best_val) & ~(start_ok & (best_val < 0))
        cum[t] = local[t] + np.where(take, best_val, 0.0)
        back[t] = np.where(take, prev[np.arange(len(t)), best], -1)
    tail = int(np.ceil(period[-1]))
    last = n - tail + int(np.argmax(cum[n - tail:])) if n > tail else int(np.argmax(cum))
    beats = [last]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    return np.array(beats[::-1])


def track_beats(feats: Features) -> np.ndarray:
    """Beat positions in onset frames, following the local tempo; none for < 2 s or no onsets."""
    if len(feats.onset) < int(2 * FPS) or not _has_onsets(feats.onset):
        return np.zeros(0, dtype=int)
    onset = local_gain(feats.onset)
    bpm = local_bpm(onset)
    # keep the beat level in a plausible range; finer octave choices are made with the meter
    level = float(np.median(bpm))
    if level > BEAT_BPM_RANGE[1]:
        bpm = bpm / 2
    elif level < BEAT_BPM_RANGE[0]:
        bpm = bpm * 2
    beats = _on_the_beat(feats, _dp_beats(smooth(feats.track, 2.0), 60.0 * FPS / bpm))
    return _trim_silence(onset, beats)


_ONSET_FLOOR = 0.02  # log1p units of the song-relative mel; every song measured has p99 >= 0.12
_ONSET_CONTRAST = 5.0  # p99 over median flux; stationary noise is ~2, songs measured 20 to 900


def _has_onsets(onset: np.ndarray) -> bool:
    """Whether some onsets stand out of the song: silence, DC, a drone (p99 ~0.001) and steady noise
    have none, and a tracker run on them would lock onto numerical noise."""
    top = float(np.percentile(onset, 99))
    return top >= _ONSET_FLOOR and top >= _ONSET_CONTRAST * float(np.median(onset))


_PHASE_FLOOR = 0.05  # band flux (of its loud onsets) below which a point counts as silent in that band
_PHASE_BIAS = 0.1  # log-ratio per beat the off-beats must win by before they count against the beats
_PHASE_BEATS = 4  # beats over which each band's beat and off-beat strengths are averaged
_PHASE_SWITCH = 4.0  # log-ratio units a change of phase must earn: several beats of clear evidence


def _on_the_beat(feats: Features, beats: np.ndarray) -> np.ndarray:
    """Move the beats half a beat wherever the bands together say the off-beats are the accents:
    in a syncopated groove the bass and chord stabs land on the 'and's, and broadband flux would
    follow them, while hi-hat and snare accents still mark the beat. Decided per passage by a
    two-state Viterbi over beats, so a funk section can move while the verse or breakdown around it
    stays; each band votes with the log-ratio of off-beat to beat strength, so a band that is silent
    on one phase and hit on the other speaks loudest."""
    if len(beats) < 8:
        return beats
    mids = np.append((beats[:-1] + beats[1:]) // 2, beats[-1] + (beats[-1] - beats[-2]) // 2)
    from scipy.ndimage import uniform_filter1d

    on = uniform_filter1d(pulse_strength(feats.onset_bands, beats), _PHASE_BEATS, axis=0) + _PHASE_FLOOR
    off = uniform_filter1d(pulse_strength(feats.onset_bands, mids), _PHASE_BEATS, axis=0) + _PHASE_FLOOR
    ratio = np.log(off / on)  # per beat and band: > 0 favours the off-beats
    # bands weighted by how one-sided they are: silent on one phase and hit on the other is decisive
    gain = (ratio * np.abs(ratio)).sum(axis=1) / np.maximum(np.abs(ratio).sum(axis=1), 1e-10) - _PHASE_BIAS
    score = np.array([0.0, gain[0]])
    back = np.zeros((len(beats), 2), dtype=int)
    for i in range(1, len(beats)):
        switch = score[::-1] - _PHASE_SWITCH
        back[i] = np.where(score >= switch, [0, 1], [1, 0])
        score = np.maximum(score, switch) + np.array([0.0, gain[i]])
    state = backtrace(back, int(score.argmax()))
    # back on the beat after off-beats, the last off-beat lies half a beat before the next beat: drop it
    keep = np.ones(len(beats), dtype=bool)
    keep[:-1] = ~((state[:-1] == 1) & (state[1:] == 0))
    return np.where(state == 1, mids, beats)[keep]


def _trim_silence(onset: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Drop beats before the first and after the last onset of the song (lead-in silence, a final
    chord ringing out); ``onset`` is locally normalised, so quiet intros keep their beats."""
    heard = np.flatnonzero(onset > 0.1)
    if len(beats) == 0 or len(heard) == 0:
        return beats[:0]
    return beats[(beats >= heard[0] - 3) & (beats <= heard[-1] + 3)]

