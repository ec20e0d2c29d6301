"""Make the demo's song and character references from nothing but numpy and Pillow.

    python scripts/make_demo_assets.py            # writes assets/demo_song.mp3, assets/mara.png, assets/juno.png

The song is 40 bars of 4/4 at 120 BPM (80 s): a 4-bar intro, then verse / chorus / verse /
chorus of 8 bars each, and a 4-bar outro, with drums, bass and chords, so beats, downbeats and
repeating sections are all there to hear. Its exact grid is written beside it as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
BPM = 120.0
BEAT = 60.0 / BPM
# (name, bars, drums on, chord roots in semitones above A)
FORM = [("intro", 4, False, [0, 0, 5, 7]), ("verse", 8, True, [0, 0, 5, 7]),
        ("chorus", 8, True, [3, 10, 5, 7]), ("verse", 8, True, [0, 0, 5, 7]),
        ("chorus", 8, True, [3, 10, 5, 7]), ("outro", 4, False, [0, 5, 7, 0])]


def _env(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / attack) * np.exp(-t / decay)


def _kick(n: int) -> np.ndarray:
    t = np.arange(n) / SR
    freq = 50 + 90 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * _env(n, 0.001, 0.12)


def _snare(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    return (0.6 * rng.standard_normal(n) + 0.4 * np.sin(2 * np.pi * 190 * t)) * _env(n, 0.001, 0.07)


def _hat(n: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(n)
    return np.diff(noise, prepend=0.0) * _env(n, 0.0005, 0.02)


def _tone(freq: float, n: int, decay: float, harmonics: int = 4) -> np.ndarray:
    t = np.arange(n) / SR
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    return wave * _env(n, 0.005, decay)


def make_song(path: Path) -> dict:
    """Render the song to ``path`` (any extension FFmpeg writes) and return its exact grid."""
    rng = np.random.default_rng(7)
    bars = sum(b for _, b, _, _ in FORM)
    total = int(round(bars * 4 * BEAT * SR))
    mix = np.zeros(total)
    beats, downbeats, sections = [], [], []
    bar = 0
    for name, n_bars, drums, roots in FORM:
        sections.append({"start": bar * 4 * BEAT, "end": (bar + n_bars) * 4 * BEAT, "label": name})
        for b in range(n_bars):
            root = 110.0 * 2 ** (roots[b % len(roots)] / 12)
            bar_start = (bar + b) * 4 * BEAT
            downbeats.append(bar_start)
            for k in range(4):
                t0 = bar_start + k * BEAT
                beats.append(t0)
                i = int(round(t0 * SR))
                seg = min(int(BEAT * SR), total - i)
                if drums:
                    if k in (0, 2):
                        mix[i:i + seg] += 0.9 * _kick(seg)
                    if k in (1, 3):
                        mix[i:i + seg] += 0.45 * _snare(seg, rng)
                for half in (0, 1):
                    j = i + half * seg // 2
                    mix[j:j + seg // 2] += 0.12 * _hat(seg // 2, rng) * (1.0 if drums else 0.5)
                mix[i:i + seg] += 0.35 * _tone(root / 2, seg, 0.25, harmonics=3) * (1.2 if k == 0 else 0.8)
            chord_n = min(int(4 * BEAT * SR), total - int(round(bar_start * SR)))
            ci = int(round(bar_start * SR))
            for interval in (0, 4 if name != "chorus" else 3, 7, 12):
                mix[ci:ci + chord_n] += 0.07 * _tone(root * 2 * 2 ** (interval / 12), chord_n, 1.2, harmonics=2)
        bar += n_bars
    mix /= np.max(np.abs(mix)) * 1.12
    stereo = np.stack([mix, np.roll(mix, 11)], axis=1).astype("<f4")
    path.parent.mkdir(parents=True, exist_ok=True)
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le",
           "-ar", str(SR), "-ac", "2", "-i", "-", "-c:a", "libmp3lame", "-b:a", "192k", str(path)]
    subprocess.run(cmd, input=stereo.tobytes(), check=True)
    return {"tempo": BPM, "meter": 4, "beats": beats, "downbeats": downbeats, "sections": sections}


def draw_character(path: Path, hair: str, jacket: str, skin: str, visor: bool) -> None:
    """A simple, recognisable portrait: the animatic shows it as the character's reference."""
    img = Image.new("RGB", (512, 512), (24, 26, 40))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 380, 512, 512), fill=(40, 42, 60))
    d.ellipse((116, 330, 396, 620), fill=jacket)                    # shoulders
    d.rectangle((226, 280, 286, 350), fill=skin)                    # neck
    d.ellipse((166, 110, 346, 310), fill=skin)                      # face
    d.chord((150, 80, 362, 300), 180, 360, fill=hair)               # hair, top
    d.rectangle((150, 190, 182, 300), fill=hair)
    d.rectangle((330, 190, 362, 300), fill=hair)
    if visor:
        d.rounded_rectangle((180, 180, 332, 220), radius=18, fill=(0, 220, 255))
    else:
        for x in (215, 297):
            d.ellipse((x - 10, 190, x + 10, 210), fill=(30, 30, 30))
    d.arc((226, 240, 286, 280), 20, 160, fill=(120, 40, 40), width=5)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> int:
    assets = ROOT / "assets"
    grid = make_song(assets / "demo_song.mp3")
    (assets / "demo_song.grid.json").write_text(json.dumps(grid, indent=1))
    draw_character(assets / "mara.png", hair="#d8d8e0", jacket="#c0182a", skin="#e8b896", visor=False)
    draw_character(assets / "juno.png", hair="#202020", jacket="#1f6fd0", skin="#8d5a3b", visor=True)
    print(f"wrote {assets}/demo_song.mp3 (+ .grid.json), mara.png, juno.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
