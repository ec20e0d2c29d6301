"""Lyrics files -> :class:`FileLine` in song seconds, every mistake located by file and line.

SubRip, WebVTT and ASS are read by pysubs2. pysubs2 has no LRC reader, so LRC (and enhanced LRC's
per-word ``<mm:ss.xx>`` times) is read here, following the format as documented by its users:
``[mm:ss.xx]`` line times (several on one line repeat it), ``[key:value]`` ID tags (``ar``, ``ti``,
``al``, ``au``, ``by``, ``length``, ``offset``, ``re``, ``tool``, ``ve``, ``#``, and a few more that
players write), and ``[offset:±ms]``
where a positive value shows the words sooner. A line with a time and no text ends the one before.
"""

from __future__ import annotations

import re
from pathlib import Path

import pysubs2

from mvpipe.captions.models import FileLine
from mvpipe.errors import InputError

FORMATS = {".lrc": "lrc", ".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ass"}
# The ID tags of the format, and the extra ones common players write (language, a catalogue id, ...).
_LRC_IDS = {"ar", "ti", "al", "au", "by", "length", "offset", "re", "tool", "ve", "#", "la", "lang", "language",
            "id", "hash", "sign", "total", "kana", "composer", "lyricist", "arranger"}
_STAMP = r"(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)"
_LINE_TAG = re.compile(r"\[([^\]]*)\]")
_TIME = re.compile(rf"^{_STAMP}$")
_WORD = re.compile(rf"<{_STAMP}>")
_ASS_BLOCK = re.compile(r"\{([^}]*)\}")
_ASS_TAG = re.compile(r"\\(kf|ko|k|K|[ibus])(\d*)")
_STYLING = {"i", "b", "u", "s"}   # styling from the file is dropped: captions: sets the look


def read_file(path: Path) -> list[FileLine]:
    """Every line of a lyrics file, sorted by start; raises :class:`InputError` naming file and line."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot read lyrics from a '{path.suffix}' file.", file=path,
                         hint=f"Give one of: {', '.join(FORMATS)}.")
    text = _text(path)
    lines = _lrc(text, path) if fmt == "lrc" else _subs(text, path, fmt)
    if not lines:
        raise InputError("the lyrics file holds no timed lines.", file=path)
    return sorted(lines, key=lambda x: x.start)


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("lyrics file not found.", file=path, hint="Paths are relative to the storyboard.") from None
    except OSError as exc:
        raise InputError(f"cannot read the lyrics file ({exc.strerror}).", file=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}).", file=path, line=line,
                         hint="Save the file as UTF-8.") from None


def _seconds(minutes: str, seconds: str) -> float:
    return int(minutes) * 60 + float(seconds.replace(":", ".", 1))


def _lrc(text: str, path: Path) -> list[FileLine]:
    raw: list[FileLine] = []
    offset = 0.0
    for n, row in enumerate(text.splitlines(), 1):
        rest, times = row.strip(), []
        while (m := _LINE_TAG.match(rest)) is not None:
            tag, rest = m.group(1).strip(), rest[m.end():].lstrip()
            if (t := _TIME.match(tag)) is not None:
                times.append(_seconds(*t.groups()))
                continue
            key, sep, value = tag.partition(":")
            if not sep or key.strip().lower() not in _LRC_IDS:
                raise InputError(f"unknown tag '[{tag}]'.", file=path, line=n,
                                 hint="Lines start with [mm:ss.xx]; ID tags are " + ", ".join(sorted(_LRC_IDS)) + ".")
            if key.strip().lower() == "offset":
                offset = _offset(value, path, n)
        if not times:
            if rest:
                raise InputError("a line without a [mm:ss.xx] time.", file=path, line=n)
            continue
        words = _lrc_words(rest, path, n)
        plain = " ".join("".join(w for _, w in words).split()) if words else " ".join(rest.split())
        if (bad := re.search(r"<[^>]*>|\[[^\]]*\]", plain)) is not None:
            raise InputError(f"unknown tag '{bad.group(0)}'.", file=path, line=n,
                             hint="Word times are written <mm:ss.xx> before each word.")
        for t in times:
            shift = t - words[0][0] if words and len(times) > 1 else 0.0
            raw.append(FileLine(text=plain, start=t, words=[(wt + shift, w) for wt, w in words], file=path, line=n))
    return _ends(raw, offset)


def _offset(value: str, path: Path, n: int) -> float:
    try:
        return float(value.strip()) / 1000.0
    except ValueError:
        raise InputError(f"[offset:{value}] is not a number of milliseconds.", file=path, line=n) from None


def _lrc_words(rest: str, path: Path, n: int) -> list[tuple[float, str]]:
    """Enhanced LRC: ``<mm:ss.xx>word <mm:ss.xx>word``; text before the first word time is dropped."""
    parts = _WORD.split(rest)
    if len(parts) == 1:
        return []
    words = [(_seconds(parts[i], parts[i + 1]), parts[i + 2]) for i in range(1, len(parts), 3)]
    words = [(t, w) for t, w in words if w.strip()]
    if any(b[0] < a[0] for a, b in zip(words, words[1:], strict=False)):
        raise InputError("word times go backwards.", file=path, line=n)
    return words


def _ends(raw: list[FileLine], offset: float) -> list[FileLine]:
    """Shift by the file's offset and end each line where the next begins; drop the empty end markers."""
    raw = sorted(raw, key=lambda x: x.start)
    out = []
    for i, line in enumerate(raw):
        nxt = raw[i + 1].start - offset if i + 1 < len(raw) else None
        if line.text:
            out.append(line.model_copy(update={
                "start": line.start - offset, "end": nxt,
                "words": [(t - offset, w) for t, w in line.words]}))
    return out


