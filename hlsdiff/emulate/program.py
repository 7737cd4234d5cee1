"""What the generated project computes, read from its own files.

The emulation reads the project as g++ compiles it, not hls4ml's Python objects: the top
function's kernel calls (`nnet::dense<input_t, layer2_t, config2>(in, out, w2, b2)`), the
layer each output belongs to (its `save_layer_output(..., "name", ...)` trace call), the
typedefs of `defines.h`, the config structs of `parameters.h` (every type and constant the
kernel template sees) and the weights files the C-simulation loads. So a project edited by
hand, patched, or configured in any way is emulated as it is.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hlsdiff.fixedpoint import FixedType, parse_type

_CALL = re.compile(r'^\s*nnet::(?P<fn>\w+)\s*<(?P<targs>[^;]*?)>\s*\((?P<args>[^;]*)\)\s*;'
                   r'[ \t]*(?://[ \t]*(?P<comment>\w+))?', re.M)
_TRACE = re.compile(r'nnet::save_layer_output<[^>]*>\(\s*(?P<var>\w+)\s*,\s*"(?P<name>[^"]+)"')
_LOAD = re.compile(r'nnet::load_weights_from_txt<\s*(?P<type>[\w:<>, ]+?)\s*,\s*(?P<size>[^>]+)>'
                   r'\(\s*(?P<var>\w+)\s*,\s*"(?P<file>[^"]+)"')
_TYPEDEF = re.compile(r'typedef\s+(?P<type>.+?)\s+(?P<name>\w+)\s*;')
_STRUCT = re.compile(r'struct\s+(?P<name>\w+)\s*:\s*[\w:]+\s*\{(?P<body>.*?)\n\};', re.S)
_CONST = re.compile(r'static\s+(?:const|constexpr)\s+(?:unsigned|int|bool|float|double|nnet::[\w:]+)\s+'
                    r'(?P<name>\w+)\s*=\s*(?P<value>[^;]+);', re.S)
_ARRAY = re.compile(r'nnet::array\s*<\s*(?P<inner>.+)\s*,\s*[^,<>]+>$')
_ALIAS = re.compile(r'auto\s*&\s*(?P<new>\w+)\s*=\s*(?P<old>\w+)\s*;')
_TOP_ARGS = re.compile(r'void\s+(?P<name>\w+)\s*\((?P<args>[^)]*)\)\s*\{', re.S)


@dataclass
class Config:
    """One config struct: its typedefs (resolved to type text) and constants."""

    name: str
    types: dict[str, str] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    text: str = ''

    def type(self, key: str) -> FixedType | None:
        return parse_type(self.types.get(key))

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.values.get(key, default)
        try:
            return int(value) if value is not None else default
        except (TypeError, ValueError):
            return default


@dataclass
class Call:
    """One kernel call of the top function."""

    function: str
    type_args: list[str]  # template arguments as written (type names, config name, literals)
    args: list[str]  # call arguments (variables, literals)
    layer: str | None = None  # the layer whose output this call writes (from its trace call)
    line: int = 0


@dataclass
class Program:
    """The project's top function as data: calls in order, types, configs, weights."""

    firmware: Path
    calls: list[Call]
    typedefs: dict[str, str]
    configs: dict[str, Config]
    weights: dict[str, tuple[str, str]]  # array name -> (element type text, file name)
    weight_sizes: dict[str, str]  # array name -> the size the loader reads (as written)
    top_inputs: list[str]  # the top function's input variables, in order
    producer: dict[str, int]  # variable -> index of the call that writes it
    aliases: dict[str, str] = field(default_factory=dict)  # `auto& a = b;` (a Flatten hls4ml made a no-op)
    _loaded: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def source(self, var: str) -> str:
        seen = set()
        while var in self.aliases and var not in seen:
            seen.add(var)
            var = self.aliases[var]
        return var

    def resolve(self, name: str) -> str:
        """A type name as the compiler sees it (typedefs followed, nnet::array unwrapped)."""
        seen = set()
        text = name.strip()
        while text in self.typedefs and text not in seen:
            seen.add(text)
            text = self.typedefs[text].strip()
        m = _ARRAY.match(text)
        if m:
            return self.resolve(m.group('inner'))
        return text

    def fixed(self, name: str) -> FixedType | None:
        return parse_type(self.resolve(name))

    def weight_size(self, array: str) -> int | None:
        value = _eval(self.weight_sizes.get(array, ''), {})
        return int(value) if isinstance(value, (int, float)) else None

    def load_weights(self, array: str) -> np.ndarray:
        """The doubles the C-simulation reads for a weights array (before its cast); read once."""
        if array not in self._loaded:
            _, filename = self.weights[array]
            text = (self.firmware / 'weights' / filename).read_text()
            first = text.split('\n', 1)[0]
            self._loaded[array] = np.array([float(tok) for tok in first.split(',') if tok.strip()], dtype=np.float64)
        return self._loaded[array]

    def preload(self) -> None:
        """Read every weights file now: the project may be a temporary folder that goes away."""
        for array in self.weights:
            try:
                self.load_weights(array)
            except (OSError, ValueError):
                pass  # the layer that uses it says so when it is emulated


