"""hls4ml 1.3.0's Vivado/Vitis writer: its file names, the shapes of the C++ it writes, its quirks.

Everything hlsdiff assumes about how hls4ml 1.3.0 lays out a project lives here: where each file
is, how the top function, its `nnet::` calls, the trace and weight-loading calls, the typedefs
and config structs are written, what the weights files look like, which lines of the stock
kernels identify the layout, and where hlsdiff's own additions go. The rest of
`hlsdiff/project` works on what these functions return; another hls4ml release (or another
backend) is another module like this one, chosen in `hlsdiff/project/adapter.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

VERSION = '1.3.0'

# ---- files -------------------------------------------------------------------------------------

CONFIG_FILE = 'hls4ml_config.yml'
FIRMWARE = 'firmware'
NNET_UTILS = 'nnet_utils'  # under firmware/
PARAMETERS = 'parameters.h'  # under firmware/
DEFINES = 'defines.h'  # under firmware/
WEIGHTS = 'weights'  # under firmware/
BUILD_SCRIPT = 'build_lib.sh'
DEFAULT_NAME = 'myproject'
DEFAULT_IO_TYPE = 'io_parallel'


def top_file(name: str, under_firmware: bool = False) -> str:
    """The top function's file, relative to the project (or to its firmware/)."""
    return f'{name}.cpp' if under_firmware else f'{FIRMWARE}/{name}.cpp'


def bridge_file(name: str) -> str:
    """The C-simulation's entry points (ctypes calls them), relative to the project."""
    return f'{name}_bridge.cpp'


def required(name: str) -> tuple[str, ...]:
    """What a project has, relative to it (besides hls4ml_config.yml, which names it)."""
    return (top_file(name), bridge_file(name), f'{FIRMWARE}/{PARAMETERS}', f'{FIRMWARE}/{DEFINES}',
            f'{FIRMWARE}/{NNET_UTILS}')


def weights_file(array: str, suffix: str = 'txt') -> str:
    """A weights array's file, relative to the project (`.txt` is read by the C-simulation,
    `.h` holds the same values for synthesis)."""
    return f'{FIRMWARE}/{WEIGHTS}/{array}.{suffix}'


def read_config(text: str) -> dict[str, Any]:
    """hls4ml_config.yml. hls4ml writes python-specific tags for some values (the pickled Keras 2 model; a
    Keras 3 model as `!keras_model <path of its .keras file>`): those are read as None, the rest as written.
    Raises yaml.YAMLError."""
    import yaml

    base: Any = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)  # libyaml: the pickled model is big

    class TolerantLoader(base):
        pass

    loader: Any = TolerantLoader
    loader.add_multi_constructor('tag:yaml.org,2002:python/', lambda loader, suffix, node: None)
    loader.add_constructor('!keras_model', lambda loader, node: None)
    data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader, python tags read as None
    return data if isinstance(data, dict) else {}


# Lines of the stock 1.3.0 kernels that identify the layout hlsdiff patch knows.
KNOWN_LAYOUT = {
    'nnet_sepconv2d_latency.h': 'only a depth multiplier of 1 is currently supported',
    'nnet_sepconv2d.h': 'Resource strategy for DepthwiseConv2D is not supported.',
    'nnet_sepconv2d_stream.h': 'only a depth multiplier of 1 is currently supported',
}


def unknown_kernel_header(firmware: Path) -> str | None:
    """The first stock kernel header that is missing or not 1.3.0's, or None."""
    for header, marker in KNOWN_LAYOUT.items():
        p = firmware / NNET_UTILS / header
        if not p.exists() or marker not in p.read_text(errors='replace'):
            return header
    return None


# ---- the top function ----------------------------------------------------------------------------

