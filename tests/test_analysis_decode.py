"""Decoding for analysis: libsndfile's in-process path must give the very samples the FFmpeg path
gives (so the analysis does not depend on which one ran), and anything else goes through FFmpeg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mvpipe.analysis.decode import _read_lossless, decode_song
from mvpipe.errors import InputError
from mvpipe.ffmpeg import decode_audio, run_ffmpeg


def _encode(tmp_path: Path, name: str, *codec: str, channels: int = 2, rate: int = 44100) -> Path:
    """Three seconds of a chord with clicks, made by FFmpeg's own sources into ``name``."""
    out = tmp_path / name
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=220:sample_rate={rate}:duration=3",
                "-f", "lavfi", "-i", f"sine=frequency=331:sample_rate={rate}:beep_factor=4:duration=3",
                "-filter_complex", "[0][1]amerge=inputs=2" + (",pan=mono|c0=0.5*c0+0.5*c1" if channels == 1 else ""),
                *codec, str(out)], what="making a test song")
    return out


@pytest.mark.parametrize(("name", "codec", "channels", "rate"), [
    ("stereo.wav", ["-c:a", "pcm_s16le"], 2, 44100),
    ("mono48k.wav", ["-c:a", "pcm_f32le"], 1, 48000),
    ("tiny_blocks.flac", ["-c:a", "flac", "-frame_size", "47"], 2, 44100),  # the real set's odd FLACs
    ("stereo.aiff", [], 2, 32000),
])
def test_lossless_files_decode_to_ffmpegs_samples(tmp_path, name, codec, channels, rate):
    song = _encode(tmp_path, name, *codec, channels=channels, rate=rate)
    assert _read_lossless(song, 22050) is not None  # read in-process, not by the fallback
    ours, ffmpegs = decode_song(song, 22050), decode_audio(song, 22050)
    assert ours.dtype == np.float32 and ours.shape == ffmpegs.shape
    assert np.array_equal(ours, ffmpegs)
    assert abs(len(ours) / 22050 - 3.0) < 0.01


def test_lossy_files_go_through_ffmpeg(tmp_path):
    song = _encode(tmp_path, "song.ogg", "-c:a", "libvorbis")
    assert _read_lossless(song, 22050) is None
    assert np.array_equal(decode_song(song, 22050), decode_audio(song, 22050))


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt not really", b"fLaC" + bytes(64)])
def test_a_file_with_no_audio_is_bad_input_naming_it(tmp_path, content):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="bad.wav"):
        decode_song(bad, 22050)


def test_a_missing_file_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        decode_song(tmp_path / "absent.flac", 22050)
