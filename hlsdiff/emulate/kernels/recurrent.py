"""LSTM and GRU (nnet_recurrent.h): `lstm_stack` and `gru_stack`, io_parallel and io_stream.

Both stacks run one cell per time step from a zero state (`use_static`: `lstm_static`/`gru_static`, whose static
state the first step resets; else `lstm`/`gru` on the stack's own zero state) and write the last state
(`n_sequence_out == 1`) or every step's (`return_sequences`). io_stream's stack reads one input pack per step and
calls the same cells. A cell is two dense products (`mult_config1` over the step's input, `mult_config2` over the
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
    """What every step of one recurrent layer needs: the call's program, config and types."""

    k: EmulatedCall
    cfg: Config
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
        w, b = (call.args[2], call.args[4]) if part == 1 else (call.args[3], call.args[5])
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


def _cell(k: EmulatedCall, gates: int) -> Cell:
    cfg = k.config
    call = k.call
    if len(call.type_args) != 3:
        raise NotEmulated(f'nnet::{call.function} with initial states passed in is not emulated')
    if len(call.args) != 6:
        raise NotEmulated(f'nnet::{call.function} with {len(call.args)} arguments is not emulated')
    n_in, n_state, n_seq = (cfg.int(key, 0) for key in ('n_in', 'n_state', 'n_sequence'))
    if not n_in or not n_state or not n_seq:
        raise NotEmulated(f'{cfg.name} has no n_in/n_state/n_sequence')
    if k.x.v.shape[1] != n_seq * n_in:
        raise NotEmulated(f'{cfg.name} reads {n_seq} x {n_in} values, its input has {k.x.v.shape[1]}')
    for part, n in ((1, n_in), (2, n_state)):
        mult = k.program.configs.get(cfg.types.get(f'mult_config{part}', ''))
        if mult is not None and (mult.int('n_in') != n or mult.int('n_out') != gates * n_state):
            raise NotEmulated(f'{mult.name} is {mult.int("n_in")} x {mult.int("n_out")}, the layer needs {n} x '
                              f'{gates * n_state}')
    return Cell(k, cfg, n_in, n_state, n_seq, required_type(cfg, 'accum_t', f'nnet::{call.function}'))


def _steps(cell: Cell) -> tuple[Fx, int]:
    """Every step's input as one row (N * steps, n_in): the input product does not depend on the state, so it is
    computed for all steps at once; and the number of samples N."""
    rows = cell.k.x.v.shape[0]
    x = cell.k.x.reshape(rows * cell.n_sequence, cell.n_in)
    return x, rows


def _output(cell: Cell, states: list[Fx]) -> Fx:
    """The stack's `res`: every step's state (`n_sequence_out > 1`) or the last one."""
    if cell.cfg.int('n_sequence_out', 1) > 1:
        if cell.cfg.int('n_sequence_out') != cell.n_sequence:
            raise NotEmulated(f'{cell.cfg.name} writes {cell.cfg.int("n_sequence_out")} of {cell.n_sequence} steps')
        return Fx(np.concatenate([s.v for s in states], axis=1), states[-1].f)
    return states[-1]


@register('lstm_stack')
def lstm_stack(k: EmulatedCall) -> Fx:
    """`lstm_static` (or `lstm`) per step; Keras's gate order i, f, c, o in the products' outputs."""
    cell = _cell(k, 4)
    n, result, accum = cell.n_state, cell.result, cell.accum
    static = bool(cell.cfg.values.get('use_static', True))
    # lstm (not static) writes its products as res_T into its accum_t arrays; lstm_stack instantiates it even when
    # use_static (a plain `if`), so hls4ml 1.3.0's LSTM builds only where data_T, res_T and accum_t are one type
    product_t = accum if static else result
    x, rows = _steps(cell)
    inputs = arith.cast(cell.product(1, x, product_t), accum)
    inputs = inputs.reshape(rows, cell.n_sequence, 4 * n)
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
    return _output(cell, states)


@register('gru_stack')
def gru_stack(k: EmulatedCall) -> Fx:
    """`gru_static` (or `gru`, the same arithmetic) per step: Keras's z, r, h order (PyTorch's r, z, n with
    `pytorch_order`); the reset gate applied after the recurrent product, as Keras's `reset_after`."""
    cell = _cell(k, 3)
    n, result, accum = cell.n_state, cell.result, cell.accum
    pytorch = bool(cell.cfg.values.get('pytorch_order', False))
    x, rows = _steps(cell)
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
    return _output(cell, states)
