"""What the generated project computes, read from its own files.

The emulation reads the project as g++ compiles it, not hls4ml's Python objects: the top
function's kernel calls (`nnet::dense<input_t, layer2_t, config2>(in, out, w2, b2)`), the
layer each output belongs to (its `save_layer_output(..., "name", ...)` trace call), the
typedefs of `defines.h`, the config structs of `parameters.h` (every type and constant the
kernel template sees) and the weights files the C-simulation loads. So a project edited by
hand, patched, or configured in any way is emulated as it is. The files are read by
hlsdiff/project (the one reader of a project); this module keeps what the kernels need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np

from hlsdiff.fixedpoint import FixedType, parse_type
from hlsdiff.project import Headers, backend_family, evaluate, read_headers, read_top, read_top_file, read_weights


@dataclass
class Config:
    """One config struct: its typedefs (resolved to type text) and constants."""

    name: str
    types: dict[str, str] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    text: str = ''

    def type(self, key: str) -> FixedType | None:
        return parse_type(self.types.get(key))

    @overload
    def int(self, key: str) -> int | None: ...

    @overload
    def int(self, key: str, default: int) -> int: ...

    @overload
    def int(self, key: str, default: None) -> int | None: ...

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.values.get(key, default)
        try:
            return int(value) if value is not None else default  # type: ignore[call-overload]
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
    family: str = 'Vivado'  # the backend family whose nnet_utils the calls run (project/backend.py)
    _loaded: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def source(self, var: str) -> str:
        seen = set()
        while var in self.aliases and var not in seen:
            seen.add(var)
            var = self.aliases[var]
        return var

    def resolve(self, name: str) -> str:
        """A type name as the compiler sees it (typedefs followed, nnet::array unwrapped)."""
        return Headers(self.typedefs).resolve(name)

    def fixed(self, name: str) -> FixedType | None:
        return parse_type(self.resolve(name))

    def weight_size(self, array: str) -> int | None:
        value = evaluate(self.weight_sizes.get(array, ''), {})
        return int(value) if isinstance(value, (int, float)) else None

    def load_weights(self, array: str) -> np.ndarray:
        """The doubles the C-simulation reads for a weights array (before its cast); read once."""
        if array not in self._loaded:
            self._loaded[array] = read_weights(self.firmware, self.weights[array][1])
        return self._loaded[array]

    def preload(self) -> None:
        """Read every weights file now: the project may be a temporary folder that goes away."""
        for array in self.weights:
            try:
                self.load_weights(array)
            except (OSError, ValueError):
                pass  # the layer that uses it says so when it is emulated


def read_program(firmware: Path, project_name: str = 'myproject', top_text: str | None = None) -> Program:
    """Parse the project's top function, typedefs and config structs; `top_text`: the top unit as it is built (with
    the trace calls hlsdiff added to a project written without them), else as it is on disk."""
    firmware = Path(firmware)
    top = read_top(top_text, project_name) if top_text is not None else read_top_file(firmware, project_name)
    headers = read_headers(firmware)
    configs = {name: Config(name, {key: headers.resolve(value) for key, value in struct.typedefs.items()},
                            struct.values(), struct.text)
               for name, struct in headers.structs.items()}
    calls: list[Call] = []
    producer: dict[str, int] = {}
    for kc in top.kernels():
        if kc.namespace:  # a call hlsdiff patch rerouted (nnet::hlsdiff::) is not emulated
            continue
        for v in kc.outputs:
            producer[v] = len(calls)
        calls.append(Call(kc.function, kc.type_args, kc.args, kc.layer, line=kc.line + 1))
    inputs = [name for name in top.arguments if name not in producer]
    weights = {w.array: (w.type, w.file) for w in top.loads.values()}
    sizes = {w.array: w.size for w in top.loads.values()}
    return Program(firmware, calls, headers.typedefs, configs, weights, sizes, inputs, producer, top.aliases,
                   backend_family(firmware.parent))
