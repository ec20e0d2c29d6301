"""Setting the lines: safe zones, balanced rows, the ASS each piece burns in, and the .srt/.vtt sidecars.

Inside a piece, libass is handed a clock where output frame ``n`` is at ``10 n + 5`` ms (see
:func:`burn_filter`), so an ASS time in centiseconds *is* a frame number: a line on frames
``[a, b)`` is written ``a`` to ``b`` cs and shows on exactly those frames at any frame rate, with no
rounding of ASS's 10 ms steps to the video's frame times. Karaoke ``\\k`` durations are then frames
too. Each piece's ASS holds only the lines that touch it, with their absolute times, so changing a
line changes only the keys of the pieces it is on.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from mvpipe.captions.fonts import font_advances, font_facts, font_file
from mvpipe.captions.models import CaptionLine, CaptionTrack

# Margins kept clear of text, as fractions of the frame (left, right, top, bottom). 9:16 keeps clear
# of the short-video apps' overlays: the caption and sound bar along the bottom, the action buttons
# down the right side, the tabs on top (mvpipe's margins, on the safe-zone guides the platforms publish).
SAFE_ZONES: dict[str, tuple[float, float, float, float]] = {
    "16:9": (0.05, 0.05, 0.06, 0.08), "9:16": (0.06, 0.16, 0.12, 0.22),
    "1:1": (0.05, 0.05, 0.06, 0.09), "4:5": (0.05, 0.05, 0.06, 0.10),
}
MAX_CHARS = {"16:9": 42, "9:16": 26, "1:1": 32, "4:5": 30}
_ALIGN = {"bottom": 2, "middle": 5, "top": 8}


@dataclass(frozen=True)
class Frame:
    """The picture the lines are set on."""

    width: int
    height: int
    aspect: str
    fps: int


def _ass_colour(hex_rgba: str) -> str:
    r, g, b = hex_rgba[1:3], hex_rgba[3:5], hex_rgba[5:7]
    alpha = 255 - int(hex_rgba[7:9], 16) if len(hex_rgba) == 9 else 0
    return f"&H{alpha:02X}{b}{g}{r}"


def header(track: CaptionTrack, frame: Frame, font_digest: str) -> str:
    """The ASS script head: the frame's size, and a plain style and a karaoke style (sung words highlighted)."""
    st = track.style
    family, _ = font_facts(font_file(st))
    size = st.size * frame.height
    left, right, top, bottom = SAFE_ZONES[frame.aspect]
    margin_v = round((top if st.position == "top" else bottom) * frame.height)
    common = (f"{'-1' if st.bold else '0'},0,0,0,100,100,0,0,1,{st.outline * size:.2f},{st.shadow * size:.2f},"
              f"{_ALIGN[st.position]},{round(left * frame.width)},{round(right * frame.width)},{margin_v},1")
    colours = [_ass_colour(c) for c in (st.colour, st.highlight, st.outline_colour, st.shadow_colour)]
    return "\n".join([
        "[Script Info]", f"; mvpipe captions, font {font_file(st).name} {font_digest}", "ScriptType: v4.00+",
        f"PlayResX: {frame.width}", f"PlayResY: {frame.height}", "WrapStyle: 2", "ScaledBorderAndShadow: yes", "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding",
        f"Style: L,{family},{size:.2f},{colours[0]},{colours[1]},{colours[2]},{colours[3]},{common}",
        f"Style: K,{family},{size:.2f},{colours[1]},{colours[0]},{colours[2]},{colours[3]},{common}", "",
        "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text", ""])


def piece_script(track: CaptionTrack, frame: Frame, head: str, start: int, frames: int) -> str | None:
    """The ASS for the piece on output frames ``[start, start + frames)``, or None when no line touches it."""
    lines = [x for x in track.lines if x.start_frame < start + frames and x.end_frame > start]
    if not lines:
        return None
    events = [f"Dialogue: 0,{_cs(x.start_frame)},{_cs(x.end_frame)},{'K' if _karaoke(track, x) else 'L'},,0,0,0,,"
              f"{_fade(track, frame, x)}{_text(track, frame, x)}" for x in lines]
    return head + "\n".join(events) + "\n"


def burn_filter(script: Path, fonts: Path, fps: int, start: int) -> str:
    """Filters that draw ``script`` on the piece whose first frame is output frame ``start`` (see module)."""
    return (f",settb=1/1000,setpts=(N+{start})*10+5,ass=filename={_escape(script)}:fontsdir={_escape(fonts)},"
            f"settb=1/{fps},setpts=N")


def _escape(path: Path) -> str:
    """A path as a filter option value inside a filtergraph (FFmpeg's two levels of escaping)."""
    value = re.sub(r"([\\':])", r"\\\1", str(path))
    return re.sub(r"([\\'\[\],;])", r"\\\1", value)


def _cs(frame: int) -> str:
    h, rest = divmod(frame, 360000)
    m, rest = divmod(rest, 6000)
    s, cs = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _karaoke(track: CaptionTrack, line: CaptionLine) -> bool:
    return track.style.karaoke and bool(line.words)


