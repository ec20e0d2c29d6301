"""Features: spectral flux of a log1p-compressed mel spectrogram (loudness-aware, so a soft hi-hat does
not weigh like a kick), per-band flux, a flux below 150 Hz (kick/bass), note onsets however soft,
chroma, MFCCs and RMS, all on the onset frame clock."""

from __future__ import annotations

import numpy as np

from mvpipe.analysis.common import HOP, SR, local_gain

N_FFT = 1024
_CHROMA_N_FFT = 4096
_CHROMA_HOP = 2048  # ~11 chroma frames a second: plenty for beat-level harmony, half the FFTs
ENERGY_DECIMATE = 4  # `energy` is reported at HOP * 4 samples (~46 ms)
_BAND_TRACK_WEIGHT = 2.0  # band-balanced flux against broadband flux in what the beat tracker follows


class Features:
    """Frame-level curves at FPS (onset, low-band and per-band onset, the tracked curve, rms) plus
    chroma/MFCC for bar features."""

    def __init__(self, onset: np.ndarray, onset_low: np.ndarray, onset_bands: np.ndarray, rms: np.ndarray,
                 chroma: np.ndarray, chords: np.ndarray, mfcc: np.ndarray, note_flux: np.ndarray) -> None:
        self.onset = onset
        self.onset_low = onset_low
        self.onset_bands = onset_bands
        # what the beat tracker follows: broadband flux plus the bands voting equally, so hi-hat and
        # snare accents hold it on the beat where bass and chords leave it (syncopation, a drumless
        # breakdown between grooves); both normalised to the loudest onset within +-2 s
        self.track = local_gain(onset) + _BAND_TRACK_WEIGHT * local_gain(onset_bands.mean(axis=1))
        self.rms = rms
        self.chroma = chroma  # (frames at FPS, 12)
        self.chords = chords  # chroma above the bass fundamentals, (frames at FPS, 12)
        self.mfcc = mfcc  # (frames at FPS, 12)
        self.note_flux = note_flux  # new notes however soft their attack (see _note_flux)


_STFT_BLOCK = 128  # frames transformed at a time: the windowed frames and spectra stay in cache


