"""Clip requests -> takes, paying for each clip at most once.

Every request (a plan segment's) becomes one task. Cached takes (``takes/<cache_key>.mp4``) are reused;
local providers render in place; remote jobs go through the journal: recorded before submit, their id
right after, then polled (with the provider's hints and jitter), watched for stalls, downloaded
before the link dies, decoded and length-checked, and renamed into the cache. A rerun re-polls or
re-downloads what the journal knows and reconciles with the provider where a crash hid a submit.
A shot that fails for good gets the animatic stand-in card and the run goes on.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from mvpipe import interrupt
from mvpipe.errors import BudgetExceeded, DownloadFailed, InputError, JobFailed, JobStalled, MvpipeError, show_traceback
from mvpipe.generation.journal import JobRecord, Journal
from mvpipe.generation.media import BadMedia, check_image, clip_seconds, last_frame
from mvpipe.generation.provider import Capabilities, ClipRequest, JobState, Provider, Take
from mvpipe.generation.providers import resolve
from mvpipe.generation.providers.animatic import render_card
from mvpipe.generation.remote import ApiClient, ProviderError, RemoteProvider, RetryPolicy, TransientError
from mvpipe.workspace import Workspace, atomic_path

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunnerSettings:
    """Every timing knob of a run, in one place; the defaults suit real providers, tests shrink them."""

    poll_interval: float | None = None  # None: each provider's own (the SDKs' cadence)
    poll_jitter: float = 0.2  # +-20 %, so parallel jobs don't poll in lockstep
    stall_timeout: float | None = None  # None: each provider's own (seconds without any change)
    http_timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    download_attempts: int = 3
    expiry_margin: float = 30.0  # refresh a download link this close to its expiry
    min_length_ratio: float = 0.95  # a clip shorter than this share of the paid length is rejected

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunnerSettings:
        """The defaults, with ``MVPIPE_POLL_INTERVAL`` / ``MVPIPE_STALL_TIMEOUT`` (seconds) where set: how the
        command line paces polling and bounds a silent job (a slow local GPU; a test server)."""
        env = os.environ if environ is None else environ
        knobs: dict[str, float] = {}
        for name in ("poll_interval", "stall_timeout"):
            var = f"MVPIPE_{name.upper()}"
            if raw := env.get(var, "").strip():
                try:
                    knobs[name] = float(raw)
                except ValueError:
                    knobs[name] = -1.0
                if not knobs[name] > 0:
                    raise InputError(f"{var} must be a positive number of seconds, not {raw!r}.", field=var)
        return cls(**knobs)


class _TryAgain(MvpipeError):
    """A job worth one more submission: it stalled, or the provider calls its failure transient."""

    def __init__(self, message: str, *, stalled: bool) -> None:
        super().__init__(message)
        self.stalled = stalled


class EstimateRow(BaseModel):
    shot: str
    part: int
    generator: str
    shape: str = Field(description="what is asked: 'WxH aspect resolution', or the output size for local models")
    seconds: float
    cost_usd: float
    status: str  # new | cached | in flight | skipped


class Estimate(BaseModel):
    """What a run would cost before anything is submitted: only new jobs count as spending."""

    rows: list[EstimateRow]

    @property
    def to_spend_usd(self) -> float:
        return round(sum(r.cost_usd for r in self.rows if r.status == "new"), 4)

    def table(self) -> str:
        lines = [f"{'shot':<16} {'part':>4} {'generator':<32} {'seconds':>7} {'USD':>8}  status"]
        lines += [f"{r.shot:<16} {r.part:>4} {r.generator:<32} {r.seconds:>7.2f} {r.cost_usd:>8.2f}  {r.status}"
                  for r in self.rows]
        lines.append(f"estimated new spend: ${self.to_spend_usd:.2f}")
        return "\n".join(lines)


class ShotStatus(BaseModel):
    """One segment's generation state, for ``mvpipe status``."""

    shot: str
    part: int
    take: int
    key: str
    generator: str
    job_id: str | None
    state: str
    estimate_usd: float = Field(description="what the plan expects this segment to cost, at its shape")
    cost_usd: float = Field(description="what the journal recorded as spent on it")
    error: str | None


