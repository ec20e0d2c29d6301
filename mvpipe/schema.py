"""The storyboard's JSON Schema, for editors that complete and check YAML as you type.

Generated from the pydantic models in :mod:`mvpipe.storyboard` (so enums, bounds and defaults are
the loader's own), then adjusted to what the YAML may say: a length is written ``"4 bars"`` (the
models hold it parsed), a transition is a name or a mapping. Fields without a description in the
models get theirs from the table below, which is the README's storyboard reference.
"""

from __future__ import annotations

import json
from typing import Any

from mvpipe.storyboard import _LENGTH_RE, SPEC_VERSION, TRANSITIONS, Storyboard

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Storyboard": {
        "mvpipe": f"storyboard spec version; this mvpipe reads {SPEC_VERSION}",
        "title": "shown in plans and manifests",
        "song": "the song file (any format FFmpeg reads), relative to this file",
        "lyrics": "the words: a lyrics file, lines on the grid, or both (see README, 'Lyrics and captions')",
        "captions": "how the words are set: font, size, colours, outline, shadow, position, fades, karaoke",
        "output": "the video: aspect, height, fps, path, fit, quality, and more outputs under 'also'",
        "timing": "how the song is cut up: range, grid and shot lengths",
        "generator": "default provider[:model] for every shot (see `mvpipe providers`)",
        "style": "text appended to every prompt",
        "characters": "name -> description, reference images and providers' own ids",
        "shots": "the shots, in order (at least one)",
    },
    "Output": {
        "aspect": "frame shape; the width follows from it and the height",
        "height": "frame height in pixels (the width follows from the aspect)",
        "fps": "frames per second; every output shares these frames and cuts",
        "fit": "how clips of another shape fill the frame",
        "quality": "final, or draft for a faster encode when previewing",
    },
    "OutputVariant": {
        "aspect": "frame shape of this output (default: the main output's)",
        "height": "frame height of this output (default: the main output's)",
        "fit": "how clips fill this output's frame (default: the main output's)",
        "quality": "encode quality of this output (default: the main output's)",
        "subtitles": "burn, track (a soft MP4 track), both, or sidecar (.srt/.vtt only)",
    },
    "Timing": {
        "min_shot": "no shot shorter than this ('1 bar', '2 beats', '1.5s')",
        "max_shot": "no shot longer than this",
    },
    "Character": {
        "description": "joins the prompt of every shot the character is in: keeps them consistent",
        "references": "reference images, relative to this file; sent to models that take them",
    },
    "Shot": {
        "id": "unique name: letters, digits, '-' and '_'",
        "prompt": "what happens in the shot (required unless 'footage')",
        "length": "'N bars', 'N beats' or 'N.Ns'; omitted: share what is left, cut on timing.cut_on",
        "characters": "names from 'characters:'; each one's description joins the prompt",
        "transition": "into this shot, centred on the cut: a name, or {type, length}",
        "seed": "sent to providers that take one; part of the clip's cache key",
        "negative_prompt": "sent to providers that take one",
        "camera": "camera direction, joins the prompt",
        "continue": "'previous': this shot's first frame is the previous shot's last frame",
    },
    "Transition": {"type": "the transition's kind"},
    "Lyrics": {
        "file": "a lyrics file (.lrc incl. enhanced word times, .srt, .vtt, .ass), relative to this file",
        "lines": "lines placed on the grid: {at: 'N bars' | 'N beats' | 'N.Ns', text, length}",
    },
    "LyricLine": {"text": "the words of this line"},
    "Captions": {
        "colour": "'#RRGGBB' or '#RRGGBBAA' (AA: opacity)",
        "outline_colour": "colour of the outline around the letters",
        "shadow_colour": "colour of the shadow",
        "bold": "bold letters",
        "position": "bottom, middle or top, inside the output's safe zone",
        "fade_in_ms": "fade in from half opacity over this many milliseconds",
        "fade_out_ms": "fade out to half opacity over this many milliseconds",
    },
    "Length": {"value": "how many", "unit": "beats, bars or seconds"},
}


def storyboard_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a storyboard YAML file."""
    doc = Storyboard.model_json_schema(by_alias=True)
    defs = doc["$defs"]
    for name, model in [("Storyboard", doc), *defs.items()]:
        for field, prop in model.get("properties", {}).items():
            text = _DESCRIPTIONS.get(name, {}).get(field)
            if text and "description" not in prop:
                prop["description"] = text
    doc = _as_written(doc)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "mvpipe-storyboard.schema.json",
            **doc, "title": "mvpipe storyboard",
            "description": "Song + storyboard -> beat-cut music video. See `mvpipe --help` and the README."}


def schema_json() -> str:
    """:func:`storyboard_schema` as the text ``mvpipe schema`` prints (and the committed file holds)."""
    return json.dumps(storyboard_schema(), indent=2, ensure_ascii=False)


_LENGTH_TEXT = {"type": "string", "pattern": None, "examples": ["4 bars", "2 beats", "3.5s"]}
_TRANSITION_NAME = {"type": "string", "enum": list(TRANSITIONS)}


def _as_written(node: Any) -> Any:
    """Let every length be written as text and every transition as a bare name, as the loader allows."""
    if isinstance(node, list):
        return [_as_written(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _as_written(v) for k, v in node.items()}
    ref = node.get("$ref")
    if ref in ("#/$defs/Length", "#/$defs/Transition"):
        text = {**_LENGTH_TEXT, "pattern": _ecma_pattern(_LENGTH_RE.pattern)} if ref.endswith("Length") \
            else _TRANSITION_NAME
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**rest, "anyOf": [text, {"$ref": ref}]}
    return node


def _ecma_pattern(pattern: str) -> str:
    """A case-insensitive Python pattern as one JSON Schema (ECMA-262) understands: letters as [xX]."""
    out, escaped = [], False
    for ch in pattern:
        out.append(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() and not escaped else ch)
        escaped = ch == "\\" and not escaped
    return "".join(out)
