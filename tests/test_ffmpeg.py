"""The one way FFmpeg runs: its failures carry FFmpeg's own last lines and what was being made."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvpipe.errors import FFmpegError, InputError, MvpipeError, UnknownGenerator
from mvpipe.ffmpeg import decode_audio, run_ffmpeg
from mvpipe.generation.providers import resolve


def test_a_failure_names_what_and_the_piece_and_ends_with_ffmpegs_last_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-video.mp4"
    bad.write_text("hello")
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg(["-i", str(bad), "-f", "null", "-"], what="encoding a piece", piece="body intro (frames 0-47)")
    err = info.value
    assert err.returncode != 0 and "Invalid data" in err.tail[-1] and any("not-a-video.mp4" in t for t in err.tail)
    first = str(err).splitlines()[0]
    assert first.startswith("ffmpeg failed while encoding a piece (making body intro (frames 0-47))")
    assert first.endswith(err.tail[-1])
    assert isinstance(err, MvpipeError) and not isinstance(err, InputError)


def test_stdout_is_kept_when_asked_and_a_timeout_stops_ffmpeg(tmp_path: Path) -> None:
    raw = run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=4x2:d=0.2:r=10", "-pix_fmt", "gray", "-f", "rawvideo", "-"],
                     what="test", stdout=True).stdout
    assert len(raw) == 2 * 4 * 2
    with pytest.raises(FFmpegError, match="stopped after 0.5 s"):
        run_ffmpeg(["-re", "-f", "lavfi", "-i", "color=c=red:s=16x16:r=10", "-f", "null", "-"], what="test",
                   timeout=0.5)


def test_undecodable_audio_is_the_users_file(tmp_path: Path) -> None:
    song = tmp_path / "song.mp3"
    song.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="cannot decode audio") as info:
        decode_audio(song, 8000)
    assert info.value.file == str(song)


def test_an_unknown_generator_is_an_input_error() -> None:
    with pytest.raises(UnknownGenerator) as info:
        resolve("animagic")
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
