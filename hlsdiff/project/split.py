"""The top unit rewritten as several translation units that together define the top function.

Each one-line `nnet::...<...>(...);` call of the top function goes behind a forwarding template
(a *thunk*): `nnet::relu<a, b, c>(x, y); // relu` becomes `hlsdiff_thunk_7(x, y); // relu`.
Part 0 is the top function itself; part n > 0 is a copy with the function renamed. Each part
defines the thunks it is given and declares the others; a copy instantiates its thunks by
calling them with the same arguments, hence with the same deduced types (and mangled names).
Which part defines which thunk is the build's choice (csim/split.py).
"""

from __future__ import annotations

from hlsdiff.project.adapter import writer
from hlsdiff.project.top import KernelCall, TopFunction

THUNK = 'hlsdiff_thunk_'
PART = 'hlsdiff_part_'


def movable_calls(top: TopFunction) -> list[KernelCall]:
    """The calls that can go behind a thunk: those written on one line of their own."""
    return [c for c in top.calls if c.one_line]


def thunked_units(top: TopFunction, calls: list[KernelCall], side: list[int]) -> list[str]:
    """One unit per part; `side[k]` is the part that defines the thunk of `calls[k]`."""
    body = top.text.split('\n')
    for k, call in enumerate(calls):
        body[call.line] = f'{call.indent}{THUNK}{k}({call.args_text});{call.rest}'

    def part(n: int) -> str:
        thunks = []
        for k, call in enumerate(calls):
            decl = f'template <class... A> __attribute__((noinline, used)) void {THUNK}{k}(A&&... a)'
            thunks.append(f'{decl} {{ {call.callee}(static_cast<A&&>(a)...); }}' if side[k] == n else f'{decl};')
        out = list(body)
        line = out[top.head] if n == 0 else writer.rename_head(out[top.head], top.name, f'{PART}{n}')
        out[top.head] = '\n'.join(['// hlsdiff: thunks (see hlsdiff/csim/split.py)', *thunks, line])
        return '\n'.join(out)

    return [part(n) for n in range(max(side) + 1)]
