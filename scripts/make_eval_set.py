"""Synthesise the song-analysis evaluation set: songs with exact beat, downbeat and section truth.

Each song is a list of sections (label, bars, meter, tempo ramp, groove, level). The same musical
events are rendered either by numpy synthesis or by General MIDI instruments (pretty_midi's
TimGM6mb.sf2 played through tinysoundfont), so a split can differ in sound as well as in tempo,
key, seed and instruments. Repeated labels replay the same material (chords, riff, melody).

    .venv/bin/python scripts/make_eval_set.py [--out .mvpipe/evalset]
    .venv/bin/python scripts/make_eval_set.py --sweep 6 [--out .mvpipe/sweep]   # outside every split

writes ``<name>.wav`` and ``<name>.json`` (truth) per song and ``index.json``. Songs in the
``heldout`` split use other tempi, keys, seeds and the other renderer; tune on ``tuning`` only.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.io import wavfile

SR = 44100
STEPS = 4  # grid steps per beat (sixteenths in 4/4)


@dataclass
class Part:
    """One section: ``bars`` bars of ``groove`` at a tempo ramping from bpm to bpm_end."""

    label: str
    bars: int
    groove: str
    bpm: float
    bpm_end: float | None = None
    meter: int = 4
    gain_db: float = 0.0


@dataclass
class Song:
    name: str
    split: str
    renderer: str  # "numpy" | "gm"
    seed: int
    parts: list[Part]
    tags: list[str] = field(default_factory=list)


@dataclass
class Note:
    time: float
    dur: float
    role: str  # kick snare hat ohat ride crash bass chord lead
    pitch: int
    vel: float  # 0..1


# ------------------------------------------------------------------------------------ grooves
# Drum patterns as grid steps within one bar (STEPS per beat); "swing" moves odd eighths to 2/3.
GROOVES: dict[str, dict[str, list[int] | str]] = {
    "rock": {"kick": [0, 8, 10], "snare": [4, 12], "hat": list(range(0, 16, 2)),
             "bass": "eighths", "chord": "strum"},
    "funk": {"kick": [0, 3, 6, 10], "snare": [4, 12], "ghost": [7, 9, 15], "hat": list(range(16)),
             "bass": "synco", "chord": "stabs"},
    "half": {"kick": [0, 10], "snare": [8], "hat": list(range(0, 16, 2)), "bass": "half", "chord": "pad"},
    "swing": {"ride": [0, 4, 6, 8, 12, 14], "hat": [4, 12], "kick": [0, 8], "bass": "walk",
              "chord": "comp"},
    "hiphop": {"kick": [0, 7, 10], "snare": [4, 12], "hat": list(range(16)), "bass": "half",
               "chord": "pad"},
    "dnb": {"kick": [0, 10], "snare": [4, 12], "hat": list(range(0, 16, 2)), "bass": "half",
            "chord": "pad"},
    "waltz": {"kick": [0], "hat": [4, 8], "bass": "one", "chord": "oompah"},
    "ballad3": {"bass": "one", "chord": "arp"},
    "polka": {"kick": [0], "snare": [4], "hat": [2, 6], "bass": "alt", "chord": "offbeat"},
    "drumless": {"bass": "one", "chord": "pad"},
    "sparse": {"hat": list(range(0, 16, 4)), "bass": "none", "chord": "arp"},
}

PROGRESSIONS = [[0, 7, 9, 5], [9, 5, 0, 7], [0, 5, 7, 5], [2, 7, 0, 0], [0, 3, 5, 7], [5, 7, 9, 9],
                [9, 7, 5, 4], [0, 9, 2, 7]]
MAJOR = [0, 2, 4, 5, 7, 9, 11]


def chord_notes(root_pc: int, key: int) -> list[int]:
    """A diatonic triad on scale degree ``root_pc`` (semitones from the key) as MIDI pitches."""
    deg = MAJOR.index(root_pc) if root_pc in MAJOR else 0
    return [60 + key + MAJOR[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]


# ---------------------------------------------------------------------------------- timeline


def beat_times(parts: list[Part]) -> tuple[np.ndarray, list[int], list[int]]:
    """Times of every beat (plus one closing beat), each part's first beat index, each beat's meter."""
    times, starts, meters = [1.0], [], []  # one second of silence before the music
    for part in parts:
        starts.append(len(times) - 1)
        n = part.bars * part.meter
        end = part.bpm_end or part.bpm
        for i in range(n):
            bpm = part.bpm * (end / part.bpm) ** (i / n)  # geometric ramp: steady accelerando
            times.append(times[-1] + 60.0 / bpm)
            meters.append(part.meter)
    return np.array(times), starts, meters


def events(song: Song, beats: np.ndarray, starts: list[int]) -> list[Note]:
    """Every note of the song; material is drawn per section label so repeats are the same."""
    rng = np.random.default_rng(song.seed)
    key = int(rng.integers(-5, 6))
    material: dict[str, dict] = {}
    notes: list[Note] = []

    def at(beat_pos: float) -> float:
        i = min(int(beat_pos), len(beats) - 2)
        return float(beats[i] + (beat_pos - i) * (beats[i + 1] - beats[i]))

    for part, first in zip(song.parts, starts, strict=True):
        base = part.label.rstrip("'")
        if base not in material:
            mrng = np.random.default_rng([song.seed, ord(base)])
            material[base] = {
                "prog": PROGRESSIONS[int(mrng.integers(len(PROGRESSIONS)))],
                "melody": [(int(s), int(mrng.choice([0, 2, 4, 7, 9, 12])))
                           for s in sorted(mrng.choice(part.meter * STEPS, size=part.meter + 1,
                                                       replace=False))],
                "octave": int(mrng.choice([0, 12])),
                # sections differ in arrangement as well as harmony, as verses and choruses do
                "voicing": int(mrng.choice([-12, 0, 12])),
                "level_db": float(mrng.choice([0.0, -3.0, -6.0])),
            }
        mat = material[base]
        groove = GROOVES[part.groove]
        swing = part.groove == "swing"
        gain = 10 ** ((part.gain_db + mat["level_db"]) / 20)
        crash = part.groove not in ("drumless", "sparse", "ballad3") and rng.random() < 0.5
        for bar in range(part.bars):
            b0 = first + bar * part.meter
            triad = chord_notes(mat["prog"][bar % 4], key)
            chord = [p + mat["voicing"] for p in triad]

            def put(step: float, dur_beats: float, role: str, pitch: int, vel: float,
                    b0: int = b0, part: Part = part, gain: float = gain, swing: bool = swing) -> None:
                pos = step / STEPS
                if swing and step % 4 == 2:
                    pos = int(pos) + 2 / 3
                t = at(b0 + pos) + float(rng.normal(0, 0.004))
                notes.append(Note(max(t, 0.0), dur_beats * 60 / part.bpm, role, pitch,
                                  float(np.clip(vel * gain * rng.uniform(0.85, 1.0), 0, 1))))

            def strum(step: float, dur_beats: float, vel: float, chord: list[int] = chord) -> None:
                for pitch in chord:
                    put(step, dur_beats, "chord", pitch, vel)

            bar_steps = part.meter * STEPS
            for role in ("kick", "snare", "hat", "ride"):
                for s in groove.get(role, []):
                    if s < bar_steps:
                        accent = 1.0 if s % STEPS == 0 else 0.6
                        put(s, 0.25, role, 0, (0.95 if role in ("kick", "snare") else 0.45) * accent)
            for s in groove.get("ghost", []):
                put(s, 0.25, "snare", 0, 0.25)
            if crash and bar == 0:
                put(0, 2.0, "crash", 0, 0.6)
            root = triad[0] - 24 - (12 if triad[0] - 24 > 47 else 0)
            bass_style = groove["bass"]
            if bass_style == "eighths":
                for s in range(0, bar_steps, 2):
                    put(s, 0.45, "bass", root, 0.8 if s % 4 == 0 else 0.6)
            elif bass_style == "synco":
                for s, p in ((0, 0), (3, 12), (6, 7), (10, 0), (14, 10)):
                    put(s, 0.4, "bass", root + p, 0.8)
            elif bass_style == "half":
                put(0, 1.5, "bass", root, 0.9)
                put(10, 1.2, "bass", root, 0.7)
            elif bass_style == "walk":
                for beat, p in enumerate((0, 4, 7, 9)[:part.meter]):
                    put(beat * STEPS, 0.9, "bass", root + p, 0.8)
            elif bass_style == "one":
                put(0, part.meter * 0.9, "bass", root, 0.85)
            elif bass_style == "alt":
                put(0, 0.9, "bass", root + (7 if bar % 2 else 0), 0.85)
            chord_style = groove["chord"]
            if chord_style == "strum":
                for s in (0, 6, 8):
                    strum(s, 1.4, 0.5)
            elif chord_style == "stabs":
                for s in (2, 6, 11, 14):
                    strum(s, 0.3, 0.55)
            elif chord_style == "pad":
                strum(0, part.meter * 0.98, 0.4)
            elif chord_style == "comp":
                for s in (6, 12):
                    strum(s, 0.6, 0.45)
            elif chord_style == "oompah":
                for beat in (1, 2):
                    strum(beat * STEPS, 0.8, 0.5)
            elif chord_style == "arp":
                for k, s in enumerate(range(0, bar_steps, 2)):
                    put(s, 0.6, "chord", chord[k % 3] + (12 if k >= 3 else 0), 0.55 if s == 0 else 0.4)
            elif chord_style == "offbeat":
                for s in range(2, bar_steps, 4):
                    strum(s, 0.4, 0.5)
            if part.groove not in ("drumless", "sparse"):
                for s, p in mat["melody"]:
                    if s < bar_steps:
                        put(s, 0.5, "lead", chord[0] + mat["octave"] + p, 0.5)
    return notes


# ---------------------------------------------------------------------------------- renderers


def render_numpy(notes: list[Note], length: float, rng: np.random.Generator) -> np.ndarray:
    """Additive/noise synthesis: enough timbre to tell kick, snare, hats, bass, chords and lead apart."""
    out = np.zeros(int(length * SR) + SR)
    for n in notes:
        dur = {"kick": 0.35, "snare": 0.25, "hat": 0.06, "ohat": 0.3, "ride": 0.6, "crash": 1.5}.get(
            n.role, n.dur + 0.1)
        t = np.arange(int(dur * SR)) / SR
        if n.role == "kick":
            freq = 45 + 80 * np.exp(-t / 0.03)
            wave = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.12)
        elif n.role == "snare":
            wave = (rng.standard_normal(len(t)) * 0.6 * np.exp(-t / 0.07)
                    + np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04))
        elif n.role in ("hat", "ohat", "ride", "crash"):
            noise = np.diff(rng.standard_normal(len(t) + 1))
            decay = {"hat": 0.015, "ohat": 0.1, "ride": 0.25, "crash": 0.6}[n.role]
            wave = 0.4 * noise * np.exp(-t / decay)
        else:
            f0 = 440.0 * 2 ** ((n.pitch - 69) / 12)
            harmonics = {"bass": (1, 0.5, 0.3, 0.2), "chord": (1, 0.4, 0.15), "lead": (1, 0, 0.3, 0, 0.15)}[n.role]
            wave = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t) for k, a in enumerate(harmonics))
            attack = 0.005 if n.role != "chord" else 0.01
            env = np.minimum(1.0, t / attack) * np.exp(-t / (0.8 if n.role == "chord" else 0.4))
            env *= np.clip((n.dur + 0.1 - t) / 0.1, 0, 1)
            wave = wave * env * (0.5 if n.role == "chord" else 0.7)
        i = int(n.time * SR)
        seg = out[i:i + len(wave)]
        seg += n.vel * wave[:len(seg)]
    return out


GM_DRUMS = {"kick": 36, "snare": 38, "hat": 42, "ohat": 46, "ride": 51, "crash": 49}


def render_gm(notes: list[Note], length: float, programs: dict[str, int]) -> np.ndarray:
    """Play the notes through General MIDI instruments (TimGM6mb.sf2 via tinysoundfont)."""
    import pretty_midi
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SR)
    sfid = synth.sfload(os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2"))
    channels = {"bass": 0, "chord": 1, "lead": 2}
    for role, chan in channels.items():
        synth.program_select(chan, sfid, 0, programs[role])
    synth.program_select(9, sfid, 128, 0, True)
    timeline = []
    for n in notes:
        chan = 9 if n.role in GM_DRUMS else channels[n.role]
        key = GM_DRUMS.get(n.role, n.pitch)
        timeline.append((n.time, 1, chan, key, max(1, int(n.vel * 127))))
        timeline.append((n.time + n.dur, 0, chan, key, 0))
    timeline.sort(key=lambda e: (e[0], e[1]))
    out, done = [], 0
    for t, on, chan, key, vel in timeline:
        upto = int(t * SR)
        if upto > done:
            out.append(np.frombuffer(synth.generate(upto - done), dtype=np.float32).reshape(-1, 2))
            done = upto
        if on:
            synth.noteon(chan, key, vel)
        elif chan != 9:
            synth.noteoff(chan, key)
    tail = int((length + 1.0) * SR) - done
    if tail > 0:
        out.append(np.frombuffer(synth.generate(tail), dtype=np.float32).reshape(-1, 2))
    return np.concatenate(out).mean(axis=1)


# ---------------------------------------------------------------------------------- the set


def _structure(labels: str, grooves: dict[str, str], bars: int, bpm: float, meter: int = 4) -> list[Part]:
    """Parts for a label string like "ABABCB"; a label without its own groove plays A's."""
    return [Part(lab, bars, grooves.get(lab, grooves["A"]), bpm, meter=meter) for lab in labels]


