"""The Python API: the stages the command line runs, as functions returning the models ``--json`` prints.

    import mvpipe
    board = mvpipe.load("storyboards/demo.yaml")
    plan = mvpipe.plan(board)                      # Plan: what `mvpipe plan --json` prints
    report = mvpipe.render(board, max_cost=5.0)    # RenderReport: what `mvpipe render --json` prints

The command line is a thin shell around these functions, so a script and a terminal take one code path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from mvpipe.errors import InputError
from mvpipe.generation.runner import EstimateRow
from mvpipe.storyboard import Storyboard
from mvpipe.workspace import Workspace, manifest_path, remove_stale_temps

if TYPE_CHECKING:
    from mvpipe.analysis import SongAnalysis, TimingHints
    from mvpipe.generation.provider import Take
    from mvpipe.generation.runner import Estimate
    from mvpipe.planner import Plan
    from mvpipe.storyboard import Output

Progress = Callable[[str], None]


class OutputReport(BaseModel):
    """One rendered video (``render --json``'s ``outputs`` rows)."""

    path: str
    manifest: str
    width: int
    height: int
    frames: int
    pieces_encoded: int
    pieces_reused: int
    seconds: float
    warnings: list[str]
    exports: list[str] = []


class TakeReport(BaseModel):
    """One take used (``render --json``'s ``takes`` rows); ``status`` is done, failed or skipped."""

    shot: str
    part: int
    take: int
    path: str
    provider: str
    model: str
    job_id: str | None
    cost_usd: float
    status: str
    error: str | None
    estimate_usd: float = 0.0
    shape: str = ""


class RenderReport(BaseModel):
    """What a render did: the estimate, and (unless a dry run) the videos, the takes and the spend."""

    estimate: list[EstimateRow]
    to_spend_usd: float
    dry_run: bool
    outputs: list[OutputReport] = []
    spent_usd: float = 0.0
    takes: list[TakeReport] = []

    @property
    def failures(self) -> list[TakeReport]:
        """Takes that failed for good: the video has a marked stand-in card in their place."""
        return [t for t in self.takes if t.status == "failed"]

    def to_json(self) -> str:
        """The ``render --json`` document (a dry run has no outputs, takes or spend)."""
        return self.model_dump_json(indent=2, exclude={"outputs", "spent_usd", "takes"} if self.dry_run else None)


def load(storyboard: Path | str, *, generator: str | None = None, output: Path | str | None = None) -> Storyboard:
    """Read and validate a storyboard file; ``generator`` (``provider[:model]``) replaces every shot's
    generator and ``output`` the main video's path, for this run only; the lyrics file is read and the
    captions' font checked. Raises :class:`InputError`."""
    from mvpipe.captions import read_lyrics
    from mvpipe.storyboard import load as load_file

    board = read_lyrics(load_file(storyboard))
    return board.with_overrides(generator=generator, output=Path(output) if output else None)


def analyze(song: Path | str, *, hints: TimingHints | None = None, progress: Progress | None = None) -> SongAnalysis:
    """Tempo, beats, downbeats, meter, sections and energy of ``song``, cached by its content; ``hints``
    is the user's word where the song is ambiguous (bpm, meter, first downbeat, a beats file)."""
    from mvpipe.analysis import analyze as analyze_song
    from mvpipe.assembly.probe import header_seconds

    song = Path(song)
    _say(progress, f"analysing {song.name}")
    result = analyze_song(song, Workspace(Path(".")).analysis, progress=progress, hints=hints)
    said = header_seconds(song)
    if said is not None and result.duration < min(said - 1.0, 0.9 * said):  # VBR headers only estimate
        _say(progress, f"warning: {song}: its header says {said:.1f} s but only {result.duration:.1f} s decode; the "
                       "file may be cut short (a download or copy that stopped?). The video uses what plays.")
    return result


def plan(storyboard: Storyboard | Path | str, *, take_numbers: dict[str, int] | None = None,
         progress: Progress | None = None) -> Plan:
    """The cut list and clip requests. Every generator is resolved before the song is analysed, so a
    typo fails at once. ``take_numbers`` (shot -> take) defaults to those the workspace remembers."""
    from mvpipe.generation.providers import UnknownGenerator, resolve
    from mvpipe.planner import generator_specs
    from mvpipe.planner import plan as plan_board

    board = _board(storyboard)
    capabilities = {}
    for spec, shots in generator_specs(board).items():
        try:
            capabilities[spec] = resolve(spec)[1]
        except UnknownGenerator as exc:
            first = board.shots[shots[0]]
            loc = ("shots", shots[0], "generator") if first.generator else ("generator",)
            raise board.error(str(exc), *loc) from None
        retires = capabilities[spec].retires
        if retires is not None and retires <= date.today():
            _say(progress, f"warning: {spec} is past the retirement date its provider announced ({retires}); it "
                           "works only where an endpoint still serves it. Choose another generator before paying.")
    if take_numbers is None:
        take_numbers = workspace_of(board).take_numbers()
    song = analyze(board.song, hints=hints_of(board), progress=progress)
    result = plan_board(board, song, capabilities, take_numbers=take_numbers)
    for warning in [*song.warnings, *result.warnings]:
        _say(progress, f"warning: {warning}")
    return result


def hints_of(board: Storyboard) -> TimingHints:
    """The storyboard's ``timing.bpm``, ``meter``, ``first_downbeat`` and ``beats``, for :func:`analyze`."""
    from mvpipe.analysis import TimingHints

    timing = board.timing
    return TimingHints(bpm=timing.bpm, meter=timing.meter, first_downbeat=timing.first_downbeat, beats=timing.beats)


def estimate(storyboard: Storyboard | Path | str, *, only: Iterable[str] | None = None,
             retake: Iterable[str] = (), progress: Progress | None = None) -> Estimate:
    """What :func:`render` would spend, row by row; nothing is submitted (cached and journaled takes are free)."""
    from mvpipe.generation.runner import estimate as estimate_plan

    board = _board(storyboard)
    result = plan(board, take_numbers=_take_numbers(board, retake, progress), progress=progress)
    return estimate_plan([s.request for s in result.segments], workspace_of(board), only=only)


def render(storyboard: Storyboard | Path | str, *, only: Iterable[str] | None = None, retake: Iterable[str] = (),
           max_cost: float | None = None, dry_run: bool = False, jobs: int | None = None,
           cluster: str | None = None, export: Sequence[str] = (), progress: Progress | None = None,
           limits: dict[str, threading.Semaphore] | None = None) -> RenderReport:
    """Generate every shot's take (each paid for at most once) and assemble every output video.

    ``max_cost`` (USD) refuses to start when the estimate of new spending is higher; ``dry_run`` stops
    after the estimate; ``retake`` asks for new takes of those shots; ``only`` generates just those shots;
    ``jobs`` pieces encode at once; ``cluster`` (a Dask scheduler address) assembles on its workers;
    ``limits`` (provider -> semaphore) shares each provider's concurrency limit with other renders;
    ``export`` names editor timelines (otio, fcpxml, edl, xml) to write beside each video.
    Shots that fail for good are in :attr:`RenderReport.failures`; bad input raises :class:`InputError`.
    """
    board = _board(storyboard)
    with _pool(cluster, [board]) as pool:
        return _render(board, only=only, retake=retake, max_cost=max_cost, dry_run=dry_run, jobs=jobs, pool=pool,
                       export=export, limits=limits, progress=progress)


def _render(board: Storyboard, *, only: Iterable[str] | None = None, retake: Iterable[str] = (),
            max_cost: float | None = None, dry_run: bool = False, jobs: int | None = None,
            pool: tuple[Executor | None, int | None] = (None, None), export: Sequence[str] = (),
            limits: dict[str, threading.Semaphore] | None = None, progress: Progress | None = None) -> RenderReport:
    """:func:`render` with the encoders' pool already open (a batch shares one cluster connection)."""
    outputs = board.outputs()                     # a clash of output paths fails before anything is paid
    check_export_rates(board, export)             # so does an fps an asked-for timeline format cannot hold
    board.check_writable()
    workspace = workspace_of(board)
    workspace.check_writable()
    with workspace.lock():                        # one render per workspace; a killed one's temp files go
        for output in outputs:
            remove_stale_temps(output.path)
            remove_stale_temps(manifest_path(output.path))
        return _render_locked(board, outputs, workspace, only=only, retake=retake, max_cost=max_cost,
                              dry_run=dry_run, jobs=jobs, pool=pool, export=export, limits=limits, progress=progress)


def _render_locked(board: Storyboard, outputs: list[Output], workspace: Workspace, *, only: Iterable[str] | None,
                   retake: Iterable[str], max_cost: float | None, dry_run: bool, jobs: int | None,
                   pool: tuple[Executor | None, int | None], export: Sequence[str],
                   limits: dict[str, threading.Semaphore] | None, progress: Progress | None) -> RenderReport:
    from mvpipe.generation.runner import generate
    from mvpipe.planner import for_output

    take_numbers = _take_numbers(board, retake, progress)
    result = plan(board, take_numbers=take_numbers, progress=progress)
    _say(progress, f"plan: {len(result.segments)} segments, {result.screen_seconds:.2f}s on screen, "
                   f"{result.paid_seconds:.2f}s requested, estimated cost ${result.estimated_cost_usd:.2f}")
    # the budget counts only new spending: cached takes and journaled jobs are already paid for
    generated = generate([s.request for s in result.segments], workspace, progress=progress, only=only,
                         max_cost=max_cost, dry_run=dry_run, limits=limits)
    takes = generated.takes
    report = RenderReport(estimate=generated.estimate.rows, to_spend_usd=generated.estimate.to_spend_usd,
                          dry_run=dry_run)
    if dry_run:
        return report
    workspace.set_take_numbers(take_numbers)      # kept only once the new takes exist (or are journaled)
    executor, workers = pool
    report.outputs = [_assemble(result, output, takes, workspace, jobs or workers, executor, progress)
                      for output in outputs]      # every output cuts the same takes: nothing is paid again
    if export:
        song = analyze(board.song, hints=hints_of(board))   # cached: the plan above analysed it
        for video, output in zip(report.outputs, outputs, strict=True):
            video.exports = [str(p) for p in export_timelines(workspace, for_output(result, output), takes, song,
                                                              export)]
    _say(progress, f"done (spent ${generated.spent_usd:.2f} this run)")
    report.spent_usd = generated.spent_usd
    estimates = {(row.shot, row.part): row for row in generated.estimate.rows}
    report.takes = [TakeReport.model_validate(t.model_dump(mode="json") | {
        "estimate_usd": estimates[(t.shot, t.part)].cost_usd, "shape": estimates[(t.shot, t.part)].shape})
        for t in takes.values()]
    return report


def workspace_of(board: Storyboard) -> Workspace:
    """The ``.mvpipe`` folder beside the storyboard's file: its takes, pieces and journal."""
    if board.source is None:
        raise InputError("this storyboard was not loaded from a file, so it has no workspace.",
                         hint="Save it as YAML and use mvpipe.load(PATH).")
    return Workspace.for_storyboard(board.source)


def _board(storyboard: Storyboard | Path | str) -> Storyboard:
    return storyboard if isinstance(storyboard, Storyboard) else load(storyboard)


def _take_numbers(board: Storyboard, retake: Iterable[str], progress: Progress | None) -> dict[str, int]:
    """The workspace's take numbers with each ``retake`` shot's one up (remembered only by a real render)."""
    numbers = workspace_of(board).take_numbers()
    shots = {s.id: s for s in board.shots}
    for shot in retake:
        if shot not in shots:
            raise InputError(f"no shot '{shot}' to retake.", file=board.source, field="--retake",
                             hint=f"Shots: {', '.join(shots)}.")
        numbers[shot] = numbers.get(shot, shots[shot].take) + 1
        _say(progress, f"shot '{shot}': asking for take {numbers[shot]}")
    return numbers


def check_export_rates(board: Storyboard, formats: Sequence[str]) -> None:
    """Refuse, located at ``output.fps``, a frame rate one of ``formats`` cannot hold."""
    from mvpipe.export import check_rate

    for fmt in formats:
        try:
            check_rate(fmt, board.output.fps)
        except InputError as exc:
            raise board.error(exc.message, "output", "fps", hint=exc.hint) from None


def export_timelines(workspace: Workspace, video: Plan, takes: Mapping[tuple[str, int], Take], song: SongAnalysis,
                     formats: Sequence[str], *, to: Path | None = None, downbeats: bool = False) -> list[Path]:
    """Write ``video``'s timeline in each of ``formats`` (beside the video, or to ``to``); the paths written."""
    from mvpipe.export import build, export_path, write

    if not formats:
        return []
    timeline = build(video, takes, song, downbeats=downbeats)
    return [write(timeline, fmt, to or export_path(video.output, fmt), ledger=workspace.root / "exports.json")
            for fmt in formats]


def _assemble(result: Plan, output: Output, takes: Mapping[tuple[str, int], Take], workspace: Workspace,
              jobs: int | None, executor: Executor | None, progress: Progress | None) -> OutputReport:
    from mvpipe.assembly import assemble
    from mvpipe.planner import for_output

    video = for_output(result, output)
    manifest = assemble(video, takes, workspace, video.output, progress=progress, jobs=jobs, executor=executor)
    return OutputReport(path=str(video.output), manifest=str(manifest_path(video.output)), width=video.width,
                        height=video.height, frames=video.frames, pieces_encoded=manifest.encoded,
                        pieces_reused=manifest.reused, seconds=manifest.seconds, warnings=manifest.warnings)


@contextmanager
def _pool(cluster: str | None, boards: Sequence[Storyboard]) -> Iterator[tuple[Executor | None, int | None]]:
    """(executor, its worker count) for the assemblies' FFmpeg runs: the Dask cluster at ``cluster``, whose
    workers must share the folders these storyboards' renders write (workspace, output folders) and read
    their songs; else (None, None): this machine."""
    if not cluster:
        yield None, None
        return
    from mvpipe.cluster import connect

    folders = [folder for board in boards
               for folder in (workspace_of(board).root, *(output.path.parent for output in board.outputs()))]
    with connect(cluster, folders, [board.song for board in boards]) as pool:
        yield pool


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def init(song: Path | str, out: Path | str | None = None, *, template: Path | str | None = None,
         variables: dict | None = None, progress: Progress | None = None) -> Path:
    """Write a storyboard for ``song`` that renders at once (one shot per phrase of each section) to
    ``out`` (default ``SONG-NAME.yaml`` here) and return its path. ``template`` gives the look (title,
    style, generator, output, characters, prompts) and ``variables`` override its keys. A file mvpipe
    did not make, or one edited since, is never overwritten (:class:`InputError`)."""
    from mvpipe import scaffold

    song = Path(song)
    dest = Path(out) if out is not None else Path(f"{song.stem}.yaml")
    look, where = scaffold.load_template(template) if template is not None else (scaffold.Template(), None)
    if variables:
        look = scaffold.with_variables(look, variables)
    scaffold.ensure_ours(dest)                # before the song is analysed
    text = scaffold.storyboard_text(song, analyze(song, progress=progress), dest, look, template_path=where)
    scaffold.validate(text, dest, where)
    scaffold.write_storyboard(dest, text)
    _say(progress, f"wrote {dest}")
    return dest
