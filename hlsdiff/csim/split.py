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
Which part defines which thunk is a greedy balance of a rough cost per call: the layer
kernels against the trace calls, the weight loading and the element-wise layers, which are
cheap to generate but heavy in fixed-point conversions (the bridge is compiled with part 1).
The linker joins the two (build/compile.py); the arithmetic is the same templates on the same
types, so the traces are bit-identical (tested). A call that does not fit on one line is left
where it is; a file without exactly one top function is compiled whole.

In io_parallel the kernels unroll, and g++'s optimisation of a unit grows faster than its
size: the #1472-shaped model's three depthwise kernels take 13 s in a unit with one of them,
35 s with two and 65 s with all three (-Og). There the kernels are spread over up to
MAX_PARTS units, more than there are cores: each unit also parses and instantiates what
every unit needs, but that is cheaper than the growth.
"""

from __future__ import annotations

import re

THUNK = 'hlsdiff_thunk_'
_CALL = re.compile(
    r'^(?P<indent>[ \t]*)(?P<callee>nnet::[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*\s*<[^;]*>)\s*'
    r'\((?P<args>[^;]*)\)\s*;(?P<rest>\s*(?://.*)?)$'
)
# Rough compile cost of one call, relative to a layer kernel in io_stream (measured on the demo
# with -Og: the trace calls and the element-wise layers are heavy in fixed-point conversions)
_COST = [
    (re.compile(r'^nnet::save_layer_output\b'), 0.1),
    (re.compile(r'^nnet::load_\w*weights'), 0.05),
    (re.compile(r'^nnet::(clone_stream|repack_stream|zeropad\w*|cropping\w*|transpose\w*)\b'), 0.2),
    (re.compile(r'^nnet::(relu\w*|linear|leaky_relu|thresholded_relu|elu|selu|prelu|sigmoid|hard_sigmoid|hard_tanh|'
                r'tanh|softmax\w*|softplus|softsign|binary_tanh|ternary_tanh|normalize\w*|add|subtract|multiply|'
                r'average|maximum|minimum|concatenate\w*)\b'), 0.7),
]
KERNEL_COST = {'io_stream': 0.8, 'io_parallel': 3.0}  # io_parallel kernels unroll: code generation dominates
BRIDGE_COST = 1.3  # the bridge is compiled with part 1
MIN_CALLS = 4
MAX_PARTS = 4  # io_parallel: one kernel a unit, up to this many units


POOLING = re.compile(r'^nnet::\w*pooling\w*\b')  # io_parallel: no im2col buffers to unroll
POOLING_COST = 1.0


def _cost(callee: str, io_type: str) -> float:
    for pattern, cost in _COST:
        if pattern.match(callee):
            return cost
    if io_type == 'io_parallel' and POOLING.match(callee):
        return POOLING_COST
    return KERNEL_COST[io_type]


def split_top(text: str, function: str, parts: int | None = None) -> list[str] | None:
    """Translation units (two, or up to MAX_PARTS in io_parallel; `parts` to force a number)
    that together define `function` exactly as `text` does, or None when the file does not
    look like an hls4ml top function (then it is compiled whole)."""
    lines = text.split('\n')
    heads = [i for i, line in enumerate(lines) if re.match(rf'^\s*void\s+{re.escape(function)}\s*\(', line)]
    if len(heads) != 1 or THUNK in text:
        return None
    start = heads[0]
    calls = [(i, m) for i in range(start + 1, len(lines)) if (m := _CALL.match(lines[i]))]
    if len(calls) < MIN_CALLS:
        return None
    signature = '\n'.join(lines[start:]).split('{', 1)[0]
    io_type = 'io_stream' if 'hls::stream' in signature else 'io_parallel'
    costs = [_cost(m.group('callee'), io_type) for _, m in calls]
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
    side = [kept.index(n) for n in side]

    body = list(lines)
    for k, (i, m) in enumerate(calls):
        body[i] = f"{m.group('indent')}{THUNK}{k}({m.group('args')});{m.group('rest')}"

    def part(n: int) -> str:
        thunks = []
        for k, (_, m) in enumerate(calls):
            head = f'template <class... A> __attribute__((noinline, used)) void {THUNK}{k}(A&&... a)'
            if side[k] == n:
                thunks.append(f"{head} {{ {m.group('callee')}(static_cast<A&&>(a)...); }}")
            else:
                thunks.append(f'{head};')
        out = list(body)
        signature = out[start] if n == 0 else re.sub(rf'\b{re.escape(function)}\b', f'hlsdiff_part_{n}', out[start], count=1)
        out[start] = '\n'.join(['// hlsdiff: thunks (see hlsdiff/csim/split.py)', *thunks, signature])
        return '\n'.join(out)

    return [part(n) for n in range(len(kept))]
