"""Sections: phrase novelty (2/4/8-bar windows) plus repetition structure features on bar-level
features, boundaries on downbeats, near-identical short loops merged, repeats share a letter."""

from __future__ import annotations

import numpy as np

from mvpipe.analysis.common import FPS, span_sums
from mvpipe.analysis.features import Features
from mvpipe.analysis.model import Section


def _bar_features(feats: Features, bar_frames: np.ndarray) -> np.ndarray:
    """Per-bar mean chroma, MFCC and loudness, each group standardised, shape (bars, 37)."""
    def bar_mean(x: np.ndarray) -> np.ndarray:
        return span_sums(x, bar_frames[:-1], bar_frames[1:]) / np.maximum(np.diff(bar_frames), 1)[:, None]

    chroma = bar_mean(feats.chroma)
    chroma /= np.maximum(np.linalg.norm(chroma, axis=1, keepdims=True), 1e-10)
    mfcc = bar_mean(feats.mfcc)
    mfcc = (mfcc - mfcc.mean(axis=0)) / np.maximum(mfcc.std(axis=0), 1e-10)
    loud = np.log(bar_mean(feats.rms[:, None]) + 1e-6)
    loud = (loud - loud.mean()) / max(float(loud.std()), 1e-10)
    return np.hstack([2.0 * chroma * np.sqrt(12), mfcc, 2.0 * loud])


def _self_similarity(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-10)
    return x @ x.T


_PHRASES = (2, 4, 8)  # bars compared on each side of a candidate boundary
_PEAK_THRESHOLD = 0.0  # in standard deviations of the novelty above its mean
_PHRASE_WEIGHT = 4.0  # phrase novelty against repetition novelty (which misses A|B inside a repeated AB)
_SECTION_BARS = 8  # the usual length of a section; a shorter repeated unit is a loop inside one
_LOOP_SIMILARITY = 0.9  # bar-by-bar similarity above which two segments are the same loop


