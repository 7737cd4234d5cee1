"""The grid of a sweep: names mapped to lists of values, its points their product.

A name is one of the options `compare` takes (`precision`, `io_type`, `strategy`, `reuse_factor`) or an hls4ml
config key written as the hints write it: `LayerName.<layer>.<key>` (`LayerName.fc1.Precision.weight`,
`LayerName.out_softmax.TableSize`) or `Model.<key>` (`Model.Strategy`, `Model.Precision`). Every name and
value is checked here, before any work: a bad one is one line (`BadInput`, exit 2).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hlsdiff import backends
from hlsdiff.errors import BadInput
from hlsdiff.remedy import TYPEDEF_OF, Remedy, put
from hlsdiff.trace.convert import ConvertOptions

OPTIONS = ('precision', 'io_type', 'strategy', 'reuse_factor')
IO_TYPES = ('io_parallel', 'io_stream')
IMPLEMENTATIONS = ('stable', 'latency', 'legacy', 'argmax')
# the keys of a LayerName / Model entry a grid may set, and the kind of value each takes
LAYER_KEYS = {'Precision': 'precision', 'ReuseFactor': 'count', 'Strategy': 'strategy', 'TableSize': 'count',
              'Implementation': 'implementation'}
MODEL_KEYS = {'Precision': 'precision', 'ReuseFactor': 'count', 'Strategy': 'strategy', 'BramFactor': 'count'}
OPTION_KINDS = {'precision': 'precision', 'io_type': 'io_type', 'strategy': 'strategy', 'reuse_factor': 'count'}


@dataclass(frozen=True)
class Point:
    """One point of the grid: its index in the grid's order and its value of every name."""

    index: int
    values: tuple[tuple[str, Any], ...]

    def value(self, name: str) -> Any:
        return dict(self.values).get(name)

    def label(self) -> str:
        return ', '.join(f'{k}={v}' for k, v in self.values)

    def convert_options(self, base: ConvertOptions) -> ConvertOptions:
        """The conversion this point asks for: the grid's options over the user's."""
        given = {k: v for k, v in self.values if k in OPTIONS}
        if 'reuse_factor' in given:
            given['reuse_factor'] = int(given['reuse_factor'])
        return dataclasses.replace(base, **given, granularity='name',
                                   given=tuple(sorted(set(base.given) | set(given))))

    def changes(self) -> list[Remedy]:
        """The point's LayerName keys as config changes (the type the hints and `fix` use)."""
        out = []
        for name, value in self.values:
            if name.startswith('LayerName.'):
                _, layer, key = name.split('.', 2)
                out.append(Remedy(layer, key, None, value, f'grid point {self.index}'))
        return out

    def edit(self, config: dict) -> None:
        """The grid's hls4ml config keys set in `config` (hls4ml's Model / LayerName layout), in place."""
        for change in self.changes():
            put(config, change.layer, change.key, change.after)
        for name, value in self.values:
            if name.startswith('Model.'):
                entry = config.setdefault('Model', {})
                parts = name.split('.')[1:]
                for part in parts[:-1]:
                    if not isinstance(entry.get(part), dict):
                        entry[part] = {} if entry.get(part) is None else {'default': entry[part]}
                    entry = entry[part]
                entry[parts[-1]] = value


@dataclass(frozen=True)
class Grid:
    """Names and their values, in the order the grid file gives them."""

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.axes)

    def points(self) -> list[Point]:
        combos = itertools.product(*(values for _, values in self.axes))
        return [Point(i, tuple(zip(self.names, combo))) for i, combo in enumerate(combos)]

    def to_json(self) -> dict:
        return {name: list(values) for name, values in self.axes}


def read_grid(source: str | Path | Mapping[str, Any]) -> Grid:
    """A grid from a YAML file (or a mapping, for the API), its names and values checked in themselves
    (the layer names are checked against the model by `check_layers`)."""
    raw = _read(source) if isinstance(source, (str, Path)) else source
    if not isinstance(raw, Mapping) or not raw:
        raise BadInput('the grid must map names to lists of values, e.g. precision: [ap_fixed<8,3>, ap_fixed<12,4>]')
    axes = []
    for name, values in raw.items():
        name = str(name)
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise BadInput(f'grid: {name}: give a list of values, not {values!r}')
        values = tuple(values)
        if not values:
            raise BadInput(f'grid: {name}: an empty list (give at least one value)')
        kind = kind_of(name)
        axes.append((name, tuple(check_value(name, kind, value) for value in values)))
    return Grid(tuple(axes))


