"""The reference emulation: the framework's own layer, computed exactly at the project's types.

The project emulation (`Emulator`) computes what the project's files say; when the C-simulation
equals it, the *kernel* computes its files, and nothing more is proven: a weights file in the
wrong order is read in that same wrong order by both. The reference takes the framework's own
layer instead (`LayerSpec`: the weights as the framework computes them, its attributes), puts
its weights in the order the kernel reads and its attributes in the config, and runs the same
kernel arithmetic with the project's types on the C-simulation's own inputs. Three links then
split the layer's own error:

- precision: the reference vs the framework in float (the types' rounding, nothing else);
- generator: the reference vs the project emulation (what hls4ml wrote other than the layer);
- kernel: the project emulation vs the C-simulation (the kernel against its own files).

A generator difference comes with its evidence: which tensor or constant, how many positions,
and whether the file is the framework's values in another axis order (named), else the values.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.kernels import NotEmulated
from hlsdiff.emulate.program import Call, Config, Program
from hlsdiff.emulate.spec import KERNEL_AXES, LayerSpec

_WEIGHTED = {'dense': ('dense',), 'conv': ('conv_1d_cl', 'conv_2d_cl', 'pointwise_conv_1d_cl', 'pointwise_conv_2d_cl'),
             'depthwise': ('depthwise_conv_1d_cl', 'depthwise_conv_2d_cl'), 'batchnorm': ('normalize',),
             'pooling': ('pooling1d_cl', 'pooling2d_cl'), 'global_pooling': ('global_pooling1d_cl', 'global_pooling2d_cl')}
_ACTIVATION_FUNCTIONS = ('relu', 'linear', 'sigmoid', 'tanh', 'softmax', 'leaky_relu', 'relu6', 'relu1', 'elu', 'selu',
                         'softplus', 'softsign')
_RESOURCE = ('resource', 'resource_unrolled')


@dataclass(frozen=True)
class Difference:
    """One thing the project holds other than the framework's layer, in words and numbers."""

    what: str  # 'weights' | 'bias' | 'scale' | 'attribute' | 'function'
    name: str  # the weights file, the config constant or the kernel
    detail: str
    permutation: str | None = None  # the axis order the file holds, when it is a permutation

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EmulatedReference:
    """The reference values of one layer (None when the attributes change its size), and what differs."""

    values: arith.Fx | None
    differences: tuple[Difference, ...]


def reference(program: Program, call: Call, spec: LayerSpec, emulate) -> EmulatedReference:
    """`emulate(program, call)` runs the project emulation on a program; this gives it the framework's."""
    if spec.dropped:  # the framework's input differs from the project's: named, not computed
        return EmulatedReference(None, tuple(Difference('function', name.split(' ')[1], f'hls4ml dropped {name} before this '
                                                'layer: nothing in the project computes it') for name in spec.dropped))
    cfg = program.configs.get(call.type_args[-1]) or Config('')
    if spec.kind == 'activation':
        return _activation(program, call, spec, emulate)
    if spec.kind == 'resize':
        return _resize(program, call, spec, emulate)
    if spec.kind == 'merge':
        if call.function != spec.attrs['function']:
            return EmulatedReference(None, (Difference('function', call.function, f'the framework computes '
                                               f'{spec.attrs["function"]}; the project calls nnet::{call.function}'),))
        return EmulatedReference(emulate(program, call), ())
    if call.function not in _WEIGHTED.get(spec.kind, ()):
        raise NotEmulated(f'the framework computes a {spec.kind} layer; the project calls nnet::{call.function}')
    if program.family != 'Vivado':  # reading its files in Vivado's order would call the right ones a defect
        raise NotEmulated(f"the reference emulation of a {spec.kind} layer reads the framework's values as Vivado's "
                          f"kernels do, not as {program.family}'s")
    loaded = dict(program._loaded)
    sizes = dict(program.weight_sizes)
    diffs: list[Difference] = []
    configs = dict(program.configs)
    attrs = _padding_moved(program, call, spec.attrs)
    for key, value in attrs.items():
        have = cfg.int(key)
        if have is not None and have != int(value):
            diffs.append(Difference('attribute', key, f'{key}: the framework has {int(value)}, the project {have}'))
    if diffs:
        new = dataclasses.replace(cfg, values={**cfg.values, **{d.name: int(attrs[d.name]) for d in diffs}})
        configs[cfg.name] = new
        cfg = new
    for role, values, key in _tensors(spec, call, cfg):
        array = call.args[2 if role != 'bias' else 3]
        laid = _text_rounded(values, program, array, cfg, key)
        diff = _compare_tensor(_Compared(program, call, cfg, spec), role, array, laid, key)
        if diff is not None:
            diffs.append(diff)
        loaded[array], sizes[array] = laid, str(laid.size)
    changed = diffs or loaded.keys() != program._loaded.keys() or any(
        loaded[k] is not program._loaded.get(k) for k in loaded)
    # nothing of the framework's differs from the project's files: the same program, computed once
    ref_program = dataclasses.replace(program, configs=configs, _loaded=loaded, weight_sizes=sizes) if changed \
        else program
    out = emulate(ref_program, call)
    return EmulatedReference(out, tuple(diffs))


