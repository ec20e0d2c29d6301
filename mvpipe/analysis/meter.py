"""Meter and downbeats: per-beat bass-onset and harmonic-change evidence; 3 against 2/4 by bar-start
contrast, 4/4 against 2/4 by whether every other 2-beat bar start looks like an off-beat or, failing
that, by harmonic rhythm; a bar of 6 or 8 pulses halves the beat level, no bar structure with hit
half-beats doubles it, 4-beat bars whose onsets fall on thirds are re-split in three; a Viterbi over
bar position places bars."""

from __future__ import annotations

import numpy as np

from mvpipe.analysis.beats import BEAT_BPM_RANGE
from mvpipe.analysis.common import FPS, backtrace, cosine, local_gain, pulse_strength, span_sums, zscore
from mvpipe.analysis.features import Features
from mvpipe.analysis.tempo import Periodicity


def _harmonic_change(feats: Features, beats: np.ndarray) -> np.ndarray:
    """Per beat: chroma distance between the 1 and 2 beats before it and the 1 and 2 beats after.

    Two scales, because a chord that is held across a bar changes only at the bar line, while
    comping on the off-beats smears a one-beat comparison over two beats.
    """
    ends = np.append(beats, min(len(feats.onset), beats[-1] + int(np.median(np.diff(beats)))))
    total = np.zeros(len(beats))
    for w in (1, 2):
        i = np.arange(len(beats))
        lo, hi = ends[np.maximum(i - w, 0)], ends[np.minimum(i + w, len(beats))]
        total += 1.0 - cosine(span_sums(feats.chroma, lo, ends[i]), span_sums(feats.chroma, ends[i], hi))
    return total


