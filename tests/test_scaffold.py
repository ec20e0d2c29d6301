"""mvpipe init: a storyboard from a song that renders at once, and never over a file mvpipe did not make."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
import yaml

import mvpipe
from mvpipe.cli import main
from mvpipe.ffmpeg import run_ffmpeg
from mvpipe.scaffold import SCHEMA_LINE, made_by_init

ROOT = Path(__file__).resolve().parents[1]
DEMO_SONG = ROOT / "assets" / "demo_song.mp3"


@pytest.fixture(scope="module")
def short_song(tmp_path_factory) -> Path:
    """The demo song's first 24 s (intro A and chorus B): a song this project made, short enough to render."""
    dest = tmp_path_factory.mktemp("song") / "short song.wav"
    run_ffmpeg(["-i", str(DEMO_SONG), "-t", "24", str(dest)], what="cutting the test song")
    return dest


def test_one_shot_per_phrase_of_each_section_anchored_to_its_end(tmp_path: Path) -> None:
    board = mvpipe.init(DEMO_SONG, tmp_path / "boards" / "demo.yaml")
    text = board.read_text()
    assert text.splitlines()[0] == SCHEMA_LINE and made_by_init(board)
    doc = yaml.safe_load(text)
    assert doc["generator"] == "animatic" and (board.parent / doc["song"]).resolve() == DEMO_SONG
    analysis = mvpipe.analyze(DEMO_SONG)
    labels = [line.split("section ")[1].split(":")[0] for line in text.splitlines() if line.startswith("  # ---")]
    assert labels == [s.label for s in analysis.sections]
    # 120 BPM: the quiet A (0.62) gets phrases of 4 bars (8 s), the loud B and C (>= 0.8) of 2 bars (4 s)
    anchors = [s for s in doc["shots"] if "section" in s]
    assert [a["section"] for a in anchors] == labels
    assert {s["length"] for s in doc["shots"] if "length" in s} == {"2 bars"}
    cut = mvpipe.plan(board)
    ends = {round(cut.seconds(s.end_frame), 1) for s in cut.segments}
    assert {round(s.end, 1) for s in analysis.sections} <= ends  # every section ends on a cut
    assert len(cut.segments) == 18 and max(cut.seconds(s.end_frame) - cut.seconds(s.start_frame)
                                           for s in cut.segments) < 8.1


def test_init_then_render_with_the_animatic(short_song: Path, tmp_path: Path, capsys) -> None:
    template = tmp_path / "channel.yaml"
    template.write_text("output: {height: 720, quality: draft}\n")
    board = tmp_path / "video.yaml"
    assert main(["init", str(short_song), "--template", str(template), "-o", str(board)]) == 0
    assert capsys.readouterr().out.strip() == str(board)
    assert main(["render", str(board)]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out == tmp_path / "out" / "video.mp4"
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 24 * 30


def test_a_template_gives_characters_style_and_prompts(tmp_path: Path) -> None:
    looks = tmp_path / "looks"
    looks.mkdir()
    (looks / "mara.png").write_bytes((ROOT / "assets" / "mara.png").read_bytes())
    template = looks / "channel.yaml"
    template.write_text("""\
title: Night Drive
style: neon noir
generator: animatic
characters:
  mara: {description: woman with a silver bob, references: [mara.png]}
prompts:
  A: [empty highway at night]
  B: [Mara at the wheel, city lights]
""")
    board = mvpipe.init(DEMO_SONG, tmp_path / "out" / "night.yaml", template=template)
    loaded = mvpipe.load(board)
    assert loaded.title == "Night Drive" and loaded.style == "neon noir"
    assert loaded.characters["mara"].references == [looks / "mara.png"]
    prompts = [(s.prompt, s.characters) for s in loaded.shots]
    assert prompts[0] == ("empty highway at night", [])
    assert prompts[1:4] == [("Mara at the wheel", ["mara"]), ("city lights", []), ("Mara at the wheel", ["mara"])]
    assert prompts[4][0] == "section C, phrase 1 of 5"  # no prompt for C: the card says where it is


def test_never_over_a_file_mvpipe_did_not_make(tmp_path: Path, capsys) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("my own storyboard\n")
    assert main(["init", str(DEMO_SONG), "-o", str(mine)]) == 2
    assert "mine.yaml: this file exists and is not one mvpipe init made" in capsys.readouterr().err
    assert mine.read_text() == "my own storyboard\n"
    made = tmp_path / "made.yaml"
    assert main(["init", str(DEMO_SONG), "-o", str(made)]) == 0
    assert main(["init", str(DEMO_SONG), "-o", str(made)]) == 0      # its own, unedited: written again
    made.write_text(made.read_text().replace("phrase 1 of 1", "the opening"))
    assert not made_by_init(made)
    assert main(["init", str(DEMO_SONG), "-o", str(made)]) == 2      # edited since: left alone
    assert "the opening" in made.read_text()


def test_a_bad_template_is_named(tmp_path: Path, capsys) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("styel: noir\n")
    assert main(["init", str(DEMO_SONG), "--template", str(template), "-o", str(tmp_path / "x.yaml")]) == 2
    assert "t.yaml: field 'styel': Extra inputs are not permitted." in capsys.readouterr().err
    template.write_text("characters: {mara: {references: []}}\nprompts: [mara waves]\n")
    assert main(["init", str(DEMO_SONG), "--template", str(template), "-o", str(tmp_path / "x.yaml")]) == 2
    assert "t.yaml: field 'characters.mara.description'" in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()
