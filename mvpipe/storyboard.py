"""YAML -> Storyboard: the input contract, validated before anything is analysed or paid for.

Every error names the file, the line, the shot and the field, and says what to do. Paths are
resolved relative to the storyboard file so a project folder can move as a whole.
"""

from __future__ import annotations

import difflib
import os
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mvpipe.errors import InputError
from mvpipe.workspace import manifest_path, nearest_folder

SPEC_VERSION = 1
ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}
TRANSITIONS = (
    "cut", "crossfade", "fade-black", "fade-white",
    "wipe-left", "wipe-right", "wipe-up", "wipe-down",
    "slide-left", "slide-right", "slide-up", "slide-down", "zoom",
)
TransitionName = Literal[TRANSITIONS]  # type: ignore[valid-type]  # the one list: the assembler adds its filters
_LENGTH_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(beats?|bars?|s|sec|seconds?)\s*$", re.IGNORECASE)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Length(_Model):
    """A span of musical or clock time: ``4 bars``, ``2 beats``, ``3.5s``."""

    value: float = Field(gt=0)
    unit: Literal["beats", "bars", "seconds"]

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}" if self.unit != "seconds" else f"{self.value:g}s"


def _parse_length(raw: Any) -> Any:
    if isinstance(raw, Length | dict):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError("expected a length like '4 bars', '2 beats' or '3.5s'")
    if isinstance(raw, int | float):
        raise ValueError(f"'{raw}' has no unit; write '{raw} bars', '{raw} beats' or '{raw}s'")
    m = _LENGTH_RE.match(raw)
    if not m:
        raise ValueError(f"cannot parse '{raw}'; write 'N beats', 'N bars' or 'N.Ns'")
    unit = m.group(2).lower()
    unit = "beats" if unit.startswith("beat") else "bars" if unit.startswith("bar") else "seconds"
    return {"value": float(m.group(1)), "unit": unit}


LengthSpec = Annotated[Length, BeforeValidator(_parse_length)]


class Transition(_Model):
    """How a shot comes in. ``length`` is centred on the cut so the cut point stays on the beat."""

    type: TransitionName = "cut"
    length: LengthSpec | None = Field(default=None, description="default: 1 beat (none for cut)")


