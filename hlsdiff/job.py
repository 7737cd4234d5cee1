"""The compare job as the CLI runs it: options in, reports out, an exit code back."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from hlsdiff import engine
from hlsdiff.errors import BadInput, HlsdiffError, SimulationFailed
from hlsdiff.layers import Collected
from hlsdiff.reports import files
from hlsdiff.request import CompareRequest, FixRequest
from hlsdiff.result import CompareResult, error_result, load
from hlsdiff.writable import check_writable


def run_compare(model: str, data: str, opts: dict) -> int:
    """`hlsdiff compare`: the request the options describe, the engine, the reports; the exit code."""
    request = CompareRequest.from_options(model, data, opts)
    request.reports.check()
    repro_dir = Path(opts['repro_dir']) if opts.get('repro_dir') else None
    if repro_dir is not None:
        from hlsdiff.repro.job import check_model, check_out_dir

        check_model(model)
        check_out_dir(repro_dir)
    err = Console(stderr=True, quiet=request.quiet)
    out = Console() if sys.stdout.isatty() else Console(width=200)
    with engine.spill_folder(request) as spill:
        return _compare_and_report(request, repro_dir, err, out, spill)


def _compare_and_report(request: CompareRequest, repro_dir: Path | None, err: Console, out: Console,
                        spill: Path | None) -> int:
    model = request.model
    try:
        with console_progress(err) as progress:
            outcome = engine.compare(request, progress, spill)
    except HlsdiffError as exc:
        if exc.layer and repro_dir is not None:  # a kernel abort: its reproducer, then the error as before
            _repro_for_onset(request, repro_dir, err, None, None, exc)
        if request.reports.json:
            failed = error_result(exc.kind, exc.message, exc.exit_code, str(model), layer=exc.layer,
                                  cause='kernel-abort' if exc.layer else None)
            files.write_json(failed, request.reports.json)
        raise
    result = outcome.result
    if repro_dir is not None:
        note = _repro_for_onset(request, repro_dir, err, result, outcome.collected, None)
        if note:
            result.notes.append(note)
    files.render_terminal(result, out, verbose=request.verbose)
    files.write_all(result, request.reports.as_dict(), outcome.collected)
    if request.reports.wrong:
        _save_wrong(request, result)
    if result.gate == 'stock' and result.error:  # the stock project could not run: say so in one line
        print(f'hlsdiff: error: the stock project failed ({result.error["message"].splitlines()[0]}); '
              'the verdict judges the stock project (--gate patched judges the patched one)', file=sys.stderr)
    return result.exit_code


def _save_wrong(request: CompareRequest, result: CompareResult) -> None:
    """--save-wrong: the input samples on which an output is wrong beyond rounding (docs/gate.md)."""
    from hlsdiff.trace.load import read_data

    wrong = sorted({int(i) for o in result.outputs for i in o.get('wrong_samples') or ()})
    files.save_samples(read_data(request.data), wrong, str(request.reports.wrong))
    print(f'hlsdiff: wrote {len(wrong)} wrong sample(s) to {request.reports.wrong}', file=sys.stderr)


def _repro_for_onset(request: CompareRequest, out: Path, err: Console, result: CompareResult | None,
                     collected: Collected | None, abort: HlsdiffError | None) -> str:
    """`compare --repro DIR`: the reproducer of the onset when hls4ml is at fault; a note saying what
    happened (the compare's own verdict and exit code are not changed by it)."""
    from hlsdiff.repro.job import Compared, check_out_dir, write_repro
    from hlsdiff.repro.target import DEFECT_CAUSES

    onset = (result.onset if result is not None else None) or {}
    if abort is None and onset.get('cause') not in DEFECT_CAUSES:
        return f'--repro: no reproducer written: the onset is not an hls4ml defect (cause {onset.get("cause", "none")})'
    layer = str(abort.layer if abort is not None else onset['layer'])
    try:
        check_out_dir(out)
        written = write_repro(request, layer, out, Compared(result, collected, abort), err)
    except HlsdiffError as exc:
        note = f'--repro: no reproducer written for {layer}: {exc.message}'
    else:
        note = f'--repro: wrote {written.folder} ({written.summary})'
    print(f'hlsdiff: {note}', file=sys.stderr)
    return note


def run_repro(model: str, data: str, layer: str, opts: dict, out_dir: str) -> int:
    """`hlsdiff repro`: the compare (a kernel abort is an answer here), then the reproducer of `layer`."""
    import time

    from hlsdiff.repro.job import Compared, check_model, check_out_dir, write_repro

    out = Path(out_dir)
    check_model(model)
    check_out_dir(out)
    request = CompareRequest.from_options(model, data, opts)
    err = Console(stderr=True, quiet=request.quiet)
    started = time.perf_counter()
    try:
        with console_progress(err) as progress:
            outcome = engine.run_once(request, progress)
        compared = Compared(outcome.result, outcome.collected)
    except SimulationFailed as exc:
        if not exc.layer:
            raise
        if exc.layer != layer:
            raise BadInput(f'the C-simulation aborted in {exc.layer} before {layer} could be compared: '
                           f'reproduce that one (--layer {exc.layer})') from None
        compared = Compared(None, None, exc)
    written = write_repro(request, layer, out, compared, err)
    print(f'hlsdiff: wrote {written.folder} ({written.summary}) in {time.perf_counter() - started:.1f} s')
    return 0


def run_fix(model: str, data: str, opts: dict) -> int:
    """`hlsdiff fix`: the rounds (hlsdiff/fixing/), the compare's reports and fix's own; the exit code (0: the
    written config passes; 1: the gate was not reached). --json is written on every exit code: on bad input or a
    failed conversion or build, with the error."""
    try:
        return _fix_and_report(FixRequest.from_options(model, data, opts)).exit_code
    except HlsdiffError as exc:
        if opts.get('json_path'):
            failed = error_result(exc.kind, exc.message, exc.exit_code, str(model), layer=exc.layer)
            with contextlib.suppress(OSError):  # an unwritable --json is the error itself: said once, by the raise
                files.write_json(failed, opts['json_path'])
        raise


def _fix_and_report(request: FixRequest) -> CompareResult:
    from hlsdiff.fixing.rounds import fix_model
    from hlsdiff.reports import fix_report

    err = Console(stderr=True, quiet=request.compare.quiet)
    result = fix_model(request, fix_progress(err))
    out = Console() if sys.stdout.isatty() else Console(width=200)
    render_fixed(result, out, request.compare.verbose)
    reports = request.compare.reports
    files.write_all(result, reports.as_dict(), None)
    if reports.markdown and result.fix is not None:
        path = Path(reports.markdown)
        path.write_text(path.read_text() + '\n' + fix_report.markdown(result.fix))
    return result


def render_fixed(result: CompareResult, out: Console, verbose: bool) -> None:
    """The final compare and fix's changes, on the terminal."""
    from hlsdiff.reports import fix_report

    files.render_terminal(result, out, verbose=verbose)
    if result.fix is not None:
        fix_report.render(result.fix, out)


def fix_progress(err: Console):
    """fix's progress on stderr: each round's start, each compare's steps (nothing when quiet)."""
    from hlsdiff.fixing.rounds import FixProgress

    return FixProgress(round=lambda number: err.print(f'hlsdiff fix: round {number}', highlight=False),
                       compare=lambda: console_progress(err))


@contextlib.contextmanager
def console_progress(err: Console) -> Iterator[engine.Progress]:
    """Progress on stderr: a spinner on a terminal, one line per step otherwise (nothing when quiet)."""
    status = err.status('starting') if err.is_terminal and not err.quiet else None

    def step(name: str) -> None:
        base, _, label = name.partition(' ')
        text = engine.STEPS.get(base, base) + (f' {label}' if label else '')
        if status:
            status.update(text + '…')
        else:
            err.print(f'hlsdiff: {text}', highlight=False)

    def csim_progress(done: tuple[int, int] | None) -> None:
        if status and done:
            status.update(f'running the C-simulation: sample {done[0]}/{done[1]}')

    if status:
        status.start()
    try:
        yield engine.Progress(step=step, csim=csim_progress)
    finally:
        if status:
            status.stop()


def render_saved(result_json: str, traces_path: str | None, paths: dict, verbose: bool) -> int:
    from hlsdiff.errors import BadInput

    p = Path(result_json)
    if not p.exists():
        raise BadInput(f'result file not found: {p}')
    try:
        result = load(p)
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(f'{p}: not an hlsdiff JSON result ({exc})') from None
    wanted = {k.removesuffix('_path'): v for k, v in paths.items()}
    for key, path in wanted.items():
        check_writable(path, f'--{key.replace("_", "-")}')
    traces = files.load_traces(traces_path) if traces_path else None
    files.render_terminal(result, Console() if sys.stdout.isatty() else Console(width=200), verbose=verbose)
    files.write_all(result, {**wanted, 'traces': None}, traces)
    return result.exit_code if result.exit_code in (0, 1) else 0
