"""Song (+ template) -> a storyboard that renders at once: ``mvpipe init``.

One shot per phrase of each section the analysis found, the phrase length chosen by the section's
label (the template's ``density``) or by its energy (2 bars where it is loud, else 4, kept between
3 and 10 seconds). Each section's last shot is anchored to the section's end (``section: LABEL``), so
the cuts follow the song's form even where its bars are uneven. A template gives the title, style,
generator, output, characters and prompts; a prompt that names a character brings it into the shot.

The file is ours only while it is as we wrote it: its first lines carry a digest of the rest, and
mvpipe overwrites a file only when that digest still matches (nobody has edited it since).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mvpipe.analysis import Section, SongAnalysis
from mvpipe.errors import InputError
from mvpipe.storyboard import Length, LengthSpec, Storyboard
from mvpipe.workspace import write_text_atomic

# The line editors read to complete and check a storyboard: the same line the demo storyboard carries
# (`mvpipe schema` prints the schema it names; the export branch adds both).
SCHEMA_LINE = "# yaml-language-server: $schema=../schema/storyboard.schema.json"
_MARK = "# Made by mvpipe init"
_DIGEST_RE = re.compile(r"^# mvpipe-digest: ([0-9a-f]{64})$", re.MULTILINE)


class Template(BaseModel):
    """A channel's look, reused for every song: the storyboard keys that are not about the song."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    generator: str = "animatic"
    style: str = ""
    output: dict[str, Any] = Field(default_factory=dict)
    characters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    density: dict[str, LengthSpec] = Field(default_factory=dict, description="phrase length by section label")
    prompts: list[str] | dict[str, list[str]] = Field(
        default_factory=list, description="cycled over the shots; or by section label ('A', 'B', 'default')")


def load_template(path: Path | str) -> tuple[Template, Path]:
    """Read a template file; its paths (references, output path) are made absolute from its folder."""
    path = Path(path)
    if not path.is_file():
        raise InputError("template file not found.", file=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}.", file=path,
                         line=mark.line + 1 if mark else None) from None
    try:
        template = Template.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"{err['msg']}.", file=path, field=".".join(str(p) for p in err["loc"]),
                         hint=f"Template keys: {', '.join(Template.model_fields)}.") from None
    base = path.resolve().parent
    for character in template.characters.values():
        if isinstance(character.get("references"), list):
            character["references"] = [str(base / r) for r in character["references"]]
    if template.output.get("path"):
        template.output["path"] = str(base / template.output["path"])
    return template, path


def with_variables(template: Template, variables: Mapping[str, Any]) -> Template:
    """``template`` with some keys replaced (a batch job's title, style, characters, generator, output)."""
    try:
        return Template.model_validate({**template.model_dump(), **variables})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"{err['msg']}.", field=".".join(str(p) for p in err["loc"])) from None


def storyboard_text(song: Path, analysis: SongAnalysis, dest: Path, template: Template | None = None,
                    *, template_path: Path | None = None) -> str:
    """The storyboard YAML for ``song``, written to live at ``dest`` (its paths are relative to it)."""
    template = template or Template()
    here = dest.resolve().parent
    head: dict[str, Any] = {"mvpipe": 1, "title": template.title or _title(song),
                            "song": os.path.relpath(Path(song).resolve(), here)}
    if template.output:
        head["output"] = _relative(template.output, here, "path")
    head["generator"] = template.generator
    if template.style:
        head["style"] = template.style
    if template.characters:
        head["characters"] = {name: _relative(c, here, "references") for name, c in template.characters.items()}
    lines = [f"# {analysis.tempo:.1f} BPM, {analysis.meter}/4, {len(analysis.sections)} sections; "
             f"one shot per phrase. Render it: mvpipe render {dest.name}",
             _dump(head).rstrip(), "shots:"]
    prompts = _Prompts(template)
    for section in _sections(analysis):
        lines += _section_shots(section, analysis, template, prompts)
    body = "\n".join(lines) + "\n"
    source = f" with {template_path.name}" if template_path else ""
    return (f"{SCHEMA_LINE}\n{_MARK} from {Path(song).name}{source}. Edit freely: once edited, mvpipe never "
            f"overwrites it.\n# mvpipe-digest: {_digest(body)}\n{body}")


def write_storyboard(dest: Path, text: str) -> None:
    """Write ``text`` to ``dest`` unless a file is there that mvpipe did not make, or that was edited since."""
    ensure_ours(dest)
    write_text_atomic(dest, text)


