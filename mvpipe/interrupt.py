"""Stopping a run at once on SIGINT or SIGTERM, keeping what is finished.

Only the main thread sees a signal; the work runs in threads and in FFmpeg processes. So the
handler sets one flag, kills every FFmpeg child (their half-written temp files are removed by
``atomic_path`` as the error passes), and raises :class:`~mvpipe.errors.Interrupted` in the main
thread. Worker threads meet the flag at their next FFmpeg run, poll wait or submission and stop
there: queued work is dropped, a paid job keeps its id in the journal, and a rerun continues.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from collections.abc import Iterator
from types import FrameType

from mvpipe.errors import Interrupted

_STOP = threading.Event()
_signum = 0
_children: set[subprocess.Popen] = set()
_lock = threading.Lock()


@contextlib.contextmanager
def handling_signals() -> Iterator[None]:
    """Route SIGINT and SIGTERM to :func:`stop` inside the block (from the main thread; elsewhere a no-op)."""
    global _signum
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STOP.clear()   # a new run starts unstopped
    _signum = 0
    before = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _handler(signum: int, frame: FrameType | None) -> None:
    first = not _STOP.is_set()
    stop(signum)
    if first:   # a second Ctrl-C must not break the clean-up the first one started
        raise Interrupted(signum)


def stop(signum: int = signal.SIGINT) -> None:
    """Stop the run: no new work starts, and every FFmpeg child is killed now."""
    global _signum
    _signum = _signum or signum
    _STOP.set()
    with _lock:
        running = list(_children)
    for proc in running:
        with contextlib.suppress(OSError):
            proc.kill()


def check() -> None:
    """Raise :class:`Interrupted` if the run is stopping (call before starting any piece of work)."""
    if _STOP.is_set():
        raise Interrupted(_signum)


def sleep(seconds: float) -> None:
    """``time.sleep`` that ends, raising :class:`Interrupted`, the moment the run is stopped."""
    if _STOP.wait(max(0.0, seconds)):
        raise Interrupted(_signum)


@contextlib.contextmanager
def child(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Track ``proc`` while it runs, so a stop kills it; a stop that came first kills it at once."""
    with _lock:
        _children.add(proc)
    try:
        if _STOP.is_set():
            proc.kill()
        yield proc
    finally:
        with _lock:
            _children.discard(proc)