def _parse_transition(raw: Any) -> Any:
    if isinstance(raw, str):
        if raw not in TRANSITIONS:
            close = difflib.get_close_matches(raw, TRANSITIONS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown transition '{raw}'; one of: {', '.join(TRANSITIONS)}.{hint}")
        return {"type": raw}
    return raw


TransitionSpec = Annotated[Transition, BeforeValidator(_parse_transition)]


def _unquoted_aspect(raw: Any) -> Any:
    """YAML 1.1 reads an unquoted ``16:9`` as the base-60 number 969: say so, not just "invalid"."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        meant = next((a for a, (w, h) in ASPECTS.items() if w * 60 + h == raw), None)
        if meant:
            raise ValueError(f"YAML read the unquoted {meant} as the number {raw}; write it in quotes: "
                             f'aspect: "{meant}"')
    return raw


Aspect = Annotated[Literal["16:9", "9:16", "1:1", "4:5"], BeforeValidator(_unquoted_aspect)]
def _from_storyboard(path: Path, info: ValidationInfo) -> Path:
    """A relative path is relative to the storyboard's folder (``base`` in the validation context)."""
    base = (info.context or {}).get("base")
    return _absolute(base / path) if base is not None and str(path) and not path.is_absolute() else path


# A path the user writes in the storyboard: every field of this type resolves against the storyboard's folder.
RelPath = Annotated[Path, AfterValidator(_from_storyboard)]
Height = Literal[720, 1080, 2160]
Fit = Literal["cover", "contain", "blur"]
Quality = Literal["draft", "final"]
IfShort = Literal["hold", "slow"]
Subtitles = Literal["burn", "track", "both", "sidecar"]


class OutputVariant(_Model):
    """Another render of the same cut from the same takes (e.g. a 9:16 cut of a 16:9 video).

    What it leaves out is the main output's; it has no ``fps`` because cuts are whole frames of the
    main output's rate, and no take depends on it, so adding one never generates or pays again.
    """

    aspect: Aspect | None = None
    height: Height | None = None
    path: RelPath | None = Field(default=None, description="default: the main path with -9x16 (etc.) added")
    fit: Fit | None = None
    quality: Quality | None = None
    subtitles: Subtitles | None = None


class Output(_Model):
    aspect: Aspect = "16:9"
    height: Height = 1080
    fps: int = Field(default=30, ge=1, le=120)
    path: RelPath | None = Field(default=None, description="default: out/<storyboard name>.mp4 beside it")
    fit: Fit = "cover"
    quality: Quality = "final"
    subtitles: Subtitles = Field(default="burn", description="lyrics: burned in, a soft track, both, or only "
                                 "the .srt/.vtt sidecars")
    also: list[OutputVariant] = Field(default_factory=list, description="more renders from the same takes")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), both even, with the width following from the aspect ratio."""
        aw, ah = ASPECTS[self.aspect]
        if aw >= ah:
            h = self.height
            w = round(h * aw / ah / 2) * 2
        else:
            w = self.height
            h = round(w * ah / aw / 2) * 2
        return w, h


class Timing(_Model):
    """How the song's time is cut up. Defaults give bar-aligned cuts over the whole song."""

    start: float = Field(default=0.0, ge=0, description="seconds into the song where the video starts")
    end: float | None = Field(default=None, gt=0, description="seconds; default the song's end")
    offset_ms: float = Field(default=0.0, ge=-500, le=500, description="shifts every cut, e.g. +20")
    cut_on: Literal["beat", "downbeat", "bar"] = Field(
        default="downbeat", description="grid that shots without an explicit length are cut on")
    min_shot: LengthSpec | None = None
    max_shot: LengthSpec | None = None
    density: dict[str, LengthSpec] = Field(
        default_factory=dict,
        description="length of shots without one, by section label ('A', 'B', …) or 'default'")
    # the user's word where the song is ambiguous (passed to the analysis, which caches by it)
    bpm: float | None = Field(default=None, ge=20, le=400,
                              description="the beat level you hear: the tracker follows the song near this tempo")
    meter: int | None = Field(default=None, ge=1, le=16, description="beats a bar")
    first_downbeat: float | None = Field(default=None, ge=0, description="seconds into the song where a bar starts")
    beats: RelPath | None = Field(default=None, description="beat times made elsewhere: one a line, .beats or CSV")

    @model_validator(mode="after")
    def _range(self) -> Timing:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Character(_Model):
    description: str = Field(min_length=1)
    references: list[RelPath] = Field(default_factory=list)
    ids: dict[str, str] = Field(default_factory=dict,
                                description="provider -> that provider's own id for this character")


def _split_lines(raw: Any) -> Any:
    """A block of text is one line per row; blank rows are dropped."""
    if isinstance(raw, str):
        return [row.strip() for row in raw.splitlines() if row.strip()]
    return raw


