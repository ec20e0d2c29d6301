"""One storyboard through every provider (against the local servers), changing only the generator
word: each render has the same length and the same cuts, and no key appears anywhere it wrote."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from fakes.comfyui import WORKFLOW
from fakes.gateways import FAL_MODEL, REP_MODEL
from fakes.kling import SECRET
from fakes.registry import KEY, SERVERS
from providerkit import FakeServer, write_board

from mvpipe.cli import main

RESULTS: dict[str, list[tuple[str, int, int]]] = {}
# the storyboard through one model of each provider the original adapters' suite covered, plus the local ones
CASES = {"animatic": (None, {})} | {spec: SERVERS[spec] for spec in (
    "kling:kling-v2-6", "seedance:dreamina-seedance-2-0-260128", "luma:ray-2", "luma-agents:ray-3.2",
    f"fal:{FAL_MODEL}", f"replicate:{REP_MODEL}", "comfyui")}


def _song(path: Path, bpm: float = 120.0, seconds: float = 12.0, rate: int = 22050) -> None:
    """A click track with accented downbeats: an unambiguous 4/4 grid for the analysis."""
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.05 * np.sin(2 * np.pi * 110 * t)
    for i, beat in enumerate(np.arange(0, seconds, 60 / bpm)):
        n = int(beat * rate)
        click = np.exp(-np.arange(2000) / 200) * np.sin(2 * np.pi * (1760 if i % 4 == 0 else 880)
                                                         * np.arange(2000) / rate)
        audio[n:n + 2000] += (0.9 if i % 4 == 0 else 0.5) * click[: len(audio) - n]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("song") / "song.wav"
    _song(path)
    return path


@pytest.mark.parametrize("spec", list(CASES))
def test_same_storyboard_same_cuts_through_every_provider(spec, song, tmp_path, monkeypatch, capsys) -> None:
    factory, env = CASES[spec]
    monkeypatch.setenv("MVPIPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MVPIPE_POLL_INTERVAL", "0.02")  # the CLI's runner settings
    board = write_board(tmp_path, spec)
    (tmp_path / "song.wav").write_bytes(song.read_bytes())
    board.write_text(board.read_text().replace("output: {", "timing: {end: 8.0}\noutput: {"))
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(WORKFLOW))
    monkeypatch.setenv("COMFYUI_WORKFLOW", str(workflow))
    server = FakeServer(factory(), key=KEY, latency=0.1) if factory else None
    with server or _nothing():
        for name, value in env.items():
            monkeypatch.setenv(name, value.format(url=server.url if server else ""))
        assert main(["plan", str(board), "--json"]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert main(["render", str(board), "-o", str(tmp_path / "out.mp4")]) == 0
        err = capsys.readouterr().err
    cuts: list[tuple[str, int, int]] = []  # per shot: a model with shorter clips splits a shot in parts
    for s in plan["segments"]:
        if cuts and cuts[-1][0] == s["shot"]:
            cuts[-1] = (s["shot"], cuts[-1][1], s["end_frame"])
        else:
            cuts.append((s["shot"], s["start_frame"], s["end_frame"]))
    assert [c[0] for c in cuts] == ["road", "mara"] and cuts[0][2] == cuts[1][1] > 0
    assert plan["frames"] == 96 and cuts[1][2] == 96  # timing.end 8 s at 12 fps
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == plan["frames"]
    RESULTS[spec] = cuts
    assert all(other == cuts for other in RESULTS.values())  # the same cuts whatever the generator
    assert "FAILED" not in err and "failed:" not in err, err
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".mp4")
    for secret in (KEY, SECRET):
        assert secret.encode() not in written and secret not in err


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