_PADS = ('pad_top', 'pad_bottom', 'pad_left', 'pad_right')


def _padding_moved(program: Program, call: Call, attrs: dict) -> dict:
    """The framework's attributes as the project splits them: a 'same' padding hls4ml moved into a zero-padding
    layer before this one (io_stream) becomes that layer's, and this one reads the padded image."""
    if not call.args or not any(attrs.get(k) for k in _PADS):
        return attrs
    var = program.source(call.args[0])
    producer = program.calls[program.producer[var]] if var in program.producer else None
    if producer is None or not producer.function.startswith('zeropad'):
        return attrs
    pad_cfg = program.configs.get(producer.type_args[-1]) or Config('')
    if any(pad_cfg.int(k, 0) != int(attrs.get(k, 0)) for k in _PADS):
        return attrs
    moved = {**attrs, **{k: 0 for k in _PADS}}
    moved['in_height'] = attrs['in_height'] + attrs['pad_top'] + attrs['pad_bottom']
    moved['in_width'] = attrs['in_width'] + attrs['pad_left'] + attrs['pad_right']
    return moved


def _tensors(spec: LayerSpec, call: Call, cfg: Config):
    """(role, the framework's values in the order the kernel reads them, the config type key)."""
    if spec.kind in ('pooling', 'global_pooling'):
        return []
    if spec.kind == 'batchnorm':
        return [('scale', spec.scale, 'scale_t'), ('bias', spec.bias, 'bias_t')]
    kernel, axes = canonical_kernel(spec, call)
    order = read_order(spec.kind, call, cfg, axes)
    in_order = np.transpose(kernel, [axes.index(a) for a in order]).reshape(-1)
    return [('weights', in_order, 'weight_t'), ('bias', spec.bias, 'bias_t')]


def read_order(kind: str, call: Call, cfg: Config, axes: tuple[str, ...]) -> tuple[str, ...]:
    """The axis order in which the kernel reads its weights array (hls4ml 1.3.0, Vivado/Vitis)."""
    resource = cfg.values.get('strategy') in _RESOURCE
    if kind == 'dense':
        return ('out', 'in') if resource else ('in', 'out')
    if kind == 'conv' and resource:
        return ('out', *[a for a in axes if a != 'out'])
    return axes


def _weight_type(program: Program, array: str, cfg: Config, key: str):
    t = cfg.type(key) or program.fixed(program.weights.get(array, ('', ''))[0])
    if t is None:
        raise NotEmulated(f'{key} of {cfg.name} is not an ap_fixed type')
    return t


