"""Benchmark the generation runner: N shots at concurrency C against a local server whose jobs take L s.

The ideal is ceil(N/C) * L (every slot busy, no overhead); the target is a ratio <= 1.1. The
server speaks the OpenAI Videos protocol (tests/generation/fakes/server.py) and serves real MP4s,
so the time includes submitting, polling, downloading and decoding every clip.

    .venv/bin/python scripts/bench_runner.py --shots 16 --concurrency 4 --latency 3
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "generation"))

from fakes.server import FakeServer, OpenAIVideos, clip_bytes  # noqa: E402
from genkit import FAST, clip_request  # noqa: E402

from mvpipe.generation import providers  # noqa: E402
from mvpipe.generation.providers.openai import OpenAIVideosProvider  # noqa: E402
from mvpipe.generation.runner import generate  # noqa: E402
from mvpipe.workspace import Workspace  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--latency", type=float, default=3.0, help="seconds each job takes at the server")
    ap.add_argument("--poll-hint-ms", type=int, default=50, help="the server's openai-poll-after-ms")
    args = ap.parse_args()

    class Limited(OpenAIVideosProvider):  # the same protocol, declaring the benchmark's concurrency
        def models(self):
            return [c.model_copy(update={"concurrency": args.concurrency}) for c in super().models()]

    providers.PROVIDERS["openai"] = Limited
    clip_bytes(4.0)  # the server makes its MP4 before the clock starts: its cost is not the runner's
    with tempfile.TemporaryDirectory() as tmp, FakeServer(OpenAIVideos(args.poll_hint_ms),
                                                          latency=args.latency) as srv:
        os.environ.update(OPENAI_BASE_URL=srv.url + "/v1", OPENAI_API_KEY=srv.key)
        plan = [clip_request("openai", f"s{i}", i) for i in range(args.shots)]
        t0 = time.monotonic()
        takes = generate(plan, Workspace(Path(tmp) / ".mvpipe"), settings=FAST)
        elapsed = time.monotonic() - t0
        assert all(t.status == "done" for t in takes.takes.values()) and len(srv.jobs) == args.shots
    ideal = math.ceil(args.shots / args.concurrency) * args.latency
    ratio = elapsed / ideal
    load = os.getloadavg()[0]
    print(f"shots={args.shots} concurrency={args.concurrency} latency={args.latency:g}s: "
          f"{elapsed:.2f}s vs ideal {ideal:.2f}s -> ratio {ratio:.3f} ({'ok' if ratio <= 1.1 else 'OVER 1.1'}; "
          f"load average {load:.1f} on {os.cpu_count()} cores)")
    return 0 if ratio <= 1.1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
