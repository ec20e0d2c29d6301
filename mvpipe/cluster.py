"""Past one machine: a video's assembly on the workers of a Dask distributed cluster.

Generation (remote, I/O-bound, journaled, rate-limited) stays on the coordinator, so the budget, the
provider limits and the journal stay single; the workers run every FFmpeg step of the assembly: the
pieces' encodes, the song's mix and its AAC, and the final join into the output video. The coordinator
only plans, probes and checks. Nothing travels through Dask but command lines: the song, takes, pieces and
the video travel through folders every worker sees at the same path as the coordinator (the project on
NFS, say). :func:`connect` checks that before anything runs: each worker reads a probe file the
coordinator wrote in each folder and writes one back that the coordinator must see, reads each named file
at the coordinator's size, and runs the same FFmpeg build (a piece's cache key names the build, and the
output must be frame-identical to a local render). Workers need mvpipe installed (the same version).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path

from mvpipe.errors import InputError

ENV = "MVPIPE_CLUSTER"
_HINT = ("Put the project on a folder every worker mounts at the same path (NFS, a cluster filesystem), "
         "or run without --cluster.")


@contextmanager
def connect(address: str, folders: Sequence[Path], files: Sequence[Path] = (), *,
            timeout: float = 10.0) -> Iterator[tuple[Executor, int]]:
    """An executor on the cluster at ``address`` and its number of worker threads, once every worker is
    shown to share each of ``folders`` (written both ways), to read each of ``files``, and to run this
    FFmpeg build. Raises :class:`InputError` (exit 2) naming what is wrong."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--cluster needs Dask distributed, which is not installed.", field="--cluster",
                         hint="pip install 'mvpipe[cluster]'.") from None
    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}.", field="--cluster",
                         hint=f"Start one (`dask scheduler`, then `dask worker {address}` on each machine) or "
                              f"unset {ENV}.") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise InputError(f"the Dask scheduler at {address} has no workers.", field="--cluster",
                             hint=f"Start some: `dask worker {address}`.") from None
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        for folder in dict.fromkeys(Path(f) for f in folders):
            check_shared(client, folder)
        check_readable(client, list(dict.fromkeys(Path(f) for f in files)))
        yield client.get_executor(pure=False), threads
    finally:
        client.close()


def check_shared(client: object, folder: Path) -> None:
    """Every worker must read the coordinator's probe file in ``folder``, write one back that is seen
    here, and run the coordinator's FFmpeg build."""
    from mvpipe.assembly.render import _ffmpeg_id

    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    probe = folder / f".cluster-probe-{token}"
    probe.write_text(token)
    try:
        try:
            answers = client.run(_answer, str(probe), token)  # type: ignore[attr-defined]
        except ModuleNotFoundError as exc:
            raise InputError(f"a Dask worker cannot import mvpipe ({exc}).", field="--cluster",
                             hint="Install the same mvpipe on every worker.") from None
        problems = []
        for worker, (problem, reply, ffmpeg) in sorted(answers.items()):
            if problem:
                problems.append(f"{worker} {problem}")
            elif not Path(reply).is_file() or Path(reply).read_text() != token:
                problems.append(f"{worker} wrote {reply}, which this machine does not see")
            elif ffmpeg != _ffmpeg_id():
                problems.append(f"{worker} runs FFmpeg {ffmpeg}, this machine {_ffmpeg_id()}")
        if problems:
            raise InputError("the cluster cannot share this render's takes and pieces: " + "; ".join(problems) + ".",
                             field="--cluster", hint=_HINT)
    finally:
        for stale in folder.glob(f".cluster-probe-{token}*"):
            stale.unlink(missing_ok=True)


def check_readable(client: object, files: list[Path]) -> None:
    """Every worker must read each of ``files`` (the songs) at the size this machine sees."""
    if not files:
        return
    sizes = client.run(_sizes, [str(f) for f in files])  # type: ignore[attr-defined]
    problems = [f"{worker} {'cannot read' if size < 0 else f'reads {size} bytes of'} {file}"
                for worker, seen in sorted(sizes.items())
                for file, size in zip(files, seen, strict=True) if size != file.stat().st_size]
    if problems:
        raise InputError("the cluster cannot read this render's songs: " + "; ".join(problems) + ".",
                         field="--cluster", hint=_HINT)


def _sizes(files: list[str]) -> list[int]:
    """On a worker: each file's size, -1 where it cannot be read."""
    sizes = []
    for file in files:
        try:
            with open(file, "rb") as f:
                sizes.append(os.fstat(f.fileno()).st_size)
        except OSError:
            sizes.append(-1)
    return sizes


def _answer(probe: str, token: str) -> tuple[str, str, str]:
    """On a worker: what is wrong (empty when nothing), the reply file it wrote, and its FFmpeg build."""
    from mvpipe.assembly.render import _ffmpeg_id

    reply = Path(f"{probe}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        if Path(probe).read_text() != token:
            return f"reads another {probe} than this machine's", "", ""
        reply.write_text(token)
    except OSError as exc:
        return f"cannot use {probe} ({exc.strerror or exc})", "", ""
    return "", str(reply), _ffmpeg_id()