_CALL_START = re.compile(r'^(?P<indent>[ \t]*)(?P<callee>nnet::(?P<ns>(?:\w+::)*)(?P<fn>\w+)\s*)<', re.M)
_ALIAS = re.compile(r'auto\s*&\s*(?P<new>\w+)\s*=\s*(?P<old>\w+)\s*;')  # a Flatten hls4ml made a no-op
_ARG_NAME = re.compile(r'(\w+)\s*(?:\[[^\]]*\])?\s*$')
TRACE_FUNCTION = 'save_layer_output'
LOAD_FUNCTION = 'load_weights_from_txt'
_MERGE = ('add', 'subtract', 'multiply', 'average', 'maximum', 'minimum', 'dot1d')
_DATA_MOVEMENT = re.compile(r'^(clone_stream|repack_stream|zeropad\w*|cropping\w*|transpose\w*)$')
_ELEMENT_WISE = re.compile(r'^(relu\w*|linear|leaky_relu|thresholded_relu|elu|selu|prelu|sigmoid|hard_sigmoid|'
                           r'hard_tanh|tanh|softmax\w*|softplus|softsign|binary_tanh|ternary_tanh|normalize\w*|'
                           r'add|subtract|multiply|average|maximum|minimum|concatenate\w*)$')
CallKind = Literal['trace', 'weights', 'data-movement', 'element-wise', 'pooling', 'kernel']


def is_head(line: str, name: str) -> bool:
    """The line that starts the top function `void name(` (Quartus io_parallel: `output_data name(`; its
    synthesis copy, `component ... name(`, is not the one g++ compiles; Catapult: `void CCS_BLOCK(name)(`)."""
    return re.match(rf'^\s*(?:void|output_data)\s+(?:{re.escape(name)}|CCS_BLOCK\(\s*{re.escape(name)}\s*\))\s*\(',
                    line) is not None


def rename_head(line: str, name: str, new: str) -> str:
    return re.sub(rf'\b{re.escape(name)}\b', new, line, count=1)


def io_type(signature: str) -> str:
    """io_stream when the top function takes streams (Quartus: `stream_in<T> &x_stream`)."""
    return 'io_stream' if 'hls::stream' in signature or 'stream_in<' in signature else 'io_parallel'


def argument_names(signature: str) -> list[str]:
    """The top function's argument variables, in order (comments dropped; Catapult's `CCS_BLOCK(name)` as name)."""
    signature = re.sub(r'CCS_BLOCK\(\s*(\w+)\s*\)', r'\1', re.sub(r'/\*.*?\*/', '', signature, flags=re.S))
    inner = signature[signature.find('(') + 1:signature.rfind(')')] if '(' in signature else ''
    return [m.group(1) for arg in split_top_level(inner) if (m := _ARG_NAME.search(arg))]


# Quartus's top function: io_parallel takes `input_data inputs` and returns `output_data outputs`, whose members
# the kernels read and write (`inputs.input_1`, `outputs.layer6_out`); io_stream copies its `x_stream` arguments
# to and from global streams `x`, which the kernels read and write.
_MEMBER = re.compile(r'^(?:inputs|outputs)\.(\w+)$')


def plain_var(arg: str) -> str:
    """A call's argument as the variable it names (Quartus's `inputs.x` / `outputs.y` as x / y)."""
    m = _MEMBER.match(arg)
    return m.group(1) if m else arg


def top_variables(signature: str, body: str) -> list[str]:
    """The variables that carry the top function's arguments through its calls, in order: its arguments
    (Vivado/Vitis); the members of Quartus's `inputs` and `outputs`; Quartus's streams without `_stream`."""
    names = argument_names(signature)
    if re.search(r'\binput_data\s+inputs\b', signature):
        return list(dict.fromkeys(re.findall(r'\b(?:inputs|outputs)\.(\w+)', body)))
    if 'stream_in<' in signature:
        return [n.removesuffix('_stream') for n in names]
    return names


def has_global_objects(text: str) -> bool:
    """The top file defines objects at namespace scope (Quartus io_stream: `stream<input_t> input_1;`): compiled
    into two units, their constructors and destructors would run twice on the one object the linker keeps."""
    return re.search(r'^stream<[^;\n]+>\s+\w+\s*;', text, re.M) is not None


def aliases(body: str) -> dict[str, str]:
    return {m.group('new'): m.group('old') for m in _ALIAS.finditer(body)}


