"""The compare job as the CLI runs it: options in, reports out, an exit code back."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from rich.console import Console

from hlsdiff._version import __version__
from hlsdiff.errors import BadInput, HlsdiffError
from hlsdiff.gate import Gates, apply, judge_patched, parse_limits
from hlsdiff.reports import files
from hlsdiff.result import error_result, load
from hlsdiff.writable import check_writable

STEPS = {'load': 'loading model and data', 'convert': 'converting with hls4ml (tracing every layer)',
         'build': 'building the C-simulation library', 'csim': 'running the C-simulation',
         'keras': 'running Keras'}


def _gates(opts: dict) -> Gates:
    return Gates(
        max_error=parse_limits(opts.get('max_error') or (), '--max-error'),
        max_lsb=parse_limits(opts.get('max_lsb') or (), '--max-lsb'),
        fail_on_pattern=tuple(opts.get('fail_on_pattern') or ()),
        max_mismatched_fraction=opts.get('max_mismatched_fraction'),
        min_agreement=opts.get('min_agreement'),
    )


def _report_paths(opts: dict) -> dict:
    return {k: opts.get(f'{k}_path') for k in ('json', 'csv', 'csv_channels', 'html', 'junit', 'markdown', 'traces')}


def check_paths(opts: dict) -> dict:
    """The report paths, each checked for writability before any work."""
    paths = _report_paths(opts)
    for key, path in paths.items():
        check_writable(path, f'--{key.replace("_", "-")}' if key != 'traces' else '--save-traces')
    return paths


def run_compare(model: str, data: str, opts: dict) -> int:
    from hlsdiff.gate import PATTERNS

    err = Console(stderr=True, quiet=bool(opts.get('quiet')))
    out = Console() if sys.stdout.isatty() else Console(width=200)
    paths = check_paths(opts)
    if opts.get('repro_dir'):
        from hlsdiff.repro.job import check_out_dir

        check_out_dir(Path(opts['repro_dir']))
    for p in opts.get('fail_on_pattern') or ():
        if p not in PATTERNS:
            raise HlsdiffError(f'--fail-on-pattern {p!r}: unknown pattern (one of {", ".join(PATTERNS)})')
    gates = _gates(opts)
    if opts.get('gate') == 'patched' and not opts.get('apply_patch'):
        raise BadInput('--gate patched judges the project hlsdiff patch repaired: it needs --patch')
    spill = None
    if paths.get('traces'):  # many samples stream: their arrays go to disk, then into the .npz
        import tempfile

        spill = Path(tempfile.mkdtemp(prefix=f'hlsdiff-{os.getpid()}-traces-'))
        opts = {**opts, '_spill': str(spill / 'arrays')}
    try:
        return _run_compare(model, data, opts, err, out, paths, gates)
    finally:
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)


def _run_compare(model, data, opts, err, out, paths, gates) -> int:
    try:
        if opts.get('apply_patch'):
            result, collected = _compare_with_patch(model, data, opts, err, gates)
        else:
            result, collected = _compare_once(model, data, opts, err)
    except HlsdiffError as exc:
        if exc.layer and opts.get('repro_dir'):  # a kernel abort: its reproducer, then the error as before
            _repro_for_onset(model, data, opts, err, None, None, exc)
        if paths['json']:
            failed = error_result(exc.kind, exc.message, exc.exit_code, model)
            if exc.layer:
                failed.error.update(layer=exc.layer, cause='kernel-abort')
            files.write_json(failed, paths['json'])
        raise
    if not result.error:
        for warning in apply(result, gates):
            result.notes.append(warning)
    judge_patched(result, opts.get('gate') or 'stock')
    if opts.get('repro_dir'):
        note = _repro_for_onset(model, data, opts, err, result, collected, None)
        if note:
            result.notes.append(note)
    files.render_terminal(result, out, verbose=bool(opts.get('verbose')))
    files.write_all(result, paths, collected)
    if result.gate == 'stock' and result.error:  # the stock project could not run: say so in one line
        print(f'hlsdiff: error: the stock project failed ({result.error["message"].splitlines()[0]}); '
              'the verdict judges the stock project (--gate patched judges the patched one)', file=sys.stderr)
    return result.exit_code


def _compare_with_patch(model, data, opts, err: Console, gates: Gates):
    """The stock project and the patched one, side by side (`judge_patched` decides which one gates)."""
    from hlsdiff.errors import SimulationFailed

    try:
        result, _ = _compare_once(model, data, opts, err)
    except SimulationFailed as exc:  # e.g. the stock depthwise kernel asserts: show it, then patch
        result = error_result(exc.kind, exc.message, exc.exit_code, model)
        result.error.update(layer=exc.layer, cause='kernel-abort')
    patched, collected = _compare_once(model, data, opts, err, patched=True)
    apply(patched, gates)
    result.patched = patched
    return result, collected


def _repro_for_onset(model, data, opts, err: Console, result, collected, abort) -> str:
    """`compare --repro DIR`: the reproducer of the onset when hls4ml is at fault; a note saying what
    happened (the compare's own verdict and exit code are not changed by it)."""
    from hlsdiff.repro.job import Compared, check_out_dir, write_repro
    from hlsdiff.repro.target import DEFECT_CAUSES

    out = Path(opts['repro_dir'])
    if abort is None and (result is None or not result.onset or result.onset.get('cause') not in DEFECT_CAUSES):
        cause = result.onset.get('cause') if result is not None and result.onset else 'none'
        return f'--repro: no reproducer written: the onset is not an hls4ml defect (cause {cause})'
    layer = abort.layer if abort is not None else result.onset['layer']
    try:
        check_out_dir(out)
        written = write_repro(model, data, layer, opts, out, Compared(result, collected, abort), err,
                              conversion_options(opts))
    except HlsdiffError as exc:
        note = f'--repro: no reproducer written for {layer}: {exc.message}'
    else:
        note = f'--repro: wrote {written.folder} ({written.summary})'
    print(f'hlsdiff: {note}', file=sys.stderr)
    return note


def run_repro(model: str, data: str, layer: str, opts: dict, out_dir: str) -> int:
    """`hlsdiff repro`: the compare (a kernel abort is an answer here), then the reproducer of `layer`."""
    import time

    from hlsdiff.errors import SimulationFailed
    from hlsdiff.repro.job import Compared, check_out_dir, write_repro

    out = Path(out_dir)
    check_out_dir(out)
    err = Console(stderr=True, quiet=bool(opts.get('quiet')))
    started = time.perf_counter()
    try:
        compared = Compared(*_compare_once(model, data, opts, err))
    except SimulationFailed as exc:
        if not exc.layer:
            raise
        if exc.layer != layer:
            raise BadInput(f'the C-simulation aborted in {exc.layer} before {layer} could be compared: '
                           f'reproduce that one (--layer {exc.layer})') from None
        compared = Compared(None, None, exc)
    written = write_repro(model, data, layer, opts, out, compared, err, conversion_options(opts))
    print(f'hlsdiff: wrote {written.folder} ({written.summary}) in {time.perf_counter() - started:.1f} s')
    return 0


def conversion_options(opts: dict):
    """The conversion the options ask for (one place for its defaults)."""
    from hlsdiff.trace.convert import ConvertOptions, read_config

    config = opts.get('config') or (read_config(opts['config_path']) if opts.get('config_path') else None)
    return ConvertOptions(
        io_type=opts.get('io_type') or 'io_parallel',
        backend=opts.get('backend') or 'Vivado',
        strategy=opts['strategy'].capitalize() if opts.get('strategy') else None,
        reuse_factor=opts.get('reuse_factor'),
        precision=opts.get('precision'),
        granularity=opts.get('granularity') or 'name',
        part=opts.get('part'),
        config=config,
        given=tuple(k for k in ('io_type', 'backend', 'part', 'strategy', 'reuse_factor', 'precision') if opts.get(k)),
    )


def _compare_once(model, data, opts, err: Console, patched: bool = False):
    from hlsdiff.csim import compile as build_mod
    from hlsdiff.diagnosis import analyse
    from hlsdiff.trace.pipeline import Progress, RunOptions, collect

    conv = conversion_options(opts)
    prepare = None
    if patched:
        from hlsdiff.cpp.patcher import patch_for_compare

        prepare = patch_for_compare
    run = RunOptions(
        samples=opts.get('samples'),
        project_dir=Path(opts['project_dir']) if opts.get('project_dir') else None,
        output_dir=Path(opts['output_dir']) if opts.get('output_dir') and not patched else None,
        opt_level=opts.get('opt_level') or build_mod.DEFAULT_OPT_LEVEL,
        cache_dir=Path(opts['cache_dir']) if opts.get('cache_dir') else None,
        use_cache=not opts.get('no_cache'),
        timeout=opts.get('timeout'),
        prepare_project=prepare,
        plain_build=bool(opts.get('plain_build')),
        chunk=int(opts.get('chunk') or 128),
        spill=Path(opts['_spill'] + ('-patched' if patched else '')) if opts.get('_spill') else None,
    )
    label = ' (patched)' if patched else ''
    status = err.status('starting') if err.is_terminal and not err.quiet else None
    if status:
        status.start()

    def step(name: str) -> None:
        text = STEPS.get(name, name) + label
        if status:
            status.update(text + '…')
        else:
            err.print(f'hlsdiff: {text}', highlight=False)

    def csim_progress(done):
        if status and done:
            status.update(f'running the C-simulation{label}: sample {done[0]}/{done[1]}')

    from hlsdiff.trace.load import check_model_path

    source = check_model_path(model, opts.get('weights'), opts.get('custom_objects'))
    try:
        collected = collect(source, data, conv, run, Progress(step=step, csim=csim_progress))
    finally:
        if status:
            status.stop()
    result = analyse(collected, headroom=int(opts.get('headroom') or 1))
    result.hlsdiff_version = __version__
    result.hls4ml_version = _hls4ml_version()
    return result, collected


def _hls4ml_version() -> str:
    try:
        from importlib.metadata import version

        return version('hls4ml')
    except Exception:
        return 'unknown'


def render_saved(result_json: str, traces_path: str | None, paths: dict, verbose: bool) -> int:
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