def _read(path: str | Path) -> Any:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise BadInput(f'--grid {p}: no such file')
    try:
        return yaml.safe_load(p.read_text(errors='replace'))
    except yaml.YAMLError as exc:
        raise BadInput(f'--grid {p}: not valid YAML: {str(exc).splitlines()[0]}') from None


def kind_of(name: str) -> str:
    """The kind of value a grid name takes; a name hls4ml does not read is bad input."""
    if name in OPTION_KINDS:
        return OPTION_KINDS[name]
    parts = name.split('.')
    head, keys = (parts[:2], parts[2:]) if parts[0] == 'LayerName' else (parts[:1], parts[1:])
    table = LAYER_KEYS if head[0] == 'LayerName' and len(head) == 2 else MODEL_KEYS if head == ['Model'] else {}
    if keys and keys[0] in table and (len(keys) == 1 or (keys[0] == 'Precision' and len(keys) == 2)):
        if len(keys) == 2 and keys[1] not in (*TYPEDEF_OF, 'default'):
            raise BadInput(f'grid: {name}: hls4ml has no Precision.{keys[1]} (one of {", ".join(TYPEDEF_OF)})')
        return table[keys[0]]
    raise BadInput(f'grid: {name}: not a name a grid takes (one of {", ".join(OPTIONS)}, '
                   f'LayerName.<layer>.{{{",".join(LAYER_KEYS)}}}[.<type>], Model.{{{",".join(MODEL_KEYS)}}})')


def check_value(name: str, kind: str, value: Any) -> Any:
    """The value as hls4ml takes it for this kind of name (a strategy spelt as hls4ml spells it, from the one
    table of hlsdiff/backends.py), else one line."""
    strategies = {s.lower(): s for s in backends.STRATEGIES}
    ok = {'count': lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
          'io_type': lambda v: v in IO_TYPES,
          'strategy': lambda v: isinstance(v, str) and v.lower() in strategies,
          'implementation': lambda v: isinstance(v, str) and v.lower() in IMPLEMENTATIONS,
          'precision': lambda v: _precision_ok(v, auto=name.startswith('LayerName.'))}[kind]
    if not ok(value):
        expected = {'count': 'a whole number >= 1', 'io_type': ' or '.join(IO_TYPES),
                    'strategy': '/'.join(backends.STRATEGIES), 'implementation': '/'.join(IMPLEMENTATIONS),
                    'precision': "a type hls4ml reads, e.g. 'ap_fixed<16,6>'"}[kind]
        raise BadInput(f'grid: {name}: {value!r} is not a value hls4ml takes ({expected})')
    return strategies[value.lower()] if kind == 'strategy' else value


def _precision_ok(value: Any, auto: bool) -> bool:
    """hls4ml's own parser of precision strings (the one its converters use) takes it."""
    if not isinstance(value, str):
        return False
    if value == 'auto':
        return auto
    try:
        _hls4ml().backends.fpga.fpga_backend.FPGABackend.convert_precision_string(value)
    except Exception:  # hls4ml's parser fails on a string it cannot read with whatever error it meets
        return False
    return True


def _hls4ml() -> Any:
    """hls4ml, imported the way this environment needs: after TensorFlow's set-up in the classic one (tf_keras,
    QKeras: trace/stack.py), as it is in the modern one."""
    import importlib.util

    if importlib.util.find_spec('tf_keras') is not None:
        from hlsdiff.trace import stack

        return stack.load().hls4ml
    import hls4ml

    return hls4ml


def check_layers(grid: Grid, config: dict) -> None:
    """Every `LayerName.<layer>` of the grid names a layer of hls4ml's config for the model."""
    known = set(config.get('LayerName') or {})
    for name in grid.names:
        if name.startswith('LayerName.'):
            layer = name.split('.')[1]
            if layer not in known:
                raise BadInput(f'grid: {name}: the model has no layer {layer!r} (hls4ml names: {", ".join(sorted(known))})')