@dataclass(frozen=True)
class Statement:
    """An `nnet::` call statement as written: `indent callee<targs>(args);rest`."""

    start: int  # offset of `nnet::`
    end: int  # offset just after the `;`
    indent: str
    callee: str  # `nnet::ns::fn<...>` as written
    namespace: str  # 'hlsdiff' for nnet::hlsdiff::fn, '' for nnet::fn
    function: str
    type_args: str
    args: str
    rest: str  # after the `;`, to the end of its line


def statements(text: str, start: int = 0) -> list[Statement]:
    """Every `nnet::f<...>(...);` statement that starts a line, from offset `start` on."""
    found = []
    for m in _CALL_START.finditer(text, start):
        close_t = _close(text, m.end() - 1, '<', '>')
        if close_t < 0:
            continue
        paren = _skip_space(text, close_t + 1)
        close_a = _close(text, paren, '(', ')') if paren < len(text) and text[paren] == '(' else -1
        semi = _skip_space(text, close_a + 1) if close_a >= 0 else -1
        if semi < 0 or semi >= len(text) or text[semi] != ';':
            continue
        eol = text.find('\n', semi)
        found.append(Statement(m.start('callee'), semi + 1, m.group('indent'), text[m.start('callee'):close_t + 1],
                               m.group('ns').rstrip(':'), m.group('fn'), text[m.end():close_t],
                               text[paren + 1:close_a], text[semi + 1:eol if eol >= 0 else len(text)]))
    return found


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _close(text: str, i: int, opening: str, closing: str) -> int:
    """The offset of the bracket that closes the one at `i` (quotes skipped, parentheses nest
    inside angle brackets); -1 at a `;` or the end first."""
    depth = parens = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = text.find('"', i + 1)
            if i < 0:
                return -1
        elif ch == ';':
            return -1
        elif opening == '<' and ch in '()':
            parens += 1 if ch == '(' else -1
        elif ch == opening and parens == 0:
            depth += 1
        elif ch == closing and parens == 0:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def split_top_level(text: str) -> list[str]:
    """Split on commas outside <> and ()."""
    parts, depth, cur = [], 0, ''
    for ch in text:
        if ch in '<(':
            depth += 1
        elif ch in '>)':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur.strip())
            cur = ''
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def comment_name(rest: str) -> str | None:
    """The layer name hls4ml writes after a call (`... ; // name`); users may edit it away."""
    m = re.match(r'\s*//\s*(\S+)', rest)
    return m.group(1) if m else None


def trace_target(function: str, args: list[str]) -> tuple[str, str] | None:
    """(variable, layer) of a `nnet::save_layer_output<T>(var, "layer", size)` call."""
    if function != TRACE_FUNCTION or len(args) < 2 or not re.fullmatch(r'\w+', args[0]):
        return None
    m = re.fullmatch(r'"([^"]+)"', args[1])
    return (args[0], m.group(1)) if m else None


_WEIGHTS_INCLUDE = re.compile(r'^\s*#include\s+"weights/(\w+)\.h"', re.M)


def included_weights(top: str) -> list[str]:
    """The weights arrays a top file includes as headers, compiled in (Quartus: `#include "weights/w2.h"`)."""
    return _WEIGHTS_INCLUDE.findall(top)


def weights_load(function: str, type_args: list[str], args: list[str]) -> tuple[str, str, str, str] | None:
    """(array, element type, size as written, file name) of a `load_weights_from_txt` call."""
    if function != LOAD_FUNCTION or len(type_args) != 2 or len(args) < 2 or not re.fullmatch(r'\w+', args[0]):
        return None
    m = re.fullmatch(r'"([^"]+)"', args[1])
    return (args[0], type_args[0], type_args[1], m.group(1)) if m else None


def outputs(function: str, args: list[str], weights: Iterable[str]) -> list[str]:
    """The variables a kernel call writes: after its inputs, before its weights."""
    known = set(weights)
    plain = [a for a in args if a not in known and re.fullmatch(r'\w+', a)]
    if function.startswith('clone_stream'):
        return plain[1:]
    if function in _MERGE or function.startswith('concatenate'):
        return plain[2:3]
    return plain[1:2]


