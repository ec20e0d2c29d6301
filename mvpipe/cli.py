"""The command line: parses, calls the stages in order, prints. No logic of its own beyond wiring.

Exit status: 0 done, 2 bad input, 1 anything else. ``--json`` puts one JSON document on stdout
and nothing else there; progress and warnings always go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mvpipe import __version__, interrupt
from mvpipe.errors import InputError, MvpipeError, show_traceback
from mvpipe.storyboard import Storyboard
from mvpipe.workspace import Workspace

_T0 = time.monotonic()
# What the file system says when the user's paths or permissions are the problem: exit 2, not a crash.
_REFUSALS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP,
             errno.ENOSPC, errno.EDQUOT}


_SAYING = threading.Lock()


def _progress(message: str) -> None:
    with _SAYING:  # shots report from several threads: one whole line at a time
        print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _view(args: argparse.Namespace) -> Iterator[Callable[[str], None]]:
    """Live progress bars when stderr is a terminal and stdout carries no JSON; else the plain lines."""
    from mvpipe.progress import LiveView, wants_live

    if not wants_live(sys.stderr, getattr(args, "json", False)):
        yield _progress
        return
    with LiveView() as view:
        yield view


def _print_table(headers: list[str], rows: list[list[str]], right: set[str] = frozenset()) -> None:
    """Columns as wide as their widest cell; the ``right`` ones right-aligned (numbers)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        cells = [c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(row, widths, headers, strict=True)]
        print("  ".join(cells).rstrip())


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _money(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected an amount of US dollars, 0 or more, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mvpipe", description="Song + storyboard -> beat-cut music video.")
    p.add_argument("--version", action="version", version=f"mvpipe {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_analyze_command(sub)

    pl = sub.add_parser("plan", help="the cut list, requested clip lengths and estimated cost")
    pl.add_argument("storyboard", type=Path)
    pl.add_argument("--json", action="store_true", help="print the plan as JSON on stdout")
    pl.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the song with the planned cuts")
    pl.add_argument("--generator", metavar="SPEC", help="provider[:model] for every shot, e.g. runway:gen4_turbo")

    r = sub.add_parser("render", help="generate every shot's take and assemble the video")
    r.add_argument("storyboard", type=Path)
    r.add_argument("-o", "--output", type=Path, metavar="OUT.mp4", help="where to write the video")
    r.add_argument("--generator", metavar="SPEC", help="provider[:model] for every shot, e.g. runway:gen4_turbo")
    r.add_argument("--max-cost", type=_money, metavar="USD", help="refuse to start when the estimate is higher")
    r.add_argument("--retake", nargs="+", default=[], metavar="SHOT", help="ask for a new take of these shots")
    r.add_argument("--only", nargs="+", metavar="SHOT", help="generate only these shots (others: cached or a card)")
    r.add_argument("--dry-run", action="store_true", help="print the cost estimate and stop before any submission")
    r.add_argument("--json", action="store_true",
                   help="print a report on stdout: outputs, takes, estimate and spend (instead of the paths)")
    r.add_argument("--jobs", type=_positive, metavar="N",
                   help="pieces to encode at once (default: one per core at draft, one per 4 cores at final)")
    r.add_argument("--export", metavar="FORMATS",
                   help="also write each video's timeline beside it: otio, fcpxml, edl, xml (comma-separated)")
    _cluster_option(r)

    st = sub.add_parser("status", help="per shot: take, provider job, state and recorded cost")
    st.add_argument("storyboard", type=Path)
    st.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    st.add_argument("--generator", metavar="SPEC", help="as given to render")

    pv = sub.add_parser("providers", help="every provider and model: lengths, sizes, references, prices, keys")
    pv.add_argument("--json", action="store_true", help="print the list as JSON on stdout")

    _add_pipeline_commands(sub)

    ck = sub.add_parser("check", help="measure a rendered video: frames, cuts, audio offset vs the song")
    ck.add_argument("video", type=Path)
    ck.add_argument("--manifest", type=Path, help="render manifest (default: VIDEO.manifest.json beside it)")
    ck.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    ex = sub.add_parser("export", help="the cut as an editor's timeline (OpenTimelineIO, FCPXML, EDL, FCP 7 XML)")
    ex.add_argument("storyboard", type=Path)
    ex.add_argument("--format", default="otio", metavar="otio|fcpxml|edl|xml",
                    help="one or more, comma-separated (xml: Final Cut Pro 7 XML, for Premiere Pro)")
    ex.add_argument("-o", dest="export_to", type=Path, metavar="FILE",
                    help="where the main output's timeline goes (default: beside its video, e.g. out/demo.otio)")
    ex.add_argument("--downbeats", action="store_true", help="a marker on every bar, besides the sections")
    ex.add_argument("--generator", metavar="SPEC", help="as given to render")

    sub.add_parser("schema", help="the storyboard's JSON Schema, for editors that complete and check YAML")
    return p


def _add_analyze_command(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("analyze", help="tempo, beats, downbeats, meter and sections of a song")
    a.add_argument("song", type=Path)
    a.add_argument("--json", action="store_true", help="print the analysis as JSON on stdout")
    a.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the analysis to a PNG")
    a.add_argument("--bpm", type=float, help="the beat level you hear (as timing.bpm)")
    a.add_argument("--meter", type=int, help="beats a bar (as timing.meter)")
    a.add_argument("--first-downbeat", type=float, metavar="SECONDS",
                   help="where a bar starts (as timing.first_downbeat)")
    a.add_argument("--beats", type=Path, metavar="FILE", help="beat times made elsewhere (as timing.beats)")


def _add_pipeline_commands(sub: argparse._SubParsersAction) -> None:
    """``init`` and ``batch``: the channel-pipeline commands."""
    it = sub.add_parser("init", help="write a storyboard for a song that renders at once: a shot per phrase")
    it.add_argument("song", type=Path)
    it.add_argument("--template", type=Path, metavar="FILE",
                    help="title, style, generator, output, characters and prompts to use (YAML)")
    it.add_argument("-o", "--output", type=Path, metavar="STORYBOARD",
                    help="where to write it (default: SONG-NAME.yaml here); never over a file mvpipe did not make")

    b = sub.add_parser("batch", help="every video a manifest lists, under one budget; reruns skip finished ones")
    b.add_argument("manifest", type=Path, help="YAML or CSV: jobs of a song and a storyboard or a template")
    b.add_argument("--max-cost", type=float, metavar="USD", help="refuse to start when the whole batch's estimate "
                                                                 "is higher")
    b.add_argument("--dry-run", action="store_true", help="estimate every job and stop before any submission")
    b.add_argument("--jobs", type=_positive, metavar="N", help="pieces to encode at once, as for render")
    b.add_argument("--parallel", type=_positive, default=1, metavar="N", help="videos to make at once (default 1)")
    b.add_argument("--json", action="store_true", help="print the batch report on stdout")
    _cluster_option(b)


def _cluster_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", metavar="tcp://HOST:8786", default=os.environ.get("MVPIPE_CLUSTER") or None,
                   help="assemble on this Dask cluster's workers (default $MVPIPE_CLUSTER); they must see the "
                        "project's folders and the song at the same paths")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with interrupt.handling_signals():
            return _COMMANDS[args.command](args)
    except InputError as exc:
        show_traceback(exc)
        print(f"mvpipe: {exc}", file=sys.stderr)
        return exc.exit_code
    except MvpipeError as exc:
        show_traceback(exc)
        print(f"mvpipe: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `mvpipe plan x | head`: the reader left; that is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the file system refused: permissions, a read-only mount, a full disk
        show_traceback(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mvpipe: {where}{exc.strerror or exc}.", file=sys.stderr)
        return 2 if exc.errno in _REFUSALS else 1
    except KeyboardInterrupt as exc:
        print("mvpipe: interrupted; finished work is kept and a rerun picks up from there.", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say what broke, exit 1
        show_traceback(exc)
        print(f"mvpipe: internal error: {type(exc).__name__}: {exc} (set MVPIPE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 1


def _analyze(song: Path, progress: Callable[[str], None] | None, timing: object = None):
    """Analyse ``song`` with the user's word from ``timing`` (the analyze command's --bpm, --meter,
    --first-downbeat and --beats)."""
    from mvpipe import api
    from mvpipe.analysis import TimingHints

    hints = TimingHints(**{k: getattr(timing, k, None) for k in ("bpm", "meter", "first_downbeat", "beats")})
    return api.analyze(song, hints=hints, progress=progress)


def _check_plot(plot: Path | None, inputs: list[tuple[Path, str, bool]]) -> None:
    """``--plot`` must not write over an input (or into a folder's name) either."""
    from mvpipe.storyboard import output_problem

    if plot is not None and (problem := output_problem(plot, inputs)):
        raise InputError(problem + ".", field="--plot", hint="Give a new file name ending in .png.")


def _cmd_analyze(args: argparse.Namespace) -> int:
    _check_plot(args.plot, [(args.song, "the song", False)])
    for name, low, high in (("bpm", 20, 400), ("meter", 1, 16), ("first_downbeat", 0, None)):
        value = getattr(args, name)
        if value is not None and (value < low or (high is not None and value > high)):
            raise InputError(f"--{name.replace('_', '-')} {value:g} is out of range ({low} to {high or 'the end'}).")
    result = _analyze(args.song, _progress, args)
    for warning in result.warnings:
        _progress(f"warning: {warning}")
    if args.plot:
        from mvpipe.plot import plot_analysis

        plot_analysis(result, args.song, args.plot)
        _progress(f"plot written to {args.plot}")
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(f"{args.song.name}: {result.duration:.2f}s, {result.tempo:.1f} BPM, {result.meter}/4, "
              f"{len(result.beats)} beats, {len(result.downbeats)} bars, level confidence {result.confidence:.2f}")
        for sec in result.sections:
            print(f"  {sec.start:7.2f}–{sec.end:7.2f}s  {sec.label:<4} energy {sec.energy:.2f}")
    return 0


def _load(args: argparse.Namespace) -> Storyboard:
    from mvpipe import api

    return api.load(args.storyboard, generator=getattr(args, "generator", None), output=getattr(args, "output", None))


def _plan(board: Storyboard, progress: Callable[[str], None] | None, take_numbers: dict[str, int] | None = None):
    """The song's analysis and the plan (see :func:`mvpipe.api.plan`: generators are checked first)."""
    from mvpipe import api

    result = api.plan(board, take_numbers=take_numbers, progress=progress)
    return api.analyze(board.song, hints=api.hints_of(board)), result


def _cmd_plan(args: argparse.Namespace) -> int:
    board = _load(args)
    _check_plot(args.plot, board.inputs())
    analysis, result = _plan(board, _progress, Workspace.for_storyboard(args.storyboard).take_numbers())
    if args.plot:
        from mvpipe.plot import plot_analysis

        plot_analysis(analysis, board.song, args.plot, cuts=[result.seconds(s.start_frame) for s in result.segments])
        _progress(f"plot written to {args.plot}")
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    print(f"{result.title or args.storyboard.stem}: {len(result.segments)} segments, "
          f"{result.frames} frames at {result.fps} fps ({result.screen_seconds:.2f}s), {result.width}x{result.height}")
    at = result.seconds
    _print_table(["shot", "start", "end", "frames", "transition", "paid s", "est $", "generator", "shape"],
                 [[s.shot + (f"#{s.part + 1}" if s.part else ""), f"{at(s.start_frame):.2f}", f"{at(s.end_frame):.2f}",
                   str(s.frames), s.transition, f"{s.requested_seconds:.2f}", f"{s.estimated_cost_usd:.2f}",
                   s.generator, f"{s.request.width}x{s.request.height} {s.request.aspect}"
                   + (f" {s.request.resolution}" if s.request.resolution else "")]
                  for s in result.segments], right={"start", "end", "frames", "paid s", "est $"})
    print(f"paid seconds {result.paid_seconds:.2f} for {result.screen_seconds:.2f}s on screen; "
          f"estimated cost ${result.estimated_cost_usd:.2f}")
    outputs = board.outputs()
    if len(outputs) > 1:
        print("renders, all from the same takes: " + ", ".join(
            f"{o.path.name} ({o.size[0]}x{o.size[1]}, {o.fit}, {o.quality})" for o in outputs))
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from mvpipe import api
    from mvpipe.export import parse_formats

    formats = parse_formats(args.export, "--export") if args.export else []
    board = _load(args)
    board.check_writable(flag="--output" if args.output else None)
    with _view(args) as progress:
        report = api.render(board, only=args.only, retake=args.retake, max_cost=args.max_cost, dry_run=args.dry_run,
                            jobs=args.jobs, cluster=args.cluster, export=formats, progress=progress)
    if args.json:
        print(report.to_json())
    else:
        for video in report.outputs:
            print(video.path, *video.exports, sep="\n")
    if report.failures:
        table = "\n".join(f"{t.shot:<16} {t.part:>4}  {t.provider}:{t.model}  {t.error}" for t in report.failures)
        print(f"mvpipe: {len(report.failures)} shot(s) failed; the video has stand-in cards in their place, "
              f"and a rerun retries only them:\n{table}", file=sys.stderr)
        return 1
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from mvpipe.generation.runner import status, status_table

    board = _load(args)
    workspace = Workspace.for_storyboard(args.storyboard)
    workspace.check_writable()
    _, result = _plan(board, _progress, workspace.take_numbers())
    rows = status([s.request for s in result.segments], workspace)
    print(json.dumps([r.model_dump() for r in rows], indent=2) if args.json else status_table(rows))
    return 0


def _cmd_providers(args: argparse.Namespace) -> int:
    from mvpipe.generation.providers import catalog

    rows = catalog()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = []
    for r in rows:
        lo_hi = r["duration_range"]
        seconds = ("/".join(f"{d:g}" for d in r["durations"]) if r["durations"]
                   else f"{lo_hi[0]:g}-{lo_hi[1]:g}" if lo_hi else "any")
        key = "not needed" if r["local"] or not r["key_env"] else (
            ("set: " if r["key_configured"] else "MISSING: ") + ",".join(r["key_env"]))
        table.append([
            r["name"], seconds, ",".join(dict.fromkeys(sh["aspect"] for sh in r["shapes"])) or "any",
            f"{r['max_references']} {r['references_as']}" if r["references_as"] != "none" else "-",
            "yes" if r["native_audio"] else "no", "free" if r["local"] else _rates(r), key,
            f"retired {r['retires']}" if r["retired"] else f"retires {r['retires']}" if r["retires"] else "active"])
    _print_table(["generator", "seconds", "aspects", "refs", "audio", "$/s", "key", "status"], table,
                 right={"$/s"})
    return 0


def _rates(row: dict) -> str:
    """A model's USD per second over its shapes, as 'low-high' (one number where they agree)."""
    rates = sorted({sh["price"] for sh in row["shapes"]} | {sh["audio_price"] for sh in row["shapes"]
                                                           if sh["audio_price"] is not None})
    rates = rates or [row["price_per_second"]]
    return f"{rates[0]:.3f}" if len(rates) == 1 else f"{rates[0]:.3f}-{rates[-1]:.3f}"


def _cmd_check(args: argparse.Namespace) -> int:
    from mvpipe.assembly import check

    report = check(args.video, args.manifest)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        planned = f" of {report.expected_frames} planned" if report.expected_frames is not None else ""
        print(f"{report.video}: {report.frames} frames{planned} at {report.fps:.3f} fps, {report.duration:.3f}s")
        print(f"hard cuts: {len(report.cuts_planned)} planned, "
              f"{len(report.cuts_planned) - len(report.cuts_missing)} found on their frame"
              f"{f', missing at {report.cuts_missing}' if report.cuts_missing else ''}; "
              f"unplanned changes outside transitions: {report.cuts_unplanned or 'none'}")
        print(f"audio offset vs the song (ms, start and end): {report.audio_offset_ms}")
        for problem in report.problems:
            print(f"problem: {problem}")
    return 0 if report.ok else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from mvpipe.api import check_export_rates, export_timelines
    from mvpipe.export import check_dest, parse_formats
    from mvpipe.generation.runner import existing_takes
    from mvpipe.planner import for_output

    formats = parse_formats(args.format)
    if args.export_to is not None and len(formats) > 1:
        raise InputError("-o names one file, but several formats were asked for.", field="-o",
                         hint="Leave out -o (each goes beside its video), or ask for one format.")
    if args.export_to is not None:
        check_dest(formats[0], args.export_to)
    board = _load(args)
    check_export_rates(board, formats)
    workspace = Workspace.for_storyboard(args.storyboard)
    analysis, result = _plan(board, _progress, workspace.take_numbers())
    takes = existing_takes([s.request for s in result.segments], workspace).takes
    missing = [t.shot for t in takes.values() if t.status != "done"]
    if missing:
        _progress(f"warning: no take yet for {', '.join(missing)}: their animatic cards stand in")
    for i, output in enumerate(board.outputs()):
        for path in export_timelines(workspace, for_output(result, output), takes, analysis, formats,
                            to=args.export_to if i == 0 else None, downbeats=args.downbeats):
            print(path)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from mvpipe.schema import schema_json

    print(schema_json())
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from mvpipe import api

    with _view(args) as progress:
        path = api.init(args.song, args.output, template=args.template, progress=progress)
    print(path)
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from mvpipe import channel

    with _view(args) as progress:
        report = channel.batch(args.manifest, max_cost=args.max_cost, dry_run=args.dry_run, jobs=args.jobs,
                               parallel=args.parallel, cluster=args.cluster, progress=progress)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        _print_table(["job", "status", "est $", "spent $", "outputs / error"],
                     [[j.id, j.status, f"{j.to_spend_usd:.2f}", f"{j.spent_usd:.2f}",
                       j.error or " ".join(j.outputs)] for j in report.jobs], right={"est $", "spent $"})
        print(f"batch report: {Path(report.folder) / 'batch-report.json'}")
    if report.ok:
        return 0
    return 2 if any(j.bad_input for j in report.jobs) else 1


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "analyze": _cmd_analyze,
    "plan": _cmd_plan,
    "render": _cmd_render,
    "providers": _cmd_providers,
    "check": _cmd_check,
    "status": _cmd_status,
    "export": _cmd_export,
    "schema": _cmd_schema,
    "init": _cmd_init,
    "batch": _cmd_batch,
}


if __name__ == "__main__":
    sys.exit(main())
