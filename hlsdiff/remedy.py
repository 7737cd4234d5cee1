"""Remedies: config changes with their predicted effect, and what no configuration cures.

The one model of a config change, for `compare`'s hints (LayerResult.remedy), `fix` (a
fixing.changes.Change holds one, with its round and what the C-simulation measured), the search by
prediction and the JSON: a `Remedy` is a change of one hls4ml config entry (`LayerName.<layer>.<key>`),
from a value to another, why, the evidence behind it, and its effect: the layer's own error before and
after (emulated) and, from a prediction, the outputs'. `Remedy.hint` is the one place its hint text
(`Set LayerName.<layer>.<key> to <after>`) is made. `Unfixable` says why nothing of the kind is known.
Pure: config dicts in, dataclasses out.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hlsdiff.fixedpoint import FixedType, integer_bits_needed, parse_type

# hls4ml 1.3.0 config key of each typedef a kernel config struct holds (LayerName.<layer>.Precision.<key>)
TYPEDEF_OF = {'result': 'result', 'accum': 'accum_t', 'weight': 'weight_t', 'bias': 'bias_t',
              'depthwise': 'weight_t', 'pointwise': 'weight_t', 'table': 'table_t',
              'exp_table': 'exp_table_t', 'inv_table': 'inv_table_t', 'scale': 'scale_t'}
# keys a config change may widen: a quantizer's type (weight, bias of a QKeras layer) widened keeps its values
WIDEN_FRACTIONAL = 4
WIDEN_INTEGER = 4
HEADROOM = 1
TABLE_SIZES = (2048, 4096, 8192, 16384, 65536)  # a finer table index: what a softmax/sigmoid table error needs
SOFTMAX_IMPLEMENTATIONS = ('stable', 'latency')  # never argmax: it changes what the output means


# what a remedy's effect rests on: hls4ml's project for the config emulated to the outputs (prediction),
# the layer alone emulated with the type changed (emulation), a rule (heuristic), or the C-simulation of the
# config measured where the prediction stops (c-simulation: fixing/candidates.py)
RemedyEvidence = Literal['prediction', 'emulation', 'heuristic', 'c-simulation']


@dataclass(frozen=True)
class Remedy:
    """One config change: `LayerName.<layer>.<key>` from `before` (None: absent) to `after`."""

    layer: str
    key: str  # 'Precision.result', 'TableSize', 'Strategy', 'Implementation', 'ReuseFactor'
    before: object
    after: object
    why: str
    evidence: RemedyEvidence = 'prediction'
    workaround: bool = False  # it works around an hls4ml defect, not a precision
    derived: str | None = None  # the type hls4ml derived for this entry before (for 'auto')
    predicted: dict = field(default_factory=dict)  # the predicted effect (per output)
    own_error_before: float | None = None  # the layer's own error now (emulated)
    own_error_after: float | None = None  # and with `after` (emulated; None: it could not be)
    verified: bool = False  # the emulation showed `after` cuts the layer's own error at least in half

    @property
    def config_key(self) -> str:
        return f'LayerName.{self.layer}.{self.key}'

    @property
    def bits_added(self) -> int:
        after = parse_type(str(self.after)) if self.after is not None else None
        before = parse_type(str(self.before)) if self.before is not None else None
        before = before or (parse_type(self.derived) if self.derived else None)
        if after is None or before is None:
            return 0
        return after.width - before.width

    def hint(self) -> str:
        """The hint text: the one place a config change is put in words."""
        text = f'Set {self.config_key} to {self.after}'
        if self.workaround:
            text += ' (works around an hls4ml defect)'
        return text

    def to_json(self) -> dict:
        return {'layer': self.layer, 'key': self.key, 'config_key': self.config_key, 'before': _plain(self.before),
                'after': _plain(self.after), 'derived': self.derived, 'why': self.why, 'evidence': self.evidence,
                'workaround': self.workaround, 'bits_added': self.bits_added, 'predicted': self.predicted}

    def layer_json(self) -> dict:
        """A compare layer's `remedy` (docs/json-schema.md): the change and its emulated effect on the layer."""
        return {'layer': self.layer, 'key': self.key, 'before': self.before, 'after': self.after,
                'own_error_before': self.own_error_before, 'own_error_after': self.own_error_after,
                'verified': self.verified}

    @classmethod
    def from_layer_json(cls, data: dict) -> Remedy:
        """A compare layer's `remedy` read back from its JSON (its `why` is the layer's cause_detail)."""
        return cls(data['layer'], data['key'], data.get('before'), data.get('after'), '', evidence='emulation',
                   own_error_before=data.get('own_error_before'), own_error_after=data.get('own_error_after'),
                   verified=bool(data.get('verified')))


@dataclass(frozen=True)
class Unfixable:
    """A layer whose error no configuration change is known to cure, and why."""

    layer: str
    cause: str
    why: str

    def to_json(self) -> dict:
        return {'layer': self.layer, 'cause': self.cause, 'why': self.why}


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def entry_name(config: dict, layer: str) -> str:
    """The LayerName key hls4ml reads for an hls4ml layer: its own name, else the graph node's name it was made
    from (the ONNX converter names a layer `<Class>_<node>` or `bn_<node>` after reading the config by node)."""
    names = config.get('LayerName') or {}
    if layer in names:
        return layer
    for key in names:
        prefix = layer[:-len(key) - 1] if layer.endswith(f'_{key}') else ''
        if prefix == 'bn' or (prefix[:1].isupper() and '_' not in prefix):
            return key
    return layer


def get(config: dict, layer: str, key: str) -> object:
    entry = (config.get('LayerName') or {}).get(entry_name(config, layer)) or {}
    for part in key.split('.'):
        if not isinstance(entry, dict):
            return None
        entry = entry.get(part)
    return entry


def put(config: dict, layer: str, key: str, value: object) -> None:
    """Set (value not None) or remove (None) one entry of a config, in place."""
    entry = config.setdefault('LayerName', {}).setdefault(entry_name(config, layer), {})
    parts = key.split('.')
    for part in parts[:-1]:
        if not isinstance(entry.get(part), dict):
            entry[part] = {} if entry.get(part) is None else {'default': entry[part]}
        entry = entry[part]
    if value is None:
        entry.pop(parts[-1], None)
    else:
        entry[parts[-1]] = value


def applied(config: dict, remedies: list[Remedy] | tuple[Remedy, ...]) -> dict:
    out = copy.deepcopy(config)
    for r in remedies:
        put(out, r.layer, r.key, r.after)
    return out


def sized_result(current: FixedType, values: np.ndarray | None, fractional: int, rounding: str | None = None) -> FixedType:
    """A result type from the data: the integer bits its values need (+ headroom), `fractional` bits."""
    signed = current.signed or (values is not None and values.size > 0 and float(np.min(values)) < 0)
    integer = integer_bits_needed(values, signed) + HEADROOM if values is not None and values.size else current.integer
    integer = max(integer, 1 if signed else 0)
    rnd, sat = (rounding, 'SAT') if rounding else (current.rounding, current.saturation)
    return FixedType(integer + fractional, integer, signed, rnd, sat)


def fractional_for(tolerance: float) -> int:
    """Fractional bits whose LSB is a quarter of the tolerance."""
    return max(1, int(math.ceil(-math.log2(tolerance / 4)))) if tolerance > 0 else 10


def widened(t: FixedType, integer: int = WIDEN_INTEGER, fractional: int = WIDEN_FRACTIONAL) -> FixedType:
    return FixedType(t.width + integer + fractional, t.integer + integer, t.signed, t.rounding, t.saturation)