def _subs(text: str, path: Path, fmt: str) -> list[FileLine]:
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as exc:  # pysubs2 raises several kinds for malformed input
        raise InputError(f"cannot read it as {fmt.upper()} ({exc}).", file=path) from None
    marker = "Dialogue:" if fmt == "ass" else "-->"
    rows = [n for n, row in enumerate(text.splitlines(), 1) if marker in row]
    out = []
    for i, event in enumerate(e for e in subs.events if not e.is_comment):
        n = rows[i] if i < len(rows) else None
        start = event.start / 1000.0
        plain, words = _ass_text(event.text, start, path, n)
        if plain:
            out.append(FileLine(text=plain, start=start, end=event.end / 1000.0, words=words, file=path, line=n or 0))
    return out


def _ass_text(text: str, start: float, path: Path, n: int | None) -> tuple[str, list[tuple[float, str]]]:
    r"""Plain text and karaoke word times (``{\k<cs>}``) of one ASS event's text."""
    words: list[tuple[float, str]] = []
    plain: list[str] = []
    clock = start
    pos = 0
    pending: float | None = None
    for m in [*_ASS_BLOCK.finditer(text), None]:
        chunk = text[pos:m.start() if m else len(text)].replace("\\N", " ").replace("\\n", " ").replace("\\h", " ")
        if chunk:
            plain.append(chunk)
            if pending is not None:
                words.append((pending, chunk))
                pending = None
        if m is None:
            break
        pos = m.end()
        for tag in filter(None, m.group(1).split("\\")):
            t = _ASS_TAG.match("\\" + tag)
            if t is None:
                raise InputError(f"unknown tag '\\{tag}'.", file=path, line=n,
                                 hint="Only karaoke times (\\k) are read from a file; captions: sets the look.")
            if t.group(1) not in _STYLING:
                pending, clock = clock, clock + int(t.group(2) or 0) / 100.0
    joined = " ".join("".join(plain).split())
    if re.search(r"<[^>]*>", joined):
        raise InputError(f"unknown tag '{re.search(r'<[^>]*>', joined).group(0)}'.", file=path, line=n)
    return joined, words
