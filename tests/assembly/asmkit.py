"""Helpers for assembly tests: clips made with lavfi sources, songs, plans built directly."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from support import make_clip  # noqa: F401 - one clip maker for every test folder

from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.generation.provider import ClipRequest, Take
from mvpipe.planner import Plan, Segment

# Distinct, saturated colours: neighbours never look alike, so every cut is visible.
COLOURS = ["0xE03030", "0x30C040", "0x3050E0", "0xE0D030", "0xD040D0", "0x30D0D0", "0xF08020", "0x8040F0"]


def shared() -> Path:
    return Path(os.environ.get("MVPIPE_SHARED") or Path(__file__).resolve().parents[3] / "shared")


def rgb(colour: str) -> tuple[int, int, int]:
    v = int(colour, 16)
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def make_song(dest: Path, seconds: float) -> Path:
    """Pink noise: a signal whose cross-correlation has one sharp peak (an unambiguous offset)."""
    if not dest.is_file():
        noise = f"anoisesrc=color=pink:seed=7:amplitude=0.25:sample_rate=44100:duration={seconds}"
        run_ffmpeg(["-f", "lavfi", "-i", noise, "-ac", "2", str(dest)], what="making a test song")
    return dest


def make_plan(song: Path, lengths: list[int], transitions: list[tuple[str, int]] | None = None, *,
              fps: int = 24, width: int = 320, height: int = 180, fit: str = "cover", quality: str = "draft",
              song_start: float = 0.0, if_short: str = "hold", audio: list[float] | None = None,
              out: Path = Path("out.mp4")) -> Plan:
    """A plan of segments ``lengths`` frames long; transition k (name, T) comes into segment k."""
    transitions = transitions or [("cut", 0)] * len(lengths)
    audio = audio or [0.0] * len(lengths)
    segs, frame = [], 0
    for k, n in enumerate(lengths):
        name, t = transitions[k]
        t = t if name != "cut" else 0
        head = t // 2 if k else 0
        nt = transitions[k + 1] if k + 1 < len(lengths) else ("cut", 0)
        nt_frames = nt[1] if nt[0] != "cut" else 0
        tail = nt_frames - nt_frames // 2
        req = ClipRequest(shot=f"s{k}", shot_number=k + 1, provider="test", model="clip", prompt=f"shot {k}",
                          seconds=(head + n + tail) / fps, width=width, height=height, aspect="16:9", fps=fps)
        segs.append(Segment(start_frame=frame, end_frame=frame + n, transition=name, transition_frames=t,
                            head_frames=head, tail_frames=tail, request=req, audio=audio[k], if_short=if_short))
        frame += n
    return Plan(song=song, song_sha256="0" * 64, song_start=song_start, song_end=song_start + frame / fps,
                fps=fps, width=width, height=height, aspect="16:9", fit=fit, quality=quality, output=out,
                frames=frame, segments=segs, paid_seconds=0.0, screen_seconds=frame / fps,
                estimated_cost_usd=0.0)


def takes_for(plan: Plan, clip: Callable[[int], Path]) -> dict[tuple[str, int], Take]:
    return {(s.shot, s.part): Take(shot=s.shot, key=f"k{k}", path=clip(k),
                                   provider="test", model="clip") for k, s in enumerate(plan.segments)}