# (split, name suffix, seed base, renderer order, tempo factor on the tuning tempi). The held-out
# split has its own tempi, keys, seeds and instruments; the second tuning pass swaps renderers and
# shifts tempi by 6 % so every scenario is tuned on both sounds. "fresh" is a second held-out split
# (tempi 5 % under the tuning ones, new seeds), added after "heldout" had been looked at once;
# "fresh2" a third (tempi 9 % under, renderers swapped against "fresh"), added after "fresh" had
# been looked at, and scored only once the code was final; "_slow", a third tuning pass 15 % under
# the tuning tempi, added with it.
VARIANTS = (("tuning", "", 0, ("numpy", "gm"), 1.0), ("heldout", "", 100, ("gm", "numpy"), None),
            ("tuning", "_alt", 200, ("gm", "numpy"), 1.06), ("fresh", "", 300, ("numpy", "gm"), 0.95),
            ("fresh2", "", 400, ("gm", "numpy"), 0.91), ("tuning", "_slow", 600, ("numpy", "gm"), 0.85))


def songs() -> list[Song]:
    """The evaluation set: every scenario once per variant, in a fixed order (seeds depend on it)."""
    out: list[Song] = []
    for split, suffix, s, r, factor in VARIANTS:

        def add(name: str, renderer: str, parts: list[Part], *tags: str,
                _split: str = split, _s: int = s, _suffix: str = suffix) -> None:
            out.append(Song(f"{_split}_{name}{_suffix}", _split, renderer, _s + len(out), parts,
                            list(tags)))

        def t(tuning_value: float, heldout_value: float, _factor: float | None = factor) -> float:
            return heldout_value if _factor is None else round(tuning_value * _factor, 1)

        add("rock_abab", r[0], _structure("ABABCB", {"A": "rock", "B": "rock", "C": "half"},
                                          4, t(120, 126)), "steady", "structure", "half-time")
        add("fast_rock", r[1], _structure("ABAB", {"A": "rock"}, 8, t(172, 164)), "steady", "fast")
        add("slow_hiphop", r[0], _structure("ABAB", {"A": "hiphop"}, 4, t(74, 82)), "steady", "slow")
        add("funk_sync", r[1], _structure("ABACAB", {"A": "funk", "C": "drumless"}, 4, t(104, 96)),
            "syncopation", "breakdown", "structure")
        add("swing", r[0], _structure("ABAB", {"A": "swing"}, 4, t(138, 150)), "swing")
        add("waltz", r[1], _structure("ABAB", {"A": "waltz"}, 4, t(150, 132), meter=3), "3/4")
        add("ballad3", r[0], _structure("ABAB", {"A": "ballad3"}, 4, t(84, 92), meter=3), "3/4", "slow")
        add("polka", r[1], _structure("ABABA", {"A": "polka"}, 8, t(116, 124), meter=2), "2/4")
        add("accel", r[0], [Part("A", 8, "rock", t(88, 96), t(112, 122)),
                            Part("B", 8, "rock", t(112, 122), t(134, 146))], "accelerando")
        add("tempo_jump", r[1], [Part("A", 8, "rock", t(100, 94)), Part("B", 8, "funk", t(136, 124)),
                                 Part("A", 4, "rock", t(100, 94))], "tempo-jump", "structure")
        add("quiet_intro", r[0], [Part("I", 4, "sparse", t(96, 110), gain_db=-24),
                                  *_structure("ABAB", {"A": "rock"}, 4, t(96, 110))], "quiet-intro")
        add("breakdown", r[1], _structure("ABCAB", {"A": "hiphop", "B": "rock", "C": "drumless"},
                                          4, t(90, 86)), "breakdown", "structure")
        add("dnb", r[0], _structure("ABAB", {"A": "dnb", "B": "rock"}, 8, t(174, 170)), "fast")
        add("march_half", r[1], _structure("ABABA", {"A": "rock", "B": "half"}, 4, t(140, 132)),
            "half-time")
    return out + extra_tuning_songs()