def _text_rounded(values: np.ndarray, program: Program, array: str, cfg: Config, key: str) -> np.ndarray:
    """The framework's values as hls4ml's writer prints them (as many decimals as the type's fractional
    bits), so that the reference reads the doubles the C-simulation would read for these values."""
    t = _weight_type(program, array, cfg, key)
    digits = max(0, t.fractional)
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.array([float(f'{v:.{digits}f}') for v in flat], dtype=np.float64)


@dataclass(frozen=True)
class _Compared:
    """One layer on both sides: the project's program, its call and config struct; the framework's layer."""

    program: Program
    call: Call
    cfg: Config
    spec: LayerSpec


def _compare_tensor(layer: _Compared, role: str, array: str, laid: np.ndarray, key: str) -> Difference | None:
    """The project's file `array` (the `role` tensor, typed by the config's `key`) against the framework's
    values `laid`, both cast to the project's type."""
    program, call, cfg, spec = layer.program, layer.call, layer.cfg, layer.spec
    t = _weight_type(program, array, cfg, key)
    ours = arith.from_double(laid, t).v
    theirs_all = arith.from_double(program.load_weights(array), t).v
    file = program.weights[array][1]
    if theirs_all.size < ours.size:
        return Difference(role, file, f'{file} holds {theirs_all.size} values where the framework has {ours.size}')
    theirs = theirs_all[:ours.size]
    extra = ''
    if theirs_all.size > ours.size:
        extra = (f'{file} holds {theirs_all.size} values, {theirs_all.size // ours.size}x the {ours.size} the '
                 'kernel reads; ')
        diagonal = _diagonal_of(theirs_all, ours, spec)
        if diagonal:
            extra += diagonal + '; '
    bad = ours != theirs
    if not bad.any():
        return Difference(role, file, extra.rstrip('; ')) if extra else None
    lsb = t.lsb
    count = f'{int(bad.sum())} of {bad.size} values of {file} differ from the framework\'s'
    if role == 'weights' and np.array_equal(np.sort(ours), np.sort(theirs)):
        named = _permutation(canonical_kernel(spec, call), theirs, t, spec, call, cfg)
        if named:
            return Difference(role, file, f'{extra}{count}: it holds the framework\'s kernel {named}', permutation=named)
        return Difference(role, file, f'{extra}{count}: the same values in an order that is no axis order')
    idx = np.argsort(-np.abs(ours - theirs))[:3]
    where = _position_names(role, spec, call, cfg)
    pairs = ', '.join(f'{where(int(i))} framework {ours[i] * lsb:g}, project {theirs[i] * lsb:g}' for i in idx if bad[i])
    return Difference(role, file, f'{extra}{count}; largest: {pairs}')


def _position_names(role: str, spec: LayerSpec, call: Call, cfg: Config):
    """Flat position in the order the kernel reads -> '(kh 0, kw 1, in 2, out 0)', or '[channel]'."""
    if role != 'weights':
        return lambda i: f'[{i}]'
    kernel, axes = canonical_kernel(spec, call)
    order = read_order(spec.kind, call, cfg, axes)
    shape = tuple(kernel.shape[axes.index(a)] for a in order)
    by_axis = dict(zip(axes, range(len(axes))))

    def name(i: int) -> str:
        at = dict(zip(order, np.unravel_index(i, shape)))
        return '(' + ', '.join(f'{a} {int(at[a])}' for a in sorted(at, key=by_axis.__getitem__)) + ')'

    return name


def canonical_kernel(spec: LayerSpec, call: Call) -> tuple[np.ndarray, tuple[str, ...]]:
    """The framework's kernel and its axis names; a 1D layer without its height axis."""
    if spec.kernel is None:
        raise NotEmulated(f'the framework\'s {spec.kind} layer has no kernel')
    kernel, axes = spec.kernel, KERNEL_AXES.get(spec.kind, ())
    if spec.kind in ('conv', 'depthwise') and '1d' in call.function:
        kernel, axes = kernel[0], axes[1:]
    return kernel, axes


