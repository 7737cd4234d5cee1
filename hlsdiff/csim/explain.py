"""A failed build, explained in one line: the layer whose kernel g++ could not instantiate, and why.

g++ names the line of the top unit from which the failing template was instantiated (`required from here`): that
line is a layer's call (or the thunk the split put in its place), so the layer is known. A failure whose cause is
known gets its reason and the config change that avoids it; any other keeps g++'s first error, with the layer.
"""

from __future__ import annotations

import re
from pathlib import Path

from hlsdiff.fixedpoint import parse_type
from hlsdiff.project import KernelCall, Sources, read_top
from hlsdiff.project.split import THUNK, movable_calls

_HERE = re.compile(r'^(?P<file>[^\s:]+\.cpp):(?P<line>\d+):\d+:\s+required from here', re.M)
_DATA_T = re.compile(r'required from .void nnet::\w+\(.*?\[with data_T = (?P<type>ac_fixed<[^>]*>|ap_fixed<[^>]*>)')
# ac_math's piecewise-linear softmax (ac_softmax_pwl.h): exp_int_bits = int(1.443 * 2**(I - S)) + 1 <= 64
SOFTMAX_PWL = 'Intermediate bitwidth calculation gives a very large value for integer bits'


def softmax_pwl_integer_bits(signed: bool) -> int:
    """The most integer bits ac_softmax_pwl's static assertion lets through for an input of this signedness."""
    i = 1
    while int(1.443 * 2 ** (i + 1 - int(signed))) + 1 <= 64:
        i += 1
    return i


def failing_call(log: str, work: Path, sources: Sources) -> KernelCall | None:
    """The call of the top function whose instantiation failed, from g++'s `required from here`."""
    m = _HERE.search(log)
    if m is None:
        return None
    unit = Path(m.group('file'))
    unit = unit if unit.is_absolute() else work / unit
    try:
        line = unit.read_text(errors='replace').split('\n')[int(m.group('line')) - 1]
    except (OSError, IndexError):
        return None
    top = read_top(sources.top_cpp, sources.project_name)
    thunk = re.search(rf'{THUNK}(\d+)\s*\(', line)
    if thunk is not None:
        calls = movable_calls(top)
        k = int(thunk.group(1))
        return calls[k] if k < len(calls) else None
    return next((c for c in top.kernels() if c.text.split('\n')[0].strip() and c.text.split('\n')[0].strip() in line),
                None)


def _producer(sources: Sources, call: KernelCall) -> str | None:
    top = read_top(sources.top_cpp, sources.project_name)
    source = call.args[0] if call.args else None
    return next((c.layer for c in top.kernels() if source in c.outputs and c.layer), None)


def explain(log: str, work: Path, sources: Sources, first_error: str) -> tuple[str, str | None] | None:
    """(one line naming the layer that does not build and why, with the change that avoids a known cause; the
    layer), or None when g++'s log names no call of the top function."""
    call = failing_call(log, work, sources)
    if call is None:
        return None
    return _reason(log, sources, call, first_error), call.layer


def _reason(log: str, sources: Sources, call: KernelCall, first_error: str) -> str:
    what = f'layer {call.layer or "?"} (nnet::{call.function}) does not build'
    data = _DATA_T.search(log)
    t = parse_type(data.group('type').replace(' ', '')) if data else None
    if SOFTMAX_PWL in log and t is not None:
        limit = softmax_pwl_integer_bits(t.signed)
        producer = _producer(sources, call)
        change = (f'set LayerName.{producer}.Precision.result to fixed<{t.fractional + limit},{limit}>'
                  if producer else f'give its input at most {limit} integer bits')
        return (f'{what}: its input type {data.group("type") if data else t} has {t.integer} integer bits, more than '
                f"ac_math's piecewise-linear softmax takes (ac_softmax_pwl.h: \"{SOFTMAX_PWL}\"; at most {limit}); "
                f'{change}')
    return f'{what}: {first_error}'


__all__ = ['explain', 'softmax_pwl_integer_bits']
