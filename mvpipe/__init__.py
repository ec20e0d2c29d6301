"""mvpipe: a song plus a storyboard in, a beat-cut music video out.

The Python API (documented in README, "Python API") is imported on first use, so ``mvpipe --version``
and the command line's quick commands do not pay for numpy, scipy and the providers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it: the whole public surface, kept honest by tests/test_api.py
_EXPORTS = {
    "load": "mvpipe.api", "analyze": "mvpipe.api", "plan": "mvpipe.api", "estimate": "mvpipe.api",
    "render": "mvpipe.api", "RenderReport": "mvpipe.api", "init": "mvpipe.api",
    "batch": "mvpipe.channel", "BatchReport": "mvpipe.channel",
    "Storyboard": "mvpipe.storyboard", "SongAnalysis": "mvpipe.analysis", "TimingHints": "mvpipe.analysis",
    "Plan": "mvpipe.planner",
    "InputError": "mvpipe.errors", "MvpipeError": "mvpipe.errors",
}

__all__ = [
    "__version__", "load", "analyze", "plan", "estimate", "render", "RenderReport", "init", "batch", "BatchReport",
    "Storyboard", "SongAnalysis", "TimingHints", "Plan", "InputError", "MvpipeError",
]

if TYPE_CHECKING:
    from mvpipe.analysis import SongAnalysis, TimingHints
    from mvpipe.api import RenderReport, analyze, estimate, init, load, plan, render
    from mvpipe.channel import BatchReport, batch
    from mvpipe.errors import InputError, MvpipeError
    from mvpipe.planner import Plan
    from mvpipe.storyboard import Storyboard


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mvpipe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
