"""The storyboard JSON Schema: what `mvpipe schema` prints, what the repository commits, and that it
accepts and refuses what the loader accepts and refuses (for everything a schema can see)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from mvpipe.cli import main
from mvpipe.errors import InputError
from mvpipe.schema import storyboard_schema
from mvpipe.storyboard import load

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "schema" / "storyboard.schema.json"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")

BOARD = """\
mvpipe: 1
title: Night Drive
song: song.wav
output: {aspect: "16:9", height: 720, fps: 24, also: [{aspect: "9:16", fit: blur}]}
timing: {start: 0, cut_on: beat, min_shot: 1 bar, density: {A: 2 bars, default: 1 bar}}
characters:
  mara: {description: woman with a silver bob}
shots:
  - id: intro
    length: 4 bars
    prompt: empty highway
    transition: fade-black
  - id: drive
    characters: [mara]
    prompt: mara drives
    transition: {type: crossfade, length: 2 beats}
    continue: previous
"""


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(storyboard_schema())


def test_the_committed_schema_is_what_mvpipe_schema_prints(capsys) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert COMMITTED.read_text() == printed, "run `mvpipe schema > schema/storyboard.schema.json`"
    jsonschema.Draft202012Validator.check_schema(json.loads(printed))


def _repo_storyboards() -> list[Path]:
    return sorted((ROOT / "storyboards").glob("*.yaml"))


@pytest.mark.parametrize("path", _repo_storyboards(), ids=lambda p: p.name)
def test_every_storyboard_in_the_repository_is_valid_and_names_the_schema(path: Path) -> None:
    text = path.read_text()
    errors = [e.message for e in _validator().iter_errors(yaml.safe_load(text))]
    assert errors == []
    first = text.splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path.name} must start with '# yaml-language-server: $schema=...'"
    assert (path.parent / match.group(1)).resolve() == COMMITTED


def test_the_readme_storyboard_reference_is_valid() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Storyboard reference", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert list(_validator().iter_errors(yaml.safe_load(block))) == []


# (old, new, the loader accepts it): each change is judged by the loader and by the schema alike
CHANGES = [
    ("length: 4 bars", "length: 2 Beats", True),
    ("length: 4 bars", "length: 3.5s", True),
    ("length: 4 bars", "length: 1.5 sec", True),
    ("length: 4 bars", "length: section", False),      # 'section: next' says it; the planner never read it
    ("length: 4 bars", "length: 4 barz", False),
    ("length: 4 bars", "length: 4", False),
    ("length: 4 bars", "length: bars", False),
    ("transition: fade-black", "transition: wipe-left", True),
    ("transition: fade-black", "transition: crosfade", False),
    ("transition: fade-black", "transition: {type: zoom, length: 1.5s}", True),
    ("transition: fade-black", "transition: {type: zoom, length: 1.5 parsecs}", False),
    ("transition: fade-black", "transition: {type: spin}", False),
    ("    prompt: empty highway", "    promt: empty highway", False),
    ("height: 720", "height: 480", False),
    ("fps: 24", "fps: 0", False),
    ("fps: 24", "fps: 121", False),
    ('aspect: "16:9"', 'aspect: "4:3"', False),
    ("fit: blur", "fit: stretch", False),
    ("fit: blur", "fps: 30", False),
    ("cut_on: beat", "cut_on: bar", True),
    ("cut_on: beat", "cut_on: measure", False),
    ("start: 0", "start: -1", False),
    ("mvpipe: 1", "mvpipe: 2", False),
    ("continue: previous", "continue: next", False),
    ("    continue: previous\n", "    seed: 7\n    if_short: slow\n    audio: 0.5\n    take: 2\n", True),
    ("    continue: previous\n", "    audio: 1.5\n", False),
    ("    continue: previous\n", "    if_short: loop\n", False),
    ("    continue: previous\n", "    take: 0\n", False),
    ("{description: woman with a silver bob}", "{description: woman, ids: {openai: char_1}}", True),
    ("{description: woman with a silver bob}", "{description: woman, looks: tall}", False),
    ("density: {A: 2 bars, default: 1 bar}", "density: {A: two bars}", False),
]


@pytest.mark.parametrize(("old", "new", "accepted"), CHANGES)
def test_the_schema_judges_a_storyboard_as_the_loader_does(write_board, old: str, new: str,
                                                           accepted: bool) -> None:
    assert old in BOARD
    path = write_board(BOARD.replace(old, new, 1))
    try:
        load(path)
        loaded = True
    except InputError:
        loaded = False
    valid = not list(_validator().iter_errors(yaml.safe_load(path.read_text())))
    assert (loaded, valid) == (accepted, accepted)


def test_every_field_is_described_and_choices_and_defaults_are_given() -> None:
    doc = storyboard_schema()
    models = [("Storyboard", doc), *doc["$defs"].items()]
    missing = [f"{name}.{field}" for name, model in models for field, prop in model.get("properties", {}).items()
               if not prop.get("description")]
    assert missing == [], "give these fields a description in mvpipe/schema.py or the model"
    output = doc["$defs"]["Output"]["properties"]
    assert output["height"]["enum"] == [720, 1080, 2160] and output["fps"]["default"] == 30
    assert output["fit"]["enum"] == ["cover", "contain", "blur"] and output["aspect"]["default"] == "16:9"
    transition = doc["$defs"]["Shot"]["properties"]["transition"]["anyOf"][0]
    assert "crossfade" in transition["enum"] and "wipe-left" in transition["enum"]
    assert doc["properties"]["generator"]["default"] == "animatic"
    assert doc["additionalProperties"] is False and doc["required"] == ["mvpipe", "song", "shots"]