def call_kind(function: str) -> CallKind:
    """What a call does, for the build's cost model (csim/split.py)."""
    if function == TRACE_FUNCTION:
        return 'trace'
    if re.match(r'load_\w*weights', function):
        return 'weights'
    if _DATA_MOVEMENT.match(function):
        return 'data-movement'
    if _ELEMENT_WISE.match(function):
        return 'element-wise'
    if re.search(r'pooling', function):
        return 'pooling'
    return 'kernel'


def result_type_arg(function: str, type_args: list[str], configs: set[str]) -> str | None:
    """The template argument that names the type a call writes: `res_T` before the config struct that closes
    `f<data_T, res_T, CONFIG_T>`; the last one where no config struct closes the list (da4ml's
    `dense_da_<n><input_t, result_t>`, a distributed-arithmetic `conv2d_cl<config, input_t, result_t>`)."""
    if function == 'clone_stream':  # clone_stream<data_T, res_T, N>
        return type_args[1] if len(type_args) > 1 else None
    if not type_args:
        return None
    if type_args[-1] in configs:
        return type_args[-2] if len(type_args) > 1 else None
    return type_args[-1]


# Distributed arithmetic (Strategy: distributed_arithmetic, with da4ml): each constant matrix becomes an adder
# graph da4ml writes as straight-line C++ into nnet_utils/nnet_code_gen.h, called directly in io_parallel
# (`dense_da_<n>`, `einsum_<n>_da_<i>_of_<k>`) or through a config struct whose strategy says so.
DA_STRATEGY = 'nnet::distributed_arithmetic'
_DA_FUNCTION = re.compile(r'^(dense_da_\d+|einsum_\d+_da_\d+_of_\d+|einsum_dense\d+_da_kernel)$')
GENERATED_CODE = 'nnet_code_gen.h'  # under nnet_utils/: code generated per model (im2col, da4ml's kernels)


DA_KERNEL = re.compile(r'^(dense_da_\d+)$')
_DA_NAMED = re.compile(r'dense_da\s*=\s*nnet::(?P<fn>dense_da_\d+)\s*<')


def da_kernel(function: str, config_texts: Iterable[str]) -> str | None:
    """The function da4ml generated that computes a call's whole output from its whole input: the call itself
    (io_parallel's `dense_da_<n>`), or the one the config of io_stream's `dense` names; None for the others (a
    convolution runs its `dense_da` once per window)."""
    if DA_KERNEL.match(function):
        return function
    if function == 'dense':
        return next((m.group('fn') for text in config_texts if (m := _DA_NAMED.search(text))), None)
    return None


def da_body(code_gen: str, function: str) -> tuple[int, int, list[str]] | None:
    """A da4ml kernel in nnet_code_gen.h: (inputs, outputs, its statements one a line, comments dropped)."""
    m = re.search(rf'void\s+{re.escape(function)}\s*\(\s*inp_t\s+model_inp\[(\d+)\]\s*,\s*out_t\s+model_out\[(\d+)\]'
                  r'\s*\)\s*\{(.*?)\n\}', code_gen, re.S)
    if m is None:
        return None
    lines = [line.split('//')[0].strip() for line in m.group(3).splitlines()]
    return int(m.group(1)), int(m.group(2)), [line for line in lines if line and not line.startswith('#pragma')]


def distributed_arithmetic(function: str, config_texts: Iterable[str]) -> bool:
    """True for a call of a kernel da4ml generated: by its name, or by a config struct it takes."""
    return bool(_DA_FUNCTION.match(function)) or any(
        re.search(rf'strategy\s*=\s*{DA_STRATEGY}\b', text) for text in config_texts)


# ---- headers ---------------------------------------------------------------------------------------