def extra_tuning_songs() -> list[Song]:
    """More tuning songs of the kinds the held-out splits showed to be hard (waltzes at 130-145 BPM,
    polkas, walking-bass swing, a tempo jump into funk, a breakdown inside funk, slow 3/4 arpeggios,
    accelerandos), at tempi of their own, so there is something to tune those cases against
    without tuning on a held-out split."""
    out: list[Song] = []

    def add(name: str, renderer: str, parts: list[Part], *tags: str) -> None:
        out.append(Song(f"tuning_{name}_x{len(out)}", "tuning", renderer, 500 + len(out), parts, list(tags)))

    for renderer, bpm in (("numpy", 134.0), ("gm", 141.0), ("gm", 128.0)):
        add("waltz", renderer, _structure("ABAB", {"A": "waltz"}, 4, bpm, meter=3), "3/4")
    for renderer, bpm in (("numpy", 104.0), ("gm", 131.0), ("numpy", 138.0)):
        add("polka", renderer, _structure("ABABA", {"A": "polka"}, 8, bpm, meter=2), "2/4")
    for renderer, bpm in (("gm", 154.0), ("numpy", 126.0), ("gm", 132.0)):
        add("swing", renderer, _structure("ABAB", {"A": "swing"}, 4, bpm), "swing")
    for renderer, (slow, fast) in (("numpy", (96.0, 130.0)), ("gm", (112.0, 150.0)), ("gm", (90.0, 120.0))):
        add("tempo_jump", renderer, [Part("A", 8, "rock", slow), Part("B", 8, "funk", fast),
                                     Part("A", 4, "rock", slow)], "tempo-jump", "structure")
    for renderer, bpm in (("numpy", 98.0), ("gm", 117.0)):
        add("funk_sync", renderer, _structure("ABACAB", {"A": "funk", "C": "drumless"}, 4, bpm),
            "syncopation", "breakdown", "structure")
    # added after the first round on these: drumless 3/4 arpeggios below 85 BPM, accelerandos from ~80
    for renderer, bpm in (("numpy", 77.0), ("gm", 81.0), ("numpy", 98.0)):
        add("ballad3", renderer, _structure("ABAB", {"A": "ballad3"}, 4, bpm, meter=3), "3/4", "slow")
    for renderer, (start, mid, end) in (("gm", (80.0, 102.0, 122.0)), ("numpy", (86.0, 108.0, 128.0))):
        add("accel", renderer, [Part("A", 8, "rock", start, mid), Part("B", 8, "rock", mid, end)], "accelerando")
    return out


