"""The generation options of the command line, end to end against a local OpenAI-protocol server."""

from __future__ import annotations

import json
from pathlib import Path

import av
from fakes.server import FakeServer, OpenAIVideos

from mvpipe.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _board(tmp_path: Path) -> Path:
    board = tmp_path / "board.yaml"
    board.write_text(f"""\
mvpipe: 1
song: {ROOT / "assets" / "demo_song.mp3"}
output: {{height: 720, fps: 24, quality: draft}}
timing: {{end: 8}}
generator: openai
shots:
  - {{id: one, length: 2 bars, prompt: a desert highway at night}}
  - {{id: two, prompt: FORBIDDEN headlights}}
""")
    return board


def test_dry_run_render_with_a_failure_status_and_only(tmp_path, point_at, capsys):
    board, out = _board(tmp_path), tmp_path / "out.mp4"
    with FakeServer(OpenAIVideos(), latency=0.3) as srv:
        point_at("openai", srv)
        assert main(["render", str(board), "--dry-run"]) == 0
        assert srv.log == [] and "estimated new spend: $0.80" in capsys.readouterr().err

        assert main(["render", str(board), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert "1 shot(s) failed" in err and "two" in err and "moderation system" in err
        with av.open(str(out)) as container:  # complete, with the stand-in card in the failed shot's place
            assert sum(1 for _ in container.decode(video=0)) == 8 * 24

        assert main(["status", str(board), "--json"]) == 0
        rows = {r["shot"]: r for r in json.loads(capsys.readouterr().out)}
        assert rows["one"]["state"] == "done" and rows["one"]["cost_usd"] == 0.4 and rows["one"]["job_id"] in srv.jobs
        assert rows["two"]["state"] == "failed" and "moderation" in rows["two"]["error"]
        assert (rows["one"]["estimate_usd"], rows["two"]["estimate_usd"], rows["two"]["cost_usd"]) == (0.4, 0.4, 0)

        assert main(["render", str(board), "-o", str(out), "--only", "one", "--json"]) == 0
        takes = {t["shot"]: t for t in json.loads(capsys.readouterr().out)["takes"]}
        assert (takes["one"]["estimate_usd"], takes["one"]["cost_usd"], takes["one"]["shape"]) == (
            0.4, 0.4, "1280x720 16:9 720p")
        assert main(["render", str(board), "-o", str(out), "--only", "one"]) == 0
        err = capsys.readouterr().err
        assert "shot two: skipped" in err and "shot two: submitting" not in err
        assert len(srv.jobs) == 2, "--only one: the cached take is reused and the failed shot is not retried"