def power_spectrum(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|^2 of centred, zero-padded, Hann-windowed frames (row i centred on sample i * hop),
    float32, computed a block of frames at a time: materialising every windowed frame of a song at
    once cost more in memory traffic than the FFTs themselves."""
    import scipy.fft

    pad = n_fft // 2
    y = np.pad(y.astype(np.float32, copy=False), (pad, pad + hop))
    n = 1 + (len(y) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n]
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    power = np.empty((n, n_fft // 2 + 1), dtype=np.float32)
    for start in range(0, n, _STFT_BLOCK):
        spec = scipy.fft.rfft(frames[start:start + _STFT_BLOCK] * window, axis=1)
        block = power[start:start + _STFT_BLOCK]
        np.square(spec.real, out=block)
        block += np.square(spec.imag)
    return power


def _apply_bank(power: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """``power @ bank`` through a sparse copy of the filterbank: a mel or chroma filter touches a few
    bins, so the dense product spent ~40x the arithmetic on zeros. Only the bins some filter uses
    are read (the product copies them into the row order it needs)."""
    import scipy.sparse

    used = np.flatnonzero(bank.any(axis=1))
    lo, hi = int(used[0]), int(used[-1]) + 1
    return np.asarray((scipy.sparse.csr_matrix(bank[lo:hi].T) @ power[:, lo:hi].T).T)


def _mel_filterbank(n_mels: int, n_fft: int, fmin: float, fmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangular filters evenly spaced on the HTK mel scale, shape (n_fft//2+1, n_mels), and centres."""
    def to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0, SR / 2, n_fft // 2 + 1)
    lo, mid, hi = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    up = (freqs[:, None] - lo) / (mid - lo)
    down = (hi - freqs[:, None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32), mid


def _chroma_filterbank(n_fft: int, fmin: float = 55.0) -> np.ndarray:
    """Map FFT bins between ``fmin`` and 2 kHz onto 12 pitch classes with a triangular semitone weight."""
    freqs = np.linspace(0, SR / 2, n_fft // 2 + 1)
    weights = np.zeros((len(freqs), 12), dtype=np.float32)
    ok = (freqs >= fmin) & (freqs <= 2000.0)
    midi = 69.0 + 12.0 * np.log2(freqs[ok] / 440.0)
    nearest = np.round(midi)
    weights[np.flatnonzero(ok), nearest.astype(int) % 12] = 1.0 - 2.0 * np.abs(midi - nearest)
    return weights


def _flux(logmel: np.ndarray) -> np.ndarray:
    """Positive log-spectral difference averaged over bands; max-filtered across bands (SuperFlux-like)
    so vibrato and slides don't read as onsets. The difference spans two frames and is placed on the
    frame between them, so onsets are not reported a frame late."""
    ref = logmel.copy()  # each band's max with its neighbours (shifted slices: 6x faster than ndimage here)
    np.maximum(ref[:, 1:], logmel[:, :-1], out=ref[:, 1:])
    np.maximum(ref[:, :-1], logmel[:, 1:], out=ref[:, :-1])
    diff = np.maximum(0.0, logmel[2:] - ref[:-2])
    # frame 0 is measured against the silence before the song, so a hit on the very first sample counts
    return np.concatenate([logmel[1].mean(keepdims=True), diff.mean(axis=1), [0.0]]).astype(np.float32)


_BANDS = (0.0, 150.0, 1000.0, 4000.0, 9000.0)
_CHORD_FMIN = 180.0  # Hz: above bass fundamentals, so a walking or root-fifth bass does not hide the chords


def _band_onset(compressed: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Flux per frequency band, each scaled to its own loud onsets, shape (frames, bands): the bands
    vote separately on the beat phase and weigh equally in what the tracker follows, so hi-hat and
    snare accents (which mark the beat in syncopated grooves) are not outweighed by bass and chords
    pushed onto the off-beats."""
    out = np.empty((compressed.shape[0], len(_BANDS) - 1), dtype=np.float32)
    for k, (lo, hi) in enumerate(zip(_BANDS[:-1], _BANDS[1:], strict=True)):
        flux = _flux(compressed[:, (centres >= lo) & (centres < hi)])
        out[:, k] = flux / max(float(np.percentile(flux, 99)), 1e-10)
    return out


_NOTE_BAND = (120.0, 3000.0)  # Hz: where chords and melodies have their partials
_NOTE_LAG = 8  # frames (~93 ms): a string or pad note swells over tens of milliseconds


def _note_flux(power: np.ndarray) -> np.ndarray:
    """Rise of each FFT bin over _NOTE_LAG frames, each bin measured against its own median level
    (whitened), so a quiet note with no attack (a string arpeggio 8 dB under the melody) shows as
    much as a loud one; median 0, 99th percentile 1. Mel flux averages such notes away."""
    if power.shape[0] <= _NOTE_LAG:
        return np.zeros(power.shape[0], dtype=np.float32)
    freqs = np.linspace(0, SR / 2, power.shape[1])
    lo, hi = np.searchsorted(freqs, _NOTE_BAND[0], side="right"), np.searchsorted(freqs, _NOTE_BAND[1])
    band = power[:, lo:hi]
    # each bin's median level over every 4th frame: as typical as over all, a quarter of the sorting
    level = np.log(band / (np.median(band[::4], axis=0) + 1e-12) + 1e-3)
    rise = np.maximum(0.0, level[_NOTE_LAG:] - level[:-_NOTE_LAG]).mean(axis=1)
    half = _NOTE_LAG // 2
    rise = np.concatenate([np.zeros(half), rise, np.zeros(_NOTE_LAG - half)])
    rise -= np.median(rise)
    return (rise / max(float(np.percentile(rise, 99)), 1e-9)).astype(np.float32)


def features(y: np.ndarray) -> Features:
    from scipy.fft import dct

    power = power_spectrum(y, N_FFT, HOP)
    n = power.shape[0]
    fb, centres = _mel_filterbank(64, N_FFT, 30.0, 8000.0)
    mel = _apply_bank(power, fb)
    # log1p with a song-relative gain rather than dB: a hi-hat 40 dB under the kick must not weigh
    # as much as the kick (that is what sends dB flux to the eighth-note level), while a quiet intro
    # 25 dB down still gives clear onsets.
    compressed = np.log1p(100.0 * mel / max(float(mel.max()), 1e-10))
    onset = _flux(compressed)
    onset_bands = _band_onset(compressed, centres)
    onset_low = _flux(compressed[:, centres < 150.0])  # kick and bass, below a snare's body
    rms = np.sqrt(power.sum(axis=1) / (N_FFT * np.sum(np.hanning(N_FFT) ** 2) / 2))
    logmel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    mfcc = dct(np.maximum(logmel, logmel.max() - 80.0), type=2, norm="ortho", axis=1)[:, 1:13]

    cpow = power_spectrum(y, _CHROMA_N_FFT, _CHROMA_HOP)
    banks = np.hstack([_chroma_filterbank(_CHROMA_N_FFT), _chroma_filterbank(_CHROMA_N_FFT, _CHORD_FMIN)])
    pitch = np.log1p(1e3 * _apply_bank(cpow, banks) / max(float(cpow.max()), 1e-10))
    # bring chroma to the onset frame rate so every feature shares one clock
    src = np.arange(pitch.shape[0]) * (_CHROMA_HOP / HOP)
    pitch = np.stack([np.interp(np.arange(n), src, pitch[:, k]) for k in range(24)], axis=1)
    return Features(onset, onset_low, onset_bands, rms, pitch[:, :12], pitch[:, 12:], mfcc, _note_flux(power))


def energy_curve(feats: Features) -> np.ndarray:
    """Onset strength weighted by loudness, decimated and normalised to 0..1 for the planner."""
    rms = feats.rms / max(float(feats.rms.max()), 1e-10)
    curve = feats.onset * np.sqrt(rms)
    n = len(curve) // ENERGY_DECIMATE * ENERGY_DECIMATE
    curve = curve[:n].reshape(-1, ENERGY_DECIMATE).max(axis=1)
    top = float(np.percentile(curve, 99)) if curve.size else 0.0
    return np.clip(curve / top, 0.0, 1.0) if top > 0 else np.zeros_like(curve)