def read_program(firmware: Path, project_name: str = 'myproject') -> Program:
    """Parse the project's top function, typedefs and config structs."""
    firmware = Path(firmware)
    top = (firmware / f'{project_name}.cpp').read_text(errors='replace')
    typedefs: dict[str, str] = {}
    for header in ('defines.h', 'parameters.h'):
        path = firmware / header
        if path.exists():
            for m in _TYPEDEF.finditer(_strip_structs(path.read_text(errors='replace'))):
                typedefs[m.group('name')] = m.group('type')
    configs: dict[str, Config] = {}
    params = (firmware / 'parameters.h').read_text(errors='replace') if (firmware / 'parameters.h').exists() else ''
    for m in _STRUCT.finditer(params):
        cfg = Config(m.group('name'), text=m.group('body'))
        for t in _TYPEDEF.finditer(m.group('body')):
            cfg.types[t.group('name')] = t.group('type')
        for c in _CONST.finditer(m.group('body')):
            cfg.values[c.group('name')] = c.group('value').strip()
        configs[cfg.name] = cfg
    for cfg in configs.values():  # evaluate the constants, in the order they may refer to each other
        _evaluate(cfg)
        for key, value in list(cfg.types.items()):
            cfg.types[key] = _resolve(value, typedefs)
    body_start = top.find('{', top.find(f'void {project_name}('))
    body = top[body_start:]
    offset = top[:body_start].count('\n')
    trace_of: dict[str, str] = {}
    for m in _TRACE.finditer(body):
        trace_of.setdefault(m.group('var'), m.group('name'))
    weights = {m.group('var'): (m.group('type').strip(), m.group('file')) for m in _LOAD.finditer(top)}
    weight_sizes = {m.group('var'): m.group('size').strip() for m in _LOAD.finditer(top)}
    calls: list[Call] = []
    producer: dict[str, int] = {}
    for m in _CALL.finditer(body):
        fn = m.group('fn')
        if fn in ('save_layer_output', 'load_weights_from_txt', 'trace_outputs'):
            continue
        call = Call(fn, _split(m.group('targs')), _split(m.group('args')), line=offset + body[:m.start()].count('\n') + 1)
        outs = _outputs(call, weights)
        # the layer: by its trace call, else (a project without trace calls) by hls4ml's comment
        call.layer = next((trace_of[v] for v in outs if v in trace_of), None) or m.group('comment')
        for v in outs:
            producer[v] = len(calls)
        calls.append(call)
    sig = _TOP_ARGS.search(top[top.find(f'void {project_name}('):])
    inputs = []
    if sig:
        for arg in _split(sig.group('args')):
            name = re.findall(r'(\w+)\s*(?:\[[^\]]*\])?\s*$', arg)
            if name and name[0] not in producer:
                inputs.append(name[0])
    aliases = {m.group('new'): m.group('old') for m in _ALIAS.finditer(body)}
    return Program(firmware, calls, typedefs, configs, weights, weight_sizes, inputs, producer, aliases)


def _resolve(text: str, typedefs: dict[str, str]) -> str:
    seen = set()
    text = text.strip()
    while text in typedefs and text not in seen:
        seen.add(text)
        text = typedefs[text].strip()
    m = _ARRAY.match(text)
    return _resolve(m.group('inner'), typedefs) if m else text


def _strip_structs(text: str) -> str:
    return _STRUCT.sub('', text)


def _split(text: str) -> list[str]:
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


def _outputs(call: Call, weights: dict) -> list[str]:
    """The variables a call writes: after its inputs, before its weights."""
    args = [a for a in call.args if a not in weights and re.fullmatch(r'\w+', a)]
    fn = call.function
    if fn.startswith('clone_stream'):
        return args[1:]
    if fn in ('add', 'subtract', 'multiply', 'average', 'maximum', 'minimum', 'dot1d') or fn.startswith('concatenate'):
        return args[2:3]
    return args[1:2]


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
        ast.Div: operator.floordiv, ast.Mod: operator.mod, ast.USub: operator.neg, ast.LShift: operator.lshift}


def _evaluate(cfg: Config) -> None:
    """Integer and float constants (`16*35*4`, `DIV_ROUNDUP(a, b)`, `1.0`); others stay text."""
    done: dict[str, object] = {}
    for _ in range(3):
        for key, text in cfg.values.items():
            if key in done or not isinstance(text, str):
                continue
            value = _eval(text, done)
            if value is not None:
                done[key] = value
    for key, value in done.items():
        cfg.values[key] = value


def _eval(text: str, names: dict) -> object:
    text = text.strip().rstrip('fFuU')
    if text in ('true', 'false'):
        return text == 'true'
    text = re.sub(r'DIV_ROUNDUP\(([^,]+),([^)]+)\)', r'((\1) + (\2) - 1) // (\2)', text)
    text = re.sub(r'(\d)[uU]\b', r'\1', text)
    try:
        tree = ast.parse(text, mode='eval')
    except SyntaxError:
        return text.split('::')[-1] if '::' in text else None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div) and (isinstance(a, float) or isinstance(b, float)):
                return a / b
            return _OPS[type(node.op)](a, b)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ValueError(text)

    try:
        return ev(tree)
    except (ValueError, TypeError, ZeroDivisionError, KeyError):
        return None
