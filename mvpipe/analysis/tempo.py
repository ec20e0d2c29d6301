"""Local tempo: windowed autocorrelation scored by a comb (with a bar term: only the real beat divides
the bar) and a log-normal prior around 120 BPM, then a Viterbi path through tempo that can drift
(accelerando) or jump, but not change octave."""

from __future__ import annotations

import numpy as np

from mvpipe.analysis.common import FPS, backtrace

_BPM_MIN, _BPM_MAX = 40.0, 270.0
_TEMPO_WIN_S = 8.0
_TEMPO_STEP = 43  # frames between _tempogram columns (~0.5 s)
_BPM_GRID = np.exp(np.arange(np.log(_BPM_MIN), np.log(_BPM_MAX), 0.01))

_PRIOR_CENTRE = 120.0
_PRIOR_OCTAVES = 0.8
_PATH_SPAN = 2.3  # a local tempo may drift this far from the global one (a ritardando to under half)
_CENTRE_PULL = 0.6  # evidence units per octave away from the song's tempo: a soul song at 120 with a strong
# 2/3 (80) did not drift there at 0.6 (it did at 0.3); a ritardando 130 -> 80 was followed at 0.3 and 0.6, not 1.0
_JUMP_SPAN = 1.4  # the largest sudden change of tempo between columns: a jump, not an octave
_JUMP_COST = 6.0  # in columns of best-tempo evidence (~0.5 s each) that a tempo jump must earn
_DRIFT_COST = 0.1  # per 1 % change of tempo between columns
_SONG_WIDE_WEIGHT = 1.0  # how much the song-wide _tempogram can raise a column's own evidence

_COMB = ((1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25))
# Weight of the bar term: the pattern repeating 3 or 4 periods later. A syncopated figure (3-3-2)
# makes 2/3 of the tempo as periodic as the tempo itself, but only the real beat divides the bar.
_BAR_COMB_WEIGHT = 0.5


def _tempogram(onset: np.ndarray) -> np.ndarray:
    """Comb-filtered windowed autocorrelation, shape (columns, len(_BPM_GRID)), plus a bar term."""
    from scipy.ndimage import uniform_filter1d

    win = int(_TEMPO_WIN_S * FPS)
    # a centred running mean that keeps the onset's length even when the song is shorter than win
    x = onset - uniform_filter1d(onset, win, mode="constant")
    x = np.maximum(x, 0.0)
    padded = np.pad(x, (win // 2, win // 2 + _TEMPO_STEP))
    starts = np.arange(0, len(onset), _TEMPO_STEP)
    windows = np.stack([padded[s:s + win] for s in starts]) * np.hanning(win)
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    spec = np.fft.rfft(windows, nfft, axis=1)
    acf = np.fft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, :win]
    acf /= np.maximum(acf[:, :1], 1e-10)
    lags = 60.0 * FPS / _BPM_GRID

    def at(k: float) -> np.ndarray:
        lk = np.minimum(lags * k, win - 2)
        lo = np.floor(lk).astype(int)
        frac = lk - lo
        return (1 - frac) * acf[:, lo] + frac * acf[:, lo + 1]

    score = np.zeros((len(starts), len(_BPM_GRID)))
    for k, w in _COMB:
        score += w * at(k)
    return score + _BAR_COMB_WEIGHT * np.maximum(at(3), at(4))


def _tempo_path(tgram: np.ndarray, song_wide: np.ndarray, centre_bpm: float, span: float) -> np.ndarray:
    """Viterbi path through tempo (BPM per column) within a factor ``span`` of ``centre_bpm``.

    Each column's evidence is its own _tempogram weighted up where the song-wide one agrees, so a
    steady song is not talked into a related tempo (4/3, 3/4 in swing) by a few bars, while a
    tempo with no local support gets none from the rest of the song; drift costs a little per step
    and a jump a constant however far it goes, so an accelerando or a real tempo change is followed.
    """
    allowed = np.abs(np.log(_BPM_GRID / centre_bpm)) < np.log(span)
    grid = _BPM_GRID[allowed]
    obs = tgram[:, allowed] / np.maximum(tgram[:, allowed].max(axis=1, keepdims=True), 1e-10)
    obs = obs * (1.0 + _SONG_WIDE_WEIGHT * song_wide[allowed] / max(float(song_wide[allowed].max()), 1e-10))
    obs = obs - _CENTRE_PULL * np.abs(np.log2(grid / centre_bpm))  # far from the song's tempo needs more evidence
    d = np.abs(np.log(grid[:, None] / grid[None, :])) / 0.01  # distance in grid steps
    trans = np.where(d > 3, -_JUMP_COST, -_DRIFT_COST * d)  # drift costs per 1 % step, a jump a constant
    trans[d > np.log(_JUMP_SPAN) / 0.01] = -np.inf  # farther only by drifting: no octave jumps
    score = obs[0].copy()
    back = np.zeros(obs.shape, dtype=int)
    for i in range(1, len(obs)):
        cand = score[None, :] + trans
        back[i] = cand.argmax(axis=1)
        score = cand.max(axis=1) + obs[i]
    return grid[backtrace(back, int(score.argmax()))]


class Periodicity:
    """How periodic the whole song's onsets are at each tempo, and the evidence for a beat level that
    combines it with a prior on the tempi people tap."""

    def __init__(self, song_wide: np.ndarray) -> None:
        self.song_wide = song_wide

    def strength(self, bpm: float) -> float:
        return float(np.interp(np.log(bpm), np.log(_BPM_GRID), self.song_wide))

    def evidence(self, bpm: float) -> float:
        """log periodicity + log prior: the tempo stage's word on ``bpm`` as the level people tap."""
        return float(np.log(max(self.strength(bpm), 1e-3)) + log_prior(bpm))


def log_prior(bpm: float | np.ndarray) -> float | np.ndarray:
    """A log-normal prior on the tapped tempo, around 120 BPM."""
    return -0.5 * (np.log2(np.asarray(bpm) / _PRIOR_CENTRE) / _PRIOR_OCTAVES) ** 2


def local_bpm(onset: np.ndarray, near: float | None = None) -> tuple[np.ndarray, Periodicity]:
    """Tempo in BPM at every onset frame, and the song's periodicity: the Viterbi path through the
    tempogram around the tempo the whole song favours under the prior, or around ``near`` (the
    user's word) when given."""
    tgram = _tempogram(onset)
    periodicity = Periodicity(tgram.mean(axis=0))
    song_wide = periodicity.song_wide * np.exp(log_prior(_BPM_GRID))
    centre = near if near is not None else float(_BPM_GRID[int(np.argmax(song_wide))])
    if near is not None:  # the user's tempo fixes the level: only tempi near it may carry the path
        song_wide = song_wide * (np.abs(np.log(_BPM_GRID / near)) < np.log(1.15))
    bpm_cols = _tempo_path(tgram, song_wide, centre, _PATH_SPAN if near is None else _JUMP_SPAN)
    cols = np.arange(len(bpm_cols)) * _TEMPO_STEP
    return np.interp(np.arange(len(onset)), cols, bpm_cols), periodicity
