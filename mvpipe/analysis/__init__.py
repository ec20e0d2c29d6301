"""Song -> SongAnalysis: tempo, beats, downbeats, meter, sections, energy.

Everything here is numpy/scipy on purpose. librosa's spectral helpers pull in numba-jitted code whose
cold compile takes ~20 s on a fresh install; the few pieces we need (STFT, mel and chroma filterbanks,
spectral flux, a dynamic-programming beat tracker) are short enough to own, and owning the tracker
lets it follow a tempo that changes instead of assuming one global tempo.

The stages, one module each, data flowing one way:

1. ``features``: onset curves (broadband, per band, kick/bass, soft note onsets), chroma, MFCCs, RMS;
2. ``tempo``: local tempo from a comb-scored windowed autocorrelation and a Viterbi path;
3. ``beats``: dynamic-programming beats against that local period, moved onto the off-beats where the
   bands say so; no beats at all for songs under 2 s or without onsets that stand out;
4. ``meter``: meter and downbeats from bass onsets and harmonic change, which may correct the level;
5. ``sections``: phrase and repetition novelty on bar features, repeats share a letter.

``pipeline`` runs them and ``cache`` stores the result by the audio's content hash.
"""

from mvpipe.analysis.cache import ANALYSIS_VERSION
from mvpipe.analysis.model import Section, SongAnalysis, TempoCandidate, TimingHints
from mvpipe.analysis.pipeline import analyze

__all__ = ["ANALYSIS_VERSION", "Section", "SongAnalysis", "TempoCandidate", "TimingHints", "analyze"]