def ensure_ours(dest: Path) -> None:
    """Raise :class:`InputError` when ``dest`` exists and is not a storyboard init made and nobody edited."""
    if Path(dest).exists() and not made_by_init(dest):
        raise InputError("this file exists and is not one mvpipe init made (or it was edited since); "
                         "it is left as it is.", file=dest, hint="Choose another -o, or move the file away yourself.")


def made_by_init(path: Path) -> bool:
    """True when ``path`` is a storyboard mvpipe init wrote and nobody has changed since."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    found = _DIGEST_RE.search(text)
    return bool(found) and _MARK in text[:found.start()] and _digest(text[found.end() + 1:]) == found.group(1)


def validate(text: str, dest: Path, template_path: Path | None) -> None:
    """Check the generated storyboard as the loader will, before it is written; blame the template."""
    data = yaml.safe_load(text)
    try:
        Storyboard.model_validate({**data, "song": str(dest.parent / data["song"])})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"the storyboard made from it would be invalid: {err['msg']}.",
                         file=template_path, field=".".join(str(p) for p in err["loc"])) from None


class _Prompts:
    """The template's prompts, cycled per section label (or over all shots when given as a list)."""

    def __init__(self, template: Template) -> None:
        self.table = template.prompts if isinstance(template.prompts, dict) else {"default": template.prompts}
        self.used: dict[str, int] = {}
        self.characters = list(template.characters)

    def next(self, label: str, fallback: str) -> tuple[str, list[str]]:
        key = next((k for k in (label, label.rstrip("'"), "default") if self.table.get(k)), None)
        if key is None:
            return fallback, []
        n = self.used.get(key, 0)
        self.used[key] = n + 1
        text = self.table[key][n % len(self.table[key])]
        named = [c for c in self.characters if re.search(rf"\b{re.escape(c)}\b", text, re.IGNORECASE)]
        return text, named


def _sections(analysis: SongAnalysis) -> list[Section]:
    """The analysis's sections, as the planner will see them (a section's anchor finds the first section
    of its label that ends after the shots before it: this one, even where the previous has its label)."""
    return analysis.sections or [Section(start=0.0, end=analysis.duration, label="A", energy=1.0)]


def _phrase_bars(section: Section, analysis: SongAnalysis, density: Mapping[str, Length]) -> int:
    for key in (section.label, section.label.rstrip("'"), "default"):
        if key in density and density[key].unit == "bars":
            return max(1, round(density[key].value))
    bar = 60.0 / max(analysis.tempo, 1.0) * analysis.meter
    bars = 2 if section.energy >= 0.8 else 4
    while bars > 1 and bars * bar > 10.0:
        bars //= 2
    while bars * bar < 3.0:
        bars *= 2
    return bars


def _section_shots(section: Section, analysis: SongAnalysis, template: Template, prompts: _Prompts) -> list[str]:
    first_down = analysis.downbeats[0] if analysis.downbeats else 0.0
    beats = sum(1 for b in analysis.beats if max(section.start, first_down) - 1e-3 <= b < section.end - 1e-3)
    phrase = _phrase_bars(section, analysis, template.density)
    n = max(1, round(beats / (phrase * analysis.meter)))
    while n > 1 and (n - 1) * phrase * analysis.meter > beats - analysis.meter:
        n -= 1              # the anchored last shot keeps at least a bar
    tag = re.sub(r"[^A-Za-z0-9]", "", section.label).lower() or "s"
    lines = [f"  # --- section {section.label}: {section.start:.2f}-{section.end:.2f}s, energy {section.energy:.2f}, "
             f"{n} shot(s) of ~{phrase} bar(s)"]
    for k in range(n):
        shot_id = f"{tag}-{section.start:.0f}s-{k + 1}"
        prompt, named = prompts.next(section.label, f"section {section.label}, phrase {k + 1} of {n}")
        shot: dict[str, Any] = {"id": shot_id}
        shot |= {"section": section.label} if k == n - 1 else {"length": f"{phrase} bars"}
        if named:
            shot["characters"] = named
        shot["prompt"] = prompt
        lines.append("  - " + _dump(shot).rstrip().replace("\n", "\n    "))
    return lines


def _relative(doc: dict[str, Any], here: Path, key: str) -> dict[str, Any]:
    """``doc`` with its path (or list of paths) under ``key`` made relative to the folder ``here``."""
    value = doc.get(key)
    if isinstance(value, str):
        return {**doc, key: os.path.relpath(value, here)}
    if isinstance(value, list):
        return {**doc, key: [os.path.relpath(v, here) for v in value]}
    return doc


def _title(song: Path) -> str:
    return re.sub(r"[_-]+", " ", Path(song).stem).strip().title()


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
