"""Song -> SongAnalysis: tempo, beats, downbeats, meter, sections, energy.

Everything here is numpy/scipy on purpose. librosa's spectral helpers pull in numba-jitted code whose
cold compile takes ~20 s on a fresh install; the few pieces we need (STFT, mel and chroma filterbanks,
spectral flux, a dynamic-programming beat tracker) are short enough to own, and owning the tracker
lets it follow a tempo that changes instead of assuming one global tempo.

The stages:

1. features: spectral flux of a log1p-compressed mel spectrogram (loudness-aware, so a soft hi-hat
   does not weigh like a kick), a flux below 150 Hz (kick/bass), chroma, MFCCs, RMS;
2. local tempo: windowed autocorrelation scored by a comb (with a bar term: only the real beat
   divides the bar) and a log-normal prior around 120 BPM, then a Viterbi path through tempo that
   can drift (accelerando) or jump, but not change octave;
3. beats: Ellis-style dynamic programming against that local period, on broadband plus
   band-balanced onsets normalised to the loudest within +-2 s so a quiet intro keeps its beats;
   then a per-passage check that moves beats onto the off-beats where the bands say those are the
   beat (syncopation); no beats at all (and a progress message) for songs under 2 s or without
   onsets that stand out (silence, DC, a drone, steady noise);
4. meter and downbeats: per-beat bass-onset and harmonic-change evidence; 3 against 2/4 by
   bar-start contrast, 4/4 against 2/4 by whether every other 2-beat bar start looks like an
   off-beat or, failing that, by harmonic rhythm (chords above the bass change every 4 beats or
   every 2); a bar of 6 or 8 pulses
   halves the beat level (the tracker followed eighths), no bar structure with hit half-beats doubles
   it (the tracker followed half notes), 4-beat bars whose onsets fall on thirds are re-split in
   three (a slow 3/4 read at 4/3 of its tempo); a Viterbi over bar position places bars;
5. sections: phrase novelty (2/4/8-bar windows) plus repetition structure features on bar-level
   features, boundaries on downbeats, near-identical short loops merged, repeats share a letter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from mvpipe.ffmpeg import decode_audio
from mvpipe.workspace import file_digest, write_text_atomic

# Bump whenever the algorithm changes, so cached analyses from older code are recomputed.
ANALYSIS_VERSION = 17

_SR = 22050
_N_FFT = 1024
_HOP = 256
_FPS = _SR / _HOP  # onset-envelope frames per second (~86)
_CHROMA_N_FFT = 4096
_CHROMA_HOP = 2048  # ~11 chroma frames a second: plenty for beat-level harmony, half the FFTs
_ENERGY_DECIMATE = 4  # `energy` is reported at _HOP * 4 samples (~46 ms)
_BPM_MIN, _BPM_MAX = 40.0, 240.0
_BEAT_BPM_RANGE = (60.0, 200.0)  # where a beat level may land after octave resolution


class Section(BaseModel):
    """A stretch of the song between two downbeats; sections with the same letter repeat."""

    start: float
    end: float
    label: str = Field(description="A, B, A' ... : the same letter means the same material")
    energy: float = Field(description="mean RMS energy, normalised so the loudest section is 1.0")


class SongAnalysis(BaseModel):
    """Everything the planner needs to know about a song. Times are seconds from the song's start."""

    sha256: str = Field(description="content hash of the audio file; the cache key")
    duration: float
    tempo: float = Field(description="dominant tempo in BPM at the beat level reported in `beats`")
    meter: int = Field(description="beats per bar")
    beats: list[float]
    downbeats: list[float] = Field(description="the first beat of each bar; a subset of `beats`")
    sections: list[Section]
    energy_hop: float = Field(description="seconds between samples of `energy`")
    energy: list[float] = Field(description="onset-strength curve, normalised to 0..1")


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
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached
    say(f"decoding {song.name}")
    y = decode_audio(song, _SR)  # raises InputError naming the file when missing or not audio
    say("analysing beats, bars and sections")
    result = _analyze_samples(y, sha, say)
    if cache_file is not None:
        _write_cache(cache_file, result)
    return result


# ---------------------------------------------------------------------------------------- cache


def _read_cache(path: Path) -> SongAnalysis | None:
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


def _write_cache(path: Path, result: SongAnalysis) -> None:
    doc = {"analysis_version": ANALYSIS_VERSION, "analysis": result.model_dump(mode="json")}
    write_text_atomic(path, json.dumps(doc))


