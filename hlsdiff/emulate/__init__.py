"""Emulate exactly what each layer's hls4ml types imply, from the C-simulation's own inputs.

For every kernel call of the generated project (`program.py` reads it through `hlsdiff/project/`),
the values the kernel must write are computed in integer numpy (`kernels/`: one module per kernel
kind, each registering the nnet:: functions it emulates; `arith.py`: ap_fixed arithmetic) from the
values the C-simulation itself fed that layer (the trace of the layer before it). `Emulator` runs
it layer by layer; `Emulation` is one layer's verdict:

- C-simulation == emulation in every element: the layer computes what its configured types
  say. Any error it adds is the configuration's, and `what_if` re-runs it with one type
  changed to show which type is responsible.
- They differ: the kernel does not compute what its types say: a kernel defect, proven.

The framework's own layer is emulated at the project's types too (`spec.py`, `reference.py`), and
a layer's own error is split over three links (`links.py`): see docs/emulation.md.

Pure: no hls4ml, no framework; reads only the project's files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels import NotEmulated, run
from hlsdiff.emulate.program import Call, Program, read_program
from hlsdiff.fixedpoint import FixedType, parse_type
from hlsdiff.project import writer

__all__ = ['Emulation', 'Emulator', 'NotEmulated', 'read_program']


@dataclass(frozen=True)
class Emulation:
    """One layer's verdict: `bit-exact`, `differs` or `not-emulated` (with the reason)."""

    status: str
    differing: int = 0
    total: int = 0
    max_lsb: float = 0.0
    channels: tuple[int, ...] = ()
    reason: str | None = None
    equals_input_channels: tuple[int, ...] = ()  # differing channels that equal the layer's input

    def to_json(self) -> dict:
        return {'status': self.status, 'differing': self.differing, 'max_lsb': self.max_lsb,
                'channels': list(self.channels), 'reason': self.reason}


