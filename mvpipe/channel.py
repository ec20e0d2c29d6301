"""Channel pipelines: many videos from one manifest, under one budget (`mvpipe batch`).

A manifest (YAML or CSV) lists jobs: a song and a storyboard, or a song and a template with
variables (title, style, characters, generator, outputs), from which ``mvpipe init`` writes the
storyboard into the batch's folder. Before anything is paid, every job is planned and estimated and
the sum is held against ``max_cost``. Jobs then render side by side sharing one concurrency limit per
provider (the account's, not one per video); a job that fails does not stop the others; each job's
report and the batch's are written as JSON. A rerun skips a job whose videos exist and whose inputs
are unchanged since it succeeded, and each storyboard's journal means no clip is ever paid twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mvpipe.errors import InputError
from mvpipe.workspace import file_digest, write_text_atomic

if TYPE_CHECKING:
    from mvpipe.storyboard import Storyboard

Progress = Callable[[str], None]
_VARIABLES = ("title", "style", "characters", "generator", "outputs")


class Job(BaseModel):
    """One line of a manifest: a video to make."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                           description="names the job's folder and report; default the song's file name")
    song: Path | None = None
    storyboard: Path | None = Field(default=None, description="a storyboard of your own (its song is used)")
    template: Path | None = Field(default=None, description="the look for `mvpipe init` (default the manifest's)")
    title: str | None = None
    style: str | None = None
    characters: dict[str, dict[str, Any]] | list[str] | None = Field(
        default=None, description="the template's characters by name, or new ones")
    generator: str | None = None
    outputs: list[str | dict[str, Any]] | None = Field(
        default=None, description="aspects ('16:9', '9:16') or output mappings; the first is the main one")

    @model_validator(mode="after")
    def _what(self) -> Job:
        if self.storyboard is None and self.song is None:
            raise ValueError("a job needs a 'song' (made into a storyboard) or a 'storyboard'")
        if self.storyboard is not None:
            given = [k for k in (*_VARIABLES[:3], "outputs", "template", "song") if getattr(self, k) is not None]
            if given:
                raise ValueError(f"a job with its own storyboard takes no {', '.join(given)}: edit the storyboard")
        return self

    @property
    def name(self) -> str:
        return self.id or Path(self.song or self.storyboard or "job").stem.replace(" ", "_")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: Path | None = None
    out: Path | None = Field(default=None, description="the batch's folder (default: MANIFEST-NAME/ beside it)")
    jobs: list[Job] = Field(min_length=1)


class JobReport(BaseModel):
    """What happened to one job; written to ``reports/ID.json`` in the batch's folder."""

    id: str
    status: Literal["done", "skipped", "failed", "estimated"]
    storyboard: str | None = None
    fingerprint: str | None = Field(default=None, description="inputs of the last successful render")
    to_spend_usd: float = 0.0
    spent_usd: float = 0.0
    outputs: list[str] = []
    error: str | None = None
    bad_input: bool = Field(default=False, description="the error is in the job's input (exit status 2)")
    render: dict[str, Any] | None = Field(default=None, description="the RenderReport, as render --json prints it")


class BatchReport(BaseModel):
    """The batch: its jobs, what was estimated and spent; ``ok`` only when every job succeeded."""

    manifest: str
    folder: str
    ok: bool
    to_spend_usd: float
    spent_usd: float
    jobs: list[JobReport]


