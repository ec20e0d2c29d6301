"""The Python API: exactly the documented names, and the same documents the command line prints."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import short_board

import mvpipe
from mvpipe.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "storyboards" / "demo.yaml"


def _documented_names() -> set[str]:
    """The first backticked word of each row of README's "Python API" table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in re.findall(r"^\| `([^|]+)\|", section, flags=re.MULTILINE):
        names.update(re.findall(r"`?([A-Za-z_][A-Za-z0-9_]*)(?:\([^`]*\))?`", "`" + row))
    return names


def test_the_exports_are_exactly_the_documented_names() -> None:
    assert set(mvpipe.__all__) == _documented_names()
    assert len(mvpipe.__all__) == len(set(mvpipe.__all__))
    assert set(dir(mvpipe)) == set(mvpipe.__all__) == {"__version__", *mvpipe._EXPORTS}
    for name in mvpipe.__all__:
        value = getattr(mvpipe, name)
        if callable(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_no_submodule_shadows_an_export() -> None:
    """Importing ``mvpipe.x`` sets the package's attribute ``x``: no module may share a public name."""
    for info in pkgutil.walk_packages(mvpipe.__path__, "mvpipe."):
        importlib.import_module(info.name)
    for name in mvpipe.__all__:
        assert not inspect.ismodule(getattr(mvpipe, name)), name


def test_the_documented_signatures_are_the_real_ones() -> None:
    readme = (ROOT / "README.md").read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    for name, params in re.findall(r"^\| `([a-z_]+)\(([^)]*)\)`", readme, flags=re.MULTILINE):
        documented = [p.strip().split("=")[0] for p in params.split(",") if p.strip() not in ("", "*")]
        real = [p for p in inspect.signature(getattr(mvpipe, name)).parameters]
        assert documented == real, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'rendr'"):
        mvpipe.rendr  # noqa: B018


def test_importing_mvpipe_does_not_load_the_stages() -> None:
    code = "import sys, mvpipe; print(sorted(m for m in ('numpy', 'mvpipe.api', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_plan_returns_what_plan_json_prints(capsys) -> None:
    assert main(["plan", str(DEMO), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(mvpipe.plan(DEMO).model_dump_json()) == printed
    assert json.loads(mvpipe.analyze(ROOT / "assets" / "demo_song.mp3").model_dump_json())["tempo"] == pytest.approx(
        120, abs=1)


def _board(tmp_path: Path) -> Path:
    return short_board(tmp_path)


def test_render_returns_what_render_json_prints(tmp_path: Path, capsys) -> None:
    board = _board(tmp_path)
    lines: list[str] = []
    report = mvpipe.render(board, progress=lines.append)
    assert isinstance(report, mvpipe.RenderReport) and not report.failures
    assert [o.path for o in report.outputs] == [str(tmp_path / "out.mp4")] and report.outputs[0].frames == 120
    assert report.outputs[0].pieces_encoded > 0 and any(line.startswith("wrote ") for line in lines)
    assert main(["render", str(board), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    again = json.loads(mvpipe.render(board).to_json())
    for doc in (printed, again):
        for out in doc["outputs"]:
            out.pop("seconds")  # the encode time differs from run to run; nothing else may
    assert printed == again and printed["outputs"][0]["pieces_encoded"] == 0


def test_a_dry_run_and_an_estimate_spend_nothing(tmp_path: Path) -> None:
    board = mvpipe.load(_board(tmp_path))
    report = mvpipe.render(board, dry_run=True, retake=["car"])
    assert json.loads(report.to_json()).keys() == {"estimate", "to_spend_usd", "dry_run"}
    assert [r.status for r in mvpipe.estimate(board).rows] == ["new", "new"]
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / ".mvpipe" / "takes.json").exists()


def test_bad_input_raises_the_located_error(tmp_path: Path) -> None:
    board = tmp_path / "bad.yaml"
    board.write_text(f"mvpipe: 1\nsong: {ROOT / 'assets' / 'demo_song.mp3'}\nshots:\n  - {{id: a, prompt: x}}\n")
    with pytest.raises(mvpipe.InputError, match=r"bad.yaml.*field '--retake'.*Shots: a\."):
        mvpipe.render(board, retake=["b"])
    with pytest.raises(mvpipe.InputError, match=r"bad.yaml:\d+: field 'generator': unknown provider 'nope'"):
        mvpipe.plan(mvpipe.load(board, generator="nope"))
