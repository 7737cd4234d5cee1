"""LSTM and GRU (nnet_recurrent.h): `lstm_stack` and `gru_stack`, io_parallel and io_stream, and
`bidirectional_stack`.

Each stack runs one cell per time step from a zero state (`use_static`: `lstm_static`/`gru_static`, whose static
state the first step resets; else `lstm`/`gru` on the stack's own zero state) and writes the last state
(`n_sequence_out == 1`) or every step's (`return_sequences`). io_stream's stack reads one input pack per step and
calls the same cells. The bidirectional stack runs a forward and a backward cell (each an LSTM or a GRU with its own
config, the backward one over the steps in reverse) and writes both states side by side, the backward one's at the
step it ended on. A cell is two dense products (`mult_config1` over the step's input, `mult_config2` over the
previous state, each `nnet::dense` as the Dense kernel computes it, Latency or Resource), sums in `accum_t`, the
gate activations by the recurrent activation's and the activation's own tables (`nnet::activation::sigmoid`/`tanh`
with their config's `table_t` and `table_size`, as the sigmoid/tanh layers compute them), and the state updates,
exact products assigned to `res_T`."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import VIVADO, EmulatedCall, NotEmulated, find, register, required_type
from hlsdiff.emulate.kernels.mac import dense
from hlsdiff.emulate.program import Call, Config, Program
from hlsdiff.fixedpoint import FixedType

_TYPEDEF = re.compile(r'typedef\s+(.+?)\s+(\w+)\s*;')
_ACTIVATION = re.compile(r'using\s+(activation_recr|activation)\s*=\s*nnet::activation::(\w+)\s*<')
# the types hls4ml writes into each product's config from the layer's own (recurrent_templates.py)
_TIED = {1: {'accum_t': 'accum_t', 'weight_t': 'weight_t', 'bias_t': 'bias_t'},
         2: {'accum_t': 'accum_t', 'weight_t': 'recurrent_weight_t', 'bias_t': 'recurrent_bias_t'}}


@dataclasses.dataclass(frozen=True)
class Cell:
    """What every step of one recurrent cell needs: the call's program, the cell's config, weights and types."""

    k: EmulatedCall
    cfg: Config
    weights: tuple[str, str, str, str]  # the arrays of param, param_r, param_b, param_br
    n_in: int
    n_state: int
    n_sequence: int
    accum: FixedType

    @property
    def result(self) -> FixedType:
        return self.k.result

    def product(self, part: int, x: Fx, result: FixedType) -> Fx:
        """`nnet::dense<..., mult_config{part}>` over x: the step's input (1) or the previous state (2)."""
        program, call = self.k.program, self.k.call
        mult = self.cfg.types.get(f'mult_config{part}', '')
        if mult not in program.configs:
            raise NotEmulated(f'mult_config{part} of {self.cfg.name} ({mult or "none"}) not found in parameters.h')
        w, b = (self.weights[0], self.weights[2]) if part == 1 else (self.weights[1], self.weights[3])
        sub = Call('dense', [call.type_args[0], call.type_args[-2], mult], [call.args[0], call.args[1], w, b])
        return dense(EmulatedCall(self._tied(program, part, mult), sub, [x], result))

    def _tied(self, program: Program, part: int, mult: str) -> Program:
        """The program with the product's config reading the layer's types where hls4ml writes it so (the same
        typedef), so that a what-if on the layer's config (`accum_t`, `recurrent_weight_t`...) reaches the
        products as a config change does; a product config edited by hand keeps its own types."""
        own = program.configs[mult]
        names, top = _typedef_names(own.text), _typedef_names(self.cfg.text)
        types = dict(own.types)
        for key, layer_key in _TIED[part].items():
            if key in names and names[key] == top.get(layer_key) and layer_key in self.cfg.types:
                types[key] = self.cfg.types[layer_key]
        if types == own.types:
            return program
        return dataclasses.replace(program, configs={**program.configs, mult: dataclasses.replace(own, types=types)})

    def activate(self, which: str, x: Fx, result: FixedType) -> Fx:
        """`CONFIG_T::activation_recr` (the gates) or `CONFIG_T::activation`, with its own config struct (table)."""
        program = self.k.program
        kinds = dict((m.group(1), m.group(2)) for m in _ACTIVATION.finditer(self.cfg.text))
        fn = kinds.get(which, '')
        key = 'ACT_CONFIG_T' if which == 'activation' else next(
            (t for t in self.cfg.types if t.startswith('ACT_CONFIG_') and t != 'ACT_CONFIG_T'), '')
        act_cfg = self.cfg.types.get(key, '')
        compute = find(VIVADO, fn) if fn in ('sigmoid', 'tanh', 'relu') else None
        if compute is None or act_cfg not in program.configs:
            raise NotEmulated(f'{which} nnet::activation::{fn} ({act_cfg or "no config"}) of {self.cfg.name} '
                              'is not emulated')
        return compute(EmulatedCall(program, Call(fn, ['data_T', 'res_T', act_cfg], []), [x], result))

    def add(self, a: Fx, b: Fx) -> Fx:
        return arith.cast(arith.add(a, b), self.accum)