# Outside every split: a sweep of the kinds whose meter is easy to confuse (4/4 grooves at tempi where
# 3 beats a bar at 3/4 of the tempo is plausible, slow 3/4 arpeggios, waltzes), many seeds each, to
# check that a meter rule tuned on the splits holds on songs nobody looked at. Seeds start at 10000,
# so no sweep song repeats a split song's material.
SWEEP_44 = ("rock", "half", "swing", "funk", "hiphop", "sparse", "drumless")
SWEEP_44_BPM = (84.0, 104.0, 132.0)
SWEEP_BALLAD_BPM = (76.0, 78.0, 80.0, 82.0, 84.0, 86.0, 88.0, 90.0)
SWEEP_WALTZ_BPM = (120.0, 132.0, 144.0)


def sweep_songs(seeds: int) -> list[Song]:
    """``seeds`` songs per (kind, tempo, renderer) cell, split "sweep"; names carry kind and tempo."""
    out: list[Song] = []

    def add(kind: str, bpm: float, renderer: str, i: int, parts: list[Part], *tags: str) -> None:
        out.append(Song(f"sweep_{kind}_{bpm:g}_{renderer}_{i}", "sweep", renderer, 10000 + len(out), parts,
                        list(tags)))

    for i in range(seeds):
        for renderer in ("numpy", "gm"):
            for groove in SWEEP_44:
                for bpm in SWEEP_44_BPM:
                    add(groove, bpm, renderer, i, _structure("ABAB", {"A": groove}, 4, bpm), "4/4", groove)
            for bpm in SWEEP_BALLAD_BPM:
                add("ballad3", bpm, renderer, i, _structure("ABAB", {"A": "ballad3"}, 4, bpm, meter=3),
                    "3/4", "slow")
            for bpm in SWEEP_WALTZ_BPM:
                add("waltz", bpm, renderer, i, _structure("ABAB", {"A": "waltz"}, 4, bpm, meter=3), "3/4")
    return out