@dataclass(frozen=True)
class GenerationResult:
    """What a run made: the takes by (shot, part), the estimate it checked first, and what it spent."""

    takes: dict[tuple[str, int], Take]
    estimate: Estimate
    spent_usd: float

    @property
    def failures(self) -> list[Take]:
        return [t for t in self.takes.values() if t.status == "failed"]

    def failure_table(self) -> str:
        """What failed and why, one line a shot."""
        return "\n".join(f"{t.shot:<16} {t.part:>4}  {t.provider}:{t.model}  {t.error}" for t in self.failures)


@dataclass
class _Clip:
    request: ClipRequest
    provider: Provider
    caps: Capabilities
    selected: bool
    index: int
    pred: int | None  # index of the clip whose last frame starts this one (continue: previous)

    @property
    def label(self) -> str:
        return self.request.shot + (f"#{self.request.part}" if self.request.part else "")


def generate(requests: Sequence[ClipRequest], workspace: Workspace, *, progress: Progress | None = None,
             only: Iterable[str] | None = None, max_cost: float | None = None, dry_run: bool = False,
             settings: RunnerSettings | None = None,
             limits: dict[str, threading.Semaphore] | None = None) -> GenerationResult:
    """A take for every request (a plan's segments' requests, in plan order), keyed by (shot, part); never pays
    twice for one.

    ``only``: generate just these shots (others use their cached takes, or a 'skipped' card).
    A retake is a new ``request.take`` (set by the planner), hence a new cache key.
    The estimate is reported through ``progress`` before any submission; over ``max_cost`` raises
    :class:`BudgetExceeded`; ``dry_run`` returns after it with no takes. Failed shots come back as
    stand-in takes with ``status='failed'``: check :attr:`GenerationResult.failures`.
    ``limits`` (provider -> semaphore of its concurrency) is shared by runs that share an account (a batch).
    """
    run = _Run(requests, workspace, progress, settings or RunnerSettings.from_env(), limits, read_only=dry_run)
    try:
        return run.go(set(only) if only else None, max_cost, dry_run)
    finally:
        run.close()


def estimate(requests: Sequence[ClipRequest], workspace: Workspace, *, only: Iterable[str] | None = None) -> Estimate:
    """The estimate :func:`generate` would print, without running or writing anything."""
    run = _Run(requests, workspace, None, RunnerSettings(), read_only=True)
    try:
        return run.estimate(run.clips(set(only) if only else None))
    finally:
        run.close()


def status(requests: Sequence[ClipRequest], workspace: Workspace) -> list[ShotStatus]:
    """Per segment: its take, provider job, state and recorded cost (running and writing nothing)."""
    run = _Run(requests, workspace, None, RunnerSettings(), read_only=True)
    try:
        return [run.shot_status(c) for c in run.clips(None)]
    finally:
        run.close()


def existing_takes(requests: Sequence[ClipRequest], workspace: Workspace) -> GenerationResult:
    """The takes a render would use now, generating nothing: each segment's cached take, or the
    'skipped' animatic card :func:`generate` puts in its place (for an export before any render)."""
    run = _Run(requests, workspace, None, RunnerSettings())
    try:
        clips = run.clips(set())
        takes = {}
        for clip in clips:
            key = run.key_of(clip) or _key(clip)
            path = workspace.takes / f"{key}.mp4"
            takes[(clip.request.shot, clip.request.part)] = (
                run._done(clip, key, path) if path.is_file()
                else run._stand_in(clip, key, "skipped", "NOT GENERATED YET"))
        return GenerationResult(takes, run.estimate(clips), 0.0)
    finally:
        run.close()