def _typedef_names(text: str) -> dict[str, str]:
    """`typedef model_default_t accum_t;` -> {'accum_t': 'model_default_t'}: the names as written."""
    return {m.group(2): m.group(1).strip() for m in _TYPEDEF.finditer(text)}


def _sizes(k: EmulatedCall) -> tuple[int, int]:
    """The stack's n_in and n_sequence, checked against its input; and its initial-state form refused."""
    cfg, call = k.config, k.call
    if len(call.type_args) != 3:
        raise NotEmulated(f'nnet::{call.function} with initial states passed in is not emulated')
    n_in, n_seq = cfg.int('n_in', 0), cfg.int('n_sequence', 0)
    if not n_in or not n_seq:
        raise NotEmulated(f'{cfg.name} has no n_in/n_sequence')
    if k.x.v.shape[1] != n_seq * n_in:
        raise NotEmulated(f'{cfg.name} reads {n_seq} x {n_in} values, its input has {k.x.v.shape[1]}')
    return n_in, n_seq


def _cell(k: EmulatedCall, cfg: Config, weights: list[str], gates: int, n_in: int, n_seq: int) -> Cell:
    n_state = cfg.int('n_state', 0)
    if not n_state:
        raise NotEmulated(f'{cfg.name} has no n_state')
    if len(weights) != 4:
        raise NotEmulated(f'nnet::{k.call.function} with {len(k.call.args)} arguments is not emulated')
    for part, n in ((1, n_in), (2, n_state)):
        mult = k.program.configs.get(cfg.types.get(f'mult_config{part}', ''))
        if mult is not None and (mult.int('n_in') != n or mult.int('n_out') != gates * n_state):
            raise NotEmulated(f'{mult.name} is {mult.int("n_in")} x {mult.int("n_out")}, the layer needs {n} x '
                              f'{gates * n_state}')
    accum = required_type(cfg, 'accum_t', f'nnet::{k.call.function}')
    return Cell(k, cfg, (weights[0], weights[1], weights[2], weights[3]), n_in, n_state, n_seq, accum)


def _steps(k: EmulatedCall, n_in: int, n_seq: int, backward: bool = False) -> Fx:
    """Every step's input as one row (N * steps, n_in), in the order the cell reads them: the input product does
    not depend on the state, so it is computed for all steps at once."""
    rows = k.x.v.shape[0]
    x = k.x.v.reshape(rows, n_seq, n_in)
    return Fx((x[:, ::-1] if backward else x).reshape(rows * n_seq, n_in), k.x.f)


def _sequence_out(k: EmulatedCall, n_seq: int) -> bool:
    """Whether the stack writes every step's state (`n_sequence_out > 1`) rather than the last one."""
    out = k.config.int('n_sequence_out', 1)
    if out > 1 and out != n_seq:
        raise NotEmulated(f'{k.config.name} writes {out} of {n_seq} steps')
    return out > 1


def _output(k: EmulatedCall, n_seq: int, states: list[Fx]) -> Fx:
    """The stack's `res`: every step's state or the last one."""
    if _sequence_out(k, n_seq):
        return Fx(np.concatenate([s.v for s in states], axis=1), states[-1].f)
    return states[-1]


def _lstm(cell: Cell, x: Fx, static: bool) -> list[Fx]:
    """`lstm_static` (or `lstm`) per step over x (N * steps, n_in), from a zero state: each step's h. Keras's gate
    order i, f, c, o in the products' outputs."""
    n, result, accum = cell.n_state, cell.result, cell.accum
    # lstm (not static) writes its products as res_T into its accum_t arrays; lstm_stack instantiates it even when
    # use_static (a plain `if`), so hls4ml 1.3.0's LSTM builds only where data_T, res_T and accum_t are one type
    product_t = accum if static else result
    rows = x.v.shape[0] // cell.n_sequence
    inputs = arith.cast(cell.product(1, x, product_t), accum).reshape(rows, cell.n_sequence, 4 * n)
    h = Fx(np.zeros((rows, n), dtype=np.int64), result.fractional)
    s = h
    states = []
    for t in range(cell.n_sequence):
        tmpres = inputs[:, t]
        tmpres_state = arith.cast(cell.product(2, h, product_t), accum)
        pre = cell.add(tmpres, tmpres_state)
        ifo = cell.activate('activation_recr', Fx(np.concatenate([pre.v[:, :2 * n], pre.v[:, 3 * n:]], axis=1), pre.f),
                            accum)
        c = cell.activate('activation', pre[:, 2 * n:3 * n], accum)
        i, f, o = ifo[:, :n], ifo[:, n:2 * n], ifo[:, 2 * n:]
        s = arith.cast(arith.add(arith.mul(c, i), arith.mul(s, f)), result)
        h = arith.cast(arith.mul(o, cell.activate('activation', s, accum)), result)
        states.append(h)
    return states