GM_PROGRAMS = [{"bass": 33, "chord": 0, "lead": 73}, {"bass": 38, "chord": 4, "lead": 56},
               {"bass": 32, "chord": 24, "lead": 81}, {"bass": 34, "chord": 48, "lead": 71}]


def make(song: Song, out_dir: Path) -> dict:
    beats, starts, meters = beat_times(song.parts)
    notes = events(song, beats, starts)
    length = float(beats[-1]) + 1.5
    rng = np.random.default_rng(song.seed)
    if song.renderer == "gm":
        audio = render_gm(notes, length, GM_PROGRAMS[song.seed % len(GM_PROGRAMS)])
    else:
        audio = render_numpy(notes, length, rng)
    audio = audio[:int((length + 0.5) * SR)]
    audio = 0.9 * audio / max(float(np.abs(audio).max()), 1e-9)
    wavfile.write(out_dir / f"{song.name}.wav", SR, (audio * 32767).astype(np.int16))
    played = beats[:-1]
    downbeats, i = [], 0
    for part in song.parts:
        downbeats += list(played[i:i + part.bars * part.meter:part.meter])
        i += part.bars * part.meter
    truth = {
        "name": song.name, "split": song.split, "renderer": song.renderer, "tags": song.tags,
        "meter": song.parts[0].meter, "tempo": song.parts[0].bpm,
        "beats": [round(float(b), 5) for b in played],
        "downbeats": [round(float(b), 5) for b in downbeats],
        "sections": [{"start": round(float(beats[s]), 5),
                      "end": round(float(beats[s + p.bars * p.meter]), 5), "label": p.label}
                     for p, s in zip(song.parts, starts, strict=True)],
        "duration": round(len(audio) / SR, 5),
    }
    (out_dir / f"{song.name}.json").write_text(json.dumps(truth, indent=1))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="default .mvpipe/evalset (.mvpipe/sweep with --sweep)")
    parser.add_argument("--sweep", type=int, default=0, metavar="SEEDS",
                        help="write the sweep outside the splits instead: SEEDS songs per kind, tempo "
                             "and renderer (split 'sweep'); the evaluation set is not touched")
    parser.add_argument("--only", default=None, help="with --sweep: only names containing this")
    args = parser.parse_args()
    args.out = args.out or Path(".mvpipe/sweep" if args.sweep else ".mvpipe/evalset")
    args.out.mkdir(parents=True, exist_ok=True)
    index = []
    chosen = sweep_songs(args.sweep) if args.sweep else songs()
    if args.sweep and args.only:
        chosen = [s for s in chosen if args.only in s.name]
    for song in chosen:
        truth = make(song, args.out)
        index.append({"name": song.name, "split": song.split, "tags": song.tags})
        print(f"{song.name:28s} {song.renderer:5s} {truth['duration']:5.1f} s  {' '.join(song.tags)}")
    (args.out / "index.json").write_text(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
