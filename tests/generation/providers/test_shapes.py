"""Every provider x every common output shape, against servers that refuse what the real API refuses and bill
from the provider's own price table (fakes/contracts.py): no request is refused, nothing is paid twice, and
the estimate is within 5 % of the bill."""

from __future__ import annotations

import pytest
from fakes.registry import KEY, SERVERS
from providerkit import FAST, FakeServer, grid_song, write_board

from mvpipe.generation.journal import Journal
from mvpipe.generation.providers import resolve
from mvpipe.generation.runner import generate
from mvpipe.planner import plan
from mvpipe.storyboard import load
from mvpipe.workspace import Workspace

SHAPES = {"16:9 720p": ("16:9", 720), "16:9 1080p": ("16:9", 1080), "9:16 1080p": ("9:16", 1080),
          "1:1 1080p": ("1:1", 1080), "4:5 1080p": ("4:5", 1080)}
REMOTE = {spec: server for spec, server in SERVERS.items() if not spec.startswith("comfyui")}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("spec", sorted(REMOTE))
def test_every_shape_is_accepted_paid_once_and_estimated_within_5_percent(spec, shape, tmp_path, monkeypatch):
    factory, env = REMOTE[spec]
    aspect, height = SHAPES[shape]
    board_path = write_board(tmp_path, spec)
    board_path.write_text(board_path.read_text().replace('aspect: "16:9", height: 720',
                                                         f'aspect: "{aspect}", height: {height}'))
    board = load(board_path)
    the_plan = plan(board, grid_song(), {spec: resolve(spec)[1]})
    with FakeServer(factory(), key=KEY, latency=0.1) as srv:
        for name, value in env.items():
            monkeypatch.setenv(name, value.format(url=srv.url))
        workspace = Workspace(tmp_path / ".mvpipe")
        result = generate([s.request for s in the_plan.segments], workspace, settings=FAST)
        refused = [(r.method, r.path, r.status, r.body[:300]) for r in srv.refused()]
        billed = srv.charged()
    assert not refused, refused
    assert [t.status for t in result.takes.values()] == ["done"] * len(result.takes), result.failure_table()
    assert len(srv.jobs) == len(the_plan.segments) + sum(j.kind == "image" for j in srv.jobs.values())
    estimate = result.estimate.to_spend_usd
    assert abs(estimate - billed) <= 0.05 * billed, (estimate, billed)
    assert Journal(workspace.journal).spent() == pytest.approx(estimate, rel=1e-6)
