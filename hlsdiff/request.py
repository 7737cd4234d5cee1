"""What a compare is asked to do: one typed request, built in one place from the CLI's or the API's options.

`CompareRequest.from_options` is the only place that knows the options' defaults and names; the
engine (hlsdiff/engine.py) reads nothing else.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hlsdiff import backends
from hlsdiff.cluster import cluster_spec
from hlsdiff.csim.compile import DEFAULT_OPT_LEVEL
from hlsdiff.errors import BadInput
from hlsdiff.fixing.limits import BUDGET, HEADROOM, MAX_ROUNDS, OUTPUT
from hlsdiff.gate import PATTERNS, Gates, parse_limits
from hlsdiff.trace.convert import ConvertOptions, read_config
from hlsdiff.trace.run import RunOptions
from hlsdiff.writable import check_writable

REPORTS = ('json', 'csv', 'csv_channels', 'html', 'junit', 'markdown', 'traces', 'wrong')
CONVERSION_GIVEN = ('io_type', 'backend', 'part', 'strategy', 'reuse_factor', 'precision')


@dataclass(frozen=True)
class ReportPaths:
    """Where each report goes (None: not written)."""

    json: str | None = None
    csv: str | None = None
    csv_channels: str | None = None
    html: str | None = None
    junit: str | None = None
    markdown: str | None = None
    traces: str | None = None
    wrong: str | None = None  # the samples wrong beyond rounding (--save-wrong)

    def check(self) -> None:
        """Every path writable, before any expensive work."""
        flags = {'traces': '--save-traces', 'wrong': '--save-wrong'}
        for key, path in self.as_dict().items():
            check_writable(path, flags.get(key, f'--{key.replace("_", "-")}'))
        if self.wrong and Path(self.wrong).suffix.lower() not in ('.npy', '.npz'):
            raise BadInput(f'--save-wrong {self.wrong}: give a .npy (one model input) or .npz file')

    def as_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CompareRequest:
    """One compare: the model, the data, how to convert, how to build and run, the gates, the reports."""

    model: Any  # a path, or a trace.load.ModelFile (a model object the API was given)
    data: str | os.PathLike | np.ndarray | dict
    convert: ConvertOptions = ConvertOptions()
    run: RunOptions = RunOptions()
    gates: Gates = dataclasses.field(default_factory=Gates)
    reports: ReportPaths = ReportPaths()
    weights: str | None = None
    custom_objects: str | None = None
    patch: bool = False  # also compare with `hlsdiff patch` applied to the project
    gate: Literal['stock', 'patched'] = 'stock'  # with `patch`: the project whose verdict sets the exit code
    headroom: int = HEADROOM  # integer bits above the observed range in the types a hint proposes
    quiet: bool = False
    verbose: bool = False

    @classmethod
    def from_options(cls, model: Any, data: Any, opts: Mapping[str, Any]) -> CompareRequest:
        """The request the CLI's (or the API's) options describe; unknown patterns are bad input."""
        for p in _patterns(opts):
            if p not in PATTERNS:
                raise BadInput(f'--fail-on-pattern {p!r}: unknown pattern (one of {", ".join(PATTERNS)})')
        if opts.get('gate') == 'patched' and not opts.get('apply_patch'):
            raise BadInput('--gate patched judges the project hlsdiff patch repaired: it needs --patch')
        if opts.get('apply_patch'):
            backends.require_patchable(opts.get('backend'))
        return cls(
            model=model,
            data=data,
            convert=conversion_options(opts),
            run=run_options(opts),
            gates=gates(opts),
            reports=ReportPaths(**{k: _text(opts.get(f'{k}_path')) for k in REPORTS}),
            weights=opts.get('weights'),
            custom_objects=opts.get('custom_objects'),
            patch=bool(opts.get('apply_patch')),
            gate=opts.get('gate') or cls.gate,
            headroom=int(opts['headroom']) if opts.get('headroom') is not None else cls.headroom,
            quiet=bool(opts.get('quiet')),
            verbose=bool(opts.get('verbose')),
        )


@dataclass(frozen=True)
class FixRequest:
    """One `hlsdiff fix`: each round's compare, the user's conversion, where the config goes, the rounds' limits."""

    compare: CompareRequest  # each round's compare (granularity name; the round's config replaces the user's)
    initial: ConvertOptions  # the user's conversion: hls4ml's own config for the model, the user's merged in
    output: Path = Path(OUTPUT)
    max_rounds: int = MAX_ROUNDS
    budget: float = BUDGET  # seconds the search by prediction (and --minimize) may spend
    minimize: Literal['widened', 'all'] | None = None
    allow_argmax: bool = False  # the search may pass an output on its argmax alone (no entry point sets it)

    @classmethod
    def from_options(cls, model: Any, data: Any, opts: Mapping[str, Any]) -> FixRequest:
        """The request `hlsdiff fix`'s (or the API's) options describe."""
        rounds = {k: v for k, v in opts.items() if k not in ('config_path', 'precision', 'strategy', 'reuse_factor')}
        return cls(
            compare=CompareRequest.from_options(model, data, {**rounds, 'granularity': 'name'}),
            initial=conversion_options(opts),
            output=Path(opts.get('output') or cls.output),
            max_rounds=int(opts.get('max_rounds') or cls.max_rounds),
            budget=float(opts.get('budget') or cls.budget),
            minimize=opts.get('minimize'),
        )

    def check(self) -> None:
        """The report paths and the config's writable, the rounds at least one: before any work."""
        self.compare.reports.check()
        check_writable(str(self.output), '-o')
        if self.max_rounds < 1:
            raise BadInput(f'--max-rounds must be at least 1, got {self.max_rounds}')


