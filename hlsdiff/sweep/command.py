"""The `hlsdiff sweep` command's side: the options turned into a typed request, a rich progress bar on
stderr (points done, per second, time left), a summary on stdout, the exit code."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hlsdiff.errors import BadInput
from hlsdiff.sweep.engine import SweepResult, run_sweep
from hlsdiff.sweep.grid import read_grid
from hlsdiff.sweep.run import SweepProgress, SweepRequest

# options of `compare` that do not apply to a sweep (it converts every point itself and has no gate)
NOT_FOR_SWEEP = {'project_dir': '--project', 'apply_patch': '--patch', 'gate': '--gate', 'output_dir': '--output-dir',
                 'json_path': '--json', 'csv_path': '--csv', 'csv_channels_path': '--csv-channels',
                 'html_path': '--html', 'junit_path': '--junit', 'markdown_path': '--markdown',
                 'traces_path': '--save-traces', 'max_error': '--max-error', 'max_lsb': '--max-lsb',
                 'fail_on_pattern': '--fail-on-pattern', 'max_mismatched_fraction': '--max-mismatched-fraction',
                 'min_agreement': '--min-agreement', 'classifier': '--classifier', 'wrong_path': '--save-wrong'}


def request_from_options(model: str, data: str, opts: dict) -> SweepRequest:
    """The sweep the command line describes; options that do not apply and a bad grid are bad input."""
    from hlsdiff.request import CompareRequest

    given = [flag for key, flag in NOT_FOR_SWEEP.items() if opts.get(key) not in (None, (), False)]
    if given:
        raise BadInput(f'sweep converts every point itself and has no gate: {", ".join(given)} do(es) not apply')
    grid = read_grid(opts['grid'])
    out_dir = Path(opts['out_dir'])
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f'-o {out_dir}: not a folder')
    compare = CompareRequest.from_options(model, data, {**opts, 'granularity': 'name', 'quiet': True})
    return SweepRequest(compare, grid, out_dir, opts.get('labels'), int(opts.get('confirm') or 0), compare.run.cluster)


def run_sweep_command(model: str, data: str, opts: dict) -> int:
    """`hlsdiff sweep`: 0 done, 1 a confirmed point disagrees with its prediction (an emulation bug)."""
    request = request_from_options(model, data, opts)
    err = Console(stderr=True, quiet=bool(opts.get('quiet')))
    with progress_bar(err) as progress:
        result = run_sweep(request, progress)
    render_summary(result, request.out_dir, Console() if sys.stdout.isatty() else Console(width=200))
    for bug in result.emulation_bugs:
        print(f'hlsdiff: emulation bug: {bug}', file=sys.stderr)
    return 1 if result.emulation_bugs else 0


@contextlib.contextmanager
def progress_bar(err: Console) -> Iterator[SweepProgress]:
    """Points done of all, points per second, time left; the steps around them as lines above the bar."""
    bar = Progress(TextColumn('{task.description}'), BarColumn(), MofNCompleteColumn(),
                   TextColumn('{task.fields[rate]}'), TimeRemainingColumn(), console=err, transient=False)
    state: dict = {}

    def start(total: int, reused: int) -> None:
        state['task'] = bar.add_task('points', total=total, completed=reused, rate='')
        state['fresh'] = 0

    def point(result) -> None:
        state['fresh'] += 1
        task = bar.tasks[state['task']]
        elapsed = task.elapsed or 0.0
        bar.update(state['task'], advance=1, rate=f'{state["fresh"] / elapsed:.2f} points/s' if elapsed > 0 else '')

    def phase(text: str) -> None:
        bar.console.print(f'hlsdiff sweep: {text}', highlight=False)

    with bar:
        yield SweepProgress(start, point, phase)


def render_summary(result: SweepResult, out_dir: Path, out: Console) -> None:
    s = result.summary
    out.print(f'hlsdiff sweep: {s["points"]} points ({s["predicted"]} predicted, {s["reused"]} reused, '
              f'{s["csim_fallback"]} measured by the C-simulation, {s["failed"]} failed) in {s["seconds"]} s; '
              f'front: {", ".join(str(p) for p in s["front"])}; results in {out_dir}', highlight=False)
    for c in s['confirmed']:
        mark = 'EMULATION BUG' if c['emulation_bug'] else 'equal'
        out.print(f'  point {c["point"]} confirmed: predicted {_fmt(c["predicted"])}, measured {_fmt(c["measured"])} '
                  f'({mark})', highlight=False)


def _fmt(figures: dict) -> str:
    return ', '.join(f'{k} {v:.6g}' for k, v in figures.items())