class Emulator:
    """The project's program and the C-simulation's values; emulates layer by layer."""

    def __init__(self, program: Program, traces: dict[str, np.ndarray], inputs: dict[str, np.ndarray]):
        self.program = program
        self.traces = traces
        self.inputs = inputs  # top-function input variable -> float data (N, size)
        self.calls = {c.layer: c for c in program.calls if c.layer}
        self._memo: dict[str, Fx] = {}  # the project emulation of each layer, computed once

    @classmethod
    def from_project(cls, firmware: Path, project_name: str, traces, inputs) -> Emulator:
        return cls(read_program(firmware, project_name), traces, inputs)

    def _result_type(self, call: Call) -> FixedType:
        name = writer.result_type_arg(call.function, list(call.type_args), set(self.program.configs))
        if name is None:
            raise NotEmulated(f'nnet::{call.function} names no result type')
        t = self.program.fixed(name)
        if t is None:
            raise NotEmulated(f'result type {self.program.resolve(name)} is not an ap_fixed type')
        return t

    def _input(self, var: str) -> tuple[Fx, FixedType]:
        """The exact values the C-simulation fed through `var`, and their type."""
        p = self.program
        var = p.source(var)
        if var in p.producer:
            src = p.calls[p.producer[var]]
            t = self._result_type(src)
            trace = self.traces.get(src.layer) if src.layer else None
            if trace is None:
                raise NotEmulated(f'no trace of {src.layer or var}, the layer before it')
            return arith.exact(trace, t.fractional), t
        if var in p.top_inputs:
            data = self.inputs.get(var)
            if data is None:
                raise NotEmulated(f'no data for input {var}')
            # the bridge stores the double data in input_t: ap_fixed's constructor from double
            t = self._top_input_type(var)
            return arith.from_double(data.reshape(data.shape[0], -1), t), t
        raise NotEmulated(f'{var} is written by nothing the emulation knows')

    def _top_input_type(self, var: str) -> FixedType:
        for call in self.program.calls:
            args = [self.program.source(a) for a in call.args]
            if var in args:
                idx = args.index(var)
                t = self.program.fixed(call.type_args[idx] if idx < len(call.type_args) - 1 else call.type_args[0])
                if t is not None:
                    return t
        raise NotEmulated(f'the type of input {var} is unknown')

    def emulate(self, layer: str, override: dict[str, str] | None = None) -> Fx:
        """The exact values `layer` must write; `override` changes config types (what-if)."""
        call = self.calls.get(layer)
        if call is None:
            raise NotEmulated('no kernel call of this layer in the project')
        if override:
            return self.run_call(self.program, call, override)
        if layer not in self._memo:
            self._memo[layer] = self.run_call(self.program, call)
        return self._memo[layer]

    def run_call(self, program: Program, call: Call, override: dict[str, str] | None = None) -> Fx:
        """One kernel call computed on `program` (the project's, or the reference's) from the C-simulation's
        inputs of that call."""
        if program is self.program and not override and call.layer in self._memo:
            return self._memo[call.layer]
        inputs, types = [], []
        for var in _input_vars(call, self.program):
            x, t = self._input(var)
            inputs.append(x)
            types.append(t)
        result = self._result_type(call)
        override = dict(override or {})
        shift = int(override.pop('input_shift', 0))
        if shift:  # every input moved by `shift` steps of its own type
            inputs = [Fx(x.v + shift * (1 << max(0, x.f - t.fractional)), x.f) for x, t in zip(inputs, types)]
        if override and 'input' in override:  # the layer before stores its result in another type
            from hlsdiff.fixedpoint import parse_type

            stored = parse_type(override['input'])
            if stored is None:
                raise ValueError(f'what-if input type {override["input"]!r} is not a fixed-point type')
            inputs = [arith.cast(x, stored) for x in inputs]
            types = [stored for _ in types]
        if override:
            program, result = _with_types(program, call, {k: v for k, v in override.items() if k != 'input'}, result)
        return run(program, call, inputs, result, types[0] if types else None)

    def unwritten_reads(self) -> dict[str, list[str]]:
        """The variables kernel calls read that no call writes and that are not the data (a layer hls4ml wrote no
        call for): variable -> the layers whose calls read it, in order."""
        p = self.program
        out: dict[str, list[str]] = {}
        for call in p.calls:
            for var in _input_vars(call, p):
                source = p.source(var)
                if source not in p.producer and source not in p.top_inputs:
                    out.setdefault(source, []).append(call.layer or f'nnet::{call.function}')
        return out

    def rounding_bound(self, layer: str) -> dict[str, float]:
        """How far rounding alone can move this layer's values: the most they change with every input moved
        by one LSB of its type (up and down), and with every type of the layer one fractional bit finer."""
        base = self.emulate(layer).to_float()
        moved = max(float(np.max(np.abs(self.what_if(layer, {'input_shift': s}) - base), initial=0.0)) for s in ('1', '-1'))
        finer = {}
        for key, text in self.types(layer).items():
            if key == 'input':
                continue
            t = parse_type(text)
            if t is not None:
                finer[key] = str(FixedType(t.width + 1, t.integer, t.signed, t.rounding, t.saturation))
        step = float(np.max(np.abs(self.what_if(layer, finer) - base), initial=0.0)) if finer else 0.0
        return {'inputs': moved, 'types': step, 'bound': moved + step + self._result_type(self.calls[layer]).lsb}

    def what_if(self, layer: str, override: dict[str, str]) -> np.ndarray:
        """The layer's values (N, size) with some of its types changed: `{'accum_t': 'ap_fixed<30,14>'}`,
        `{'result': ...}`, `{'input': ...}` (the type the layer before stores its result in)."""
        return self.emulate(layer, override).to_float()

    def types(self, layer: str) -> dict[str, str]:
        """The layer's configurable types as the project has them: config typedefs, 'result', 'input'."""
        call = self.calls.get(layer)
        if call is None:
            return {}
        cfg = self.program.configs.get(call.type_args[-1])
        out = {k: v for k, v in (cfg.types.items() if cfg else []) if k.endswith('_t') and k != 'index_t'
               and self.program.fixed(v) is not None}
        out['result'] = str(self._result_type(call))
        vars_in = _input_vars(call, self.program)
        if vars_in:
            try:
                out['input'] = str(self._input(vars_in[0])[1])
            except NotEmulated:
                pass
        return out

    def verdict(self, layer: str, actual: np.ndarray | None) -> Emulation:
        """Compare the C-simulation's values of `layer` with the emulation."""
        if actual is None:
            if layer not in self.calls:
                return Emulation('not-emulated', reason='no kernel call of this layer in the project, and no trace')
            return Emulation('not-emulated', reason='the C-simulation has no trace of this layer')
        try:
            emulated = self.emulate(layer)
            result = self._result_type(self.calls[layer])
        except NotEmulated as exc:
            return Emulation('not-emulated', reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - anything else (a layout, a table, an overflow): this layer only
            return Emulation('not-emulated', reason=f'{type(exc).__name__}: {exc}')
        act = np.asarray(actual, dtype=np.float64).reshape(actual.shape[0], -1)
        emu = emulated.to_float().reshape(act.shape[0], -1) if emulated.v.size == act.size else None
        if emu is None:
            return Emulation('not-emulated', reason=f'the emulation has {emulated.v.size // max(1, act.shape[0])} values '
                                                    f'per sample, the trace {act.shape[1]}')
        diff = np.abs(act - emu)
        bad = diff > 0
        n_bad = int(bad.sum())
        if n_bad == 0:
            return Emulation('bit-exact', 0, int(act.size))
        channels = self._channels(layer, act.shape[1])
        per_ch = bad.reshape(act.shape[0], -1, channels).any(axis=(0, 1)) if channels else np.array([])
        chans = tuple(int(c) for c in np.flatnonzero(per_ch))
        return Emulation('differs', n_bad, int(act.size), float(diff.max() / result.lsb), chans,
                         equals_input_channels=self._equal_to_input(layer, act, chans, channels))

    def _channels(self, layer: str, size: int) -> int:
        call = self.calls[layer]
        cfg = self.program.configs.get(call.type_args[-1])
        for key in ('n_filt', 'n_out', 'n_chan'):
            c = cfg.int(key) if cfg else None
            if c and size % c == 0:
                return c
        return 1

    def _equal_to_input(self, layer, act, chans, channels) -> tuple[int, ...]:
        """Differing channels whose values equal the layer's input there (a pass-through)."""
        call = self.calls[layer]
        try:
            x, _ = self._input(_input_vars(call, self.program)[0])
        except NotEmulated:
            return ()
        xin = x.to_float()
        cfg = self.program.configs.get(call.type_args[-1])
        if cfg is None:
            return ()
        in_ch = cfg.int('n_chan')
        if not in_ch or in_ch != channels:
            return ()
        h_out = act.reshape(act.shape[0], -1, channels)
        g = {k: cfg.int(k, 0) for k in ('in_height', 'in_width', 'out_height', 'out_width', 'pad_top', 'pad_left')}
        if not g['out_width']:
            return ()
        h_in = xin.reshape(xin.shape[0], max(g['in_height'], 1), g['in_width'], channels)
        oh, ow = max(g['out_height'], 1), g['out_width']
        off_h = (h_in.shape[1] - oh) // 2
        off_w = (h_in.shape[2] - ow) // 2
        centre = h_in[:, off_h:off_h + oh, off_w:off_w + ow].reshape(xin.shape[0], -1, channels)
        if centre.shape != h_out.shape:
            return ()
        return tuple(c for c in chans if np.allclose(h_out[..., c], centre[..., c]))


def _input_vars(call: Call, program: Program) -> list[str]:
    fn = call.function
    args = [a for a in call.args if a not in program.weights]
    if fn in ('add', 'subtract', 'multiply', 'average', 'maximum', 'minimum', 'dot1d') or fn.startswith('concatenate'):
        return args[:2]
    return args[:1]


def _with_types(program: Program, call: Call, override: dict[str, str], result: FixedType):
    """A copy of the program in which this call's config has the given types ('result' too)."""
    configs = dict(program.configs)
    name = call.type_args[-1]
    if name in configs:
        cfg = dataclasses.replace(configs[name], types=dict(configs[name].types))
        mult_name = cfg.types.get('mult_config')
        for key, value in override.items():
            if key != 'result':
                cfg.types[key] = value
                if mult_name in configs:
                    m = dataclasses.replace(configs[mult_name], types=dict(configs[mult_name].types))
                    if key in m.types:
                        m.types[key] = value
                    configs[mult_name] = m
        configs[name] = cfg
    from hlsdiff.fixedpoint import parse_type

    new_result = parse_type(override['result']) if 'result' in override else result
    return dataclasses.replace(program, configs=configs), new_result


def merge(a: Emulation, b: Emulation) -> Emulation:
    """Two chunks' verdicts of one layer as one."""
    for e in (a, b):
        if e.status == 'not-emulated':
            return e
    status = 'differs' if 'differs' in (a.status, b.status) else 'bit-exact'
    passthrough_broken = (set(a.channels) - set(a.equals_input_channels)) | (set(b.channels) - set(b.equals_input_channels))
    equal = (set(a.equals_input_channels) | set(b.equals_input_channels)) - passthrough_broken
    return Emulation(status, a.differing + b.differing, a.total + b.total, max(a.max_lsb, b.max_lsb),
                     tuple(sorted(set(a.channels) | set(b.channels))), None, tuple(sorted(equal)))