def conversion_options(opts: Mapping[str, Any]) -> ConvertOptions:
    """The conversion the options ask for (one place for its defaults)."""
    config = opts.get('config') or (read_config(opts['config_path']) if opts.get('config_path') else None)
    return ConvertOptions(
        io_type=opts.get('io_type') or ConvertOptions.io_type,
        backend=backends.require(opts.get('backend')),
        strategy=backends.strategy(opts['strategy']) if opts.get('strategy') else None,
        reuse_factor=opts.get('reuse_factor'),
        precision=opts.get('precision'),
        granularity=opts.get('granularity') or ConvertOptions.granularity,
        part=opts.get('part'),
        config=config,
        given=tuple(k for k in CONVERSION_GIVEN if opts.get(k)),
    )


def run_options(opts: Mapping[str, Any]) -> RunOptions:
    return RunOptions(
        samples=opts.get('samples'),
        project_dir=_path(opts.get('project_dir')),
        output_dir=_path(opts.get('output_dir')),
        opt_level=opts.get('opt_level') or DEFAULT_OPT_LEVEL,
        cache_dir=_path(opts.get('cache_dir')),
        use_cache=not opts.get('no_cache'),
        timeout=opts.get('timeout'),
        plain_build=bool(opts.get('plain_build')),
        chunk=int(opts.get('chunk') or 128),
        cluster=cluster_spec(opts.get('workers'), opts.get('scheduler')),
    )


def gates(opts: Mapping[str, Any]) -> Gates:
    return Gates(
        max_error=limits(opts.get('max_error'), '--max-error'),
        max_lsb=limits(opts.get('max_lsb'), '--max-lsb'),
        fail_on_pattern=_patterns(opts),
        max_mismatched_fraction=opts.get('max_mismatched_fraction'),
        min_agreement=opts.get('min_agreement'),
        classifiers=tuple(opts.get('classifier') or ()),
    )


def limits(value: Any, option: str) -> dict[str, float]:
    """A gate's limits as the CLI gives them (`('0.1', 'dense:0.5')`) or the API does (a number, or
    `{'': 0.1, 'dense': 0.5}`): {layer ('' for every layer): limit}."""
    if isinstance(value, Mapping):
        given = [(str(name), number) for name, number in value.items()]
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        given = [('', value)]
    else:
        return parse_limits(tuple(value or ()), option)
    out: dict[str, float] = {}
    for name, number in given:
        try:
            out[name] = float(number)
        except (TypeError, ValueError):
            raise BadInput(f'{option} takes a number or {{layer: number}}, got {number!r}') from None
        if out[name] < 0:
            raise BadInput(f'{option} must not be negative, got {number!r}')
    return out


def _patterns(opts: Mapping[str, Any]) -> tuple[str, ...]:
    """--fail-on-pattern's patterns (the API may give one as a string)."""
    value = opts.get('fail_on_pattern') or ()
    return (value,) if isinstance(value, str) else tuple(value)


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


def _text(value: Any) -> str | None:
    return str(value) if value else None
