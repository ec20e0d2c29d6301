"""A picture of a SongAnalysis, to check beats, bars and sections by eye (and planned cuts against them).

matplotlib is imported inside the function with the Agg backend, so importing mvpipe stays fast and
works without a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvpipe.analysis import SongAnalysis
from mvpipe.ffmpeg import decode_audio
from mvpipe.workspace import atomic_path

_PLOT_SR = 4000  # enough for an envelope; decoding at this rate is quick
_SECTION_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f"]


def plot_analysis(analysis: SongAnalysis, song: Path, out_png: Path, cuts: list[float] | None = None) -> None:
    """Draw the waveform with section spans, downbeats and beats, the energy curve below it, and
    ``cuts`` (planned cut times, seconds) as red dashed lines across both; write a PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = decode_audio(Path(song), _PLOT_SR)
    fig, (wave_ax, energy_ax) = plt.subplots(
        2, 1, figsize=(16, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    duration = max(analysis.duration, len(samples) / _PLOT_SR)

    _draw_waveform(wave_ax, samples)
    letters = sorted({s.label.rstrip("'") for s in analysis.sections})
    for section in analysis.sections:
        colour = _SECTION_COLOURS[letters.index(section.label.rstrip("'")) % len(_SECTION_COLOURS)]
        for ax in (wave_ax, energy_ax):
            ax.axvspan(section.start, section.end, color=colour, alpha=0.13, lw=0)
        wave_ax.text((section.start + section.end) / 2, 1.02, f"{section.label}  ({section.energy:.2f})",
                     ha="center", va="bottom", fontsize=10, fontweight="bold", color=colour,
                     transform=wave_ax.get_xaxis_transform())
    wave_ax.vlines(analysis.beats, -1, 1, color="0.55", lw=0.5, label="beats")
    wave_ax.vlines(analysis.downbeats, -1, 1, color="black", lw=1.3, label="downbeats")

    energy = np.asarray(analysis.energy)
    energy_ax.plot(np.arange(len(energy)) * analysis.energy_hop, energy, color="#333333", lw=0.7)
    energy_ax.vlines(analysis.downbeats, 0, 1, color="black", lw=0.8)
    energy_ax.set_ylim(0, 1.05)
    energy_ax.set_ylabel("energy")

    if cuts:
        for ax in (wave_ax, energy_ax):
            ax.vlines(cuts, *ax.get_ylim(), color="red", lw=1.6, linestyles="--",
                      label="cuts" if ax is wave_ax else None)
    wave_ax.set_ylim(-1, 1)
    wave_ax.set_yticks([])
    wave_ax.set_xlim(0, duration)
    wave_ax.legend(loc="lower right", fontsize=8, framealpha=0.8)
    level = (f"level confidence {analysis.confidence:.2f}" if analysis.steady_pulse
             else "no steady pulse: an even grid")
    wave_ax.set_title(f"{analysis.tempo:.1f} BPM ({level}), {analysis.meter} beats per bar, "
                      f"{len(analysis.downbeats)} bars, {len(analysis.sections)} sections", pad=22)
    energy_ax.set_xlabel("seconds")
    fig.tight_layout()

    try:
        with atomic_path(Path(out_png)) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def _draw_waveform(ax, samples: np.ndarray) -> None:
    """Min/max envelope over ~2000 columns, scaled to the peak, so a long song stays legible."""
    columns = 2000
    n = len(samples) // columns * columns
    if n == 0:
        return
    blocks = samples[:n].reshape(columns, -1)
    peak = max(float(np.abs(samples).max()), 1e-9)
    t = (np.arange(columns) + 0.5) * (n / columns) / _PLOT_SR
    ax.fill_between(t, blocks.min(axis=1) / peak, blocks.max(axis=1) / peak, color="#6a7f99", lw=0)
