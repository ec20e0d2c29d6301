"""The command line: parses, calls the stages in order, prints. No logic of its own beyond wiring.

Exit status: 0 done, 2 bad input, 1 anything else. ``--json`` puts one JSON document on stdout
and nothing else there; progress and warnings always go to stderr.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from mvpipe import __version__, interrupt
from mvpipe.errors import InputError, MvpipeError, show_traceback
from mvpipe.storyboard import Output, Storyboard
from mvpipe.workspace import Workspace, manifest_path, remove_stale_temps

_T0 = time.monotonic()
# What the file system says when the user's paths or permissions are the problem: exit 2, not a crash.
_REFUSALS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP,
             errno.ENOSPC, errno.EDQUOT}


def _progress(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


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

    a = sub.add_parser("analyze", help="tempo, beats, downbeats, meter and sections of a song")
    a.add_argument("song", type=Path)
    a.add_argument("--json", action="store_true", help="print the analysis as JSON on stdout")
    a.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the analysis to a PNG")

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

    st = sub.add_parser("status", help="per shot: take, provider job, state and recorded cost")
    st.add_argument("storyboard", type=Path)
    st.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    st.add_argument("--generator", metavar="SPEC", help="as given to render")

    pv = sub.add_parser("providers", help="every provider and model: lengths, sizes, references, prices, keys")
    pv.add_argument("--json", action="store_true", help="print the list as JSON on stdout")

    ck = sub.add_parser("check", help="measure a rendered video: frames, cuts, audio offset vs the song")
    ck.add_argument("video", type=Path)
    ck.add_argument("--manifest", type=Path, help="render manifest (default: VIDEO.manifest.json beside it)")
    ck.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    return p


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


def _analyze(song: Path, progress: Callable[[str], None] | None):
    from mvpipe.analysis import analyze
    from mvpipe.assembly.probe import header_seconds

    if progress:
        progress(f"analysing {song.name}")
    result = analyze(song, Workspace(Path(".")).analysis, progress=progress)
    said = header_seconds(song)
    if said is not None and result.duration < min(said - 1.0, 0.9 * said):  # VBR headers only estimate
        _progress(f"warning: {song}: its header says {said:.1f} s but only {result.duration:.1f} s decode; the file "
                  "may be cut short (a download or copy that stopped?). The video uses what plays.")
    return result


def _check_plot(plot: Path | None, inputs: list[tuple[Path, str, bool]]) -> None:
    """``--plot`` must not write over an input (or into a folder's name) either."""
    from mvpipe.storyboard import output_problem

    if plot is not None and (problem := output_problem(plot, inputs)):
        raise InputError(problem + ".", field="--plot", hint="Give a new file name ending in .png.")


def _cmd_analyze(args: argparse.Namespace) -> int:
    _check_plot(args.plot, [(args.song, "the song", False)])
    result = _analyze(args.song, _progress)
    if args.plot:
        from mvpipe.plot import plot_analysis

        plot_analysis(result, args.song, args.plot)
        _progress(f"plot written to {args.plot}")
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(f"{args.song.name}: {result.duration:.2f}s, {result.tempo:.1f} BPM, {result.meter}/4, "
              f"{len(result.beats)} beats, {len(result.downbeats)} bars")
        for sec in result.sections:
            print(f"  {sec.start:7.2f}–{sec.end:7.2f}s  {sec.label:<4} energy {sec.energy:.2f}")
    return 0


def _load(args: argparse.Namespace) -> Storyboard:
    from mvpipe.storyboard import load

    return load(args.storyboard).with_overrides(generator=getattr(args, "generator", None),
                                                output=getattr(args, "output", None))


def _plan(board: Storyboard, progress: Callable[[str], None] | None, take_numbers: dict[str, int] | None = None):
    """Resolve every generator the storyboard names, analyse the song and plan, in that order:
    a typo in a generator fails before any analysis runs."""
    from mvpipe.generation.providers import UnknownGenerator, resolve
    from mvpipe.planner import generator_specs, plan

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
            _progress(f"warning: {spec} is past the retirement date its provider announced ({retires}); it works "
                      "only where an endpoint still serves it. Choose another generator before paying for one.")
    analysis = _analyze(board.song, progress)
    result = plan(board, analysis, capabilities, take_numbers=take_numbers)
    for warning in result.warnings:
        _progress(f"warning: {warning}")
    return analysis, result


def _cmd_plan(args: argparse.Namespace) -> int:
    board = _load(args)
    _check_plot(args.plot, board.inputs())
    analysis, result = _plan(board, _progress, Workspace.for_storyboard(args.storyboard).take_numbers())
    if args.plot:
        from mvpipe.plot import plot_analysis

        plot_analysis(analysis, board.song, args.plot, cuts=[s.start for s in result.segments])
        _progress(f"plot written to {args.plot}")
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    print(f"{result.title or args.storyboard.stem}: {len(result.segments)} segments, "
          f"{result.frames} frames at {result.fps} fps ({result.screen_seconds:.2f}s), {result.width}x{result.height}")
    _print_table(["shot", "start", "end", "frames", "transition", "paid s", "est $", "generator"],
                 [[s.shot + (f"#{s.part + 1}" if s.part else ""), f"{s.start:.2f}", f"{s.end:.2f}", str(s.frames),
                   s.transition, f"{s.requested_seconds:.2f}", f"{s.estimated_cost_usd:.2f}", s.generator]
                  for s in result.segments], right={"start", "end", "frames", "paid s", "est $"})
    print(f"paid seconds {result.paid_seconds:.2f} for {result.screen_seconds:.2f}s on screen; "
          f"estimated cost ${result.estimated_cost_usd:.2f}")
    outputs = board.outputs()
    if len(outputs) > 1:
        print("renders, all from the same takes: " + ", ".join(
            f"{o.path.name} ({o.size[0]}x{o.size[1]}, {o.fit}, {o.quality})" for o in outputs))
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    board = _load(args)
    outputs = board.outputs()                     # a clash of output paths fails before anything is paid
    board.check_writable(flag="--output" if args.output else None)
    workspace = Workspace.for_storyboard(args.storyboard)
    workspace.check_writable()
    with workspace.lock():                        # one render per workspace; a killed one's temp files go
        for output in outputs:
            remove_stale_temps(output.path)
            remove_stale_temps(manifest_path(output.path))
        return _render(args, board, outputs, workspace)


def _render(args: argparse.Namespace, board: Storyboard, outputs: list[Output], workspace: Workspace) -> int:
    from mvpipe.assembly import assemble
    from mvpipe.generation.runner import generate
    from mvpipe.planner import for_output

    take_numbers = workspace.take_numbers()
    shots = {s.id: s for s in board.shots}
    for shot in args.retake:
        if shot not in shots:
            raise InputError(f"no shot '{shot}' to retake.", file=args.storyboard, field="--retake",
                             hint=f"Shots: {', '.join(shots)}.")
        take_numbers[shot] = take_numbers.get(shot, shots[shot].take) + 1
        _progress(f"shot '{shot}': asking for take {take_numbers[shot]}")
    _, result = _plan(board, _progress, take_numbers)
    _progress(f"plan: {len(result.segments)} segments, {result.screen_seconds:.2f}s on screen, "
              f"{result.paid_seconds:.2f}s requested, estimated cost ${result.estimated_cost_usd:.2f}")
    # the budget counts only new spending: cached takes and journaled jobs are already paid for
    takes = generate(result, workspace, progress=_progress, only=args.only, max_cost=args.max_cost,
                     dry_run=args.dry_run)
    report: dict = {"estimate": [row.model_dump() for row in takes.estimate.rows],
                    "to_spend_usd": takes.estimate.to_spend_usd, "dry_run": args.dry_run}
    if args.dry_run:
        if args.json:
            print(json.dumps(report, indent=2))
        return 0
    workspace.set_take_numbers(take_numbers)  # kept only once the new takes exist (or are journaled)
    videos = []
    for output in outputs:                        # every output cuts the same takes: nothing is paid again
        video = for_output(result, output)
        manifest = assemble(video, takes, workspace, video.output, progress=_progress, jobs=args.jobs)
        videos.append({"path": str(video.output), "manifest": str(manifest_path(video.output)),
                       "width": video.width, "height": video.height, "frames": video.frames,
                       "pieces_encoded": manifest.encoded, "pieces_reused": manifest.reused,
                       "seconds": manifest.seconds, "warnings": manifest.warnings})
        if not args.json:
            print(video.output)
    _progress(f"done (spent ${takes.spent_usd:.2f} this run)")
    if args.json:
        report |= {"outputs": videos, "spent_usd": takes.spent_usd,
                   "takes": [t.model_dump(mode="json", include={"shot", "part", "take", "path", "provider", "model",
                                                                "job_id", "cost_usd", "status", "error"})
                             for t in takes.values()]}
        print(json.dumps(report, indent=2))
    if takes.failures:
        print(f"mvpipe: {len(takes.failures)} shot(s) failed; the video has stand-in cards in their place, "
              f"and a rerun retries only them:\n{takes.failure_table()}", file=sys.stderr)
        return 1
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from mvpipe.generation.runner import status, status_table

    board = _load(args)
    workspace = Workspace.for_storyboard(args.storyboard)
    workspace.check_writable()
    _, result = _plan(board, _progress, workspace.take_numbers())
    rows = status(result, workspace)
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
            r["name"], seconds, ",".join(r["sizes"]) or "any",
            f"{r['max_references']} {r['references_as']}" if r["references_as"] != "none" else "-",
            "yes" if r["native_audio"] else "no", "free" if r["local"] else f"{r['price_per_second']:.3f}", key,
            f"retired {r['retires']}" if r["retired"] else f"retires {r['retires']}" if r["retires"] else "active"])
    _print_table(["generator", "seconds", "aspects", "refs", "audio", "$/s", "key", "status"], table,
                 right={"$/s"})
    return 0


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


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "analyze": _cmd_analyze,
    "plan": _cmd_plan,
    "render": _cmd_render,
    "providers": _cmd_providers,
    "check": _cmd_check,
    "status": _cmd_status,
}


if __name__ == "__main__":
    sys.exit(main())
