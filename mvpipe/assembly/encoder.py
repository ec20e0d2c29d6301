"""One set of encoder parameters per render, so pieces can be joined by stream copy.

Concatenating pieces with ``-c copy`` only works when every piece has identical codec
parameters (size, pixel format, profile, level, timebase, SAR): the joined file keeps the first
piece's headers. Everything that shapes the bitstream lives here, in one value that is also part
of each piece's cache key. A hardware encoder is used only after a one-frame encode proves it
works on this machine (an encoder compiled into FFmpeg is not a GPU that exists).
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import BaseModel

from mvpipe.errors import FFmpegError
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.storyboard import Quality

Codec = Literal["h264", "h265"]

# x264/x265 preset and CRF, x264 lookahead and threads, scaler, AAC bitrate and coder, and how takes
# are decoded, per quality preset. x264 medium looks 40 frames ahead; at 1080p each is ~4 MB held
# per piece: 20 cut one piece's peak from 529 to 395 MB for -0.02 dB PSNR/SSIM and -0.05 % size
# (measured; docs/benchmarks.md). A draft encodes each piece on one thread (x264 and the decoder),
# several pieces at once (see ``render.default_jobs``): a piece of a few seconds never fills x264's
# frame threads, two single-threaded pieces keep two cores busy. Looking 5 frames ahead instead of
# veryfast's 10 keeps two such pieces under 600 MB (-34 MB each, -0.35 dB, -3.5 % size). A draft
# also skips the takes' in-loop deblocking (-16 % decode CPU on 1080p60 H.264) and uses AAC's fast
# coder (half the CPU): a preview's picture and sound need not be the final's.
_QUALITY = {
    "final": {"preset": "medium", "crf": 18, "lookahead": 20, "threads": 0, "hw_preset": "p5", "cq": 21,
              "scaler": "bicubic", "abr": "192k", "aac": "twoloop", "decode": []},
    "draft": {"preset": "veryfast", "crf": 23, "lookahead": 5, "threads": 1, "hw_preset": "p2", "cq": 27,
              "scaler": "bilinear", "abr": "128k", "aac": "fast",
              "decode": ["-skip_loop_filter", "all", "-threads", "1"]},
}

# Hardware encoders worth trying, best first, with the extra input args and filter they need.
_HARDWARE = {
    "h264": ["h264_nvenc", "h264_vaapi", "h264_qsv"],
    "h265": ["hevc_nvenc", "hevc_vaapi", "hevc_qsv"],
}
_VAAPI_DEVICE = "/dev/dri/renderD128"

# The encoder writes its colour tags, SAR and timing into the SPS from the frames it is given (the
# -color_* options alone left primaries and transfer "unspecified", and a take whose frames carry its
# own tags unchanged would give its pieces other headers, which concat cannot join). So every piece's
# frames are stamped the same, whatever any take says: BT.709 primaries, transfer and matrix, TV
# range, square pixels, a 1/fps timebase.
_TAGS = ",setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709,setsar=1,settb=1/{fps}"

# H.264 levels: (name, max macroblocks per frame, max macroblocks per second).
_H264_LEVELS = [("3.1", 3600, 108000), ("3.2", 5120, 216000), ("4.1", 8192, 245760), ("4.2", 8704, 522240),
                ("5.1", 36864, 983040), ("5.2", 36864, 2073600), ("6.0", 139264, 4177920)]


class EncoderSettings(BaseModel):
    """How every piece of one render is encoded; equal settings give joinable pieces."""

    codec: Codec
    encoder: str
    quality: Quality
    width: int
    height: int
    fps: int
    timescale: int
    scaler: str
    audio_args: list[str]
    input_args: list[str] = []
    decode_args: list[str] = []  # for reading takes (not the lossless leads)
    piece_threads: int = 0  # threads one piece's encoder uses; 0 when the encoder decides
    filter_tail: str = ""  # ends every piece's graph: the frames' tags (see _TAGS), then what the encoder needs
    video_args: list[str]


def settings(width: int, height: int, fps: int, quality: Quality = "final", codec: Codec = "h264",
             encoder: str = "auto") -> EncoderSettings:
    """Encoder settings for a ``width``x``height`` at ``fps`` render.

    ``encoder``: ``"auto"`` takes a working hardware encoder, else libx264/libx265; ``"software"``
    never tries hardware; any other value names an FFmpeg encoder to use as is.
    """
    q = _QUALITY[quality]
    software = "libx264" if codec == "h264" else "libx265"
    if encoder == "auto":
        name = next((e for e in _HARDWARE[codec] if hardware_works(e)), software)
    elif encoder == "software":
        name = software
    else:
        name = encoder
    input_args: list[str] = []
    tail = ""
    args = ["-c:v", name]
    threads = 0
    if name == "libx264":
        threads = q["threads"]
        args += ["-preset", q["preset"], "-crf", str(q["crf"]), "-rc-lookahead", str(q["lookahead"]),
                 "-profile:v", "high", "-level:v", _h264_level(width, height, fps)]
        args += ["-threads", str(threads)] if threads else []
    elif name == "libx265":
        args += ["-preset", q["preset"], "-crf", str(q["crf"]), "-tag:v", "hvc1",
                 "-x265-params", "log-level=error"]
    elif name.endswith("_nvenc"):
        args += ["-preset", q["hw_preset"], "-rc", "vbr", "-cq", str(q["cq"]), "-b:v", "0"]
    elif name.endswith("_vaapi"):
        input_args = ["-vaapi_device", _VAAPI_DEVICE]
        tail = ",format=nv12,hwupload"
        args += ["-qp", str(q["cq"])]
    elif name.endswith("_qsv"):
        args += ["-global_quality", str(q["cq"])]
    if codec == "h265" and name != "libx265":
        args += ["-tag:v", "hvc1"]
    args += ["-g", str(2 * fps)] + ([] if tail else ["-pix_fmt", "yuv420p"])
    args += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
    timescale = 90000 if 90000 % fps == 0 else fps * 1000
    return EncoderSettings(codec=codec, encoder=name, quality=quality, width=width, height=height, fps=fps,
                           timescale=timescale, scaler=q["scaler"],
                           audio_args=["-c:a", "aac", "-aac_coder", q["aac"], "-b:a", q["abr"]],
                           input_args=input_args, decode_args=q["decode"], piece_threads=threads,
                           filter_tail=_TAGS.format(fps=fps) + tail, video_args=args)


@functools.cache
def hardware_works(name: str) -> bool:
    """True when FFmpeg can really encode a frame with ``name`` here (not merely has it built in)."""
    pre = ["-vaapi_device", _VAAPI_DEVICE] if name.endswith("_vaapi") else []
    vf = ["-vf", "format=nv12,hwupload"] if name.endswith("_vaapi") else []
    try:
        run_ffmpeg([*pre, "-f", "lavfi", "-i", "color=c=gray:s=256x256:r=30:d=0.1", *vf, "-frames:v", "3",
                    "-c:v", name, "-f", "null", "-"], what=f"trying the {name} encoder", timeout=30)
    except FFmpegError:
        return False
    return True


def _h264_level(width: int, height: int, fps: int) -> str:
    mbs = ((width + 15) // 16) * ((height + 15) // 16)
    for name, max_fs, max_mbps in _H264_LEVELS:
        if mbs <= max_fs and mbs * fps <= max_mbps:
            return name
    return _H264_LEVELS[-1][0]
