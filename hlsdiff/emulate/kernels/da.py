"""The kernels da4ml generates for `Strategy: distributed_arithmetic` (nnet_utils/nnet_code_gen.h), run as written.

da4ml writes each constant matrix as straight-line C++: every input cast to an `ap_fixed`, then sums and differences
of two earlier values, either one moved by `bit_shift<s>` (the same bits, worth 2**s times as much), each stored in
an `ap_fixed` of its own, and each output cast to a type and stored in the result type. Those statements are read
from the project and computed exactly here; any other statement is `NotEmulated`, naming it. A call that runs
its kernel once per window (a convolution) is not emulated.
"""

from __future__ import annotations

import re

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import DISTRIBUTED_ARITHMETIC, EmulatedCall, NotEmulated, register
from hlsdiff.fixedpoint import parse_type
from hlsdiff.project import writer

_TERM = r'(?:bit_shift<-?\d+>\(\s*v\d+\s*\)|v\d+)'
_DECL = re.compile(r'^(?P<type>ap_u?fixed<[^<>]*>)\s+(?P<var>v\d+)\s*=\s*(?P<expr>.+);$')
_OUT = re.compile(r'^model_out\[(?P<i>\d+)\]\s*=\s*(?P<expr>.+);$')
_INPUT = re.compile(r'^model_inp\[(?P<i>\d+)\]$')
_CAST = re.compile(r'^(?P<type>ap_u?fixed<[^<>]*>)\((?P<inner>.+)\)$')
_SUM = re.compile(rf'^(?P<neg>-\s*)?(?P<a>{_TERM})\s*(?:(?P<op>[+-])\s*(?P<b>{_TERM}))?$')
_SHIFT = re.compile(r'^bit_shift<(?P<s>-?\d+)>\(\s*(?P<v>v\d+)\s*\)$')

REASON = ('is a kernel da4ml generated (Strategy: distributed_arithmetic, nnet_utils/{file}): {why}; its values are '
          'compared with the framework, and the layers after it are emulated from its trace')


@register(DISTRIBUTED_ARITHMETIC)
def distributed_arithmetic(k: EmulatedCall) -> Fx:
    configs = [k.program.configs[a].text for a in k.call.type_args if a in k.program.configs]
    function = writer.da_kernel(k.call.function, configs)
    if function is None:
        raise _not_emulated(k, 'it runs once per window, which is not emulated')
    try:
        code = (k.program.firmware / writer.NNET_UTILS / writer.GENERATED_CODE).read_text(errors='replace')
    except OSError:
        code = ''
    body = writer.da_body(code, function)
    if body is None:
        raise _not_emulated(k, f'nnet::{function} was not found there')
    n_in, n_out, statements = body
    x = k.x.reshape(k.x.v.shape[0], -1)
    if x.v.shape[1] != n_in:
        raise _not_emulated(k, f'nnet::{function} reads {n_in} values, the layer has {x.v.shape[1]}')
    return _run(statements, x, n_out, k)


def _not_emulated(k: EmulatedCall, why: str) -> NotEmulated:
    return NotEmulated(f'nnet::{k.call.function} ' + REASON.format(file=writer.GENERATED_CODE, why=why))


def _run(statements: list[str], x: Fx, n_out: int, k: EmulatedCall) -> Fx:
    """The statements computed in order: the outputs, stored in the result type, one column each."""
    values: dict[str, Fx] = {}
    outputs: dict[int, Fx] = {}
    for line in statements:
        if (m := _DECL.match(line)) is not None:
            values[m.group('var')] = arith.cast(_value(m.group('expr'), values, x, k), _type(m.group('type'), k))
        elif (m := _OUT.match(line)) is not None:
            outputs[int(m.group('i'))] = arith.cast(_value(m.group('expr'), values, x, k), k.result)
        else:
            raise _not_emulated(k, f'the statement `{line}` is not emulated')
    if sorted(outputs) != list(range(n_out)):
        raise _not_emulated(k, 'it leaves some outputs unassigned')
    return Fx(np.stack([_at(outputs[i], k.result.fractional).v for i in range(n_out)], axis=1), k.result.fractional)


def _value(expr: str, values: dict[str, Fx], x: Fx, k: EmulatedCall) -> Fx:
    expr = expr.strip()
    if (m := _INPUT.match(expr)) is not None:
        return x[:, int(m.group('i'))]
    if (m := _CAST.match(expr)) is not None:
        return arith.cast(_value(m.group('inner'), values, x, k), _type(m.group('type'), k))
    if (m := _SUM.match(expr)) is None:
        raise _not_emulated(k, f'the expression `{expr}` is not emulated')
    a = _term(m.group('a'), values, k)
    if m.group('neg'):
        a = Fx(-a.v, a.f)
    if m.group('b') is None:
        return a
    b = _term(m.group('b'), values, k)
    return arith.add(a, b) if m.group('op') == '+' else arith.sub(a, b)


def _term(text: str, values: dict[str, Fx], k: EmulatedCall) -> Fx:
    m = _SHIFT.match(text)
    name = m.group('v') if m else text
    if name not in values:
        raise _not_emulated(k, f'{name} is read before it is written')
    v = values[name]
    return _at(Fx(v.v, v.f - int(m.group('s'))), max(0, v.f - int(m.group('s')))) if m else v


def _at(x: Fx, f: int) -> Fx:
    """The same values at `f` >= x.f fractional bits (exact)."""
    return x if x.f == f else Fx(x.v * (1 << (f - x.f)) if x.v.dtype == object else np.left_shift(x.v, f - x.f), f)


def _type(text: str, k: EmulatedCall):
    t = parse_type(text)
    if t is None:
        raise _not_emulated(k, f'the type {text} is not emulated')
    return t
