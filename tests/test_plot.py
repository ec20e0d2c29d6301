"""plot_analysis writes a readable PNG of a real analysis, and planned cuts show up on it."""

from __future__ import annotations

import numpy as np
from PIL import Image
from support import eval_generator

from mvpipe.analysis import analyze
from mvpipe.plot import plot_analysis


def _song(tmp_path):
    gen = eval_generator()
    parts = [gen.Part("A", 4, "rock", 120), gen.Part("B", 4, "half", 120)]
    gen.make(gen.Song("plot_me", "test", "numpy", 7, parts), tmp_path)
    return tmp_path / "plot_me.wav"


def _red_pixels(png) -> int:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int(np.sum((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)))


def test_plot_writes_a_png_and_draws_the_cuts(tmp_path):
    song = _song(tmp_path)
    result = analyze(song)
    plain, with_cuts = tmp_path / "out" / "plain.png", tmp_path / "out" / "cuts.png"
    plot_analysis(result, song, plain)
    plot_analysis(result, song, with_cuts, cuts=result.downbeats[2:6])

    for png in (plain, with_cuts):
        with Image.open(png) as image:
            assert image.format == "PNG" and image.size == (1600, 550)
    assert _red_pixels(plain) == 0
    assert _red_pixels(with_cuts) > 4 * 300  # four dashed lines, most of the figure's height
    assert sorted(p.name for p in plain.parent.iterdir()) == ["cuts.png", "plain.png"]  # no temp files left