# ------------------------------------------------------------------------------------- pipeline


def _analyze_samples(y: np.ndarray, sha: str, say: Callable[[str], None]) -> SongAnalysis:
    duration = len(y) / _SR
    feats = _features(y)
    beat_frames = _track_beats(feats)
    beat_frames = beat_frames[beat_frames / _FPS <= duration]  # the padded last frame can lie past the end
    if len(beat_frames) < 2:
        say("no beat found (shorter than 2 s, silent, or no onsets that stand out): "
            "beats are empty and the song is one section")
    elif len(beat_frames) < _METER_MIN_BEATS:
        say(f"only {len(beat_frames)} beats: too few to tell the meter, assuming 4/4")
    beat_frames, meter, downbeat_idx = _downbeats(feats, beat_frames)
    beats = beat_frames / _FPS
    downbeats = beats[downbeat_idx]
    tempo = _tempo_bpm(beats)
    sections = _sections(feats, beat_frames, downbeat_idx, duration)
    energy = _energy_curve(feats)
    return SongAnalysis(
        sha256=sha,
        duration=round(duration, 4),
        tempo=round(tempo, 2),
        meter=meter,
        beats=[round(float(t), 4) for t in beats],
        downbeats=[round(float(t), 4) for t in downbeats],
        sections=sections,
        energy_hop=_HOP * _ENERGY_DECIMATE / _SR,
        energy=[round(float(v), 4) for v in energy],
    )


def _tempo_bpm(beats: np.ndarray) -> float:
    """Dominant tempo: the median over 4-beat spans, which is 4x finer than one frame-quantised gap."""
    if len(beats) < 2:
        return 0.0
    span = min(4, len(beats) - 1)
    return float(60.0 * span / np.median(beats[span:] - beats[:-span]))


# ------------------------------------------------------------------------------------- features


class _Features:
    """Frame-level curves at _FPS (onset, low-band and per-band onset, the tracked curve, rms) plus
    chroma/MFCC for bar features."""

    def __init__(self, onset: np.ndarray, onset_low: np.ndarray, onset_bands: np.ndarray, rms: np.ndarray,
                 chroma: np.ndarray, chords: np.ndarray, mfcc: np.ndarray, note_flux: np.ndarray) -> None:
        self.onset = onset
        self.onset_low = onset_low
        self.onset_bands = onset_bands
        # what the beat tracker follows: broadband flux plus the bands voting equally, so hi-hat and
        # snare accents hold it on the beat where bass and chords leave it (syncopation, a drumless
        # breakdown between grooves); both normalised to the loudest onset within +-2 s
        self.track = _local_gain(onset) + _BAND_TRACK_WEIGHT * _local_gain(onset_bands.mean(axis=1))
        self.rms = rms
        self.chroma = chroma  # (frames at _FPS, 12)
        self.chords = chords  # chroma above the bass fundamentals, (frames at _FPS, 12)
        self.mfcc = mfcc  # (frames at _FPS, 12)
        self.note_flux = note_flux  # new notes however soft their attack (see _note_flux)


