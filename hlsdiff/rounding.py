"""Which elements' errors a layer's types explain as rounding: the per-element check behind `noise`.

A layer's own error on an element is *rounding* only when its types explain it; anything beyond, on any
element of any sample, makes the layer a mismatch, however rare (docs/gate.md). The bound of each element:

- an input: the conversion of the data into the input type moves a value by at most one LSB; beyond that
  the value did not fit the type (it wrapped or saturated);
- a layer the emulation reproduces bit for bit: the same layer emulated with every type given
  `RANGE_BITS` more integer bits (the same fractional bits) computes the same rounding without any
  overflow, so `|that - framework layer| + 1 LSB` is what rounding explains on that element; an element
  beyond it and beyond the stated bound below was moved by the range of a type (overflow, wrap,
  saturation). A chunk whose own errors all lie within the stated bound needs no emulation;
- a layer hls4ml inserted (a scale, a transpose, padding) with no framework layer: the range-free
  emulation itself is the exact value, within one LSB;
- any other layer with a framework re-run: a stated bound, `diff.element_tolerance` (4 LSB of its result
  type or 5% of its range, whichever is larger).

Pure numpy; the emulator is given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hlsdiff.diff import element_tolerance
from hlsdiff.fixedpoint import FixedType, parse_type
from hlsdiff.layers import LayerArrays, LayerInfo

RANGE_BITS = 24  # integer bits added to every type of a layer so that no value of it overflows
# types that address a table by their top bits: more integer bits would move the address, not the range
_ADDRESS_TYPES = ('input', 'inp_norm_t', 'inv_inp_t')
# hls4ml layers with no framework layer of their own, checked against their range-free emulation
_INSERTED = ('inserted', 'alpha')
FIRST_INDICES = 20  # a layer's wrong samples listed in the JSON (the count is always given)

Method = str  # 'input' | 'emulated' | 'inserted' | 'stated'


@dataclass(frozen=True)
class Worst:
    """The element furthest beyond what rounding explains."""

    sample: int
    index: tuple[int, ...]
    channel: int
    abs: float
    lsb: float | None
    kind: str  # 'overflow-wrap' | 'saturation' | 'accumulator' | 'beyond-bound'

    def to_json(self) -> dict:
        return {'sample': self.sample, 'index': list(self.index), 'channel': self.channel, 'abs': self.abs,
                'lsb': self.lsb, 'kind': self.kind}


@dataclass(frozen=True)
class ChunkCheck:
    """One chunk of one layer: which elements are beyond rounding, and the largest error rounding explains."""

    beyond: np.ndarray  # bool, the layer's shape (n, ...)
    error: np.ndarray  # the own error of every element
    explained: float  # the largest own error within the bound
    kind: RangeKind | str  # per element (read at the worst one), or one kind for the layer
    method: Method


@dataclass
class ElementCheck:
    """One layer over every sample: the elements beyond rounding and the samples they hit."""

    method: Method
    lsb: float | None
    elements: int = 0
    total: int = 0
    samples: list[int] = field(default_factory=list)
    worst: Worst | None = None
    explained: float = 0.0

    def add(self, chunk: ChunkCheck, offset: int) -> list[int]:
        """One chunk whose first sample is sample `offset`; returns the chunk's rows that are wrong."""
        self.total += int(chunk.beyond.size)
        self.explained = max(self.explained, chunk.explained)
        if not chunk.beyond.any():
            return []
        self.elements += int(chunk.beyond.sum())
        rows = np.flatnonzero(chunk.beyond.reshape(chunk.beyond.shape[0], -1).any(axis=1))
        self.samples.extend(int(r) + offset for r in rows)
        masked = np.where(chunk.beyond, chunk.error, -1.0)
        at = np.unravel_index(int(np.argmax(masked)), masked.shape)
        value = float(masked[at])
        if self.worst is None or value > self.worst.abs:
            kind = chunk.kind if isinstance(chunk.kind, str) else chunk.kind.at(at)
            self.worst = Worst(int(at[0]) + offset, tuple(int(i) for i in at[1:]), int(at[-1]) if len(at) > 1 else 0,
                               value, value / self.lsb if self.lsb else None, kind)
        return [int(r) for r in rows]

    @property
    def bound_lsb(self) -> float | None:
        return self.explained / self.lsb if self.lsb else None

    def describe(self, n_samples: int) -> str:
        """`5 of 1000 samples (0.5%); worst: sample 250, channel 3, 95.3 (6,104 LSB)`."""
        k = len(self.samples)
        text = f'{k} of {n_samples} samples ({k / max(n_samples, 1):.1%})'
        if self.worst is not None:
            w = self.worst
            lsb = f' ({w.lsb:,.0f} LSB)' if w.lsb is not None else ''
            text += f'; worst: sample {w.sample}, channel {w.channel}, {w.abs:.4g}{lsb}'
        return text


