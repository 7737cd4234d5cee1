"""What every kernel shares: the call it computes, the registry that finds it, and the project reads
(types, config struct, weights) whose failure is `NotEmulated`, never a guess."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.program import Call, Config, Program
from hlsdiff.fixedpoint import FixedType
from hlsdiff.project import writer

STREAM_FUNCTIONS = ('clone_stream', 'repack_stream', 'broadcast_stream')
# the name every kernel da4ml generated is registered under (they are told apart by writer.distributed_arithmetic)
DISTRIBUTED_ARITHMETIC = 'distributed_arithmetic'


class NotEmulated(Exception):
    """This call cannot be emulated exactly; the message says why."""


@dataclass(frozen=True)
class EmulatedCall:
    """One kernel call of the project: the call, its program (types, configs, weights), the exact values
    of its inputs (one row per sample, flat channels-last), the result type, and the input's type."""

    program: Program
    call: Call
    inputs: list[Fx]
    result: FixedType
    data_t: FixedType | None = None

    @property
    def x(self) -> Fx:
        return self.inputs[0]

    @property
    def config(self) -> Config:
        name = self.call.type_args[-1]
        cfg = self.program.configs.get(name)
        if cfg is None:
            raise NotEmulated(f'config struct {name} not found in parameters.h')
        return cfg

    @property
    def stream(self) -> bool:
        cfg = self.program.configs.get(self.call.type_args[-1])
        return (cfg is not None and str(cfg.values.get('io_type', '')) == 'io_stream') or 'stream' in self.call.function


Compute = Callable[[EmulatedCall], Fx]
# (backend family, nnet:: function name) -> its emulation, filled as the kernel modules load: each backend family
# writes its own nnet_utils, so a kernel is emulated for a family only where its arithmetic was checked there
_KERNELS: dict[tuple[str, str], Compute] = {}
_PREFIXES: dict[tuple[str, str], Compute] = {}  # (family, function name prefix) -> emulation (concatenate1d/2d/3d)
VIVADO = 'Vivado'


def register(*functions: str, prefix: bool = False, families: tuple[str, ...] = (VIVADO,)
             ) -> Callable[[Compute], Compute]:
    """Register the decorated `compute(EmulatedCall) -> Fx` as the emulation of these nnet:: functions."""

    def add(compute: Compute) -> Compute:
        for family in families:
            for name in functions:
                (_PREFIXES if prefix else _KERNELS)[family, name] = compute
        return compute

    return add


def run(program: Program, call: Call, inputs: list[Fx], result: FixedType, data_t: FixedType | None) -> Fx:
    """The values `call` writes, given the exact values of its inputs."""
    configs = [program.configs[a].text for a in call.type_args if a in program.configs]
    function = DISTRIBUTED_ARITHMETIC if writer.distributed_arithmetic(call.function, configs) else call.function
    compute = find(program.family, function)
    if compute is None:
        if program.family != VIVADO and find(VIVADO, function) is not None:
            raise NotEmulated(f"nnet::{call.function} is {program.family}'s own template, not emulated yet (its "
                              "arithmetic is not checked against the emulation of Vivado's)")
        raise NotEmulated(f'nnet::{call.function} is not emulated yet')
    return compute(EmulatedCall(program, call, inputs, result, data_t))


def find(family: str, function: str) -> Compute | None:
    """The emulation of `function` as `family`'s templates write it, or None."""
    return _KERNELS.get((family, function)) or next(
        (c for (fam, p), c in _PREFIXES.items() if fam == family and function.startswith(p)), None)


def registered(family: str = VIVADO) -> tuple[str, ...]:
    return tuple(n for fam, n in _KERNELS if fam == family) + tuple(f'{p}*' for fam, p in _PREFIXES if fam == family)


def fixed_type(program: Program, name: str, what: str) -> FixedType:
    t = program.fixed(name)
    if t is None:
        raise NotEmulated(f'{what} {program.resolve(name)} is not an ap_fixed/ap_int type')
    return t


def check_product(program: Program, cfg: Config) -> None:
    """Only `product::mult` is emulated (binary/ternary products are not)."""
    mult = program.configs.get(cfg.types.get('mult_config', '')) or cfg
    text = mult.text + cfg.text
    if 'using product' in text and 'product::mult<' not in text:
        kind = 'binary/ternary' if 'binary' in text or 'ternary' in text else 'special'
        raise NotEmulated(f'{kind} products (nnet::product other than mult) are not emulated')


def load_weights(program: Program, array: str, cfg: Config, key: str) -> Fx:
    """The weights array `array` in its type `key` of the config (else its declared element type)."""
    t = cfg.type(key)
    if t is None:
        elem = program.weights.get(array, ('', ''))[0]
        t = program.fixed(elem)
    if t is None:
        raise NotEmulated(f'{key} of {cfg.name} is not an ap_fixed type')
    values = program.load_weights(array)
    size = program.weight_size(array)
    if size is not None and values.size != size:
        raise NotEmulated(f'the weights file {program.weights[array][1]} holds {values.size} values where the '
                          f'layer loads {size}: the project was generated wrong (`hlsdiff patch` knows some cases)')
    return arith.from_double(values, t)


def expect_size(w: Fx, size: int, array: str, program: Program) -> Fx:
    """The weights the kernel reads: its first `size` entries (a larger array's others are never read)."""
    if w.v.size < size:
        raise NotEmulated(f'the weights {program.weights[array][1]} hold {w.v.size} values where the kernel reads '
                          f'{size}: the project was generated wrong (`hlsdiff patch` repairs the known cases)')
    return Fx(w.v.reshape(-1)[:size], w.f)


def accum_of(cfg: Config) -> FixedType:
    t = cfg.type('accum_t')
    if t is None:
        raise NotEmulated(f'accum_t of {cfg.name} ({cfg.types.get("accum_t")}) is not an ap_fixed type')
    return t


def required_type(cfg: Config, key: str, what: str) -> FixedType:
    """The config's fixed-point type `key`; its absence is NotEmulated, with `what` needs it."""
    t = cfg.type(key)
    if t is None:
        raise NotEmulated(f'{what}: {key} of {cfg.name} ({cfg.types.get(key)}) is not an ap_fixed type')
    return t
