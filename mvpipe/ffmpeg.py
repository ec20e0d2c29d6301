"""Finding and running FFmpeg, and decoding audio through it.

mvpipe never assumes a system ffmpeg: the binary shipped by imageio-ffmpeg is the default. Users
can point ``MVPIPE_FFMPEG`` at another build (say, one with a hardware encoder), or set it to
``system`` to take whatever ``ffmpeg`` is on PATH.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from mvpipe.errors import InputError, MvpipeError


@functools.cache
def ffmpeg_exe() -> str:
    """The FFmpeg binary to run: ``$MVPIPE_FFMPEG``, ``system``'s PATH one, or imageio-ffmpeg's."""
    choice = os.environ.get("MVPIPE_FFMPEG", "").strip()
    if choice and choice != "system":
        if not Path(choice).is_file():
            raise MvpipeError(f"MVPIPE_FFMPEG points at {choice!r}, which is not a file.")
        return choice
    if choice == "system":
        found = shutil.which("ffmpeg")
        if not found:
            raise MvpipeError("MVPIPE_FFMPEG=system but no ffmpeg is on PATH.")
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, what: str) -> None:
    """Run ffmpeg with ``args``; on failure raise with the tail of its log and ``what`` it was doing."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise MvpipeError(f"ffmpeg failed while {what} (exit {proc.returncode}):\n{tail}")


def decode_audio(path: Path, sample_rate: int, *, mono: bool = True, start: float = 0.0,
                 duration: float | None = None) -> np.ndarray:
    """Decode any format FFmpeg reads to float32 samples at ``sample_rate``.

    Returns shape ``(n,)`` when ``mono`` else ``(n, 2)``. Raises :class:`InputError` naming the
    file when it does not exist or holds no decodable audio, so a bad song never reaches librosa.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("song file not found.", file=path, hint="Check the path; it is relative to the storyboard.")
    channels = 1 if mono else 2
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    if start:
        cmd += ["-ss", f"{start:.6f}"]
    cmd += ["-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    cmd += ["-vn", "-map", "0:a:0", "-ac", str(channels), "-ar", str(sample_rate), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    samples = np.frombuffer(proc.stdout, dtype="<f4")
    if proc.returncode != 0 or samples.size == 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no audio samples"]
        raise InputError(f"cannot decode audio ({reason[0]}).", file=path,
                         hint="Give a song in a format FFmpeg reads (wav, mp3, ogg, flac, m4a).")
    return samples.reshape(-1, channels) if channels > 1 else samples.copy()