class Shot(_Model):
    id: str
    prompt: str | None = None
    length: LengthSpec | None = None
    section: str | None = Field(default=None, description="fill until the end of the named section")
    characters: list[str] = Field(default_factory=list)
    transition: TransitionSpec = Transition()
    generator: str | None = Field(default=None, description="provider[:model] for this shot only")
    seed: int | None = None
    negative_prompt: str | None = None
    camera: str | None = None
    continue_: Literal["previous"] | None = Field(default=None, alias="continue")
    footage: RelPath | None = Field(default=None, description="a clip file or a folder of clips to use")
    audio: float = Field(default=0.0, ge=0, le=1, description="level of the clip's own sound under the song")
    if_short: IfShort = Field(default="hold", description="when a take is shorter than its slot")
    take: int = Field(default=1, ge=1, description="bump to ask for a new take of this shot")
    lyrics: Annotated[list[str], BeforeValidator(_split_lines, json_schema_input_type=str | list[str])] = Field(
        default_factory=list, description="lines spread over the shot's bars")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(f"'{v}' is not a valid shot id; use letters, digits, '-' and '_'")
        return v

    @field_validator("length", mode="before")
    @classmethod
    def _length(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() in ("section", "next"):
            raise ValueError(f"'{v}' is not a length; to fill until the end of a section write "
                             "'section: next' or 'section: LABEL' instead of 'length'")
        return v

    @model_validator(mode="after")
    def _what(self) -> Shot:
        if not self.prompt and self.footage is None:
            raise ValueError("a shot needs a 'prompt' (or 'footage: PATH' for your own clip)")
        if self.length is not None and self.section is not None:
            raise ValueError("give either 'length' or 'section', not both")
        return self


_COLOUR_RE = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")


def _colour(raw: Any) -> Any:
    if not isinstance(raw, str) or not _COLOUR_RE.match(raw):
        raise ValueError(f"{raw!r} is not a colour; write '#RRGGBB' or '#RRGGBBAA' (AA: opacity, FF opaque)")
    return raw.upper()


Colour = Annotated[str, BeforeValidator(_colour)]


class LyricLine(_Model):
    """One line of the words, placed on the grid from the video's start (``at: 12 bars``)."""

    text: str = Field(min_length=1)
    at: LengthSpec | None = Field(description="where it starts: 'N bars', 'N beats' or 'N.Ns' from the video's "
                                  "start (0: at the start)")
    length: LengthSpec | None = Field(default=None, description="how long it shows; default until the next line")

    @field_validator("at", mode="before")
    @classmethod
    def _zero(cls, v: Any) -> Any:
        zero = v == 0 or (isinstance(v, str) and (m := _LENGTH_RE.match(v)) is not None and float(m.group(1)) == 0)
        return None if zero and not isinstance(v, bool) else v


class Lyrics(_Model):
    """The song's words: a file (.lrc, enhanced .lrc, .srt, .vtt, .ass) and/or lines placed on the grid."""

    file: RelPath | None = None
    lines: list[LyricLine] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return {"file": raw}
        return {"lines": raw} if isinstance(raw, list) else raw


class Captions(_Model):
    """How the words are set. Sizes are fractions (of the frame height, or of the text size) so every
    output size looks alike."""

    font: RelPath | None = Field(default=None, description="a .ttf/.otf file; default Noto Sans (OFL), bundled")
    size: float = Field(default=0.055, gt=0, le=0.3, description="text height / frame height")
    colour: Colour = "#FFFFFF"
    highlight: Colour = Field(default="#FFD23F", description="karaoke: a word once it is sung")
    outline: float = Field(default=0.08, ge=0, le=0.5, description="outline width / text size")
    outline_colour: Colour = "#000000"
    shadow: float = Field(default=0.04, ge=0, le=0.5, description="shadow offset / text size")
    shadow_colour: Colour = "#00000080"
    bold: bool = False
    position: Literal["bottom", "middle", "top"] = "bottom"
    max_chars: int | None = Field(default=None, ge=8, le=200,
                                  description="longest row in characters; default 42 (landscape) to 26 (9:16)")
    fade_in_ms: float = Field(default=0, ge=0, le=2000)
    fade_out_ms: float = Field(default=0, ge=0, le=2000)
    karaoke: bool = Field(default=True, description="highlight each word as it is sung, where word times are known")


class Storyboard(_Model):
    mvpipe: Literal[1] = Field(description="storyboard spec version")
    title: str = ""
    song: RelPath
    output: Output = Output()
    timing: Timing = Timing()
    generator: str = "animatic"
    style: str = ""
    characters: dict[str, Character] = Field(default_factory=dict)
    shots: list[Shot] = Field(min_length=1)
    lyrics: Lyrics | None = None
    captions: Captions = Captions()

    _source: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)
    _lyric_file: list[Any] = PrivateAttr(default_factory=list)  # lyrics.file's lines: captions.read_lyrics

    @model_validator(mode="after")
    def _cross(self) -> Storyboard:
        seen: set[str] = set()
        for i, shot in enumerate(self.shots):
            if shot.id in seen:
                raise _Located(f"duplicate shot id '{shot.id}'", ("shots", i, "id"))
            seen.add(shot.id)
            for j, name in enumerate(shot.characters):
                if name not in self.characters:
                    close = difflib.get_close_matches(name, list(self.characters), n=1)
                    hint = f" Did you mean '{close[0]}'?" if close else (
                        f" Define it under 'characters:' (known: {', '.join(self.characters) or 'none'}).")
                    raise _Located(f"unknown character '{name}'.{hint}", ("shots", i, "characters", j))
            if shot.continue_ and i == 0:
                raise _Located("the first shot has no previous shot to continue", ("shots", i, "continue"))
        return self

    @property
    def source(self) -> Path | None:
        """The YAML file this storyboard was loaded from, if any."""
        return self._source

    def output_path(self) -> Path:
        """Where the video goes: ``output.path`` or ``out/<name>.mp4`` beside the storyboard."""
        if self.output.path is not None:
            return self.output.path
        base = self._source.parent if self._source else Path.cwd()
        name = self._source.stem if self._source else "video"
        return base / "out" / f"{name}.mp4"

    def outputs(self) -> list[Output]:
        """Every video to render, the main output first, each complete with its path (``also`` emptied)."""
        main = self.output.model_copy(update={"path": self.output_path(), "also": []})
        out = [main]
        for i, variant in enumerate(self.output.also):
            given = {k: v for k, v in variant.model_dump().items() if v is not None}
            video = main.model_copy(update=given)
            if variant.path is None:
                tag = video.aspect.replace(":", "x") + (f"-{video.height}p" if video.height != main.height else "")
                video = video.model_copy(update={"path": main.path.with_stem(f"{main.path.stem}-{tag}")})
            clash = next((o for o in out if o.path == video.path), None)
            if clash is not None:
                raise self.error(f"this output would overwrite {clash.path.name}, which another output writes.",
                                 "output", "also", i, hint="Give it its own 'path:'.")
            out.append(video)
        return out

    def inputs(self) -> list[tuple[Path, str, bool]]:
        """Everything a render reads, as (path, what it is, is a folder): no output may be written over one."""
        found = [(self.song, "the song", False)]
        found += [(ref, f"a reference image of '{name}'", False)
                  for name, ch in self.characters.items() for ref in ch.references]
        found += [(s.footage, f"shot '{s.id}''s footage", s.footage.is_dir()) for s in self.shots if s.footage]
        if self._source is not None:
            found += [(self._source, "the storyboard", False),
                      (self._source.resolve().parent / ".mvpipe", "mvpipe's workspace (takes, journal)", True)]
        return found

    def check_outputs(self, flag: str | None = None) -> None:
        """Refuse an output (video or manifest) that would overwrite an input or cannot be a file.

        ``flag``: the command-line option that set the main output's path, blamed instead of the YAML.
        """
        inputs = self.inputs()
        for i, video in enumerate(self.outputs()):
            for path in (video.path, manifest_path(video.path)):
                problem = output_problem(path, inputs)
                if problem is None:
                    continue
                hint = "Choose another output path."
                if i == 0 and flag:
                    raise InputError(problem + ".", field=flag, hint=hint)
                raise self.error(problem + ".", *(("output", "path") if i == 0 else ("output", "also", i - 1)),
                                 hint=hint)

    def check_writable(self, flag: str | None = None) -> None:
        """Refuse, before anything is generated or paid for, outputs whose folder cannot be written."""
        for i, video in enumerate(self.outputs()):
            folder = nearest_folder(video.path.parent)
            if not os.access(folder, os.W_OK | os.X_OK):
                problem, hint = f"cannot write into {folder} (permission denied).", "Choose another output path."
                if i == 0 and flag:
                    raise InputError(problem, field=flag, hint=hint)
                raise self.error(problem, *(("output", "path") if i == 0 else ("output", "also", i - 1)), hint=hint)

    def with_overrides(self, *, generator: str | None = None, output: Path | None = None) -> Storyboard:
        """This storyboard with the command line's ``--generator`` and ``--output`` applied, checked as the file is."""
        update: dict[str, Any] = {}
        if generator:
            update |= {"generator": generator, "shots": [s.model_copy(update={"generator": None}) for s in self.shots]}
        if output:
            update["output"] = self.output.model_copy(update={"path": _absolute(Path(output))})
        if not update:
            return self
        copy = self.model_copy(update=update)
        copy._source, copy._lines = self._source, self._lines
        if output:
            copy.check_outputs(flag="--output")
        return copy

    def error(self, message: str, *loc: str | int, hint: str | None = None) -> InputError:
        """An InputError located at ``loc`` (e.g. ``"shots", 2, "generator"``) in the YAML file."""
        shot = self.shots[loc[1]].id if len(loc) > 1 and loc[0] == "shots" and isinstance(loc[1], int) else None
        field = ".".join(str(p) for p in loc[2:]) if shot else ".".join(str(p) for p in loc) or None
        return InputError(message, file=self._source, line=_line_for(self._lines, loc), shot=shot,
                          field=field, hint=hint)