def inserted(info: LayerInfo) -> bool:
    """A layer hls4ml inserted with no framework layer of its own (a scale into a quantizer's integer domain,
    an alpha scale, a transpose, padding): checked against its range-free emulation."""
    return info.origin in _INSERTED


def check_chunk(info: LayerInfo, arrays: LayerArrays, emulator, bit_exact: bool, scale: float) -> ChunkCheck | None:
    """The per-element check of one layer on one chunk (None: nothing to check it against)."""
    actual = arrays.actual
    if actual is None:
        return None
    t = parse_type(info.result_type)
    lsb = t.lsb if t else None
    if not info.inputs and arrays.expected is not None and arrays.expected.shape == actual.shape:
        return _input_check(actual, arrays.expected, t)
    local = arrays.local if arrays.local is not None and arrays.local.shape == actual.shape else None
    has_local = local is not None
    tol = element_tolerance(lsb, scale)
    if local is not None:
        error = np.abs(actual - local)
        suspect = error > tol
        if not suspect.any():  # within the stated bound everywhere: nothing to explain, no emulation needed
            return ChunkCheck(suspect, error, _largest(error, ~suspect), 'beyond-bound',
                              'emulated' if bit_exact and emulator is not None else 'stated')
    free = _range_free(emulator, info.name, actual.shape, clips(info)) if bit_exact and emulator is not None \
        else None
    if free is not None and local is not None:
        allowed = np.abs(free - local) + (lsb or 0.0)
        beyond = suspect & (error > allowed * (1 + 1e-9))
        return ChunkCheck(beyond, error, _largest(error, ~beyond), RangeKind(local, t, info.accum_type),
                          'emulated')
    if free is not None and inserted(info):
        error = np.abs(actual - free)
        beyond = error > (lsb or 0.0) * (1 + 1e-9)
        return ChunkCheck(beyond, error, _largest(error, ~beyond), RangeKind(free, t, info.accum_type), 'inserted')
    if has_local:
        return ChunkCheck(suspect, error, _largest(error, ~suspect), 'beyond-bound', 'stated')
    return None


def _input_check(actual: np.ndarray, data: np.ndarray, t: FixedType | None) -> ChunkCheck:
    """The data stored in the input type: one LSB of conversion, or the value did not fit."""
    error = np.abs(actual - data)
    lsb = t.lsb if t else 0.0
    beyond = error > lsb * (1 + 1e-9) if t else np.zeros(error.shape, dtype=bool)
    kind = 'saturation' if t is not None and t.saturation != 'WRAP' else 'overflow-wrap'
    return ChunkCheck(beyond, error, _largest(error, ~beyond), kind, 'input')


def _largest(error: np.ndarray, where: np.ndarray) -> float:
    return float(np.max(error, where=where, initial=0.0))


def clips(info: LayerInfo) -> bool:
    """An inserted layer whose result type saturates: its saturation is the quantizer's clip (hls4ml gives a
    QONNX Quant's scale layer the Quant's own type), part of the model, not a range to widen away."""
    t = parse_type(info.result_type)
    return inserted(info) and t is not None and t.saturation != 'WRAP'


