"""The one continuous audio track: the song's range, clip sounds ducked under it, optionally normalised.

Per-piece AAC joined by stream copy drifts at every joint (encoder priming and padding), so the
audio is built once for the whole timeline as a float WAV of exactly ``frames / fps`` seconds
at 48 kHz, and encoded once when the video is muxed. The song is trimmed by a filter after a full
decode, not by input seeking, because seeking in MP3 or Ogg lands near, not on, a sample.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

from mvpipe.errors import MvpipeError
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.workspace import atomic_path

RATE = 48000
_FMT = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"


class ClipSound(BaseModel):
    """A take's own sound placed under the song for one segment."""

    path: Path
    take_offset: float  # seconds into the take where the sound starts
    start_sample: int   # output sample where it starts
    samples: int
    level: float


def samples_for(frames: int, fps: int) -> int:
    """Audio samples at 48 kHz spanning ``frames`` video frames (exact for common rates)."""
    return round(frames * RATE / fps)


def render_master(song: Path, song_start: float, total: int, clips: list[ClipSound], dest: Path,
                  loudness: float | None = None) -> None:
    """Write the output's audio (``total`` samples, stereo float WAV) to ``dest`` atomically."""
    inputs = ["-i", str(song)]
    chains = [f"[0:a]atrim=start={song_start!r},asetpts=PTS-STARTPTS,{_FMT},"
              f"apad=whole_len={total},atrim=end_sample={total}[song]"]
    if clips:
        for i, c in enumerate(clips, start=1):
            inputs += ["-i", str(c.path)]
            dur = c.samples / RATE
            fade = min(0.02, dur / 4)
            chains.append(f"[{i}:a:0]atrim=start={c.take_offset!r}:duration={dur!r},asetpts=PTS-STARTPTS,{_FMT},"
                          f"volume={c.level!r},afade=t=in:d={fade!r},afade=t=out:st={dur - fade!r}:d={fade!r},"
                          f"adelay=delays={c.start_sample}S:all=1[c{i}]")
        mixed = "".join(f"[c{i}]" for i in range(1, len(clips) + 1))
        chains.append(f"{mixed}amix=inputs={len(clips)}:normalize=0:duration=longest,apad=whole_len={total},"
                      f"atrim=end_sample={total},asplit[bus][key]")
        # Duck the song under the clips: compress it whenever the clip bus is loud.
        chains.append("[song][key]sidechaincompress=threshold=0.02:ratio=6:attack=10:release=250[ducked]")
        chains.append("[ducked][bus]amix=inputs=2:normalize=0:duration=first[out]")
    else:
        chains[-1] = chains[-1].replace("[song]", "[out]")
    with atomic_path(dest) as tmp:
        run_ffmpeg([*inputs, "-filter_complex", ";".join(chains), "-map", "[out]", "-c:a", "pcm_f32le",
                    str(tmp)], what="mixing the song and clip sounds")
        if loudness is not None:
            _normalise(tmp, total, loudness)


def _normalise(wav: Path, total: int, target: float) -> None:
    """Two-pass EBU R128 loudnorm to ``target`` LUFS, in place; back to 48 kHz after it (it runs at 192k)."""
    common = f"I={target!r}:TP=-1.5:LRA=11"
    log = run_ffmpeg(["-i", str(wav), "-af", f"loudnorm={common}:print_format=json", "-f", "null", "-"],
                     what="measuring loudness", loglevel="info").log
    found = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", log)
    if not found:
        raise MvpipeError("loudness measurement failed: " + log.strip()[-400:])
    m = json.loads(found[-1])
    measured = (f"measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}:"
                f"measured_thresh={m['input_thresh']}:offset={m['target_offset']}")
    norm = wav.with_name(wav.stem + ".norm.wav")
    try:
        run_ffmpeg(["-i", str(wav), "-af", f"loudnorm={common}:{measured}:linear=true,{_FMT},"
                    f"apad=whole_len={total},atrim=end_sample={total}", "-c:a", "pcm_f32le", str(norm)],
                   what="normalising loudness")
        norm.replace(wav)
    finally:
        norm.unlink(missing_ok=True)