class _Located(ValueError):
    """A cross-field error that knows which YAML path it belongs to."""

    def __init__(self, message: str, loc: tuple) -> None:
        super().__init__(message)
        self.loc = loc


def load(path: Path | str) -> Storyboard:
    """Read and validate a storyboard; raise :class:`InputError` naming the exact place on any problem.

    Bounded on any input: the file's size, the YAML's nesting and its values after aliases are
    expanded are capped, and media it names are read by their headers only.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("storyboard file not found.", file=path)
    lines: dict[tuple, int] = {}
    data = _parse(_read_text(path), path, lines)
    if not isinstance(data, dict):
        raise InputError("a storyboard is a YAML mapping (keys like 'song:' and 'shots:').", file=path, line=1)
    # 'lyrics: [lines]' is short for 'lyrics: {lines: [...]}': its lines are found under both paths
    lines.update({("lyrics", "lines", *loc[1:]): n for loc, n in list(lines.items())
                  if loc[:1] == ("lyrics",) and len(loc) > 1 and isinstance(loc[1], int)})
    if isinstance(data.get("lyrics"), str | list):  # the short forms, spelled out so errors name lyrics.lines.N
        data = {**data, "lyrics": {"file" if isinstance(data["lyrics"], str) else "lines": data["lyrics"]}}
    try:
        board = Storyboard.model_validate(data, context={"base": path.parent})
    except ValidationError as exc:
        raise _input_error(exc, data, path, lines) from None
    board._source = path
    board._lines = lines
    _check_files(board)
    board.check_outputs()  # two outputs writing one file, or one writing over an input, is bad input, said now
    return board


# A storyboard is a small text file: these caps refuse in milliseconds what could otherwise take minutes
# (a 1 KB "billion laughs" alias bomb expands to 10^9 values) or exhaust the stack.
_MAX_BYTES = 512 * 1024  # 500 shots with long prompts are ~250 KB
_MAX_VALUES = 20_000  # YAML keys and values after aliases are expanded (500 shots need ~8,000)
_MAX_DEPTH = 32


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > _MAX_BYTES:
        raise InputError(f"the file is {size / 1e6:.1f} MB; a storyboard is a small text file (at most 512 KB).",
                         file=path, hint="Is this the storyboard?")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x}).", file=path,
                         line=raw.count(b"\n", 0, exc.start) + 1, hint="Save the file as UTF-8.") from None
    if "\x00" in text:
        raise InputError("a NUL character: a storyboard is plain text.", file=path,
                         line=text.count("\n", 0, text.index("\x00")) + 1, hint="Remove it.")
    return text


def _parse(text: str, path: Path, lines: dict[tuple, int]) -> Any:
    """YAML text -> plain data, parsed once (by libyaml where built in); ``lines`` gets each key's line."""
    depth, deepest = 0, 0
    for char in re.sub(r"[^][{}]", "", text):  # PyYAML's scanner slows quadratically in deep [[[...]]]
        depth = max(0, depth + (1 if char in "[{" else -1))
        deepest = max(deepest, depth)
    if deepest > _MAX_DEPTH:
        raise InputError("the YAML is nested too deeply to be a storyboard.", file=path)
    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = fast(text)
    try:
        for count, _ in enumerate(yaml.parse(text, Loader=fast)):  # counted before any node is built
            if count > _MAX_VALUES:
                raise InputError(f"the YAML holds more than {_MAX_VALUES:,} values; a storyboard never needs that.",
                                 file=path, hint="Is this the storyboard?")
        node = loader.get_single_node()
        if node is None:
            return None
        _Walk(path, lines).node(node, (), None)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"not valid YAML: {problem}.", file=path, line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise InputError("the YAML is nested too deeply to be a storyboard.", file=path) from None
    finally:
        loader.dispose()