def _range_free(emulator, layer: str, shape: tuple[int, ...], keep_result: bool = False) -> np.ndarray | None:
    """The layer emulated from the C-simulation's inputs with `RANGE_BITS` more integer bits in every type
    (the result type kept where it is a quantizer's clip) (None: the emulation cannot compute it)."""
    try:
        types = emulator.types(layer)
        override = {}
        for key, text in types.items():
            t = parse_type(text)
            if t is not None and key not in _ADDRESS_TYPES and not (keep_result and key == 'result'):
                override[key] = str(t.with_integer_bits(t.integer + RANGE_BITS))
        values = emulator.what_if(layer, override)
    except Exception:  # noqa: BLE001 - a layer the emulation cannot widen is checked by the stated bound
        return None
    if values.size != int(np.prod(shape)):
        return None
    return np.asarray(values, dtype=np.float64).reshape(shape)


@dataclass(frozen=True)
class RangeKind:
    """Which range moved an element: the result type's (wrap or saturation) where the exact value does not
    fit it, else an inner type's (the accumulator's, where the layer has one). Read at one element (the
    worst), not computed for every element: per element it was most of the check's time."""

    reference: np.ndarray
    t: FixedType | None
    accum_type: str | None

    def at(self, index: tuple) -> str:
        inner = 'accumulator' if self.accum_type else 'overflow-wrap'
        if self.t is None:
            return inner
        value = float(self.reference[index])
        if value > self.t.max + self.t.lsb or value < self.t.min - self.t.lsb:
            return 'saturation' if self.t.saturation != 'WRAP' else 'overflow-wrap'
        return inner


def widened_range(emulator, layer: str, keep_result: bool = False) -> tuple[str, str, str, float] | None:
    """The one type of `layer` whose integer bits alone, widened the least, give the range-free values
    (emulated): (key, type before, type after, largest error left), or None when no single type does.
    `keep_result`: the result type is a quantizer's clip (`clips`), never the one widened."""
    try:
        types = emulator.types(layer)
        if keep_result:
            types = {k: v for k, v in types.items() if k != 'result'}
        free = np.asarray(emulator.what_if(layer, {k: str(t.with_integer_bits(t.integer + RANGE_BITS))
                                                   for k, text in types.items() if k not in _ADDRESS_TYPES
                                                   and (t := parse_type(text)) is not None}), dtype=np.float64)
    except Exception:  # noqa: BLE001 - nothing emulated, nothing claimed
        return None
    result_t = parse_type(types.get('result'))
    step = result_t.lsb if result_t else 0.0
    for key, text in types.items():
        t = parse_type(text)
        if t is None or key in _ADDRESS_TYPES:
            continue
        for extra in range(1, RANGE_BITS + 1):
            wider = t.with_integer_bits(t.integer + extra)
            try:
                values = np.asarray(emulator.what_if(layer, {key: str(wider)}), dtype=np.float64)
            except Exception:  # noqa: BLE001 - a type the emulation cannot take is not a candidate
                break
            error = float(np.max(np.abs(values - free), initial=0.0))
            if error <= step * (1 + 1e-9):
                return key, str(t), str(wider), error
    return None


def predicted_range_events(emulator, layer: str, values: np.ndarray, expected: np.ndarray, tol: float,
                           lsb: float | None) -> int:
    """In a prediction (every layer emulated from the emulated layer before it): the elements off the framework
    by more than the stated bound where the layer's range-free emulation differs from it by more than one LSB,
    i.e. where a type's range moved the value. 0 where nothing is off, without emulating again."""
    values = np.asarray(values, dtype=np.float64).reshape(expected.shape)
    off = np.abs(values - expected) > tol
    if not off.any():
        return 0
    free = _range_free(emulator, layer, expected.shape)
    if free is None:
        return 0
    return int(np.count_nonzero(off & (np.abs(values - free) > (lsb or 0.0) * (1 + 1e-9))))
