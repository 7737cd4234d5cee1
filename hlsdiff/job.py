"""The compare job as the CLI runs it: options in, reports out, an exit code back."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from hlsdiff import engine
from hlsdiff.errors import HlsdiffError
from hlsdiff.reports import files
from hlsdiff.request import CompareRequest
from hlsdiff.result import error_result, load
from hlsdiff.writable import check_writable


def check_paths(opts: dict) -> dict:
    """The report paths, each checked for writability before any work."""
    reports = CompareRequest.from_options(None, None, {**opts, 'config': {}, 'config_path': None}).reports
    reports.check()
    return reports.as_dict()


def run_compare(model: str, data: str, opts: dict) -> int:
    """`hlsdiff compare`: the request the options describe, the engine, the reports; the exit code."""
    request = CompareRequest.from_options(model, data, opts)
    request.reports.check()
    err = Console(stderr=True, quiet=request.quiet)
    out = Console() if sys.stdout.isatty() else Console(width=200)
    try:
        with console_progress(err) as progress:
            outcome = engine.compare(request, progress)
    except HlsdiffError as exc:
        if request.reports.json:
            failed = error_result(exc.kind, exc.message, exc.exit_code, str(model), layer=exc.layer,
                                  cause='kernel-abort' if exc.layer else None)
            files.write_json(failed, request.reports.json)
        raise
    files.render_terminal(outcome.result, out, verbose=request.verbose)
    files.write_all(outcome.result, request.reports.as_dict(), outcome.collected)
    return outcome.result.exit_code


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