class _Walk:
    """One pass over the YAML nodes before anything is built from them: records each key's line and
    refuses duplicate keys, NUL characters, deep nesting and alias expansion past the caps."""

    def __init__(self, path: Path, lines: dict[tuple, int]) -> None:
        self.path, self.lines, self.left = path, lines, _MAX_VALUES

    def node(self, node: yaml.Node, loc: tuple, shot: str | None, *, key: bool = False) -> None:
        self.left -= 1
        if self.left < 0 or len(loc) > _MAX_DEPTH:
            why = f"expands to more than {_MAX_VALUES:,} values" if self.left < 0 else "is nested too deeply"
            raise self._error(f"the YAML {why} (aliases of aliases?); a storyboard never needs that.", node, loc[:1],
                              None, hint="Write it out plainly.")
        if not key:
            self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode) and "\x00" in node.value:
            raise self._error("a NUL character (\\0) in this value.", node, loc, shot, hint="Remove it.")
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.node(item, (*loc, i), _shot_id(item) if loc == ("shots",) else shot)
        elif isinstance(node, yaml.MappingNode):
            self.mapping(node, loc, shot)

    def mapping(self, node: yaml.MappingNode, loc: tuple, shot: str | None) -> None:
        seen: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: its keys may be overridden here
                self.node(value, loc, shot)
                continue
            self.node(key, loc, shot, key=True)
            k = key.value if isinstance(key, yaml.ScalarNode) else f"<{key.id}>"
            if k in seen:
                raise self._error(f"'{k}' is given twice (first on line {seen[k]}); YAML would silently keep the "
                                  "last one.", key, (*loc, k), shot, hint="Remove one of them.")
            seen[k] = key.start_mark.line + 1
            self.node(value, (*loc, k), shot)
            self.lines[(*loc, k)] = key.start_mark.line + 1  # point at the key, not its value

    def _error(self, message: str, node: yaml.Node, loc: tuple, shot: str | None, hint: str) -> InputError:
        field = ".".join(str(p) for p in (loc[2:] if shot is not None else loc)) or None
        return InputError(message, file=self.path, line=node.start_mark.line + 1, shot=shot, field=field, hint=hint)


