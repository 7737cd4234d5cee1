"""The top function of a project as data: its `nnet::` calls in order, which layer each one
writes (its trace call, else hls4ml's comment), the weights it loads, its arguments.

The one reader of the generated top function: the emulation (emulate/program.py), the patcher
(cpp/patcher.py) and the split build (csim/split.py) all take their calls from here.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from hlsdiff.project.adapter import writer


@dataclass(frozen=True)
class KernelCall:
    """One `nnet::` call statement of the top function, as written."""

    function: str  # e.g. dense, depthwise_conv_2d_cl
    namespace: str  # '' for nnet::f, 'hlsdiff' for nnet::hlsdiff::f (a patched call)
    callee: str  # `nnet::f<...>` exactly as written
    type_args: list[str]  # template arguments (type names, config name, literals)
    args: list[str]  # call arguments
    args_text: str  # the arguments exactly as written
    text: str  # from `nnet::` to the `;`, exactly as written
    indent: str
    rest: str  # after the `;`, to the end of its line (hls4ml's `// name` comment)
    line: int  # 0-based index of its first line
    end_line: int  # 0-based index of the line of its `;`
    outputs: tuple[str, ...] = ()  # the variables it writes
    layer: str | None = None  # the layer it writes: from its trace call, else hls4ml's comment

    @property
    def one_line(self) -> bool:
        """The whole line is this call (and a comment): it can be replaced line for line."""
        return self.line == self.end_line and (not self.rest.strip() or self.rest.strip().startswith('//'))

    @property
    def kind(self) -> writer.CallKind:
        return writer.call_kind(self.function)

    @property
    def is_kernel(self) -> bool:
        """A layer's computation: neither a trace call nor hls4ml's weights load."""
        return self.function not in (writer.TRACE_FUNCTION, writer.LOAD_FUNCTION)


@dataclass(frozen=True)
class WeightsLoad:
    array: str
    type: str  # the element type as written
    size: str  # the number of values the loader reads, as written
    file: str  # under firmware/weights/


@dataclass
class TopFunction:
    """The file of the top function, read."""

    name: str
    text: str
    heads: list[int]  # 0-based lines that start `void name(` (one in a generated project)
    signature: str = ''  # from `void name(` to its `{`
    calls: list[KernelCall] = field(default_factory=list)  # every nnet:: call statement after the head
    traces: dict[str, str] = field(default_factory=dict)  # variable -> layer (its trace call)
    loads: dict[str, WeightsLoad] = field(default_factory=dict)  # array -> what loads it
    aliases: dict[str, str] = field(default_factory=dict)  # `auto& a = b;`

    @property
    def head(self) -> int:
        return self.heads[0] if self.heads else -1

    @property
    def io_type(self) -> str:
        return writer.io_type(self.signature)

    @property
    def arguments(self) -> list[str]:
        return writer.top_variables(self.signature, self.text[self.text.find(self.signature):])

    def kernels(self) -> list[KernelCall]:
        return [c for c in self.calls if c.is_kernel]


def read_top(text: str, name: str) -> TopFunction:
    """Parse the top function `name` of a project's top file."""
    lines = text.split('\n')
    heads = [i for i, line in enumerate(lines) if writer.is_head(line, name)]
    top = TopFunction(name, text, heads)
    if not heads:
        return top
    offset = sum(len(line) + 1 for line in lines[:heads[0]])
    brace = text.find('{', offset)
    top.signature = text[offset:brace if brace >= 0 else len(text)]
    found = writer.statements(text, offset + len(lines[heads[0]]))
    parsed = [(s, writer.split_top_level(s.type_args), [writer.plain_var(a) for a in writer.split_top_level(s.args)])
              for s in found]
    for array in writer.included_weights(text):  # compiled in (Quartus): read from the header itself
        top.loads[array] = WeightsLoad(array, '', '', f'{array}.h')
    names: dict[str, set[str]] = {}
    for s, targs, args in parsed:
        traced = writer.trace_target(s.function, args)
        if traced:
            top.traces.setdefault(*traced)
            names.setdefault(traced[0], set()).add(traced[1])
        load = writer.weights_load(s.function, targs, args)
        if load:
            top.loads[load[0]] = WeightsLoad(*load)
    # one variable traced under several layers' names names none of them (hls4ml 1.3.0's Quartus io_stream
    # writer traces the output stream under every name; hlsdiff's own projects have theirs corrected)
    top.traces = {var: layer for var, layer in top.traces.items() if len(names[var]) == 1}
    starts = _line_starts(text)
    for s, targs, args in parsed:
        outs = tuple(writer.outputs(s.function, args, top.loads))
        layer = next((top.traces[v] for v in outs if v in top.traces), None) or writer.comment_name(s.rest)
        top.calls.append(KernelCall(s.function, s.namespace, s.callee, targs, args, s.args, text[s.start:s.end],
                                    s.indent, s.rest, _line_of(starts, s.start), _line_of(starts, s.end - 1), outs,
                                    layer))
    top.aliases = writer.aliases(text)  # in the body; Quartus io_stream's at namespace scope, with its streams
    return top


def read_top_file(firmware: Path, name: str) -> TopFunction:
    """The top function of the project whose firmware folder this is."""
    return read_top((Path(firmware) / writer.top_file(name, under_firmware=True)).read_text(errors='replace'), name)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts += [i + 1 for i, ch in enumerate(text) if ch == '\n']
    return starts


def _line_of(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset) - 1
