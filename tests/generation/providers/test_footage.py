"""The footage provider: the user's own clips become takes, byte for byte, picked deterministically."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest
from providerkit import FAST, make_clip, request

from mvpipe.errors import InputError
from mvpipe.generation.media import BadMedia, clip_seconds
from mvpipe.generation.providers import resolve
from mvpipe.generation.providers.footage import FootageProvider, clips_in, pick
from mvpipe.generation.runner import generate
from mvpipe.workspace import Workspace

SHARED_MEDIA = Path(os.environ.get("MVPIPE_SHARED") or Path(__file__).resolve().parents[4] / "shared") / "media"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Three clips in three containers, sizes and frame rates, one with sound; plus files to ignore."""
    root = tmp_path_factory.mktemp("footage")
    make_clip(root / "a.mp4", seconds=1.0, size="320x180", fps=25, audio=True)
    make_clip(root / "b.webm", seconds=0.6, size="160x160", fps=12, colour="blue")
    make_clip(root / "sub" / "c.mov", seconds=0.8, size="180x320", fps=30, colour="green")
    (root / "notes.txt").write_text("not a clip")
    (root / ".hidden.mp4").write_bytes(b"junk")
    return root


def test_footage_is_a_free_local_provider_of_any_length() -> None:
    provider, caps = resolve("footage")
    assert isinstance(provider, FootageProvider)
    assert caps.local and caps.price(30.0) == 0.0 and caps.covering_seconds(37.3) == 37.3


def test_a_file_becomes_the_take_byte_for_byte_whatever_its_container(folder: Path, tmp_path: Path) -> None:
    source = folder / "b.webm"
    dest = tmp_path / "take.mp4"
    FootageProvider().render(request(footage=source, seconds=4.0), dest)
    assert dest.read_bytes() == source.read_bytes()
    with av.open(str(dest)) as c:  # read by content, though the take is named .mp4
        assert c.streams.video[0].codec_context.name == "vp9"
    assert clip_seconds(dest) == pytest.approx(0.6, abs=0.1)


def test_a_folder_lists_only_visible_video_files_in_stable_order(folder: Path) -> None:
    assert [p.relative_to(folder).as_posix() for p in clips_in(folder)] == ["a.mp4", "b.webm", "sub/c.mov"]


def test_folder_picks_are_stable_distinct_across_shots_and_moved_by_seed_and_take(folder: Path) -> None:
    picks = [pick(folder, request(shot=f"s{n}", shot_number=n, footage=folder)) for n in (1, 2, 3)]
    assert len(set(picks)) == 3
    assert picks == [pick(folder, request(shot=f"s{n}", shot_number=n, footage=folder)) for n in (1, 2, 3)]
    assert pick(folder, request(shot_number=1, footage=folder, seed=1)) == picks[1]
    assert pick(folder, request(shot_number=1, footage=folder, take=2)) == picks[1]
    assert pick(folder, request(shot_number=4, footage=folder)) == picks[0]  # wraps when clips run out


def test_the_cache_key_follows_the_picked_clip(tmp_path: Path) -> None:
    clips, ws, said = tmp_path / "clips", Workspace(tmp_path / ".mvpipe"), []
    for name, colour in (("b", "blue"), ("c", "green")):
        make_clip(clips / f"{name}.mp4", seconds=0.5, colour=colour)

    def take(**fields: object) -> tuple[str, bytes]:
        got = generate([request(footage=clips, **fields)], ws, progress=said.append,
                       settings=FAST).takes[(fields.get("shot", "s1"), 0)]
        assert got.status == "done", got.error
        return got.key, got.path.read_bytes()

    first = take()
    assert first[1] == (clips / "b.mp4").read_bytes()
    said.clear()
    assert take() == first and said.count("shot s1: done (cached)") == 1  # unchanged: the same take, kept
    make_clip(clips / "a.mp4", seconds=0.5)  # sorts first, so shot 1 now picks it
    added = take()
    assert added[0] != first[0] and added[1] == (clips / "a.mp4").read_bytes()
    moved = take(shot_number=2)  # the same shot moved one place on picks b again: b's take, by its bytes
    assert moved != added and moved == first
    seeded = take(seed=2)
    assert seeded[0] not in (first[0], added[0], moved[0]) and seeded[1] == (clips / "c.mp4").read_bytes()


def test_empty_or_missing_folder_and_a_non_video_file_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no video files"):
        FootageProvider().render(request(footage=empty), tmp_path / "x.mp4")
    with pytest.raises(InputError, match="footage not found"):
        FootageProvider().render(request(footage=tmp_path / "gone"), tmp_path / "x.mp4")
    text = tmp_path / "fake.mp4"
    text.write_text("hello")
    with pytest.raises(BadMedia, match="fake.mp4"):
        FootageProvider().render(request(footage=text), tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_real_clips_from_the_shared_media_folder(tmp_path: Path) -> None:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} not present (../shared is not checked out beside the repo)")
    clips = clips_in(SHARED_MEDIA)
    assert {p.suffix for p in clips} >= {".mp4", ".webm"} and all(p.suffix != ".md" for p in clips)
    for n in range(1, len(clips) + 1):
        dest = tmp_path / f"{n}.mp4"
        FootageProvider().render(request(shot_number=n, footage=SHARED_MEDIA), dest)
        assert clip_seconds(dest, decode=False) > 1.0
    assert len({(tmp_path / f"{n}.mp4").read_bytes() for n in range(1, len(clips) + 1)}) == len(clips)