def status_table(rows: list[ShotStatus]) -> str:
    """``status`` rows as a table for the terminal."""
    lines = [f"{'shot':<16} {'part':>4} {'take':>4} {'state':<14} {'est USD':>7} {'USD':>7}  {'job':<24} error"]
    lines += [f"{r.shot:<16} {r.part:>4} {r.take:>4} {r.state:<14} {r.estimate_usd:>7.2f} {r.cost_usd:>7.2f}  "
              f"{r.job_id or '-':<24} {r.error or ''}" for r in rows]
    lines.append(f"estimated: ${sum(r.estimate_usd for r in rows):.2f}; spent: ${sum(r.cost_usd for r in rows):.2f}")
    return "\n".join(lines)


class _Run:
    def __init__(self, requests: Sequence[ClipRequest], workspace: Workspace, progress: Progress | None,
                 settings: RunnerSettings, limits: dict[str, threading.Semaphore] | None = None,
                 read_only: bool = False) -> None:
        self.requests = requests
        self.ws = workspace
        self.settings = settings
        self.read_only = read_only  # a query (status, estimate, dry run): no FFmpeg, no new journal
        fresh = read_only and not workspace.journal.is_file()
        self.journal = Journal(Path(":memory:") if fresh else workspace.journal)
        self._progress = progress
        self._lock = threading.Lock()
        self._said: dict[str, str] = {}
        self._clients: dict[str, ApiClient] = {}
        self._slots: dict[str, threading.Semaphore] = {} if limits is None else limits
        self._futures: dict[int, Future[Take]] = {}
        self._clips: list[_Clip] = []
        self.spent = 0.0

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self.journal.close()

    # -- planning the run -------------------------------------------------------------------

    def clips(self, only: set[str] | None) -> list[_Clip]:
        shots = {req.shot for req in self.requests}
        for name in only or set():
            if name not in shots:
                raise InputError(f"no shot '{name}' in the plan; shots: {', '.join(sorted(shots))}.",
                                 shot=name)
        out: list[_Clip] = []
        last_of: dict[str, int] = {}
        generators: dict[str, tuple[Provider, Capabilities]] = {}  # each resolved once a run, not once a clip
        for i, req in enumerate(self.requests):
            spec = f"{req.provider}:{req.model}"
            if spec not in generators:
                generators[spec] = resolve(spec)
            provider, caps = generators[spec]
            pred = last_of.get(req.continue_from) if req.continue_from else None
            if req.continue_from and pred is None:
                raise InputError(f"continues from shot '{req.continue_from}', which does not come before it.",
                                 shot=req.shot, field="continue")
            out.append(_Clip(req, provider, caps, only is None or req.shot in only, i, pred))
            last_of[req.shot] = i
        self._clips = out
        return out

    def key_of(self, clip: _Clip) -> str | None:
        """The clip's cache key, or None while it waits for the previous take (not made yet; or, in a query,
        made but its last frame not yet taken, which would run FFmpeg and write)."""
        if clip.pred is None:
            return _key(clip)
        pred_key = self.key_of(self._clips[clip.pred])
        pred_path = self.ws.takes / f"{pred_key}.mp4"
        frame = self._frame_path(f"{pred_key}.last")
        if pred_key is None or not pred_path.is_file() or (self.read_only and not frame.is_file()):
            return None
        return _key(clip, last_frame(pred_path, frame))

    def estimate(self, clips: list[_Clip]) -> Estimate:
        rows = []
        for clip in clips:
            key = self.key_of(clip)
            cost = clip.caps.estimate(clip.request)
            if key and (self.ws.takes / f"{key}.mp4").is_file():
                state = "cached"
            elif key and (rec := self.journal.open_job(key)) and rec.job_id:
                state = "in flight"
            else:
                state = "new" if clip.selected else "skipped"
            rows.append(EstimateRow(shot=clip.request.shot, part=clip.request.part, generator=clip.caps.spec,
                                    shape=_shape_label(clip.request), seconds=clip.caps.seconds_for(clip.request),
                                    cost_usd=cost, status=state))
        return Estimate(rows=rows)

    def shot_status(self, clip: _Clip) -> ShotStatus:
        key = self.key_of(clip)
        rec = self.journal.latest(key) if key else None
        if key and (self.ws.takes / f"{key}.mp4").is_file():
            state = "done"
        elif rec:
            state = rec.state + (f" {rec.progress:.0f}%" if rec.state == "running" and rec.progress else "")
        else:
            state = "waiting for the previous take" if key is None else "not started"
        cost = self.journal.spent([key, _keyframe_key(clip.request)]) if key else 0.0
        return ShotStatus(shot=clip.request.shot, part=clip.request.part, take=clip.request.take, key=key or "-",
                          generator=clip.caps.spec, job_id=rec.job_id if rec else None, state=state,
                          estimate_usd=clip.caps.estimate(clip.request), cost_usd=cost,
                          error=rec.error if rec and state != "done" else None)

    def go(self, only: set[str] | None, max_cost: float | None, dry_run: bool) -> GenerationResult:
        clips = self.clips(only)
        est = self.estimate(clips)
        self.say(est.table())
        if dry_run:
            return GenerationResult({}, est, 0.0)
        if max_cost is not None and est.to_spend_usd > max_cost + 1e-9:
            raise BudgetExceeded(f"estimated new spend ${est.to_spend_usd:.2f} is over --max-cost "
                                 f"${max_cost:.2f}; nothing was submitted.", field="--max-cost",
                                 hint="Raise --max-cost, shorten shots, use a cheaper generator, or --only.")
        for clip, row in zip(clips, est.rows, strict=True):  # every key is checked before the first submission
            if isinstance(clip.provider, RemoteProvider) and row.status in ("new", "in flight"):
                self._client(clip.provider, clip.caps)
        with self.journal.exclusive(), ThreadPoolExecutor(max_workers=max(1, len(clips)),
                                                          thread_name_prefix="mvpipe-gen") as pool:
            for stale in self.ws.takes.rglob(".*"):  # half-written files of a run that was killed
                if stale.is_file():
                    stale.unlink()
            for clip in clips:  # in plan order, so a predecessor's future exists before its follower runs
                self._futures[clip.index] = pool.submit(self._take, clip)
            takes = {(c.request.shot, c.request.part): self._futures[c.index].result() for c in clips}
        self.say(f"spent this run: ${self.spent:.2f}")
        return GenerationResult(takes, est, round(self.spent, 4))

    # -- one segment --------------------------------------------------------------------------

    def _take(self, clip: _Clip) -> Take:
        interrupt.check()   # a stopped run drops the clips not started
        req = clip.request
        key = _key(clip)
        try:
            first = self._chained_frame(clip)
            key = _key(clip, first)
            dest = self.ws.takes / f"{key}.mp4"
            if dest.is_file():
                self._state(clip, "done (cached)")
                return self._done(clip, key, dest)
            if not clip.selected:
                self._state(clip, "skipped (outside --only)")
                return self._stand_in(clip, key, "skipped", "NOT GENERATED: outside --only")
            if isinstance(clip.provider, RemoteProvider):
                self._remote_clip(clip, clip.provider, key, dest, first)
            else:
                with self._slot(clip):
                    interrupt.check()   # waited for a slot through a stop: start nothing
                    self._state(clip, "running")
                    clip.provider.render(req, dest, first)
            self._state(clip, "done")
            return self._done(clip, key, dest)
        except Exception as exc:  # one shot's failure never stops the others
            show_traceback(exc)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if not isinstance(exc, MvpipeError):
                reason = f"internal error: {type(exc).__name__}: {reason} (set MVPIPE_DEBUG=1 for a traceback)"
            self._state(clip, f"failed: {reason}")
            return self._stand_in(clip, key, "failed", f"FAILED: {reason}", reason)

    def _chained_frame(self, clip: _Clip) -> Path | None:
        """For ``continue: previous``: the last frame of the take it continues from."""
        if clip.pred is None:
            return None
        pred = self._futures[clip.pred].result()
        if pred.status != "done":
            raise JobFailed(f"continues from shot '{pred.shot}', which is {pred.status}")
        return last_frame(pred.path, self._frame_path(f"{pred.key}.last"))

    def _remote_clip(self, clip: _Clip, provider: RemoteProvider, key: str, dest: Path,
                     first: Path | None) -> None:
        req, caps = clip.request, clip.caps
        client = self._client(provider, caps)
        if caps.needs_keyframe(req, first):
            first = self._frame_path(_keyframe_key(req))
            if not first.is_file():
                _Job(self, clip, provider, client, "keyframe", _keyframe_key(req), first,
                     lambda: provider.submit_keyframe(req, client), check_image, caps.keyframe_price).make()
        elif first is None and caps.references_as == "first_frame" and req.references:
            first = req.references[0]  # the adapter fits it to the output size
        paid = caps.seconds_for(req)

        def verify(path: Path) -> None:
            got = clip_seconds(path)
            if got < paid * self.settings.min_length_ratio:
                raise BadMedia(f"clip plays {got:.2f} s; {paid:g} s were paid for")

        _Job(self, clip, provider, client, "clip", key, dest, lambda: provider.submit(req, first, client), verify,
             caps.price(paid, req)).make()

    # -- helpers ------------------------------------------------------------------------------

    def add_spent(self, usd: float) -> None:
        with self._lock:
            self.spent += usd

    def _done(self, clip: _Clip, key: str, path: Path) -> Take:
        rec = self.journal.latest(key)
        cost = self.journal.spent([key, _keyframe_key(clip.request)])
        return Take(shot=clip.request.shot, part=clip.request.part, take=clip.request.take, key=key, path=path,
                    provider=clip.caps.provider, model=clip.caps.model,
                    job_id=rec.job_id if rec else None, cost_usd=cost)

    def _stand_in(self, clip: _Clip, key: str, status: str, banner: str, reason: str | None = None) -> Take:
        # one card per (clip, banner): a rerun that fails the same way reuses it
        path = self.ws.takes / status / f"{key}-{hashlib.sha256(banner.encode()).hexdigest()[:8]}.mp4"
        if not path.is_file():
            render_card(clip.request, path, banner=banner)
        rec = self.journal.latest(key)
        return Take(shot=clip.request.shot, part=clip.request.part, take=clip.request.take, key=key, path=path,
                    provider=clip.caps.provider, model=clip.caps.model,
                    job_id=rec.job_id if rec else None, status=status,  # type: ignore[arg-type]
                    error=reason)

    def _client(self, provider: RemoteProvider, caps: Capabilities) -> ApiClient:
        with self._lock:
            client = self._clients.get(provider.name)
            if client is None:
                client = ApiClient(provider, retry=self.settings.retry, timeout=self.settings.http_timeout)
                self._clients[provider.name] = client
                notes = provider.warnings(client)
                if caps.retires and caps.retires <= date.today():
                    notes.append(f"{caps.spec} is past the retirement date its provider announced "
                                 f"({caps.retires.isoformat()}); it works only where an endpoint still serves it")
                for note in notes:
                    self.say(f"warning: {note}")
        return client

    def _slot(self, clip: _Clip) -> threading.Semaphore:
        # setdefault is atomic: runs sharing ``limits`` agree on one semaphore per provider
        return self._slots.setdefault(clip.caps.provider, threading.Semaphore(clip.caps.concurrency))

    def _frame_path(self, name: str) -> Path:
        return self.ws.takes / "frames" / f"{name}.png"

    def _state(self, clip: _Clip, text: str) -> None:
        with self._lock:
            if self._said.get(clip.label) == text:
                return
            self._said[clip.label] = text
        self.say(f"shot {clip.label}: {text}")

    def say(self, text: str) -> None:
        if self._progress:
            self._progress(text)



