"""The clock every stage shares and the small numeric helpers more than one stage uses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SR = 22050
HOP = 256
FPS = SR / HOP  # onset-envelope frames per second (~86)


def backtrace(back: Sequence[Sequence[int]] | np.ndarray, last: int) -> np.ndarray:
    """The Viterbi path ending in state ``last``: ``back[i][s]`` is the state before state s at step i."""
    path = np.empty(len(back), dtype=int)
    path[-1] = last
    for i in range(len(back) - 1, 0, -1):
        path[i - 1] = back[i][path[i]]
    return path


def span_sums(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of the rows ``x[lo:hi]`` for each pair of bounds, from one running sum."""
    sums = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    return sums[hi] - sums[lo]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of the first min(len(a), len(b)) rows."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-10)


def zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-10)


def smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma)


def pulse_strength(curve: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The curve's max within +-2 frames of each frame position (per column for a 2-D curve)."""
    idx = np.clip(frames[:, None] + np.arange(-2, 3)[None, :], 0, len(curve) - 1)
    return curve[idx].max(axis=1)


def local_gain(onset: np.ndarray) -> np.ndarray:
    """Onset strength relative to the loudest onset within +-2 s (floored at 1/1000 of the song's),
    so a quiet intro's hits count as hits: loudness matters within a passage, not across passages."""
    from scipy.ndimage import maximum_filter1d

    envelope = maximum_filter1d(onset, size=int(4 * FPS) | 1)
    return onset / np.maximum(envelope, max(1e-3 * float(onset.max()), 1e-10))