def _fade(track: CaptionTrack, frame: Frame, line: CaptionLine) -> str:
    """Fade from and to half opacity, so the first and last frames of a line still show it."""
    st = track.style
    n = line.end_frame - line.start_frame
    fi = min(n // 2, round(st.fade_in_ms / 1000 * frame.fps))
    fo = min(n - fi, round(st.fade_out_ms / 1000 * frame.fps))
    if not fi and not fo:
        return ""
    return f"{{\\fade(128,0,128,0,{fi * 10},{(n - fo) * 10},{n * 10})}}"


def _tokens(line: CaptionLine, karaoke: bool) -> list[tuple[str, int]]:
    """(text, frames to sing it; 0 without karaoke). Words of unspaced scripts (CJK) break anywhere."""
    if karaoke:
        frames = [w.frame for w in line.words] + [line.end_frame]
        lead = [("", frames[0] - line.start_frame)] if frames[0] > line.start_frame else []
        return lead + [(w.text.strip(), frames[i + 1] - w.frame) for i, w in enumerate(line.words)]
    out = []
    for word in line.text.split():
        out += [(c, 0) for c in word] if _wide(word) else [(word, 0)]
    return out


def _wide(word: str) -> bool:
    return len(word) > 1 and all(unicodedata.east_asian_width(c) in "WF" for c in word)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def rows(tokens: list[str], fits: Callable[[str], bool], measure: Callable[[str], float]) -> list[list[int]]:
    """Token indices per row: the fewest rows that ``fits`` allows, then the narrowest widest row by ``measure``
    (a single token too wide for any row keeps a row of its own)."""
    n = len(tokens)
    best: list[tuple[int, float] | None] = [(0, 0.0)] + [None] * n  # (rows, widest row) for a prefix
    prev = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            text = _join(tokens[i:j])
            if not fits(text) and i < j - 1:
                break
            if best[i] is not None:
                cand = (best[i][0] + 1, max(best[i][1], measure(text)))
                if best[j] is None or cand < best[j]:
                    best[j], prev[j] = cand, i
    out, j = [], n
    while j:
        out.append(list(range(prev[j], j)))
        j = prev[j]
    return out[::-1]


def _join(tokens: list[str]) -> str:
    return "".join((" " * _gap(tokens[k - 1], t) if k else "") + t for k, t in enumerate(tokens))


def _fitter(track: CaptionTrack, frame: Frame) -> tuple[Callable[[str], bool], Callable[[str], float]]:
    """A row fits in ``max_chars`` and in the safe zone's width at the font's own advance widths."""
    st = track.style
    size = st.size * frame.height
    advances, upem = font_advances(font_file(st))
    left, right, _, _ = SAFE_ZONES[frame.aspect]
    room = frame.width * (1 - left - right) - 2 * st.outline * size
    limit = st.max_chars or MAX_CHARS[frame.aspect]

    def measure(text: str) -> float:
        return sum(advances.get(ord(c), upem // 2) for c in text) * size / upem
    return (lambda text: _width(text) <= limit and measure(text) <= room), measure


def _gap(a: str, b: str) -> int:
    """Spaces between two tokens on a row: none beside an empty token or between two wide (CJK) ones."""
    return 0 if not a or not b or (_width(a) == 2 * len(a) and _width(b) == 2 * len(b)) else 1


def _text(track: CaptionTrack, frame: Frame, line: CaptionLine) -> str:
    karaoke = _karaoke(track, line)
    tokens = _tokens(line, karaoke)
    parts = []
    for r, row in enumerate(rows([t for t, _ in tokens], *_fitter(track, frame))):
        cells, before = [], ""
        for k in row:
            text, dur = tokens[k]
            cells.append((f"{{\\k{dur}}}" if karaoke else "") + " " * _gap(before, text) + _ass_escape(text))
            before = text or before
        parts.append(("\\N" if r else "") + "".join(cells))
    return "".join(parts)


def _ass_escape(text: str) -> str:
    text = re.sub(r"\\(?=[Nnh{}])", "\\\\\u2060", text)
    return text.replace("{", "\\{").replace("}", "\\}")


def plain_rows(track: CaptionTrack, frame: Frame, line: CaptionLine) -> str:
    """The line as wrapped rows of plain text (for SubRip and WebVTT)."""
    tokens = [t for t, _ in _tokens(line, False)]
    return "\n".join(_join([tokens[k] for k in row]) for row in rows(tokens, *_fitter(track, frame)))


def sidecars(track: CaptionTrack, frame: Frame) -> dict[str, str]:
    """SubRip and WebVTT text of the lines. Times are frame times rounded down to the millisecond, so a
    player shows a line from its first frame to its last (a frame at ``n / fps`` is at or after them)."""
    subs = pysubs2.SSAFile()
    for x in track.lines:
        text = plain_rows(track, frame, x).replace("\n", "\\N")
        subs.events.append(pysubs2.SSAEvent(start=math.floor(x.start_frame * 1000 / frame.fps),
                                            end=math.floor(x.end_frame * 1000 / frame.fps), text=text))
    return {"srt": subs.to_string("srt"), "vtt": subs.to_string("vtt")}