def _frames(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centered, zero-padded, Hann-windowed frames: row i is centred on sample i * hop."""
    pad = n_fft // 2
    y = np.pad(y.astype(np.float32), (pad, pad + hop))
    n = 1 + (len(y) - n_fft) // hop
    view = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n]
    return view * np.hanning(n_fft + 1)[:-1].astype(np.float32)


def _power_spectrum(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    import scipy.fft

    spec = scipy.fft.rfft(_frames(y, n_fft, hop), axis=1)
    power = np.square(spec.real)
    power += np.square(spec.imag)
    return power


def _mel_filterbank(n_mels: int, n_fft: int, fmin: float, fmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangular filters evenly spaced on the HTK mel scale, shape (n_fft//2+1, n_mels), and centres."""
    def to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0, _SR / 2, n_fft // 2 + 1)
    lo, mid, hi = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    up = (freqs[:, None] - lo) / (mid - lo)
    down = (hi - freqs[:, None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32), mid


def _chroma_filterbank(n_fft: int, fmin: float = 55.0) -> np.ndarray:
    """Map FFT bins between ``fmin`` and 2 kHz onto 12 pitch classes with a triangular semitone weight."""
    freqs = np.linspace(0, _SR / 2, n_fft // 2 + 1)
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
    freqs = np.linspace(0, _SR / 2, power.shape[1])
    band = power[:, (freqs > _NOTE_BAND[0]) & (freqs < _NOTE_BAND[1])]
    level = np.log(band / (np.median(band, axis=0) + 1e-12) + 1e-3)
    rise = np.maximum(0.0, level[_NOTE_LAG:] - level[:-_NOTE_LAG]).mean(axis=1)
    half = _NOTE_LAG // 2
    rise = np.concatenate([np.zeros(half), rise, np.zeros(_NOTE_LAG - half)])
    rise -= np.median(rise)
    return (rise / max(float(np.percentile(rise, 99)), 1e-9)).astype(np.float32)


def _features(y: np.ndarray) -> _Features:
    from scipy.fft import dct

    power = _power_spectrum(y, _N_FFT, _HOP)
    n = power.shape[0]
    fb, centres = _mel_filterbank(64, _N_FFT, 30.0, 8000.0)
    mel = power @ fb
    # log1p with a song-relative gain rather than dB: a hi-hat 40 dB under the kick must not weigh
    # as much as the kick (that is what sends dB flux to the eighth-note level), while a quiet intro
    # 25 dB down still gives clear onsets.
    compressed = np.log1p(100.0 * mel / max(float(mel.max()), 1e-10))
    onset = _flux(compressed)
    onset_bands = _band_onset(compressed, centres)
    onset_low = _flux(compressed[:, centres < 150.0])  # kick and bass, below a snare's body
    rms = np.sqrt(power.sum(axis=1) / (_N_FFT * np.sum(np.hanning(_N_FFT) ** 2) / 2))
    logmel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    mfcc = dct(np.maximum(logmel, logmel.max() - 80.0), type=2, norm="ortho", axis=1)[:, 1:13]

    cpow = _power_spectrum(y, _CHROMA_N_FFT, _CHROMA_HOP)
    banks = np.hstack([_chroma_filterbank(_CHROMA_N_FFT), _chroma_filterbank(_CHROMA_N_FFT, _CHORD_FMIN)])
    pitch = np.log1p(1e3 * (cpow @ banks) / max(float(cpow.max()), 1e-10))
    # bring chroma to the onset frame rate so every feature shares one clock
    src = np.arange(pitch.shape[0]) * (_CHROMA_HOP / _HOP)
    pitch = np.stack([np.interp(np.arange(n), src, pitch[:, k]) for k in range(24)], axis=1)
    return _Features(onset, onset_low, onset_bands, rms, pitch[:, :12], pitch[:, 12:], mfcc, _note_flux(power))


def _energy_curve(feats: _Features) -> np.ndarray:
    """Onset strength weighted by loudness, decimated and normalised to 0..1 for the planner."""
    rms = feats.rms / max(float(feats.rms.max()), 1e-10)
    curve = feats.onset * np.sqrt(rms)
    n = len(curve) // _ENERGY_DECIMATE * _ENERGY_DECIMATE
    curve = curve[:n].reshape(-1, _ENERGY_DECIMATE).max(axis=1)
    top = float(np.percentile(curve, 99)) if curve.size else 0.0
    return np.clip(curve / top, 0.0, 1.0) if top > 0 else np.zeros_like(curve)


# ---------------------------------------------------------------------------------- local tempo

_TEMPO_WIN_S = 8.0
_TEMPO_STEP = 43  # frames between tempogram columns (~0.5 s)
_BPM_GRID = np.exp(np.arange(np.log(_BPM_MIN), np.log(_BPM_MAX), 0.01))


_COMB = ((1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25))
# Weight of the bar term: the pattern repeating 3 or 4 periods later. A syncopated figure (3-3-2)
# makes 2/3 of the tempo as periodic as the tempo itself, but only the real beat divides the bar.
_BAR_COMB_WEIGHT = 0.5


def _tempogram(onset: np.ndarray) -> np.ndarray:
    """Comb-filtered windowed autocorrelation, shape (columns, len(_BPM_GRID)), plus a bar term."""
    from scipy.ndimage import uniform_filter1d

    win = int(_TEMPO_WIN_S * _FPS)
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
    lags = 60.0 * _FPS / _BPM_GRID
    def at(k: float) -> np.ndarray:
        lk = np.minimum(lags * k, win - 2)
        lo = np.floor(lk).astype(int)
        frac = lk - lo
        return (1 - frac) * acf[:, lo] + frac * acf[:, lo + 1]

    score = np.zeros((len(starts), len(_BPM_GRID)))
    for k, w in _COMB:
        score += w * at(k)
    return score + _BAR_COMB_WEIGHT * np.maximum(at(3), at(4))


def _tempo_path(tgram: np.ndarray, song_wide: np.ndarray, centre_bpm: float) -> np.ndarray:
    """Viterbi path through tempo (BPM per column) within a factor _PATH_SPAN of ``centre_bpm``.

    Each column's evidence is its own tempogram weighted up where the song-wide one agrees, so a
    steady song is not talked into a related tempo (4/3, 3/4 in swing) by a few bars, while a
    tempo with no local support gets none from the rest of the song; drift costs a little per step
    and a jump a constant however far it goes, so an accelerando or a real tempo change is followed.
    """
    allowed = np.abs(np.log(_BPM_GRID / centre_bpm)) < np.log(_PATH_SPAN)
    grid = _BPM_GRID[allowed]
    obs = tgram[:, allowed] / np.maximum(tgram[:, allowed].max(axis=1, keepdims=True), 1e-10)
    obs = obs * (1.0 + _SONG_WIDE_WEIGHT * song_wide[allowed] / max(float(song_wide[allowed].max()), 1e-10))
    d = np.abs(np.log(grid[:, None] / grid[None, :])) / 0.01  # distance in grid steps
    trans = np.where(d > 3, -_JUMP_COST, -_DRIFT_COST * d)  # drift costs per 1 % step, a jump a constant
    score = obs[0].copy()
    back = np.zeros(obs.shape, dtype=int)
    for i in range(1, len(obs)):
        cand = score[None, :] + trans
        back[i] = cand.argmax(axis=1)
        score = cand.max(axis=1) + obs[i]
    path = np.empty(len(obs), dtype=int)
    path[-1] = int(score.argmax())
    for i in range(len(obs) - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return grid[path]


# ---------------------------------------------------------------------------------------- beats


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


_PRIOR_OCTAVES = 0.8
_PATH_SPAN = 1.4  # a local tempo may stray this far from the global one: a jump, not an octave
_JUMP_COST = 6.0  # in columns of best-tempo evidence (~0.5 s each) that a tempo jump must earn
_DRIFT_COST = 0.1  # per 1 % change of tempo between columns
_SONG_WIDE_WEIGHT = 1.0  # how much the song-wide tempogram can raise a column's own evidence
_BAND_TRACK_WEIGHT = 2.0  # band-balanced flux against broadband flux in what the beat tracker follows


def _track_beats(feats: _Features) -> np.ndarray:
    """Beat positions in onset frames, following the local tempo; none for < 2 s or no onsets."""
    if len(feats.onset) < int(2 * _FPS) or not _has_onsets(feats.onset):
        return np.zeros(0, dtype=int)
    onset = _local_gain(feats.onset)
    tgram = _tempogram(onset)
    # a log-normal prior around 120 BPM settles the metrical level when two are about as periodic
    prior = np.exp(-0.5 * (np.log2(_BPM_GRID / 120.0) / _PRIOR_OCTAVES) ** 2)
    song_wide = tgram.mean(axis=0) * prior
    bpm_cols = _tempo_path(tgram, song_wide, float(_BPM_GRID[int(np.argmax(song_wide))]))
    cols = np.arange(len(bpm_cols)) * _TEMPO_STEP
    bpm = np.interp(np.arange(len(onset)), cols, bpm_cols)
    # keep the beat level in a plausible range; finer octave choices are made with the meter
    level = float(np.median(bpm))
    if level > _BEAT_BPM_RANGE[1]:
        bpm = bpm / 2
    elif level < _BEAT_BPM_RANGE[0]:
        bpm = bpm * 2
    beats = _on_the_beat(feats, _dp_beats(_smooth(feats.track, 2.0), 60.0 * _FPS / bpm))
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


def _on_the_beat(feats: _Features, beats: np.ndarray) -> np.ndarray:
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

    on = uniform_filter1d(_pulse_strength(feats.onset_bands, beats), _PHASE_BEATS, axis=0) + _PHASE_FLOOR
    off = uniform_filter1d(_pulse_strength(feats.onset_bands, mids), _PHASE_BEATS, axis=0) + _PHASE_FLOOR
    ratio = np.log(off / on)  # per beat and band: > 0 favours the off-beats
    # bands weighted by how one-sided they are: silent on one phase and hit on the other is decisive
    gain = (ratio * np.abs(ratio)).sum(axis=1) / np.maximum(np.abs(ratio).sum(axis=1), 1e-10) - _PHASE_BIAS
    score = np.array([0.0, gain[0]])
    back = np.zeros((len(beats), 2), dtype=int)
    for i in range(1, len(beats)):
        switch = score[::-1] - _PHASE_SWITCH
        back[i] = np.where(score >= switch, [0, 1], [1, 0])
        score = np.maximum(score, switch) + np.array([0.0, gain[i]])
    state = np.empty(len(beats), dtype=int)
    state[-1] = int(score.argmax())
    for i in range(len(beats) - 1, 0, -1):
        state[i - 1] = back[i, state[i]]
    # back on the beat after off-beats, the last off-beat lies half a beat before the next beat: drop it
    keep = np.ones(len(beats), dtype=bool)
    keep[:-1] = ~((state[:-1] == 1) & (state[1:] == 0))
    return np.where(state == 1, mids, beats)[keep]


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma)


def _pulse_strength(curve: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The curve's max within +-2 frames of each frame position (per column for a 2-D curve)."""
    idx = np.clip(frames[:, None] + np.arange(-2, 3)[None, :], 0, len(curve) - 1)
    return curve[idx].max(axis=1)


def _local_gain(onset: np.ndarray) -> np.ndarray:
    """Onset strength relative to the loudest onset within +-2 s (floored at 1/1000 of the song's),
    so a quiet intro's hits count as hits: loudness matters within a passage, not across passages."""
    from scipy.ndimage import maximum_filter1d

    envelope = maximum_filter1d(onset, size=int(4 * _FPS) | 1)
    return onset / np.maximum(envelope, max(1e-3 * float(onset.max()), 1e-10))


def _trim_silence(onset: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Drop beats before the first and after the last onset of the song (lead-in silence, a final
    chord ringing out); ``onset`` is locally normalised, so quiet intros keep their beats."""
    heard = np.flatnonzero(onset > 0.1)
    if len(beats) == 0 or len(heard) == 0:
        return beats[:0]
    return beats[(beats >= heard[0] - 3) & (beats <= heard[-1] + 3)]


# ------------------------------------------------------------------------------- meter, downbeats


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-10)


def _harmonic_change(feats: _Features, beats: np.ndarray) -> np.ndarray:
    """Per beat: chroma distance between the 1 and 2 beats before it and the 1 and 2 beats after.

    Two scales, because a chord that is held across a bar changes only at the bar line, while
    comping on the off-beats smears a one-beat comparison over two beats.
    """
    ends = np.append(beats, min(len(feats.onset), beats[-1] + int(np.median(np.diff(beats)))))
    sums = np.cumsum(np.vstack([np.zeros((1, 12)), feats.chroma]), axis=0)
    total = np.zeros(len(beats))
    for w in (1, 2):
        i = np.arange(len(beats))
        lo, hi = ends[np.maximum(i - w, 0)], ends[np.minimum(i + w, len(beats))]
        before = sums[ends[i]] - sums[lo]
        after = sums[hi] - sums[ends[i]]
        cos = np.sum(before * after, axis=1) / np.maximum(
            np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1), 1e-10)
        total += 1.0 - cos
    return total


def _downbeat_cues(feats: _Features, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-beat evidence that a bar starts here, standardised: (kick/bass onset, harmonic change)."""
    return _zscore(_pulse_strength(feats.onset_low, beats)), _zscore(_harmonic_change(feats, beats))


def _downbeat_evidence(feats: _Features, beats: np.ndarray) -> np.ndarray:
    low, harmony = _downbeat_cues(feats, beats)
    return low + harmony


# The weaker of alternate 2-beat bar starts, as a share of the stronger one's lead over the other
# beats, below which it is no bar start: the bar is 4 beats. Tuning 4/4 songs with the kick on 1
# only measured -0.5 to 0.33 (the real songs -0.5 and -0.04), polkas 0.69 to 0.93; in between
# (a kick on 1 and 3) the harmony decides.
_WEAK_HALF_START = 0.5


def _weak_half_start(evidence: np.ndarray, starts: np.ndarray) -> float:
    """How much the weaker of alternate 2-beat bar starts stands out from the other beats, against
    the stronger: near 1 when every start is a bar line (2/4), near 0 or below for beat 3 of 4/4."""
    first, second = evidence[starts[0::2]].mean(), evidence[starts[1::2]].mean()
    rest = np.delete(evidence, starts).mean()
    return float((min(first, second) - rest) / max(max(first, second) - rest, 1e-10))


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-10)


# 2-beat halves pair into 4-beat bars when the chord changes between pairs at least this much more
# than within them (0 = no difference, 1 = no change within); tuning 4/4 songs measured 0.58-0.96,
# polkas 0.05-0.43
_HALF_BAR_CHANGE = 0.5
# ... or when paired halves are this much more alike (cosine) than two beats inside one half: the
# bass walks every beat but the chord holds for the bar (tuning swing 0.09-0.25, polkas <= 0.03)
_HALF_BAR_BLEND = 0.06


def _halves_share_harmony(feats: _Features, beats: np.ndarray, starts: np.ndarray) -> bool:
    """Whether 2-beat bars pair into 4-beat bars by their chords: in 4/4 the chord holds across the
    bar's two halves and changes at the bar line, in 2/4 it changes every 2 beats. Read from chroma
    above the bass, which may move every beat or every bar whatever the meter."""
    phase = int(np.bincount(starts % 2, minlength=2).argmax())
    ends = np.append(beats, min(len(feats.onset), beats[-1] + int(np.median(np.diff(beats)))))
    sums = np.cumsum(np.vstack([np.zeros((1, 12)), feats.chords]), axis=0)
    per_beat = (sums[ends[1:]] - sums[ends[:-1]])[phase:]
    n = len(per_beat) // 2 * 2
    halves = per_beat[0:n:2] + per_beat[1:n:2]
    inside = float(_cosine(per_beat[0:n:2], per_beat[1:n:2]).mean())
    for pairing in (0, 1):
        h = halves[pairing:]
        within = float(_cosine(h[0::2], h[1::2]).mean())
        across = float(_cosine(h[1::2], h[2::2]).mean())
        if (within - across) / max(1.0 - across, 1e-10) >= _HALF_BAR_CHANGE or within - inside >= _HALF_BAR_BLEND:
            return True
    return False


def _bar_contrast(evidence: np.ndarray, length: int) -> float:
    """Mean evidence on the bar starts the Viterbi picks minus the mean on the other beats."""
    on = np.zeros(len(evidence), dtype=bool)
    on[_bar_positions(evidence, length)] = True
    return float(evidence[on].mean() - evidence[~on].mean())


_METER_MIN_BEATS = 16  # fewer beats than four 4/4 bars cannot tell 2, 3 and 4 apart
# Bar-start contrast (z units) below which no bar length fits the tracked beats. Tuning songs
# measured 1.0 to 3.8 at the right level; a half-tempo grid 0.5, a click track's noise 0.3.
_BAR_CONTRAST_MIN = 1.0
_HALF_BEAT_RATIO = 0.5  # onsets halfway between beats this strong against the beats: a beat level


def _halves_are_hit(feats: _Features, beats: np.ndarray) -> bool:
    """Whether the points halfway between beats carry onsets nearly as strong as the beats (the
    median ratio): with a snare on every such point the tracker has followed half notes."""
    mids = (beats[:-1] + beats[1:]) // 2
    on = _pulse_strength(feats.onset, beats[:-1])
    return float(np.median(_pulse_strength(feats.onset, mids) / np.maximum(on, 1e-10))) >= _HALF_BEAT_RATIO


def _downbeats(feats: _Features, beats: np.ndarray, *,
               doubled: bool = False) -> tuple[np.ndarray, int, np.ndarray]:
    """(beats, meter, indices of the downbeats in beats).

    Triple or duple comes from the bar-start contrast of 3- against 2- and 4-beat bars; duple is
    4/4 when every other 2-beat bar start is no stronger than the other beats, or when the chords
    hold over 4 beats; else 2/4. A bar of 6 or 8 tracked pulses that
    clearly beats them all means the tracker followed eighth notes: the beats are then halved, if
    that keeps them in range; no bar length fitting at all while the half-beats are hit means it
    followed half notes: the beats are then doubled, once.
    """
    if len(beats) < _METER_MIN_BEATS:
        return beats, 4, np.arange(0, len(beats), 4)
    evidence = _downbeat_evidence(feats, beats)
    contrast = {length: _bar_contrast(evidence, length) for length in (2, 3, 4, 6, 8)}
    bpm = 60.0 * _FPS / float(np.median(np.diff(beats)))
    simple = max(contrast[2], contrast[3], contrast[4])
    if not doubled and simple < _BAR_CONTRAST_MIN and 2 * bpm <= _BEAT_BPM_RANGE[1] and _halves_are_hit(feats, beats):
        mids = (beats[:-1] + beats[1:]) // 2
        return _downbeats(feats, np.sort(np.concatenate([beats, mids])), doubled=True)
    compound = [m for m in (3, 4) if contrast[2 * m] > max(1.5 * simple, _BAR_CONTRAST_MIN)]
    if compound and bpm / 2 >= _BEAT_BPM_RANGE[0]:
        meter = max(compound, key=lambda m: contrast[2 * m])
        parity = int(np.bincount(_bar_positions(evidence, 2 * meter) % 2, minlength=2).argmax())
        beats = beats[parity::2]
        evidence = _downbeat_evidence(feats, beats)
    elif contrast[3] > max(contrast[2], contrast[4]):
        meter = 3
    else:
        starts = _bar_positions(evidence, 2)
        four = _weak_half_start(evidence, starts) < _WEAK_HALF_START or _halves_share_harmony(feats, beats, starts)
        meter = 4 if four else 2
    if meter == 4 and 0.75 * bpm >= _BEAT_BPM_RANGE[0]:
        thirds = _bars_in_three(feats, beats, _bar_positions(evidence, 4))
        if thirds is not None:
            return thirds, 3, _bar_positions(_downbeat_evidence(feats, thirds), 3)
    return beats, meter, _bar_positions(evidence, meter)


# Onsets on the inner thirds of 4-beat bars, against on their inner quarters, above which the bar
# has 3 beats at 3/4 of the tempo: a slow 3/4 arpeggio can read as 4 beats a bar at 4/3 its tempo.
# Tuning 4/4 songs measured at most 0.18, 3/4 songs read right 1.5 and more.
_THREE_IN_FOUR = 0.5
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
        return float(_pulse_strength(note_flux, frames).mean())

    six, eight = at((1 / 6, 1 / 3, 2 / 3, 5 / 6)), at((1 / 8, 1 / 4, 3 / 8, 5 / 8, 3 / 4, 7 / 8))
    return (six - eight) / (six + eight + 0.02)


def _bars_in_three(feats: _Features, beats: np.ndarray, downbeat_idx: np.ndarray) -> np.ndarray | None:
    """Beats that split each bar in three, when the bar's onsets fall on its thirds at least
    _THREE_IN_FOUR as strongly as on its quarters, or its notes move in sixths of the bar rather than
    eighths (_SIXTHS_IN_EIGHTHS); else None. The bar lines stay where they are."""
    downs = beats[downbeat_idx]
    if len(downs) < 4:
        return None
    length = np.diff(downs)

    def inner(parts: int) -> float:
        return float(_pulse_strength(feats.track, np.concatenate(
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
    pos = np.empty(n, dtype=int)
    pos[-1] = max(range(meter), key=score.__getitem__)
    for i in range(n - 1, 0, -1):
        pos[i - 1] = back[i][pos[i]]
    return np.flatnonzero(pos == 0)


# ------------------------------------------------------------------------------------- sections


def _bar_features(feats: _Features, bar_frames: np.ndarray) -> np.ndarray:
    """Per-bar mean chroma, MFCC and loudness, each group standardised, shape (bars, 37)."""
    def bar_mean(x: np.ndarray) -> np.ndarray:
        sums = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
        return (sums[bar_frames[1:]] - sums[bar_frames[:-1]]) / np.maximum(np.diff(bar_frames), 1)[:, None]

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
    sums = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    total = np.zeros(n)
    for w in _PHRASES:
        i = np.arange(n)
        lo, hi = np.maximum(i - w, 0), np.minimum(i + w, n)
        before = (sums[i] - sums[lo]) / np.maximum(i - lo, 1)[:, None]
        after = (sums[hi] - sums[i]) / np.maximum(hi - i, 1)[:, None]
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


def _sections(feats: _Features, beats: np.ndarray, downbeat_idx: np.ndarray,
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
    times = [0.0, *(float(bar_frames[i] / _FPS) for i in cuts[1:-1]), duration]
    rms = feats.rms
    energies = []
    for a, b in zip(times[:-1], times[1:], strict=True):
        seg = rms[int(a * _FPS):max(int(b * _FPS), int(a * _FPS) + 1)]
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
