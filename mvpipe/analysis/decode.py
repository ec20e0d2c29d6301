"""Decoding a song for analysis. Lossless files (WAV, FLAC, AIFF) are read in-process by libsndfile and
everything else by the FFmpeg executable; both are resampled and mixed to mono by libswresample, so the
samples are the same either way. Why not FFmpeg for all: its cost is per packet, and a FLAC written with
tiny blocks (47 samples, as in 8 of the 24 real test recordings) decodes at ~15x real time through it
(~2 s for 30 s of audio) against ~0.1 s through libsndfile; a WAV also saves starting a process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvpipe.ffmpeg import decode_audio

# libsndfile's names for sample-exact formats (no encoder delay to trim, unlike MP3, where FFmpeg's
# gapless handling is the reference)
_IN_PROCESS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF"})
_LAYOUTS = {1: "mono", 2: "stereo"}


def decode_song(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``; raises InputError (via FFmpeg) when ``path`` holds no audio."""
    samples = _read_lossless(Path(path), sample_rate)
    return samples if samples is not None else decode_audio(path, sample_rate)


def _read_lossless(path: Path, sample_rate: int) -> np.ndarray | None:
    """The file through libsndfile and libswresample, or None when libsndfile cannot read it whole."""
    import av
    import soundfile

    try:
        if soundfile.info(str(path)).format not in _IN_PROCESS:
            return None
        y, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError):  # not a format it knows, unreadable, truncated
        return None
    if y.shape[0] == 0 or y.shape[1] not in _LAYOUTS:
        return None
    if rate == sample_rate and y.shape[1] == 1:  # libswresample would pass these samples through unchanged
        return np.ascontiguousarray(y[:, 0])
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y).reshape(1, -1), format="flt",
                                       layout=_LAYOUTS[y.shape[1]])
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    out = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]) if out else None
