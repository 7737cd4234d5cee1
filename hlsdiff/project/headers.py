"""defines.h and parameters.h: the typedefs g++ sees and the config structs each kernel template
gets (their member typedefs and constants, the constants evaluated where they are numbers)."""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hlsdiff.project.adapter import writer


@dataclass(frozen=True)
class ConfigStruct:
    """One config struct of parameters.h, as written."""

    name: str
    text: str  # its body
    typedefs: dict[str, str]  # member typedefs: name -> type as written (e.g. weight_t -> dw_weight_t)
    constants: dict[str, str]  # static constants: name -> value as written

    def values(self) -> dict[str, object]:
        """The constants, evaluated where they are numbers (`16*35*4`, `DIV_ROUNDUP(a, b)`, `1.0`,
        `nnet::latency` -> 'latency'); others as written."""
        done: dict[str, object] = {}
        for _ in range(3):  # in the order they may refer to each other
            for key, text in self.constants.items():
                if key not in done:
                    value = evaluate(text, done)
                    if value is not None:
                        done[key] = value
        return {key: done.get(key, text) for key, text in self.constants.items()}

    def int(self, key: str, default: int = 0) -> int:
        value = self.values().get(key, default)
        try:
            return int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return default


@dataclass
class Headers:
    """The typedefs (defines.h, and parameters.h outside its structs) and the config structs."""

    typedefs: dict[str, str] = field(default_factory=dict)
    structs: dict[str, ConfigStruct] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        """A type name as the compiler sees it (typedefs followed, nnet::array unwrapped)."""
        seen = set()
        text = name.strip()
        while text in self.typedefs and text not in seen:
            seen.add(text)
            text = self.typedefs[text].strip()
        inner = writer.array_element(text)
        return self.resolve(inner) if inner is not None else text


def read_headers(firmware: Path) -> Headers:
    """The headers of a project's firmware folder (a missing one reads as empty)."""
    texts = {}
    for header in (writer.DEFINES, writer.PARAMETERS):
        path = Path(firmware) / header
        texts[header] = path.read_text(errors='replace') if path.exists() else ''
    return headers_of(texts[writer.DEFINES], texts[writer.PARAMETERS])


def headers_of(defines: str, parameters: str) -> Headers:
    out = Headers()
    for text in (defines, parameters):
        out.typedefs.update(writer.typedefs(text))
    for name, (body, types, consts) in writer.structs(parameters).items():
        out.structs[name] = ConfigStruct(name, body, types, consts)
    return out


_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Div: operator.floordiv, ast.Mod: operator.mod, ast.USub: operator.neg, ast.LShift: operator.lshift}


def evaluate(text: str, names: dict) -> object:
    """A C++ constant expression of a config struct as a number (names from `names`), an
    enumerator (`nnet::latency` -> 'latency'), or None."""
    text = text.strip().rstrip('fFuU')
    if text in ('true', 'false'):
        return text == 'true'
    text = writer.expand_macros(text)
    text = re.sub(r'(\d)[uU]\b', r'\1', text)
    try:
        tree = ast.parse(text, mode='eval')
    except SyntaxError:
        return text.split('::')[-1] if '::' in text else None
    try:
        return _value(tree, names)
    except (ValueError, TypeError, ZeroDivisionError, KeyError):
        return None


def _value(node: ast.AST, names: dict) -> Any:
    if isinstance(node, ast.Expression):
        return _value(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _value(node.left, names), _value(node.right, names)
        if isinstance(node.op, ast.Div) and (isinstance(a, float) or isinstance(b, float)):
            return a / b
        return _OPS[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_value(node.operand, names))
    raise ValueError(ast.dump(node))