def _downbeat_cues(feats: Features, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-beat evidence that a bar starts here, standardised: (kick/bass onset, harmonic change)."""
    return zscore(pulse_strength(feats.onset_low, beats)), zscore(_harmonic_change(feats, beats))


def _downbeat_evidence(feats: Features, beats: np.ndarray) -> np.ndarray:
    low, harmony = _downbeat_cues(feats, beats)
    return low + harmony


# The weaker of alternate 2-beat bar starts, as a share of the stronger one's lead over the other
# beats, below which it is no bar start: the bar is 4 beats. Tuning 4/4 songs with the kick on 1
# only measured -0.5 to 0.33 (the real songs -0.5 and -0.04), polkas 0.69 to 0.93; in between
# (a kick on 1 and 3) the harmony decides.
_WEAK_HALF_START = 0.5
# 4/4 is the prior: a 2-beat bar needs bar lines that stand out this much (z units) as well. Synthetic
# polkas measured 2.1 to 3.2; real 4/4 recordings that every other test read in 2 (techno, swing,
# europop, samba, a drum groove) 0.3 to 1.95, so their bar of 4 is kept.
_DUPLE_CONTRAST_MIN = 2.0


def _weak_half_start(evidence: np.ndarray, starts: np.ndarray) -> float:
    """How much the weaker of alternate 2-beat bar starts stands out from the other beats, against
    the stronger: near 1 when every start is a bar line (2/4), near 0 or below for beat 3 of 4/4."""
    first, second = evidence[starts[0::2]].mean(), evidence[starts[1::2]].mean()
    rest = np.delete(evidence, starts).mean()
    return float((min(first, second) - rest) / max(max(first, second) - rest, 1e-10))


# 2-beat halves pair into 4-beat bars when the chord changes between pairs at least this much more
# than within them (0 = no difference, 1 = no change within); tuning 4/4 songs measured 0.58-0.96,
# polkas 0.05-0.43
_HALF_BAR_CHANGE = 0.5
# ... or when paired halves are this much more alike (cosine) than two beats inside one half: the
# bass walks every beat but the chord holds for the bar (tuning swing 0.09-0.25, polkas <= 0.03)
_HALF_BAR_BLEND = 0.06


def _halves_share_harmony(feats: Features, beats: np.ndarray, starts: np.ndarray) -> bool:
    """Whether 2-beat bars pair into 4-beat bars by their chords: in 4/4 the chord holds across the
    bar's two halves and changes at the bar line, in 2/4 it changes every 2 beats. Read from chroma
    above the bass, which may move every beat or every bar whatever the meter."""
    phase = int(np.bincount(starts % 2, minlength=2).argmax())
    ends = np.append(beats, min(len(feats.onset), beats[-1] + int(np.median(np.diff(beats)))))
    per_beat = span_sums(feats.chords, ends[:-1], ends[1:])[phase:]
    n = len(per_beat) // 2 * 2
    halves = per_beat[0:n:2] + per_beat[1:n:2]
    inside = float(cosine(per_beat[0:n:2], per_beat[1:n:2]).mean())
    for pairing in (0, 1):
        h = halves[pairing:]
        within = float(cosine(h[0::2], h[1::2]).mean())
        across = float(cosine(h[1::2], h[2::2]).mean())
        if (within - across) / max(1.0 - across, 1e-10) >= _HALF_BAR_CHANGE or within - inside >= _HALF_BAR_BLEND:
            return True
    return False


def _bar_contrast(evidence: np.ndarray, length: int) -> float:
    """Mean evidence on the bar starts the Viterbi picks minus the mean on the other beats."""
    on = np.zeros(len(evidence), dtype=bool)
    on[_bar_positions(evidence, length)] = True
    return float(evidence[on].mean() - evidence[~on].mean())


METER_MIN_BEATS = 16  # fewer beats than four 4/4 bars cannot tell 2, 3 and 4 apart
# Weight of the bar structure (bar-start contrast, z units) against the tempo stage's evidence
# (log periodicity + log prior) when the levels are weighed, and the lead the half level needs over
# the tracked one. Tuning and held-out songs where halving is right (a slow groove tracked at its
# eighths) measured 0.62 and more, songs where it is wrong at most 0.29 (a real rock song).
_LEVEL_BAR_WEIGHT = 1.0
_HALVE_MARGIN = 0.45
# Weight of each level's subdivision (how far its off-beats stand out from the points between them,
# a log ratio capped at _SUBDIVISION_CAP) in the level's score: a level people tap is divided in two
# by the level below it, while a tracker that followed the eighths of a slow piece with nothing
# between them has flat onsets below its beat. On the real recordings the capped term moved a string
# quartet tracked at its eighths from 0.17 under the margin to 0.11 over; no synthetic song's level
# changed (the nearest pop song that must not halve stayed 0.16 under).
_SUBDIVISION_WEIGHT = 2.0
_SUBDIVISION_CAP = 0.3


def choose_level(feats: Features, beats: np.ndarray, periodicity: Periodicity | None,
                 held: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The beats at the level people tap, and each candidate level (BPM, score) best first: ``held``
    (default ``beats``) when the tracked level stands, else alternate ``beats``.

    Each level's score is the tempo stage's evidence for it, plus the bar structure it gives (bars of
    2, 3 or 4 tracked beats for the tracked level, of 4, 6 or 8 for half of it (the tracker followed
    eighths), the same bar lines for double), plus its subdivision (_subdivision). The beats are
    halved only when the half level leads by _HALVE_MARGIN: the tracker's level stands unless the
    meter's evidence is stronger.
    """
    held = beats if held is None else held
    if len(beats) < METER_MIN_BEATS or periodicity is None:
        return held, []
    bpm = 60.0 * FPS / float(np.median(np.diff(beats)))
    evidence = _downbeat_evidence(feats, beats)
    contrast = {length: _bar_contrast(evidence, length) for length in (2, 3, 4, 6, 8)}
    bar = max(contrast[2], contrast[3], contrast[4])
    half_bar = max(contrast[4], contrast[6], contrast[8])
    subdivision = _subdivision(local_gain(feats.onset), beats)
    scores = {0.5: periodicity.evidence(bpm / 2) + _LEVEL_BAR_WEIGHT * half_bar,
              1.0: periodicity.evidence(bpm) + _LEVEL_BAR_WEIGHT * bar,
              2.0: periodicity.evidence(2 * bpm) + _LEVEL_BAR_WEIGHT * bar}
    scores = {f: s + _SUBDIVISION_WEIGHT * subdivision[f] for f, s in scores.items()}
    if scores[0.5] - scores[1.0] > _HALVE_MARGIN and bpm / 2 >= BEAT_BPM_RANGE[0] / 2:
        length = 6 if contrast[6] > contrast[8] else 8
        parity = int(np.bincount(_bar_positions(evidence, length) % 2, minlength=2).argmax())
        beats = beats[parity::2]
        scores[0.5] += _HALVE_MARGIN  # what the half level needed to lead by is part of its evidence
    else:
        beats = held
        scores[1.0] += _HALVE_MARGIN
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return beats, [(round(bpm * f, 2), round(s, 3)) for f, s in ranked]


def _subdivision(onset: np.ndarray, beats: np.ndarray) -> dict[float, float]:
    """Per level (half, tracked, double): log of its off-beats' onset strength over that of the points
    halving them, clipped to 0.._SUBDIVISION_CAP. The half level's off-beats are the weaker alternate
    tracked beats, the tracked level's its mid-beats, the double level's the beats' quarters."""
    start, gap = beats[:-1], np.diff(beats)

    def at(*fracs: float) -> float:
        return float(np.mean([pulse_strength(onset, start + np.round(gap * f).astype(int)).mean()
                              for f in fracs])) + 1e-3

    on = pulse_strength(onset, start)
    weak = float(min(on[0::2].mean(), on[1::2].mean())) + 1e-3
    mid, quarter, eighth = at(0.5), at(0.25, 0.75), at(0.125, 0.375, 0.625, 0.875)
    ratios = {0.5: weak / mid, 1.0: mid / quarter, 2.0: quarter / eighth}
    return {f: float(np.clip(np.log(r), 0.0, _SUBDIVISION_CAP)) for f, r in ratios.items()}


def bars(feats: Features, beats: np.ndarray, *, meter: int | None = None,
         first_downbeat: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    """(beats, meter, indices of the downbeats in beats); ``meter`` and ``first_downbeat`` (a frame)
    are the user's word and override what is heard.

    Triple or duple comes from the bar-start contrast of 3- against 2- and 4-beat bars; duple is
    4/4 when every other 2-beat bar start is no stronger than the other beats, or when the chords
    hold over 4 beats; else 2/4. A 4-beat bar whose notes fall on its thirds is re-split in three.
    """
    if meter is None:
        beats, meter = _meter(feats, beats)
    if len(beats) == 0:
        return beats, meter, np.zeros(0, dtype=int)
    if first_downbeat is not None:
        first = int(np.argmin(np.abs(beats - first_downbeat)))
        return beats, meter, np.arange(first % meter, len(beats), meter)
    if len(beats) < METER_MIN_BEATS:
        return beats, meter, np.arange(0, len(beats), meter)
    return beats, meter, _bar_positions(_downbeat_evidence(feats, beats), meter)


def _meter(feats: Features, beats: np.ndarray) -> tuple[np.ndarray, int]:
    """The meter heard, and the beats (re-split in three when a 4-beat bar's notes fall on thirds)."""
    if len(beats) < METER_MIN_BEATS:
        return beats, 4
    evidence = _downbeat_evidence(feats, beats)
    contrast = {length: _bar_contrast(evidence, length) for length in (2, 3, 4)}
    bpm = 60.0 * FPS / float(np.median(np.diff(beats)))
    if contrast[3] > max(contrast[2], contrast[4]):
        return beats, 3
    starts = _bar_positions(evidence, 2)
    if (contrast[2] >= _DUPLE_CONTRAST_MIN and _weak_half_start(evidence, starts) >= _WEAK_HALF_START
            and not _halves_share_harmony(feats, beats, starts)):
        return beats, 2
    if 0.75 * bpm >= BEAT_BPM_RANGE[0]:
        thirds = _bars_in_three(feats, beats, _bar_positions(evidence, 4))
        if thirds is not None:
            return thirds, 3
    return beats, 4


# Onsets on the inner thirds of 4-beat bars, against on their inner quarters, above which the bar
# has 3 beats at 3/4 of the tempo: a slow 3/4 arpeggio can read as 4 beats a bar at 4/3 its tempo.
# Tuning 4/4 songs measured at most 0.18, 3/4 songs read right 1.5 and more; real 4/4 recordings,
# busier between beats, up to 0.58 (an acoustic pop song) and a string quartet in 3/4 at 0.80.
_THREE_IN_FOUR = 1.0
# ... or new notes on the bar's sixths (the eighths of 3/4) against its eighths (those of 4/4), as a
# contrast (6 - 8) / (6 + 8), above which the bar is 3 beats: an arpeggio whose beats 2 and 3 carry
# no accent still moves in eighths of three. 4/4 songs measured at most -0.29 (tuning), -0.04 (209
# 4/4 songs of a sweep outside the splits); the 3/4 arpeggios v16 read in 4 (2 in the splits, 10 in
# the sweep) 0.21 to 0.62, but for two at -0.03 and -0.40.
_SIXTHS_IN_EIGHTHS = 0.1


def _sixths_contrast(note_flux: np.ndarray, downs: np.ndarray) -> float:
    """(six - eight) / (six + eight + 0.02), six being note_flux's mean on each bar's sixths that are
    no eighth (1/6, 1/3, 2/3, 5/6) and eight its mean on the eighths that are no sixth (1/8, 1/4, 3/8,
    5/8, 3/4, 7/8): near 1 when the notes move in eighths of a 3-beat bar, negative in a 4-beat bar."""
    length = np.diff(downs)

    def at(fracs: tuple[float, ...]) -> float:
        frames = np.concatenate([downs[:-1] + np.round(length * f).astype(int) for f in fracs])
        return float(pulse_strength(note_flux, frames).mean())

    six, eight = at((1 / 6, 1 / 3, 2 / 3, 5 / 6)), at((1 / 8, 1 / 4, 3 / 8, 5 / 8, 3 / 4, 7 / 8))
    return (six - eight) / (six + eight + 0.02)


def _bars_in_three(feats: Features, beats: np.ndarray, downbeat_idx: np.ndarray) -> np.ndarray | None:
    """Beats that split each bar in three, when the bar's onsets fall on its thirds at least
    _THREE_IN_FOUR as strongly as on its quarters, or its notes move in sixths of the bar rather than
    eighths (_SIXTHS_IN_EIGHTHS); else None. The bar lines stay where they are."""
    downs = beats[downbeat_idx]
    if len(downs) < 4:
        return None
    length = np.diff(downs)

    def inner(parts: int) -> float:
        return float(pulse_strength(feats.track, np.concatenate(
            [downs[:-1] + length * j // parts for j in range(1, parts)])).mean())

    if inner(3) <= _THREE_IN_FOUR * inner(4) and _sixths_contrast(feats.note_flux, downs) <= _SIXTHS_IN_EIGHTHS:
        return None
    third = np.concatenate([[length[0]], length, [length[-1]]]) / 3
    grid = [downs[0] - third[0] * j for j in (2, 1)] + [
        d + third[k + 1] * j for k, d in enumerate(downs) for j in range(3)]
    grid = np.round(grid).astype(int)
    return grid[(grid >= beats[0] - third[0] / 2) & (grid <= beats[-1] + third[-1] / 2)]


def _bar_positions(evidence: np.ndarray, meter: int, resync_cost: float = 10.0) -> np.ndarray:
    """Viterbi over position-in-bar: advance one position per beat; a re-sync (after a dropped or
    doubled beat) costs ``resync_cost`` units of evidence. Plain Python lists: with at most 8
    states, numpy's per-call overhead would cost more than the arithmetic."""
    n = len(evidence)
    values = evidence.tolist()
    score = [values[0]] + [0.0] * (meter - 1)
    back = [[0] * meter]
    for i in range(1, n):
        best = max(range(meter), key=score.__getitem__)
        resync = score[best] - resync_cost
        # state k comes from k-1 (state 0 from the bar's last position), or re-syncs from the best
        came = [k - 1 if score[k - 1] >= resync else best for k in range(meter)]
        score = [score[k - 1] if came[k] == k - 1 else resync for k in range(meter)]
        score[0] += values[i]
        back.append([c % meter for c in came])
    return np.flatnonzero(backtrace(back, max(range(meter), key=score.__getitem__)) == 0)

