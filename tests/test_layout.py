"""The package's shape, as the README's module map promises it: stages import one way only (no circle,
not even through an import inside a function), no function outgrows a screen, and FFmpeg is started
in one place. Read from the source with ``ast``, so a change that breaks the shape fails here."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mvpipe"


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def _imports(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    """module -> the mvpipe modules it imports anywhere in its body (a late import is still an import)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle (as a path), or [] when there is none."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = _imports(_modules())
    assert graph["mvpipe.api"] and graph["mvpipe.planner"]        # the graph was really read
    assert _cycle(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


# The flow of DESIGN.md, lowest first: a module may import its own stage or a lower one. A module is in
# the stage of the longest name here that it starts with; a new module must be given its place.
STAGES = ["mvpipe.errors", "mvpipe.progress", "mvpipe.interrupt", "mvpipe.ffmpeg", "mvpipe.workspace",
          "mvpipe.storyboard", "mvpipe.schema", "mvpipe.captions", "mvpipe.analysis", "mvpipe.plot",
          "mvpipe.scaffold", "mvpipe.generation.provider", "mvpipe.planner", "mvpipe.generation",
          "mvpipe.captions.files", "mvpipe.assembly", "mvpipe.cluster", "mvpipe.export", "mvpipe.api",
          "mvpipe.channel", "mvpipe", "mvpipe.cli"]   # "mvpipe": the package's public surface, itself only


def _stage(module: str) -> int:
    matches = [s for s in STAGES if module == s or (s != "mvpipe" and module.startswith(s + "."))]
    assert matches, f"{module} has no place in STAGES: add it where it belongs in the flow"
    return STAGES.index(max(matches, key=len))


def test_lower_stages_do_not_import_higher_ones() -> None:
    graph = _imports(_modules())
    upward = [(m, t) for m, targets in graph.items() for t in targets if _stage(m) < _stage(t)]
    assert upward == []
    assert _stage("mvpipe.captions.files") > _stage("mvpipe.planner") > _stage("mvpipe.captions.timing")


def test_no_function_is_over_60_lines() -> None:
    long = [f"{name}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for name, tree in _modules().items() for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60]
    assert long == []


def test_ffmpeg_is_started_only_by_the_one_helper() -> None:
    starts = sorted(name for name, tree in _modules().items()
                    if any(isinstance(node, ast.Import) and any(a.name == "subprocess" for a in node.names)
                           for node in ast.walk(tree)))
    # mvpipe.ffmpeg.run_ffmpeg starts FFmpeg; mvpipe.interrupt only keeps the children it is handed, to stop them
    assert starts == ["mvpipe.ffmpeg", "mvpipe.interrupt"]
