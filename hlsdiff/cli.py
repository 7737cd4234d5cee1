"""The hlsdiff command line: parse, call the core, map errors to exit codes.

TensorFlow and hls4ml are imported inside the commands that need them, so `hlsdiff --help`
answers at once.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import click

from hlsdiff import backends
from hlsdiff._version import __version__
from hlsdiff.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, BadInput, HlsdiffError
from hlsdiff.fixing import limits

IO_TYPES = ('io_parallel', 'io_stream')
GRANULARITIES = ('model', 'type', 'name')


class Failure(click.ClickException):
    """One line on stderr, then the detail, with its exit code (docs/exit-codes.md)."""

    def __init__(self, message: str, code: int, detail: str = ''):
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click's class attribute, set per instance
        self.detail = detail

    def show(self, file=None) -> None:
        file = file or sys.stderr
        click.echo(f'hlsdiff: error: {self.message}', err=True)
        if self.detail:
            click.echo(self.detail, err=True)


def _handle_errors(fn):
    """Turn HlsdiffError into one clear line and its exit code; a signal into 130/143; anything else
    into exit 4 (a bug in hlsdiff)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from hlsdiff.csim import processes as children

        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get('debug') or ctx.meta.get(_DEBUG_KEY))
        previous = children.install_handlers()
        try:
            return fn(*args, **kwargs)
        except children.Interrupted as exc:
            raise Failure(exc.message, exc.exit_code) from None
        except HlsdiffError as exc:
            if (signum := children.received()) is not None:  # a step that failed because the run was being stopped
                raise Failure(children.stopped_message(signum), children.exit_code(signum)) from None
            if debug:
                traceback.print_exc()
            raise Failure(exc.message, exc.exit_code, exc.detail) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            children.kill_all()
            raise Failure('interrupted', children.EXIT_SIGINT) from None
        except Exception as exc:  # a bug of hlsdiff's: still one line, and its own exit code
            if (signum := children.received()) is not None:  # a library wrapped the stop in an exception of its own
                raise Failure(children.stopped_message(signum), children.exit_code(signum)) from None
            if debug:
                traceback.print_exc()
            raise Failure(f'internal error (a bug in hlsdiff, please report it): {type(exc).__name__}: {exc} '
                          '(run with --debug for the traceback)', EXIT_INTERNAL) from None
        finally:
            children.restore_handlers(previous)

    return wrapper


_DEBUG_KEY = 'hlsdiff.debug'


def _debug_option() -> click.Option:
    """`--debug` after the subcommand too (`hlsdiff repro ... --debug`), as the error lines suggest it."""

    def remember(ctx: click.Context, _param, value: bool) -> None:
        if value:
            ctx.meta[_DEBUG_KEY] = True

    return click.Option(['--debug'], is_flag=True, expose_value=False, callback=remember,
                        help='Show Python tracebacks on errors.')


class _Group(click.Group):
    """The command group: every subcommand also takes `--debug`."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any('--debug' in p.opts for p in cmd.params):
            cmd.params.append(_debug_option())
        super().add_command(cmd, name)


@click.group(cls=_Group, context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(__version__, prog_name='hlsdiff')
@click.option('--debug', is_flag=True, help='Show Python tracebacks on errors.')
def main(debug: bool) -> None:
    """Find where and why the hls4ml C-simulation disagrees with the ML framework (Keras, PyTorch, ONNX)."""


def _available_backend(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A backend this machine can build, before any work: one line and exit 2 otherwise."""
    if value is None:
        return None
    try:
        return backends.require(value)
    except BadInput as exc:
        raise Failure(exc.message, EXIT_BAD_INPUT) from None


def _backend_options() -> list:
    """--backend and --strategy, from the one table of hlsdiff/backends.py."""
    return [click.option('--backend', type=click.Choice(backends.NAMES, case_sensitive=False), default=None,
                         callback=_available_backend, help='hls4ml backend [Vivado] (docs/backends.md).'),
            click.option('--strategy', type=click.Choice(backends.STRATEGIES, case_sensitive=False),
                         help='Model-level Strategy (distributed_arithmetic: with da4ml, docs/backends.md).')]


def cluster_options(fn):
    """--workers and --scheduler (`sweep`: its points; `compare`: its samples' C-simulation), ending in the
    request's ClusterSpec (hlsdiff/cluster.py)."""
    fn = click.option('--scheduler', help='Address of an existing Dask scheduler to run on (docs/sweep.md).')(fn)
    return click.option('--workers', type=click.IntRange(min=1),
                        help='Worker processes of a local Dask cluster (sweep: its points [the cores]; compare: '
                             'the samples\' C-simulation [none: this process]).')(fn)