def _shot_id(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "id" and isinstance(value, yaml.ScalarNode):
                return value.value
    return None


def _absolute(path: Path) -> Path:
    """``path`` resolved; where it cannot be (a symbolic link loop) made absolute as written, and refused
    where it is used."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _check_files(board: Storyboard) -> None:
    """Files the storyboard names must exist and be what they say, now, not half-way through a paid
    render. Media are read by their headers only: bounded time and memory whatever they hold."""
    if not board.song.is_file():
        raise board.error(f"song file not found: {board.song}.", "song",
                          hint="Paths are relative to the storyboard file.")
    if board.timing.beats is not None and not board.timing.beats.is_file():
        raise board.error(f"beats file not found: {board.timing.beats}.", "timing", "beats",
                          hint="Paths are relative to the storyboard file.")
    for name, ch in board.characters.items():
        for j, ref in enumerate(ch.references):
            if not ref.is_file():
                raise board.error(f"reference image not found: {ref}.", "characters", name, "references", j)
            if problem := _image_problem(ref):
                raise board.error(f"reference {ref.name}: {problem}.", "characters", name, "references", j,
                                  hint="Give a PNG, JPEG or WebP picture.")
    for i, shot in enumerate(board.shots):
        if shot.footage is None:
            continue
        if not shot.footage.exists():
            raise board.error(f"footage not found: {shot.footage}.", "shots", i, "footage")
        try:
            clips = [shot.footage] if shot.footage.is_file() else clips_in(shot.footage)
        except ValueError as exc:
            raise board.error(f"{exc}.", "shots", i, "footage", hint="Point it at a folder of clips.") from None
        if not clips:
            raise board.error(f"no video files in the footage folder {shot.footage}.", "shots", i, "footage",
                              hint=f"Put clips there ({', '.join(sorted(VIDEO_SUFFIXES)[:6])}, ...).")
        for clip in clips:
            if problem := _clip_problem(clip):
                raise board.error(f"footage {clip.name}: {problem}.", "shots", i, "footage",
                                  hint="Give a video file FFmpeg reads (mp4, mov, webm, ...).")


# 8K is 33 megapixels: a picture larger than this is no reference or clip, and decoding it could take gigabytes.
MAX_PIXELS = 40_000_000
_STILLS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                            ".m2ts", ".wmv", ".flv", ".ogv", ".3gp", ".gif", ".mxf", ".dv"})


def clips_in(folder: Path) -> list[Path]:
    """The video files under ``folder`` (recursively, hidden ones skipped), in a stable order.

    Raises :class:`ValueError` for a folder of more than 10,000 entries (``footage: /`` would scan the disk).
    """
    found = []
    for n, p in enumerate(folder.rglob("*")):
        if n >= _MAX_SCAN:
            raise ValueError(f"the footage folder {folder} holds more than {_MAX_SCAN:,} files")
        if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() \
                and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            found.append(p)
    return sorted(found)


_MAX_SCAN = 10_000


def _image_problem(path: Path) -> str | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if too_big := _too_many_pixels(*im.size):
                    return too_big
                im.verify()
    except Image.DecompressionBombError:
        return f"its size is more than mvpipe reads ({MAX_PIXELS // 1_000_000} megapixels)"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"not a complete image ({exc})"
    return None


def _clip_problem(path: Path) -> str | None:
    import av

    if path.suffix.lower() in _STILLS:   # a picture's header may give no size to FFmpeg: ask Pillow
        return _image_problem(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "it has no video stream"
            ctx = container.streams.video[0].codec_context
            return _too_many_pixels(ctx.width, ctx.height)
    except (av.FFmpegError, OSError, ValueError) as exc:
        return f"not a video FFmpeg reads ({exc})"
    return None


def _too_many_pixels(width: int, height: int) -> str | None:
    if width * height > MAX_PIXELS:
        return f"{width}x{height} pixels is more than mvpipe reads ({MAX_PIXELS // 1_000_000} megapixels)"
    return None


def output_problem(path: Path, inputs: list[tuple[Path, str, bool]]) -> str | None:
    """Why mvpipe must not write ``path``, or None. ``inputs``: (path, what it is, is a folder).

    Refused: an input itself (by resolved path or as the same file under another name), a path inside
    an input folder, a folder, a device or pipe (``-o /dev/null`` would replace the device), and a path
    under a file.
    """
    try:
        target = path.resolve()
        resolved = [(source.resolve(), source, what, folder) for source, what, folder in inputs]
    except (OSError, RuntimeError) as exc:   # a symbolic link loop, a name too long
        return f"{path} cannot be resolved ({exc})"
    for src, source, what, folder in resolved:
        if folder and (target == src or src in target.parents):
            return f"{path} is inside {what} ({source}); mvpipe will not write there"
        if not folder and (target == src or _same_file(target, src)):
            return f"{path} is {what}; writing the output there would destroy it"
    if target.is_dir():
        return f"{path} is a folder, not a file name"
    if target.exists() and not target.is_file():
        return f"{path} is a device or pipe, not a file mvpipe may replace"
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"{path} would sit under {parent}, which is a file"
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _line_for(lines: dict[tuple, int], loc: tuple) -> int | None:
    for n in range(len(loc), -1, -1):
        if tuple(loc[:n]) in lines:
            return lines[tuple(loc[:n])]
    return None


def _yaml_loc(err_loc: tuple, data: Any) -> tuple:
    """Pydantic's error location without its union/validator tags, with field aliases restored."""
    out: list[Any] = []
    cursor = data
    for part in err_loc:
        if isinstance(cursor, dict) and part in cursor:
            out.append(part)
            cursor = cursor[part]
        elif isinstance(cursor, dict) and part == "continue_" and "continue" in cursor:
            out.append("continue")
            cursor = cursor["continue"]
        elif isinstance(cursor, list) and isinstance(part, int) and part < len(cursor):
            out.append(part)
            cursor = cursor[part]
        elif isinstance(part, str) and part in _model_fields_all():
            out.append(part)
            cursor = None
    return tuple(out)


def _model_fields_all() -> set[str]:
    names: set[str] = set()
    for model in (Storyboard, Output, OutputVariant, Timing, Character, Shot, Transition, Length, Lyrics,
                  LyricLine, Captions):
        names.update(f.alias or n for n, f in model.model_fields.items())
    return names


_FIELDS_AT = {
    (): Storyboard, ("output",): Output, ("output", "also", "*"): OutputVariant, ("timing",): Timing,
    ("characters", "*"): Character, ("shots", "*"): Shot, ("shots", "*", "transition"): Transition,
    ("lyrics",): Lyrics, ("lyrics", "lines", "*"): LyricLine, ("captions",): Captions,
}


def _input_error(exc: ValidationError, data: dict, path: Path, lines: dict[tuple, int]) -> InputError:
    err = exc.errors()[0]
    ctx_err = (err.get("ctx") or {}).get("error")
    loc = _yaml_loc(tuple(err["loc"]), data)
    if isinstance(ctx_err, _Located):
        loc = ctx_err.loc
    msg = str(ctx_err) if isinstance(ctx_err, Exception) else err["msg"]
    msg = msg.removeprefix("Value error, ")
    hint = None
    if err["type"] == "extra_forbidden":
        key = err["loc"][-1]
        parent = tuple("*" if isinstance(p, int) or (len(loc) > 1 and loc[0] == "characters" and i == 1) else p
                       for i, p in enumerate(loc[:-1]))
        model = _FIELDS_AT.get(parent)
        known = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        close = difflib.get_close_matches(str(key), known, n=1)
        msg = f"unknown key '{key}'."
        hint = f"Did you mean '{close[0]}'?" if close else (f"Known keys here: {', '.join(known)}." if known else None)
    elif err["type"] == "missing":
        msg = f"'{err['loc'][-1]}' is required."
    elif err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "mvpipe":
        msg = f"unsupported spec version {err.get('input')!r}; this mvpipe reads 'mvpipe: {SPEC_VERSION}'."
    shot = None
    if len(loc) > 1 and loc[0] == "shots" and isinstance(loc[1], int):
        raw = data["shots"][loc[1]]
        shot = raw.get("id") if isinstance(raw, dict) else None
        shot = str(shot) if shot is not None else f"#{loc[1] + 1}"
        field = ".".join(str(p) for p in loc[2:]) or None
    else:
        field = ".".join(str(p) for p in loc) or None
    msg = msg if msg.endswith((".", "?", "!")) else msg + "."
    return InputError(msg, file=path, line=_line_for(lines, loc), shot=shot, field=field,
                      hint=hint)