@dataclass
class _Job:
    """One journaled provider job (a clip, or its keyframe) turned into the file ``dest``: submit at most once,
    wait, download. The run supplies the journal, the settings, the concurrency slots and the progress lines."""

    run: _Run
    clip: _Clip
    provider: RemoteProvider
    client: ApiClient
    kind: str  # "clip" or "keyframe"
    key: str
    dest: Path
    send: Callable[[], str]  # the one paid POST
    verify: Callable[[Path], None]
    cost: float

    def make(self) -> None:
        """Submit (or resume) the job, wait for it, download it; one more submission where it is worth one.

        The provider's concurrency slot is held from submit until the job is done there, not
        through the download, which does not count against the provider's limit.
        """
        run, journal = self.run, self.run.journal
        rec = journal.open_job(self.key)
        retried = False
        while True:
            try:
                with run._slot(self.clip):
                    if rec is None or rec.job_id is None:
                        rec = self.submit(rec)
                    state = self.wait(rec)
                if rec.cost_usd == 0 and self.cost:
                    journal.update(rec.row, state="succeeded", cost_usd=self.cost)
                    run.add_spent(self.cost)
                self.download(rec.job_id or "", state)
                journal.update(rec.row, state="done", progress=100.0, path=str(self.dest))
                return
            except _TryAgain as exc:
                self.give_up_or_retry(rec, exc, retried)
                retried, rec = True, None
            except DownloadFailed as exc:
                journal.update(rec.row, error=str(exc))  # still 'succeeded': a rerun downloads again
                raise
            except (ProviderError, JobFailed) as exc:
                if rec is not None:
                    billed = self.cost if isinstance(exc, JobFailed) and exc.billed else 0.0  # charged though failed
                    journal.update(rec.row, state="failed", error=str(exc), cost_usd=billed)
                    run.add_spent(billed)
                raise

    def give_up_or_retry(self, rec: JobRecord, exc: _TryAgain, retried: bool) -> None:
        """Record a job worth another try; raise where it must not (or need not) be submitted again."""
        journal, job_id = self.run.journal, rec.job_id or ""
        if exc.stalled and not self.cancelled(job_id):
            journal.update(rec.row, error=str(exc))  # still open: the next run polls it again
            raise JobStalled(f"{exc}; {self.provider.name} did not confirm it stopped, so it is not submitted "
                             f"again (it may still finish and be billed): run again to resume polling job "
                             f"{rec.job_id}") from None
        journal.update(rec.row, state="cancelled" if exc.stalled else "failed", error=str(exc))
        if retried:
            raise JobFailed(f"{exc}; gave up after one retry") from None
        self.run.say(f"{self.clip.label}: {exc}; {'cancelled it, ' if exc.stalled else ''}submitting once more")

    def submit(self, rec: JobRecord | None) -> JobRecord:
        """Record the intent, submit, record the id; reconcile first wherever a submit may have landed."""
        req, run = self.clip.request, self.run
        uncertain = rec is not None  # a journaled intent without an id: we died mid-submit
        if rec is None:
            rec = run.journal.intend(key=self.key, kind=self.kind, shot=req.shot, part=req.part, take=req.take,
                                     provider=self.provider.name, model=req.model, prompt=req.prompt,
                                     seconds=req.seconds)

        def once() -> str:
            nonlocal uncertain
            if uncertain and self.kind == "clip":
                found = self.reconcile(rec)
                if found:
                    return found
            interrupt.check()   # never pay for a job after a stop
            run._state(self.clip, "submitting" if self.kind == "clip" else "making keyframe")
            try:
                return self.send()
            except TransientError as exc:
                uncertain = uncertain or exc.ambiguous
                raise

        try:
            job_id = run.settings.retry.retrying()(once)
        except MvpipeError as exc:  # refused, unreachable, or bad input found before sending
            run.journal.update(rec.row, state="failed", error=str(exc))
            raise
        run.journal.update(rec.row, job_id=job_id, state="queued")
        return rec.model_copy(update={"job_id": job_id, "state": "queued"})

    def cancelled(self, job_id: str) -> bool:
        """Cancel a stalled job; True only when the provider then reports it cancelled, failed or gone."""
        try:
            if not self.provider.cancel(job_id, self.client):
                return False
            return self.provider.poll(job_id, self.client).state in ("cancelled", "failed")
        except ProviderError as exc:
            return exc.status in (404, 410)  # the job is gone: it will not finish
        except (TransientError, MvpipeError):
            return False

    def reconcile(self, rec: JobRecord) -> str | None:
        """The id of a job an interrupted submit created, where the provider can list its jobs."""
        clip, provider, run = self.clip, self.provider, self.run
        found = provider.list_recent(clip.request, rec.created_at - 5.0, self.client)
        if found is None:
            risk = "this one may be billed twice" if clip.caps.estimate(clip.request) > 0 else "it may run twice"
            run.say(f"{clip.label}: {provider.name} cannot list its jobs, so an interrupted submit cannot be "
                    f"checked; submitting again ({risk})")
            return None
        claimed = run.journal.claimed_ids(provider.name)
        fresh = [job_id for job_id in found if job_id not in claimed]
        if fresh:
            run.say(f"{clip.label}: found job {fresh[0]} from an interrupted run; resuming it")
        return fresh[0] if fresh else None

    def wait(self, rec: JobRecord) -> JobState:
        """Poll until the job ends; raise :class:`_TryAgain` when it stops moving or may succeed anew."""
        job_id, settings, provider = rec.job_id or "", self.run.settings, self.provider
        stall = settings.stall_timeout or provider.stall_timeout
        last: tuple[str, float | None] | None = None
        changed = journaled = time.monotonic()
        while True:
            st = provider.poll(job_id, self.client)
            sig = (st.state, st.progress)
            if sig != last:
                # progress goes to the journal every few seconds; a change of state at once
                if st.state in ("queued", "running") and (not last or last[0] != st.state
                                                          or time.monotonic() - journaled > 2.0):
                    self.run.journal.update(rec.row, state=st.state, progress=st.progress)
                    journaled = time.monotonic()
                last, changed = sig, time.monotonic()
                self.run._state(self.clip, st.state + (f" {st.progress:.0f}%" if st.progress is not None else ""))
            if st.state == "succeeded":
                return st
            if st.state in ("failed", "cancelled"):
                reason = self.client.scrub(st.error or f"the job was {st.state}")
                if st.retryable:
                    raise _TryAgain(reason, stalled=False)
                raise JobFailed(reason, billed=st.billed)
            if time.monotonic() - changed > stall:
                raise _TryAgain(f"job {job_id} made no progress for {stall:g} s "
                                f"({st.state}{f' {st.progress:.0f}%' if st.progress is not None else ''})",
                                stalled=True)
            base = st.poll_after if st.poll_after is not None else (settings.poll_interval or provider.poll_interval)
            interrupt.sleep(base * random.uniform(1 - settings.poll_jitter, 1 + settings.poll_jitter))

    def download(self, job_id: str, state: JobState) -> None:
        """Fetch, verify, then rename into place; refresh the link when it is expired or refused."""
        settings, provider, client = self.run.settings, self.provider, self.client
        problem: Exception | None = None
        for _ in range(settings.download_attempts):
            if state.expires_at is not None and time.time() > state.expires_at - settings.expiry_margin:
                state = provider.poll(job_id, client)
                if state.expires_at is not None and time.time() > state.expires_at:
                    raise JobFailed(f"the clip's download link expired before it could be fetched ({job_id})")
            self.run._state(self.clip, "downloading")
            try:
                with atomic_path(self.dest) as tmp:
                    provider.download(job_id, state, tmp, client)
                    self.verify(tmp)
                return
            except BadMedia as exc:
                problem = exc
            except ProviderError as exc:
                if exc.status not in (403, 404, 410):
                    raise
                problem, state = exc, provider.poll(job_id, client)
        raise DownloadFailed(f"download failed {settings.download_attempts} times: {problem}")

def _key(clip: _Clip, first_frame: Path | None = None) -> str:
    return clip.request.cache_key(first_frame, clip.provider.key_inputs(clip.request))


def _shape_label(request: ClipRequest) -> str:
    label = f"{request.width}x{request.height} {request.aspect}"
    return f"{label} {request.resolution}" if request.resolution else label


def _keyframe_key(request: ClipRequest) -> str:
    return f"kf-{request.cache_key()}"