def _gru(cell: Cell, x: Fx) -> list[Fx]:
    """`gru_static` (or `gru`, the same arithmetic) per step over x, from a zero state: each step's h. Keras's z, r, h
    order (PyTorch's r, z, n with `pytorch_order`); the reset gate applied after the recurrent product, as Keras's
    `reset_after`."""
    n, result, accum = cell.n_state, cell.result, cell.accum
    pytorch = bool(cell.cfg.values.get('pytorch_order', False))
    rows = x.v.shape[0] // cell.n_sequence
    inputs = cell.product(1, x, accum).reshape(rows, cell.n_sequence, 3 * n)
    h = Fx(np.zeros((rows, n), dtype=np.int64), result.fractional)
    one = Fx(np.ones((1, 1), dtype=np.int64), 0)
    states = []
    for t in range(cell.n_sequence):
        tmpres = inputs[:, t]
        tmpres_state = cell.product(2, h, accum)
        zr = cell.activate('activation_recr', cell.add(tmpres[:, :2 * n], tmpres_state[:, :2 * n]), accum)
        z, r = (zr[:, n:], zr[:, :n]) if pytorch else (zr[:, :n], zr[:, n:])
        state_h = arith.cast(arith.mul(r, tmpres_state[:, 2 * n:]), accum)
        cand = cell.activate('activation', cell.add(tmpres[:, 2 * n:], state_h), accum)
        h = arith.cast(arith.add(arith.mul(cand, arith.sub(one, z)), arith.mul(h, z)), result)
        states.append(h)
    return states


@register('lstm_stack')
def lstm_stack(k: EmulatedCall) -> Fx:
    n_in, n_seq = _sizes(k)
    cell = _cell(k, k.config, k.call.args[2:], 4, n_in, n_seq)
    states = _lstm(cell, _steps(k, n_in, n_seq), bool(k.config.values.get('use_static', True)))
    return _output(k, n_seq, states)


@register('gru_stack')
def gru_stack(k: EmulatedCall) -> Fx:
    n_in, n_seq = _sizes(k)
    cell = _cell(k, k.config, k.call.args[2:], 3, n_in, n_seq)
    return _output(k, n_seq, _gru(cell, _steps(k, n_in, n_seq)))


_DIRECTION = re.compile(r'using\s+RNNfunc_(forward|backward)\s*=\s*nnet::(lstm|gru)_class(_static)?\s*<')


@register('bidirectional_stack')
def bidirectional_stack(k: EmulatedCall) -> Fx:
    """A forward and a backward LSTM/GRU (`RNNfunc_forward`/`_backward`, each `*_class` or `*_class_static` with its
    own `FORWARD_CONFIG`/`BACKWARD_CONFIG`): [h_forward, h_backward] per step (the backward one's written at the
    step it ended on, i.e. over the steps from the last to this one) or of the last step."""
    n_in, n_seq = _sizes(k)
    if len(k.call.args) != 10:
        raise NotEmulated(f'nnet::bidirectional_stack with {len(k.call.args)} arguments is not emulated')
    kinds = {m.group(1): (m.group(2), bool(m.group(3))) for m in _DIRECTION.finditer(k.config.text)}
    runs = []
    for i, direction in enumerate(('forward', 'backward')):
        if direction not in kinds:
            raise NotEmulated(f'RNNfunc_{direction} of {k.config.name} is not an lstm_class/gru_class')
        kind, static = kinds[direction]
        cfg = k.program.configs.get(k.config.types.get(f'{direction.upper()}_CONFIG', ''))
        if cfg is None:
            raise NotEmulated(f'{direction.upper()}_CONFIG of {k.config.name} not found in parameters.h')
        cell = _cell(k, cfg, k.call.args[2 + 4 * i:6 + 4 * i], 4 if kind == 'lstm' else 3, n_in, n_seq)
        x = _steps(k, n_in, n_seq, backward=direction == 'backward')
        runs.append(_lstm(cell, x, static) if kind == 'lstm' else _gru(cell, x))
    forward, backward = runs
    if _sequence_out(k, n_seq):
        steps = [np.concatenate([forward[t].v, backward[n_seq - 1 - t].v], axis=1) for t in range(n_seq)]
        return Fx(np.concatenate(steps, axis=1), k.result.fractional)
    return Fx(np.concatenate([forward[-1].v, backward[-1].v], axis=1), k.result.fractional)