def _phrase_novelty(x: np.ndarray) -> np.ndarray:
    """Per bar line: how different the few bars after it are from the few bars before, on average
    over 2-, 4- and 8-bar windows. Comparing window means (not bar pairs) makes a section whose
    chords change every bar look uniform, so only the change of material stands out."""
    n = len(x)
    total = np.zeros(n)
    for w in _PHRASES:
        i = np.arange(n)
        lo, hi = np.maximum(i - w, 0), np.minimum(i + w, n)
        before = span_sums(x, lo, i) / np.maximum(i - lo, 1)[:, None]
        after = span_sums(x, i, hi) / np.maximum(hi - i, 1)[:, None]
        dist = np.linalg.norm(after - before, axis=1)
        dist[(i - lo < max(1, w // 2)) | (hi - i < max(1, w // 2))] = 0.0  # too little context
        total += dist / max(float(dist.max()), 1e-10)
    return total / len(_PHRASES)


def _repetition_novelty(ssm: np.ndarray) -> np.ndarray:
    """Serra et al.'s structure features: each bar's row of the recurrence plot, read as lags
    (circularly), changes where the pattern of what-repeats-where changes, i.e. at boundaries."""
    from scipy.ndimage import gaussian_filter

    n = len(ssm)
    k = max(2, int(0.15 * n))
    kth = np.sort(ssm, axis=1)[:, -k - 1][:, None]
    recurrence = ((ssm >= kth) & (ssm >= kth.T)) * np.maximum(ssm, 0.0)  # mutual nearest neighbours
    rows = np.arange(n)[:, None]
    lag = gaussian_filter(recurrence[rows, (rows + np.arange(n)[None, :]) % n], (1.0, 0.5))
    return np.concatenate([[0.0], np.linalg.norm(np.diff(lag, axis=0), axis=1)])


def _boundary_bars(novelty: np.ndarray) -> list[int]:
    """Local maxima (within 2 bars either side) that stand out from the song's novelty, at least
    two bars from either end of the song."""
    level = novelty.mean() + _PEAK_THRESHOLD * novelty.std()
    return [i for i in range(2, len(novelty) - 2)
            if novelty[i] > level and novelty[i] == novelty[max(0, i - 2):i + 3].max()]


def find_sections(feats: Features, beats: np.ndarray, downbeat_idx: np.ndarray,
              duration: float) -> list[Section]:
    if len(downbeat_idx) < 6:
        return [Section(start=0.0, end=round(duration, 4), label="A", energy=1.0)]
    bar_frames = np.append(beats[downbeat_idx], len(feats.onset) - 1)
    x = _bar_features(feats, bar_frames)
    ssm = _self_similarity(x)
    rep = _repetition_novelty(ssm)
    phrase = _phrase_novelty(x)
    novelty = rep / max(float(rep.max()), 1e-10) + _PHRASE_WEIGHT * phrase / max(float(phrase.max()), 1e-10)
    cuts = _merge_loops(ssm, [0, *_boundary_bars(novelty), len(bar_frames) - 1])
    labels = _label_segments(ssm, cuts)
    times = [0.0, *(float(bar_frames[i] / FPS) for i in cuts[1:-1]), duration]
    rms = feats.rms
    energies = []
    for a, b in zip(times[:-1], times[1:], strict=True):
        seg = rms[int(a * FPS):max(int(b * FPS), int(a * FPS) + 1)]
        energies.append(float(np.sqrt(np.mean(seg ** 2))) if seg.size else 0.0)
    top = max(max(energies), 1e-10)
    return [Section(start=round(a, 4), end=round(b, 4), label=lab, energy=round(e / top, 4))
            for a, b, lab, e in zip(times[:-1], times[1:], labels, energies, strict=True)]


def _merge_loops(ssm: np.ndarray, cuts: list[int]) -> list[int]:
    """Drop a cut between two short segments that are near-identical: a 4-bar progression played
    twice is one 8-bar section continuing, not two. Sections of 8 bars or more always stand alone."""
    kept = [cuts[0]]
    for i in range(1, len(cuts) - 1):
        before, after = (kept[-1], cuts[i]), (cuts[i], cuts[i + 1])
        short = before[1] - before[0] < _SECTION_BARS
        if not (short and _segment_similarity(ssm, before, after) >= _LOOP_SIMILARITY):
            kept.append(cuts[i])
    return [*kept, cuts[-1]]


def _segment_similarity(ssm: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> float:
    """Mean bar-to-bar similarity of segment ``b`` against ``a`` read in step, best over shifts of up
    to two bars, so a boundary found a bar early or late does not hide a repeat."""
    best = -1.0
    for shift in range(-2, 3):
        pairs = [(a[0] + k + shift, b[0] + k) for k in range(b[1] - b[0])]
        pairs = [(i, j) for i, j in pairs if a[0] <= i < a[1]]
        if len(pairs) >= max(1, (b[1] - b[0]) // 2):
            best = max(best, float(np.mean([ssm[i, j] for i, j in pairs])))
    return best


def _label_segments(ssm: np.ndarray, cuts: list[int]) -> list[str]:
    """Letter per segment: a segment that matches an earlier one closely reuses its letter; a looser
    match is a variation (A'); anything else gets the next new letter."""
    segs = list(zip(cuts[:-1], cuts[1:], strict=True))
    labels: list[str] = []
    next_letter = 0
    for i, seg in enumerate(segs):
        best, best_sim = None, -1.0
        for j in range(i):
            sim = _segment_similarity(ssm, seg, segs[j])
            if sim > best_sim:
                best, best_sim = j, sim
        if best is not None and best_sim > 0.8:
            labels.append(labels[best])
        elif best is not None and best_sim > 0.6:
            labels.append(labels[best].rstrip("'") + "'")
        else:
            labels.append(chr(ord("A") + next_letter % 26))
            next_letter += 1
    return labels
