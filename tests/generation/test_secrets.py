"""API keys never reach logs, the journal, takes, error messages or URLs, even when a server echoes them."""

from __future__ import annotations

import pytest
from fakes.server import FakeServer, Faults, GeminiVeo, OpenAIVideos, RunwayTasks
from genkit import FAST, SECRET, clip_request

from mvpipe.generation.runner import generate, status, status_table

PROTOCOLS = {"openai": OpenAIVideos, "runway": RunwayTasks, "veo": GeminiVeo}
GENERATORS = {"openai": "openai", "runway": "runway:gen4.5", "veo": "veo"}


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_key_never_leaks(tmp_path, workspace, point_at, name):
    faults = Faults(echo_key=True, statuses={"submit": [400], "poll": [500] * 40})
    reqs = [clip_request(GENERATORS[name], s, i)
            for i, s in enumerate(["refused", "unreachable", "ok"], 1)]
    with FakeServer(PROTOCOLS[name](), key=SECRET, faults=faults) as srv:
        point_at(name, srv)
        said: list[str] = []
        takes = generate(reqs, workspace, progress=said.append, settings=FAST)
        srv.faults.statuses = {}
        wrong = [clip_request(GENERATORS[name], "wrong-key", 9)]
        srv.key = "another-key"  # the server now rejects ours (401) and quotes back what it was sent
        rejected = generate(wrong, workspace, progress=said.append, settings=FAST)
        assert not any(SECRET in r.path or any(SECRET in v for v in r.query.values()) for r in srv.log)
    errors = [t.error for t in [*takes.takes.values(), *rejected.takes.values()] if t.error]
    assert len(errors) >= 2 and any("401" in e for e in errors), errors  # the echoing paths were exercised
    texts = said + errors + [takes.failure_table(), rejected.failure_table(),
                             status_table(status(reqs, workspace))]
    texts += [t.model_dump_json() for t in [*takes.takes.values(), *rejected.takes.values()]]
    assert not [t for t in texts if SECRET in t]
    assert any("***" in e for e in errors), "the echoed key was blanked, not just absent"
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