def load_manifest(path: Path | str) -> tuple[Manifest, Path]:
    """Read a YAML or CSV manifest; every file it names must exist (:class:`InputError` names the line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest file not found.", file=path)
    text = path.read_text(encoding="utf-8")
    rows, lines = _csv_rows(text) if path.suffix.lower() == ".csv" else _yaml_rows(text, path)
    try:
        manifest = Manifest.model_validate(rows)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = str((err.get("ctx") or {}).get("error") or err["msg"]).removeprefix("Value error, ")
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        raise InputError(msg.rstrip(".") + ".", file=path, line=line, field=".".join(map(str, loc))) from None
    base = path.resolve().parent
    manifest.out = base / (manifest.out or path.stem)
    manifest.template = base / manifest.template if manifest.template else None
    names: set[str] = set()
    for i, job in enumerate(manifest.jobs):
        where = {"file": path, "line": lines.get(("jobs", i)), "field": f"jobs.{i}"}
        for key in ("song", "storyboard", "template"):
            value = getattr(job, key) or (manifest.template if key == "template" and job.song and
                                          not job.storyboard else None)
            if value is not None:
                setattr(job, key, base / value)
                if not (base / value).is_file():
                    raise InputError(f"{key} file not found: {base / value}.", **where,
                                     hint="Paths are relative to the manifest.")
        if isinstance(job.characters, dict):
            for character in job.characters.values():
                if isinstance(character.get("references"), list):
                    character["references"] = [str(base / r) for r in character["references"]]
        if job.name in names:
            raise InputError(f"two jobs are called '{job.name}'.", **where, hint="Give one an 'id'.")
        names.add(job.name)
    return manifest, path


def batch(manifest: Path | str, *, max_cost: float | None = None, dry_run: bool = False,
          jobs: int | None = None, parallel: int = 1, cluster: str | None = None,
          progress: Progress | None = None) -> BatchReport:
    """Make every video a manifest (YAML or CSV) lists, under one ``max_cost`` for the whole batch,
    checked before anything is paid. ``parallel`` jobs render at once, sharing each provider's
    concurrency limit; a failed job does not stop the others; a rerun skips finished videos. The
    report of each job and of the batch is also written as JSON into the batch's folder. Bad input
    raises :class:`InputError` before any spend."""
    from mvpipe import api

    listing, path = load_manifest(manifest)
    folder = listing.out
    reports = folder / "reports"
    prepared = [_prepare(job, listing, reports, _prefixed(progress, job.name)) for job in listing.jobs]
    todo = [(job, board, rep, loaded) for job, board, rep, loaded in prepared if rep.status == "estimated"]
    total = round(sum(rep.to_spend_usd for _, _, rep, _ in todo), 4)
    _say(progress, f"batch: {len(todo)} of {len(prepared)} jobs to render, estimated new spend ${total:.2f}")
    if max_cost is not None and total > max_cost + 1e-9:
        from mvpipe.generation.runner import BudgetExceeded

        each = ", ".join(f"{rep.id} ${rep.to_spend_usd:.2f}" for _, _, rep, _ in todo if rep.to_spend_usd)
        raise BudgetExceeded(f"the batch's estimated new spend ${total:.2f} ({each}) is over --max-cost "
                             f"${max_cost:.2f}; nothing was submitted.", file=path, field="--max-cost",
                             hint="Raise --max-cost, or take jobs out of the manifest.")
    if not dry_run:
        limits: dict[str, threading.Semaphore] = {}     # one per provider, shared by every job
        boards = [loaded for *_, loaded in todo]
        with api._pool(cluster, boards) as pool, ThreadPoolExecutor(max(1, parallel)) as threads:
            done = threads.map(lambda item: _render(*item, reports, jobs, pool, limits,
                                                    _prefixed(progress, item[0].name)), todo)
            finished = {rep.id: rep for rep in done}
        prepared = [(job, board, finished.get(rep.id, rep), loaded) for job, board, rep, loaded in prepared]
    fine = {"done", "skipped", "estimated"} if dry_run else {"done", "skipped"}
    reports_of = [rep for _, _, rep, _ in prepared]
    result = BatchReport(manifest=str(path), folder=str(folder), ok=all(rep.status in fine for rep in reports_of),
                         to_spend_usd=total, spent_usd=round(sum(rep.spent_usd for rep in reports_of), 4),
                         jobs=reports_of)
    write_text_atomic(folder / "batch-report.json", result.model_dump_json(indent=2))
    return result


def _prepare(job: Job, manifest: Manifest, reports: Path,
             progress: Progress | None) -> tuple[Job, Path | None, JobReport, Storyboard | None]:
    """The job's storyboard file (written by init for a song and template) and, when it is to be rendered,
    the storyboard loaded once for the estimate, the cluster check and the render; or its skip or failure report."""
    from mvpipe import api, scaffold

    try:
        board = job.storyboard
        if board is None:
            board = manifest.out / job.name / f"{job.name}.yaml"
            if board.exists() and not scaffold.made_by_init(board):
                _say(progress, f"{board} was edited by hand: it is used as it is")
            else:
                api.init(job.song, board, template=job.template, variables=_variables(job, job.template),
                         progress=progress)
        fingerprint = _fingerprint(board)
        before = _previous(reports / f"{job.name}.json")
        if (before and before.status in ("done", "skipped") and before.fingerprint == fingerprint
                and before.outputs and all(Path(p).is_file() for p in before.outputs)):
            _say(progress, "finished earlier and unchanged since: skipped")
            return job, board, before.model_copy(update={"status": "skipped", "to_spend_usd": 0.0,
                                                         "spent_usd": 0.0}), None
        loaded = api.load(board)
        estimate = api.estimate(loaded, progress=progress)
        return job, board, JobReport(id=job.name, status="estimated", storyboard=str(board),
                                     to_spend_usd=estimate.to_spend_usd), loaded
    except Exception as exc:  # noqa: BLE001 - one job's bad song or storyboard does not stop the others
        return job, None, _failed(job, reports, exc), None


def _render(job: Job, board: Path, before: JobReport, loaded: Storyboard, reports: Path, jobs: int | None,
            pool: tuple, limits: dict[str, threading.Semaphore], progress: Progress | None) -> JobReport:
    from mvpipe import api

    try:
        report = api._render(loaded, jobs=jobs, pool=pool, limits=limits, progress=progress)
    except Exception as exc:  # noqa: BLE001 - a failed job is reported; the others go on
        return _failed(job, reports, exc, before)
    failed = [f"{t.shot}: {t.error}" for t in report.failures]
    done = before.model_copy(update={
        "status": "failed" if failed else "done", "fingerprint": None if failed else _fingerprint(board),
        "spent_usd": report.spent_usd, "outputs": [o.path for o in report.outputs],
        "error": "shots failed (stand-in cards in the video): " + "; ".join(failed) if failed else None,
        "render": json.loads(report.to_json())})
    write_text_atomic(reports / f"{job.name}.json", done.model_dump_json(indent=2))
    _say(progress, f"{done.status}: {', '.join(done.outputs)}" + (f" ({done.error})" if done.error else ""))
    return done


def _failed(job: Job, reports: Path, exc: Exception, before: JobReport | None = None) -> JobReport:
    message = str(exc).strip() or type(exc).__name__
    report = (before or JobReport(id=job.name, status="failed")).model_copy(
        update={"status": "failed", "error": message, "fingerprint": None, "bad_input": isinstance(exc, InputError)})
    write_text_atomic(reports / f"{job.name}.json", report.model_dump_json(indent=2))
    return report


def _variables(job: Job, template: Path | None) -> dict[str, Any]:
    """The template keys this job overrides (init's ``variables``)."""
    from mvpipe.scaffold import load_template

    out: dict[str, Any] = {k: getattr(job, k) for k in ("title", "style", "generator") if getattr(job, k)}
    if isinstance(job.characters, list):
        known = load_template(template)[0].characters if template else {}
        missing = [c for c in job.characters if c not in known]
        if missing:
            raise InputError(f"characters {', '.join(missing)} are not in the template.", file=template,
                             field="characters", hint=f"The template's characters: {', '.join(known) or 'none'}.")
        out["characters"] = {name: known[name] for name in job.characters}
    elif job.characters is not None:
        out["characters"] = job.characters
    if job.outputs:
        shapes = [{"aspect": o} if isinstance(o, str) else o for o in job.outputs]
        base = load_template(template)[0].output if template else {}
        out["output"] = {**base, **shapes[0], **({"also": shapes[1:]} if shapes[1:] else {})}
    return out


def _fingerprint(board: Path) -> str:
    """What a finished video depends on that the batch can see: the storyboard's text and the song's bytes."""
    from mvpipe import api

    loaded = api.load(board)
    doc = [Path(board).read_text(encoding="utf-8"), file_digest(loaded.song),
           sorted(file_digest(r) for c in loaded.characters.values() for r in c.references)]
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()


def _previous(path: Path) -> JobReport | None:
    try:
        return JobReport.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def _csv_rows(text: str) -> tuple[dict, dict[tuple, int]]:
    """CSV columns are job keys; ``outputs`` and ``characters`` hold space-separated lists."""
    reader = csv.DictReader(io.StringIO(text))
    jobs, lines = [], {}
    for i, row in enumerate(reader):
        job = {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
        for key in ("outputs", "characters"):
            if key in job:
                job[key] = job[key].replace(",", " ").split()
        jobs.append(job)
        lines[("jobs", i)] = reader.line_num
    return {"jobs": jobs}, lines


def _yaml_rows(text: str, path: Path) -> tuple[dict, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}.", file=path,
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError("a manifest is a YAML mapping with 'jobs:' (or a CSV file).", file=path, line=1)
    lines: dict[tuple, int] = {}
    for key, value in node.value:
        lines[(key.value,)] = key.start_mark.line + 1
        if key.value == "jobs" and isinstance(value, yaml.SequenceNode):
            for i, item in enumerate(value.value):
                lines[("jobs", i)] = item.start_mark.line + 1
                for k, _ in getattr(item, "value", []) if isinstance(item, yaml.MappingNode) else []:
                    lines[("jobs", i, k.value)] = k.start_mark.line + 1
    return data, lines


def _prefixed(progress: Progress | None, name: str) -> Progress | None:
    return (lambda message: progress(f"[{name}] {message}")) if progress else None


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)