_TYPEDEF = re.compile(r'typedef\s+(?P<type>.+?)\s+(?P<name>\w+)\s*;')
_STRUCT = re.compile(r'struct\s+(?P<name>\w+)\s*(?::\s*[\w:]+\s*)?\{(?P<body>.*?)\n\};', re.S)
# a struct's array member (`static const unsigned* const perm;`) is defined after it: `unsigned config9_perm[3] = {...};`
_MEMBER_ARRAY = re.compile(r'^\s*(?:const\s+)?unsigned\s+(?P<name>\w+)\[\d*\]\s*=\s*\{(?P<values>[^}]*)\};', re.M)
_CONST = re.compile(r'static\s+(?:const|constexpr)\s+(?:unsigned|int|bool|float|double|nnet::[\w:]+)\s+'
                    r'(?P<name>\w+)\s*=\s*(?P<value>[^;]+);', re.S)
_ARRAY = re.compile(r'nnet::array\s*<\s*(?P<inner>.+)\s*,\s*[^,<>]+>$')


def typedefs(text: str) -> dict[str, str]:
    """`typedef T name;` outside the config structs: name -> T as written."""
    return {m.group('name'): m.group('type') for m in _TYPEDEF.finditer(_STRUCT.sub('', text))}


def structs(text: str) -> dict[str, tuple[str, dict[str, str], dict[str, str]]]:
    """parameters.h's config structs: name -> (body, member typedefs, constants as written; an array member,
    such as a transpose's `perm`, as its values written in braces)."""
    out = {}
    arrays = {m.group('name'): '{' + m.group('values').strip() + '}' for m in _MEMBER_ARRAY.finditer(text)}
    for m in _STRUCT.finditer(text):
        body = m.group('body')
        types = {t.group('name'): t.group('type') for t in _TYPEDEF.finditer(body)}
        consts = {c.group('name'): c.group('value').strip() for c in _CONST.finditer(body)}
        prefix = m.group('name') + '_'
        consts.update({name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)})
        out[m.group('name')] = (body, types, consts)
    return out


def expand_macros(text: str) -> str:
    """A constant expression with nnet_utils' macros written out (DIV_ROUNDUP(a, b) as integer division)."""
    return re.sub(r'DIV_ROUNDUP\(([^,]+),([^)]+)\)', r'((\1) + (\2) - 1) // (\2)', text)


def array_element(text: str) -> str | None:
    """The element type of an io_stream `nnet::array<T, N>`, or None."""
    m = _ARRAY.match(text)
    return m.group('inner') if m else None


def retype(defines: str, name: str, new_type: str) -> str:
    """defines.h with `typedef ... name;` giving `new_type`."""
    return re.sub(rf'^typedef\s+.+?\s+{re.escape(name)}\s*;', lambda m: f'typedef {new_type} {name};', defines,
                  count=1, flags=re.M)


# ---- weights ---------------------------------------------------------------------------------------


def weights_values(text: str) -> np.ndarray:
    """The doubles of a weights .txt file: its first line, comma-separated (what
    `nnet::load_weights_from_txt` reads)."""
    first = text.split('\n', 1)[0]
    return np.array([float(tok) for tok in first.split(',') if tok.strip()], dtype=np.float64)


def header_weights_values(text: str) -> np.ndarray:
    """The values of a weights header compiled into the library (Quartus: `static const T w2[48] = {...};`)."""
    m = re.search(r'=\s*\{([^}]*)\}', text)
    if m is None:
        raise ValueError('no initialiser in braces')
    return np.array([float(tok) for tok in m.group(1).split(',') if tok.strip()], dtype=np.float64)


def weights_text(values: np.ndarray) -> str:
    return ', '.join(f'{v:.10f}' for v in values) + '\n'


def resized_weights_header(text: str, array: str, values: np.ndarray) -> str:
    """The weights .h (the synthesis copy) holding `values`, its size to match."""
    text = re.sub(r'\b' + re.escape(array) + r'\[\d+\]', f'{array}[{values.size}]', text)
    return re.sub(r'(=\s*\{)[^}]*(\};)', lambda m: m.group(1) + weights_text(values).strip() + m.group(2), text, count=1)


