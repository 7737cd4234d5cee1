"""Split the project's top translation unit in two, so that both cores compile it.

g++ compiles one translation unit on one core, and `myproject.cpp` is where almost all the
work is: every layer's template, every fixed-point conversion. hlsdiff moves each one-line
`nnet::...<...>(...);` call of the top function behind a forwarding template (a *thunk*):

    nnet::relu<layer2_t, layer3_t, relu_config3>(layer2_out, layer3_out); // relu
becomes
    hlsdiff_thunk_7(layer2_out, layer3_out); // relu

Part 0 is the top function itself and defines some of the thunks; part 1 is a copy of the
same text with the top function renamed, which defines the others and instantiates them by
calling them with the same arguments, hence with the same deduced types (and mangled names).
The calls come from the project's one reader of the top function, and the text is rewritten
there (hlsdiff/project/split.py); this module decides the parts.
Which part defines which thunk is a greedy balance of a rough cost per call: the layer
kernels against the trace calls, the weight loading and the element-wise layers, which are
cheap to generate but heavy in fixed-point conversions (the bridge is compiled with part 1).
The linker joins the two (csim/compile.py); the arithmetic is the same templates on the same
types, so the traces are bit-identical (tested). A call that does not fit on one line is left
where it is; a file without exactly one top function is compiled whole.

In io_parallel the kernels unroll, and g++'s optimisation of a unit grows faster than its
size: the #1472-shaped model's three depthwise kernels take 13 s in a unit with one of them,
35 s with two and 65 s with all three (-Og). There the kernels are spread over up to
MAX_PARTS units, more than there are cores: each unit also parses and instantiates what
every unit needs, but that is cheaper than the growth.
"""

from __future__ import annotations

from hlsdiff.project import read_top, writer
from hlsdiff.project.split import THUNK, movable_calls, thunked_units

__all__ = ['THUNK', 'split_top']

# Rough compile cost of one call by what it does, relative to a layer kernel in io_stream
# (measured on the demo with -Og: the trace calls and the element-wise layers are heavy in
# fixed-point conversions)
_COST = {'trace': 0.1, 'weights': 0.05, 'data-movement': 0.2, 'element-wise': 0.7}
KERNEL_COST = {'io_stream': 0.8, 'io_parallel': 3.0}  # io_parallel kernels unroll: code generation dominates
BRIDGE_COST = 1.3  # the bridge is compiled with part 1
MIN_CALLS = 4
MAX_PARTS = 4  # io_parallel: one kernel a unit, up to this many units
POOLING_COST = 1.0  # io_parallel: no im2col buffers to unroll


def _cost(kind: str, io_type: str) -> float:
    if kind in _COST:
        return _COST[kind]
    if io_type == 'io_parallel' and kind == 'pooling':
        return POOLING_COST
    return KERNEL_COST[io_type]


def split_top(text: str, function: str, parts: int | None = None) -> list[str] | None:
    """Translation units (two, or up to MAX_PARTS in io_parallel; `parts` to force a number)
    that together define `function` exactly as `text` does, or None when the file does not
    look like an hls4ml top function (then it is compiled whole)."""
    top = read_top(text, function)
    if len(top.heads) != 1 or THUNK in text or writer.has_global_objects(text):
        return None
    calls = movable_calls(top)
    if len(calls) < MIN_CALLS:
        return None
    io_type = top.io_type
    costs = [_cost(call.kind, io_type) for call in calls]
    if parts is None:
        kernels = sum(1 for c in costs if c == KERNEL_COST[io_type])
        parts = 2 if io_type == 'io_stream' else max(2, min(MAX_PARTS, kernels))
    load = [0.0, BRIDGE_COST] + [0.0] * (parts - 2)
    side = [0] * len(calls)  # the part that defines the thunk
    for k in sorted(range(len(calls)), key=lambda k: -costs[k]):  # largest first, to the lightest part
        side[k] = min(range(parts), key=lambda n: load[n])
        load[side[k]] += costs[k]
    if 0 not in side or 1 not in side:
        return None
    kept = [0, 1] + [n for n in range(2, parts) if n in side]  # an empty third part is no part
    return thunked_units(top, calls, [kept.index(n) for n in side])