def _permutation(canonical, theirs: np.ndarray, t, spec: LayerSpec, call: Call, cfg: Config) -> str | None:
    """'as (in, out, kh, kw); Resource reads (out, kh, kw, in)' when the file is the kernel in another axis order."""
    kernel, axes = canonical
    reads = read_order(spec.kind, call, cfg, axes)
    for perm in itertools.permutations(range(len(axes))):
        order = tuple(axes[p] for p in perm)
        if order == reads:
            continue
        laid = np.transpose(kernel, perm).reshape(-1)
        if np.array_equal(arith.from_double(laid, t).v, theirs):
            strategy = 'Resource' if cfg.values.get('strategy') in _RESOURCE else 'Latency'
            return f'as ({", ".join(order)}); the {strategy} kernel reads ({", ".join(reads)})'
    return None


def _diagonal_of(theirs_all: np.ndarray, ours: np.ndarray, spec: LayerSpec) -> str:
    """A depthwise kernel (kh, kw, C) written broadcast to (kh, kw, C, C): is the framework's its diagonal?"""
    if spec.kind != 'depthwise' or spec.kernel is None:
        return ''
    c = spec.kernel.shape[-1]
    if theirs_all.size != ours.size * c:
        return ''
    square = theirs_all.reshape(-1, c, c)
    if np.array_equal(np.diagonal(square, axis1=1, axis2=2).reshape(-1), ours):
        return f'the framework\'s kernel is the diagonal of the (kh, kw, {c}, {c}) array it holds (a broadcast scale)'
    return ''


def _activation(program: Program, call: Call, spec: LayerSpec, emulate) -> EmulatedReference:
    fn = spec.attrs['function']
    if call.function not in _ACTIVATION_FUNCTIONS:
        raise NotEmulated(f'the framework applies {fn}; the project calls nnet::{call.function}')
    diffs: list[Difference] = []
    new = call
    if call.function != fn and not (fn == 'relu' and call.function in ('relu6', 'relu1')):
        diffs.append(Difference('function', call.function, f'the framework applies {fn}; the project calls '
                                                           f'nnet::{call.function}'))
        if fn not in ('relu', 'linear'):  # they need no config: others are only named
            return EmulatedReference(None, tuple(diffs))
        new = dataclasses.replace(call, function=fn)
    # leaky_relu's and elu's alpha: a literal in the call (elu's two-argument overload: alpha 1)
    if fn in ('leaky_relu', 'elu') and call.function == fn and (fn == 'leaky_relu' or len(call.args) > 2):
        alpha = float(spec.attrs['alpha'])
        try:
            have = float(call.args[1].rstrip('fF'))
        except (IndexError, ValueError):
            have = None
        if have is None or not np.isclose(have, alpha, rtol=1e-6):
            diffs.append(Difference('attribute', 'alpha', f'alpha: the framework has {alpha:g}, the project {have}'))
        new = dataclasses.replace(call, args=[call.args[0], repr(alpha), *call.args[2:]])
    elif fn == 'elu' and call.function == 'elu' and float(spec.attrs.get('alpha', 1.0)) != 1.0:
        diffs.append(Difference('attribute', 'alpha', f'alpha: the framework has {float(spec.attrs["alpha"]):g}, '
                                                      'the project calls the overload with alpha 1'))
        return EmulatedReference(None, tuple(diffs))
    return EmulatedReference(emulate(program, new), tuple(diffs))


def _resize(program: Program, call: Call, spec: LayerSpec, emulate) -> EmulatedReference:
    """An upsampling: the project's kernel must interpolate as the framework does."""
    method = str(spec.attrs.get('interpolation', 'nearest'))
    if call.function != f'resize_{method}':
        return EmulatedReference(None, (Difference('function', call.function, f'the framework interpolates {method}; the '
                                           f'project calls nnet::{call.function}'),))
    return EmulatedReference(emulate(program, call), ())