def resized_weights_load(top: str, array: str, size: int) -> str:
    """The top function loading `size` values into `array`."""
    return re.sub(r'(load_weights_from_txt<[^,>]+,\s*)\d+(>\(' + re.escape(array) + r',)',
                  lambda m: f'{m.group(1)}{size}{m.group(2)}', top)


def with_include(top: str, line: str) -> str | None:
    """The top function with `line` included after parameters.h, or None when it has no such include."""
    new, n = re.subn(r'(#include "parameters.h"[^\n]*\n)', lambda m: m.group(1) + line + '\n', top, count=1)
    return new if n else None


# ---- tracing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traced:
    """One output variable of a layer, to be saved under the layer's name."""

    layer: str
    var: str
    type: str
    size: str  # as C++ (e.g. 6*7*8)


def has_trace_calls(top: str) -> bool:
    return TRACE_FUNCTION in top


def has_trace_storage(bridge: str) -> bool:
    return 'trace_outputs->insert' in bridge


def with_trace_calls(top: str, layers: dict[str, list[Traced]]) -> str:
    """The top function with hls4ml's trace calls after each layer's code: after its one-line call
    (`... ; // layer`), or after the lines under `// layer` up to a blank line."""
    lines = top.split('\n')
    for layer, traced in layers.items():
        saves = ['#ifndef __SYNTHESIS__'] + [f'    nnet::{TRACE_FUNCTION}<{t.type}>({t.var}, "{t.layer}", {t.size});'
                                             for t in traced] + ['#endif']
        tag = f'// {layer}'
        for i, line in enumerate(lines):
            if line.rstrip().endswith(tag) and line.strip() != tag:  # one-line call
                lines[i + 1:i + 1] = saves
                break
            if line.strip() == tag:  # several lines follow, up to a blank line
                j = i + 1
                while j < len(lines) and lines[j].strip():
                    j += 1
                lines[j:j] = saves
                break
    return '\n'.join(lines)


def with_trace_storage(bridge: str, traced: list[Traced]) -> str | None:
    """The bridge allocating the trace buffers, or None when it has no allocate_trace_storage."""
    allocs = ''.join(f'    nnet::trace_outputs->insert(std::pair<std::string, void *>("{t.layer}", '
                     f'(void *) malloc({t.size} * element_size)));\n' for t in traced)
    new, n = re.subn(r'(nnet::trace_type_size = element_size;\n)', lambda m: m.group(1) + allocs, bridge, count=1)
    return new if n == 1 else None


# Quartus guards its trace calls with HLS_SYNTHESIS; in io_stream hls4ml 1.3.0's quartus_writer traces the model's
# output stream under every layer's name (its `vars` is the last layer's), so they are written anew, one block after
# the call that writes each traced variable.
_GUARDED_TRACES = re.compile(r'^#ifndef HLS_SYNTHESIS\n(?:[ \t]*nnet::save_layer_output<[^\n]*\n)+#endif\n', re.M)


def with_trace_calls_after_writers(top: str, layers: dict[str, list[Traced]]) -> str:
    """The top function with its trace blocks replaced by one after each call that writes a traced variable (the
    variable as the call writes it: `outputs.y` for Quartus's io_parallel output)."""
    text = _GUARDED_TRACES.sub('', top)
    by_var = {plain_var(t.var): t for traced in layers.values() for t in traced}
    weights = set(included_weights(text))
    pieces, last = [], 0
    for s in statements(text):
        args = split_top_level(s.args)
        written = {plain_var(a): a for a in args}
        saves = [f'    nnet::{TRACE_FUNCTION}<{t.type}>({written[v]}, "{t.layer}", {t.size});'
                 for v in outputs(s.function, list(written), weights) if (t := by_var.get(v)) is not None]
        if not saves:
            continue
        eol = text.find('\n', s.end)
        eol = len(text) if eol < 0 else eol + 1
        pieces += [text[last:eol], '\n'.join(['#ifndef HLS_SYNTHESIS', *saves, '#endif']) + '\n']
        last = eol
    return ''.join(pieces) + text[last:]
