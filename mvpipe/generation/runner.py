"""Plan -> takes: run every clip request through its provider, reusing cached takes.

(First version: local providers, sequential. Remote jobs, the journal, budget and concurrency
are being added.)
"""

from __future__ import annotations

from collections.abc import Callable

from mvpipe.generation.provider import Take
from mvpipe.generation.providers import resolve
from mvpipe.planner import Plan
from mvpipe.workspace import Workspace


def generate(plan: Plan, workspace: Workspace, *, progress: Callable[[str], None] | None = None
             ) -> dict[tuple[str, int], Take]:
    """A take for every segment of ``plan``, keyed by (shot, part); cached takes are reused."""
    takes: dict[tuple[str, int], Take] = {}
    for seg in plan.segments:
        req = seg.request
        provider, caps = resolve(seg.generator)
        key = req.cache_key()
        path = workspace.takes / f"{key}.mp4"
        if not path.is_file():
            if progress:
                progress(f"generating shot '{req.shot}' ({req.seconds:.2f}s) with {caps.spec}")
            provider.render(req, path)
        takes[(req.shot, req.part)] = Take(shot=req.shot, part=req.part, take=req.take, key=key, path=path,
                                           seconds=req.seconds, provider=caps.provider, model=caps.model,
                                           cost_usd=0.0 if caps.local else caps.price(req.seconds))
    return takes
