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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvpipe import interrupt
from mvpipe.errors import FFmpegError, InputError, MvpipeError


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


@dataclass(frozen=True)
class Ran:
    """What a finished FFmpeg run printed: its stdout (only when asked for) and its log."""

    stdout: bytes
    log: str


def run_ffmpeg(args: list[str], *, what: str, piece: str | None = None, stdout: bool = False,
               loglevel: str = "error", timeout: float | None = None) -> Ran:
    """Run ffmpeg with ``args``: the one way mvpipe runs FFmpeg.

    On failure (or after ``timeout`` seconds) raises :class:`FFmpegError` with FFmpeg's last log lines,
    ``what`` it was doing and the ``piece`` it was making. ``stdout``: keep what it writes to ``-``.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", loglevel, *args]
    interrupt.check()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL)
    except OSError as exc:
        raise FFmpegError(what, -1, [f"cannot start {cmd[0]}: {exc.strerror}"], piece) from None
    with interrupt.child(proc):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise FFmpegError(what, proc.returncode, [*_tail(err), f"(stopped after {timeout:g} s)"], piece) from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    interrupt.check()   # killed by a stop: that is the reason, not FFmpeg's exit status
    if proc.returncode != 0:
        raise FFmpegError(what, proc.returncode, _tail(err), piece)
    return Ran(stdout=out or b"", log=err.decode(errors="replace"))


def _tail(log: bytes, lines: int = 12) -> list[str]:
    return log.decode(errors="replace").strip().splitlines()[-lines:]


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
    args = ["-ss", f"{start:.6f}"] if start else []
    args += ["-i", str(path)] + (["-t", f"{duration:.6f}"] if duration is not None else [])
    args += ["-vn", "-map", "0:a:0", "-ac", str(channels), "-ar", str(sample_rate), "-f", "f32le", "-"]
    try:
        samples = np.frombuffer(run_ffmpeg(args, what=f"decoding {path.name}", stdout=True).stdout, dtype="<f4")
        reason = "no audio samples"
    except FFmpegError as exc:
        samples, reason = np.zeros(0, dtype="<f4"), (exc.tail[-1:] or ["no audio samples"])[0]
    if samples.size == 0:
        raise InputError(f"cannot decode audio ({reason}).", file=path,
                         hint="Give a song in a format FFmpeg reads (wav, mp3, ogg, flac, m4a).")
    return samples.reshape(-1, channels) if channels > 1 else samples.copy()