def conversion_options(fn):
    """Options shared by `compare` and `demo`."""
    options = [
        click.option('--weights', type=click.Path(dir_okay=False),
                     help='Weights .h5 of a .json architecture [<stem>_weights.h5 beside it].'),
        click.option('--custom-objects', help='FILE.py or module:attr with a custom_objects dict (and any '
                                              'hls4ml extension it registers); for PyTorch the file defining '
                                              'the model class (FILE.py:Class for a state_dict).'),
        click.option('--config', 'config_path', type=click.Path(dir_okay=False), help='hls4ml config (YAML/JSON) to merge.'),
        click.option('--io-type', type=click.Choice(IO_TYPES), default=None, help='hls4ml IOType [io_parallel].'),
        *_backend_options(),
        click.option('--reuse-factor', type=click.IntRange(min=1), help='Model-level ReuseFactor.'),
        click.option('--precision', help="Default precision, e.g. 'ap_fixed<16,6>'."),
        click.option('--granularity', type=click.Choice(GRANULARITIES), default='name', show_default=True,
                     help='Granularity of the generated hls4ml config.'),
        click.option('--part', help='FPGA part for the project.'),
        click.option('--samples', type=int, help='Use only the first N samples.'),
        click.option('--output-dir', type=click.Path(file_okay=False), help='Keep the generated project here.'),
        click.option('--project', 'project_dir', type=click.Path(), help='Use this generated project as it is.'),
        click.option('--patch', 'apply_patch', is_flag=True, help='Also compare with `hlsdiff patch` applied.'),
        click.option('--gate', type=click.Choice(('stock', 'patched')), default=None,
                     help='With --patch: the project whose verdict sets the exit code [stock].'),
        click.option('--opt-level', type=click.Choice(('auto', '0', 'g', '1', '2', '3', 's')), default=None,
                     help='g++ level of the C-simulation library [auto: -Og; -O1 for many samples; '
                          'an existing build at another level is reused].'),
        click.option('--cache-dir', type=click.Path(file_okay=False), help='Build cache [$XDG_CACHE_HOME/hlsdiff].'),
        click.option('--no-cache', is_flag=True, help='Build afresh and do not keep the library.'),
        click.option('--plain-build', is_flag=True,
                     help='Compile the two translation units as hls4ml writes them (no split top unit, '
                          'no precompiled header); slower, for when you suspect the build itself.'),
        click.option('--chunk', type=click.IntRange(min=8), default=None,
                     help='Samples held in memory at once [128]; more stream through in chunks.'),
        click.option('--timeout', type=click.FloatRange(min=0.1), help='Stop a C-simulation that runs longer (s).'),
        click.option('--max-error', multiple=True, help='Gate: max abs error, NUMBER or LAYER:NUMBER (repeatable).'),
        click.option('--max-lsb', multiple=True, help='Gate: max error in LSBs of the result type, NUMBER or LAYER:NUMBER.'),
        click.option('--fail-on-pattern', multiple=True, help='Gate: fail when a layer shows this pattern.'),
        click.option('--max-mismatched-fraction', type=click.FloatRange(0, 1), help='Gate: max share of mismatched elements.'),
        click.option('--min-agreement', type=click.FloatRange(0, 1),
                     help='Gate: min share of samples whose top-1 prediction matches Keras, on every classifier '
                          'output [0.99].'),
        click.option('--classifier', multiple=True,
                     help='Gate: this output is a classifier (top-1 checked) though not recognised as one; '
                          '`none`: no output is (repeatable).'),
        click.option('--json', 'json_path', type=click.Path(dir_okay=False), help='Write the JSON report.'),
        click.option('--csv', 'csv_path', type=click.Path(dir_okay=False), help='Write one CSV row per layer.'),
        click.option('--csv-channels', 'csv_channels_path', type=click.Path(dir_okay=False),
                     help='Write one CSV row per layer and channel.'),
        click.option('--html', 'html_path', type=click.Path(dir_okay=False), help='Write a self-contained HTML report.'),
        click.option('--junit', 'junit_path', type=click.Path(dir_okay=False), help='Write a JUnit XML report.'),
        click.option('--markdown', 'markdown_path', type=click.Path(dir_okay=False), help='Write a Markdown summary.'),
        click.option('--save-traces', 'traces_path', type=click.Path(dir_okay=False), help='Save both sides\' arrays (.npz).'),
        click.option('--save-wrong', 'wrong_path', type=click.Path(dir_okay=False),
                     help='Save the input samples wrong beyond rounding (.npy, or .npz by input name).'),
        click.option('-q', '--quiet', is_flag=True, help='No progress on stderr.'),
        click.option('-v', '--verbose', is_flag=True, help='Show timings.'),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@main.command()
@click.argument('model', type=click.Path())
@click.argument('data', type=click.Path())
@conversion_options
@cluster_options
@click.option('--repro', 'repro_dir', type=click.Path(file_okay=False),
              help='When the onset is an hls4ml defect (kernel, generator, abort), write a minimal reproducer here.')
@_handle_errors
def compare(model, data, **opts):
    """Compare MODEL (Keras .h5/.keras/.json+weights/SavedModel, PyTorch .pt2/.pt, ONNX .onnx) with its hls4ml
    C-simulation on DATA (.npy/.npz)."""
    from hlsdiff.frontends.stacks import maybe_rerun
    from hlsdiff.job import run_compare

    maybe_rerun(model)  # a model the other environment loads: the same command there

    code = run_compare(model, data, opts)
    sys.exit(code)


@main.command()
@click.argument('model', type=click.Path())
@click.argument('data', type=click.Path())
@conversion_options
@click.option('-o', '--output', type=click.Path(dir_okay=False), default=limits.OUTPUT, show_default=True,
              help='Where to write the fixed hls4ml config (YAML; an existing file is kept as FILE.bak).')
@click.option('--max-rounds', type=click.IntRange(min=1), default=limits.MAX_ROUNDS, show_default=True,
              help='Rounds of compare -> change -> rebuild at most.')
@click.option('--headroom', type=click.IntRange(min=0), default=limits.HEADROOM, show_default=True,
              help='Integer bits above the observed range in the types it computes.')
@click.option('--minimize', type=click.Choice(('widened', 'all')), default=None,
              help='Afterwards shrink the widened types (or every layer\'s) while the gate holds.')
@click.option('--budget', type=click.FloatRange(min=1), default=limits.BUDGET, show_default=True,
              help='Seconds the search by prediction (and --minimize) may spend.')
@_handle_errors
def fix(model, data, **opts):
    """Find the hls4ml config changes that make MODEL pass the gate on DATA, verify them, write the config."""
    from hlsdiff.frontends.stacks import maybe_rerun
    from hlsdiff.job import run_fix

    maybe_rerun(model)
    if opts.get('project_dir') or opts.get('apply_patch') or opts.get('gate'):
        raise BadInput('fix converts the model itself: --project, --patch and --gate do not apply')
    sys.exit(run_fix(model, data, opts))


@main.command()
@click.argument('model', type=click.Path())
@click.argument('data', type=click.Path())
@click.option('--layer', required=True, help='The layer to reproduce (hls4ml or framework name; e.g. the onset).')
@click.option('-o', '--output', 'out_dir', required=True, type=click.Path(file_okay=False),
              help='Folder to write (a non-empty one is moved aside to DIR.bakN first).')
@conversion_options
@_handle_errors
def repro(model, data, layer, out_dir, **opts):
    """Write a minimal hls4ml bug report for LAYER's defect: model, data, config, repro.py, ISSUE.md."""
    from hlsdiff.frontends.stacks import maybe_rerun
    from hlsdiff.job import run_repro

    maybe_rerun(model)  # a model the other environment loads: the same command there, as compare does
    if opts.get('apply_patch') or opts.get('gate'):
        raise BadInput('repro reproduces what hls4ml writes: --patch and --gate do not apply')
    sys.exit(run_repro(model, data, layer, opts, out_dir))


@main.command()
@click.argument('model', type=click.Path())
@click.argument('data', type=click.Path())
@click.option('--grid', required=True, type=click.Path(dir_okay=False),
              help='YAML: names -> lists of values (precision, io_type, strategy, reuse_factor, LayerName.<layer>.<key>, '
                   'Model.<key>); the sweep is their product.')
@click.option('--labels', type=click.Path(dir_okay=False), help='Class labels (.npy, (N,) or one-hot): accuracy and AUC.')
@click.option('--confirm', type=click.IntRange(min=0), default=1, show_default=True,
              help='Confirm the best K points of the Pareto front with the C-simulation.')
@cluster_options
@click.option('-o', '--output', 'out_dir', required=True, type=click.Path(file_okay=False),
              help='Folder of the results (points are kept there: a re-run resumes).')
@conversion_options
@_handle_errors
def sweep(model, data, **opts):
    """Predict MODEL on DATA for every point of a grid of hls4ml configs, mark the Pareto front, confirm it."""
    from hlsdiff.frontends.stacks import maybe_rerun
    from hlsdiff.sweep.command import run_sweep_command

    maybe_rerun(model)  # a model the other environment loads: the same command there (its workers too)
    sys.exit(run_sweep_command(model, data, opts))


@main.command()
@conversion_options
@_handle_errors
def demo(**opts):
    """Compare the bundled #1472-shaped model end to end (exit 0 when the demo ran)."""
    from hlsdiff.demo import demo_paths
    from hlsdiff.job import run_compare

    model, data, defaults = demo_paths()
    for key, value in defaults.items():
        if opts.get(key) in (None, ()):
            opts[key] = value
    code = run_compare(str(model), str(data), opts)
    sys.exit(EXIT_OK if code in (0, 1) else code)


@main.command()
@click.argument('result_json', type=click.Path())
@click.option('--traces', 'traces_path', type=click.Path(dir_okay=False), help='Arrays saved by --save-traces.')
@click.option('--json', 'json_path', type=click.Path(dir_okay=False))
@click.option('--csv', 'csv_path', type=click.Path(dir_okay=False))
@click.option('--csv-channels', 'csv_channels_path', type=click.Path(dir_okay=False))
@click.option('--html', 'html_path', type=click.Path(dir_okay=False))
@click.option('--junit', 'junit_path', type=click.Path(dir_okay=False))
@click.option('--markdown', 'markdown_path', type=click.Path(dir_okay=False))
@click.option('-v', '--verbose', is_flag=True)
@_handle_errors
def report(result_json, traces_path, verbose, **paths):
    """Re-render a saved JSON result without converting or building anything."""
    from hlsdiff.job import render_saved

    sys.exit(render_saved(result_json, traces_path, paths, verbose))


@main.command()
@click.argument('project_dir', type=click.Path())
@click.option('--check', 'mode', flag_value='check', help='Say what would change; change nothing (exit 1 if something would).')
@click.option('--diff', 'mode', flag_value='diff', help='Show the unified diff that would be applied.')
@click.option('--revert', 'mode', flag_value='revert', help='Restore the original files from the backup.')
@click.option('--no-build', is_flag=True, help='Do not rebuild the C-simulation library.')
@click.option('--force', is_flag=True, help='--revert even files edited since the patch (their edits are lost).')
@_handle_errors
def patch(project_dir, mode, no_build, force):
    """Write hlsdiff's corrected depthwise kernels into an hls4ml project."""
    from hlsdiff.cpp.patcher import run_patch_command

    sys.exit(run_patch_command(Path(project_dir), mode or 'write', build=not no_build, force=force))


@main.command()
@click.option('--cache-dir', type=click.Path(file_okay=False))
@click.option('--clear', is_flag=True, help='Remove every cached library, precompiled header and conversion.')
@_handle_errors
def cache(cache_dir, clear):
    """Show (or --clear) the cache of built C-simulation libraries and precompiled headers."""
    from hlsdiff.csim import processes as children
    from hlsdiff.csim.compile import cache_usage, clear_cache, default_cache_dir

    where = Path(cache_dir) if cache_dir else default_cache_dir()
    if clear:
        left = children.leftovers(where)
        click.echo(f'removed {clear_cache(where)} cached libraries from {where}'
                   + (f', and {len(left)} folder(s) left by stopped runs' if left else ''))
    else:
        libs, headers, size = cache_usage(where)
        left = children.leftovers(where)
        click.echo(f'{where}: {libs} libraries, {headers} precompiled headers, {size / 1e6:.1f} MB')
        if left:
            total = sum(children.folder_size(p) if p.is_dir() else p.stat().st_size for p in left)
            click.echo(f'left by runs that were killed: {len(left)} folder(s), {total / 1e6:.1f} MB '
                       '(removed by the next compare or `hlsdiff cache --clear`)')


def entry() -> None:
    """The `hlsdiff` console script. Once TensorFlow is loaded, interpreter teardown takes ~2 s
    (its atexit handlers and threads); every report is written and closed by then, so the
    process flushes its streams and leaves at once."""
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if 'tensorflow' in sys.modules:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


__all__ = ['main', 'entry', 'EXIT_BAD_INPUT']
