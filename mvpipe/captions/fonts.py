"""The captions' font: the bundled Noto Sans (OFL, from the ``fontpkg-noto-sans`` wheel) or the user's file.

libass falls back to whatever fonts the machine has for a character its font lacks, so the same
storyboard would look different (or show empty boxes) from one machine to the next. Instead every
character of every line is checked against the font's character map when the storyboard is
loaded, and a missing one is a located error that says which font would draw it.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

from mvpipe.captions.models import FileLine
from mvpipe.errors import InputError
from mvpipe.storyboard import Captions, Storyboard

# Characters that draw nothing and need no glyph: joiners, variation selectors, bidi controls.
_INVISIBLE = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, *range(0xFE00, 0xFE10), *range(0x202A, 0x202F),
              *range(0x2066, 0x206A), 0x200E, 0x200F}


def font_file(style: Captions) -> Path:
    """The font file the captions are set in."""
    if style.font is not None:
        return style.font
    import fontpkg_noto_sans

    return fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"


@functools.cache
def font_facts(path: Path) -> tuple[str, frozenset[int]]:
    """(family name, code points it has glyphs for); raises ValueError when it is not a usable font."""
    try:
        font = TTFont(str(path), lazy=True, fontNumber=0)
    except (OSError, TTLibError, AssertionError) as exc:
        raise ValueError(f"not a font fontTools can read ({exc})") from None
    if not any(tag in font for tag in ("glyf", "CFF ", "CFF2")):
        raise ValueError("it has no outline glyphs (a bitmap or colour-bitmap font, which libass cannot draw)")
    name = font["name"]
    family = name.getDebugName(16) or name.getDebugName(1)
    if not family:
        raise ValueError("it names no font family")
    return family, frozenset(font.getBestCmap() or {})


@functools.cache
def font_advances(path: Path) -> tuple[dict[int, int], int]:
    """Advance width of each code point's glyph (font units), and the font's units per em: to wrap rows
    so they fit the frame."""
    font = TTFont(str(path), lazy=True, fontNumber=0)
    metrics = font["hmtx"].metrics
    return {cp: metrics[name][0] for cp, name in (font.getBestCmap() or {}).items() if name in metrics}, \
        font["head"].unitsPerEm


def check_font(board: Storyboard, file_lines: list[FileLine]) -> None:
    """Every character of every line must be in the font; raises a located :class:`InputError`."""
    path = font_file(board.captions)
    if board.captions.font is not None and not path.is_file():
        raise board.error(f"font file not found: {path}.", "captions", "font", hint="Paths are relative to "
                          "the storyboard; leave 'font' out for the bundled Noto Sans.")
    texts = list(_texts(board, file_lines))
    if not texts:
        return
    try:
        family, cmap = font_facts(path)
    except ValueError as exc:
        raise board.error(f"cannot use the font {path.name}: {exc}.", "captions", "font") from None
    for text, where in texts:
        missing = next((c for c in text if ord(c) not in cmap and not c.isspace() and ord(c) not in _INVISIBLE), None)
        if missing is not None:
            what = f"the font '{family}' ({path.name}) has no glyph for '{missing}' (U+{ord(missing):04X}, " \
                   f"{unicodedata.name(missing, 'unnamed')})."
            hint = _hint(missing)
            if isinstance(where, tuple):
                raise InputError(what, file=where[0], line=where[1], hint=hint)
            raise board.error(what, *where.split("|"), hint=hint)


def _texts(board: Storyboard, file_lines: list[FileLine]) -> Iterator[tuple[str, tuple | str]]:
    """Each line's text with where it comes from: (file, line) or a storyboard location joined by '|'."""
    for fl in file_lines:
        yield fl.text, (fl.file, fl.line)
    for i, line in enumerate(board.lyrics.lines if board.lyrics is not None else []):
        yield line.text, f"lyrics|lines|{i}|text"
    for i, shot in enumerate(board.shots):
        for j, text in enumerate(shot.lyrics):
            yield text, f"shots|{i}|lyrics|{j}"


def _hint(char: str) -> str:
    cp = ord(char)
    if cp >= 0x1F000 or 0x2600 <= cp < 0x2800:
        return ("Emoji need a font with outline emoji (e.g. Noto Emoji, OFL) as 'captions: {font: FILE}'; colour "
                "emoji fonts do not render in libass. Or leave the emoji out.")
    if 0x2E80 <= cp < 0xA000 or 0xAC00 <= cp < 0xD7B0 or 0xF900 <= cp < 0xFB00 or 0xFF00 <= cp < 0xFFF0:
        return ("Set 'captions: {font: FILE}' to a font that covers Chinese, Japanese or Korean "
                "(e.g. Noto Sans CJK, OFL).")
    if 0x0590 <= cp < 0x0900 or 0xFB1D <= cp < 0xFE00 or 0xFE70 <= cp < 0xFF00:
        return ("Set 'captions: {font: FILE}' to a font for this script (e.g. Noto Sans Arabic or Noto Sans Hebrew, "
                "OFL); right-to-left lines are laid out by libass (FriBidi, HarfBuzz).")
    return "Set 'captions: {font: FILE}' to a font that covers it."
