"""Which of a layer's types is responsible for the error it adds, shown by emulation.

For a layer the C-simulation computes exactly as its types say (emulation bit-exact), the
error it adds is the configuration's. Each of its types is widened in turn and the layer
emulated again on the same inputs; the type whose widening removes the error is named. The
hint then proposes a type computed from the data (integer bits from the range the values
need plus headroom, the fractional bits kept or added), and that type is emulated too: a
hint is printed as verified only when it has been shown to reduce the layer's own error.

Pure: `what_if(layer, {type key: type text}) -> values (N, size)` is given by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hlsdiff.emulate.kernels import NotEmulated
from hlsdiff.fixedpoint import FixedType, integer_bits_needed, parse_type
from hlsdiff.remedy import Remedy

# what a what-if may raise for a type the emulation cannot take: that type is not a candidate
_CANNOT = (NotEmulated, ValueError, KeyError, IndexError, OverflowError, ZeroDivisionError, TypeError)

# the hls4ml config key (LayerName.<layer>.Precision.<key>) of each type the kernels see
PRECISION_KEYS = {'accum_t': 'accum', 'weight_t': 'weight', 'bias_t': 'bias', 'scale_t': 'scale',
                  'table_t': 'table', 'exp_table_t': 'exp_table', 'inv_table_t': 'inv_table',
                  'inv_inp_t': 'inv_inp', 'result': 'result'}
WIDEN_BITS = 8
# widening must remove at least this share of the layer's own error to name the type
REDUCTION = 0.5
HEADROOM = 1


@dataclass(frozen=True)
class Responsible:
    key: str  # 'accum_t', 'result', 'input', ...
    range_cured: bool  # integer bits alone remove the error (a wrap or saturation), else resolution does
    config_key: str  # e.g. LayerName.fc1.Precision.accum
    before: str
    proposed: str
    error_before: float
    error_widened: float
    error_proposed: float | None  # None: the proposed type could not be emulated
    verified: bool
    detail: str
    hint: str


def own_error(values: np.ndarray, local: np.ndarray) -> float:
    return float(np.max(np.abs(values.reshape(local.shape) - local))) if local.size else 0.0


def _widen(t: FixedType, key: str = '') -> FixedType:
    """More bits on both sides; a weight or bias type only finer (the values are known and fit: a
    weight with |w| <= 0.65 does not need more integer bits)."""
    if key in VALUE_TYPES:
        return FixedType(t.width + 2 * WIDEN_BITS, t.integer, t.signed, t.rounding, t.saturation)
    return FixedType(t.width + 2 * WIDEN_BITS, t.integer + WIDEN_BITS, t.signed, t.rounding, t.saturation)


# types holding the layer's own constants (weights, biases, scales): their range is known
VALUE_TYPES = ('weight_t', 'bias_t', 'scale_t')


def _proposal(key: str, t: FixedType, local: np.ndarray, error_allowed: float, headroom: int = HEADROOM) -> FixedType:
    """Integer bits from the range the values need (+ headroom); fractional bits from the
    error the gate allows (at least the current ones)."""
    need = integer_bits_needed(local, t.signed) + headroom if key in ('accum_t', 'result') else t.integer
    frac = t.fractional
    if error_allowed > 0:
        frac = max(frac, int(math.ceil(-math.log2(error_allowed))) if error_allowed < 1 else 0)
    integer = max(need, t.integer)
    return FixedType(integer + frac, integer, t.signed, t.rounding, t.saturation)


def responsible_type(layer: str, prev_layer: str | None, types: dict[str, str], actual: np.ndarray,
                     local: np.ndarray, what_if: Callable[[str, dict], np.ndarray], error_allowed: float,
                     is_softmax: bool = False, input_values: np.ndarray | None = None,
                     headroom: int = HEADROOM) -> Responsible | None:
    """The type whose change, emulated, removes this layer's own error (None if none does)."""
    before = own_error(actual, local)
    if before == 0.0:
        return None
    tried, chosen = _try_types(layer, types, local, what_if, before, headroom)
    if is_softmax and 'input' in types and prev_layer:
        # the stable softmax's normalised input type follows its input type: a narrower input
        # (range from the data) gives a finer table index
        t_in = parse_type(types['input'])
        if t_in is not None:
            narrowed_err = _softmax_input_error(layer, _narrow_input(t_in, input_values, headroom), local, what_if)
            if narrowed_err is not None:
                tried.append((narrowed_err, 'input', t_in))
    if not tried:
        return None
    widened, key, t = min(tried, key=lambda e: e[0])
    if widened > before * (1 - REDUCTION):
        return None
    if key == 'input':
        proposed = _narrow_input(t, input_values, headroom)
        change = Remedy(str(prev_layer), 'Precision.result', str(t), str(proposed), '', evidence='emulation')
        config_key = change.config_key
        err = _softmax_input_error(layer, proposed, local, what_if)
        verified = err is not None and err <= before * (1 - REDUCTION)
        detail = (f'the softmax indexes its exp table with the top bits of its normalised input, whose type '
                  f'follows the input type {t}: the table step is too coarse; with the input in {proposed} this '
                  f'layer\'s own error drops from {before:.4g} to {err:.4g} (emulated)') if err is not None else ''
        hint = (f'{change.hint()} (the softmax input: narrower, so the table index is finer)'
                + ('' if verified else ' — not verified: the emulation could not show it reduces the error'))
        return Responsible(key, True, config_key, str(t), str(proposed), before, widened, err, verified, detail, hint)
    return _type_remedy(layer, key, t, chosen, local, what_if, before, widened, error_allowed, headroom)


def _try_types(layer: str, types: dict[str, str], local: np.ndarray, what_if, before: float,
               headroom: int) -> tuple[list[tuple[float, str, FixedType]], dict[str, FixedType]]:
    """Each of the layer's types changed in turn, emulated: (own error, key, type) of every try, and the
    changed type each key was best with."""
    tried: list[tuple[float, str, FixedType]] = []
    chosen: dict[str, FixedType] = {}  # the widened type each key was tried with
    for key, text in types.items():
        t = parse_type(text)
        if t is None or key == 'input' or key == 'inp_norm_t':
            continue
        # a type that addresses a table by its top bits wants fewer integer bits, not more; a constant's
        # type finer first, and with integer bits too when finer does not do it (weights hls4ml stored in a
        # type too narrow for them, e.g. QKeras auto_po2 scales, wrap)
        candidates = [_narrow_index(t, local, headroom)] if key in INDEX_TYPES else (
            [_widen(t, key), _widen(t)] if key in VALUE_TYPES else [_widen(t)])
        for candidate in candidates:
            if candidate is None:
                continue
            try:
                widened = own_error(what_if(layer, {key: str(candidate)}), local)
            except _CANNOT:  # a type the emulation cannot take: not a candidate
                continue
            if key not in chosen or widened < min(e for e, k, _ in tried if k == key):
                chosen[key] = candidate
            tried.append((widened, key, t))
            if widened <= before * (1 - REDUCTION):
                break
    return tried, chosen


def _softmax_input_error(layer: str, proposed: FixedType, local: np.ndarray, what_if) -> float | None:
    """The softmax's own error with its input (and the normalised input that follows it) in `proposed`."""
    try:
        return own_error(what_if(layer, {'input': str(proposed), 'inp_norm_t':
                                         f'ap_ufixed<{proposed.width - 1},{proposed.integer - 1}>'}), local)
    except _CANNOT:
        return None


def _type_remedy(layer: str, key: str, t: FixedType, chosen: dict[str, FixedType], local: np.ndarray, what_if,
                 before: float, widened: float, error_allowed: float, headroom: int) -> Responsible:
    """The remedy for one of the layer's own types: the narrowest type computed from the data that removes
    the error (emulated), else the widened one that did."""
    try:  # the same type with integer bits only: does range alone cure it?
        wider_range = FixedType(t.width + WIDEN_BITS, t.integer + WIDEN_BITS, t.signed, t.rounding, t.saturation)
        range_cured = own_error(what_if(layer, {key: str(wider_range)}), local) <= before * (1 - REDUCTION)
    except _CANNOT:
        range_cured = False
    narrowed = _narrow_index(t, local, headroom) if key in INDEX_TYPES else _proposal(key, t, local, error_allowed, headroom)
    proposed = chosen.get(key, _widen(t, key)) if narrowed == t or narrowed is None else narrowed
    config_key = f'LayerName.{layer}.{precision_key(key)}'
    err2: float | None
    try:
        err2 = own_error(what_if(layer, {key: str(proposed)}), local)
    except _CANNOT:
        err2 = None
    verified = err2 is not None and err2 <= before * (1 - REDUCTION)
    final: float = err2 if err2 is not None else widened
    if not verified and key not in INDEX_TYPES:  # the computed type did not do it: the widened one did, emulated
        proposed, final, verified = chosen.get(key, _widen(t, key)), widened, True
    detail = (f'this layer computes exactly what its types say (emulated bit for bit); its {key} {t} is what '
              f'costs it: with {proposed} its own error drops from {before:.4g} to {final:.4g} (emulated)')
    hint = Remedy(layer, precision_key(key), str(t), str(proposed), detail, evidence='emulation').hint()
    if key in NOT_CONFIGURABLE:  # a hint must be one that works: say where the type can be changed
        hint = (f'hls4ml 1.3.0 does not apply {config_key} from a config (tried): set the {key} typedef of this '
                f'layer in the project\'s firmware/defines.h to {proposed} and compare the project with --project')
    return Responsible(key, range_cured, config_key, str(t), str(proposed), before, widened, final, verified, detail, hint)


# the softmax's sum of exponentials addresses the reciprocal table by its top bits
INDEX_TYPES = ('inv_inp_t',)
# types the kernels use that a config does not reach in hls4ml 1.3.0 (LayerName.<softmax>.Precision.inv_inp is
# accepted and ignored; tried): the remedy is an edit of the project, not a config change
NOT_CONFIGURABLE = ('inv_inp_t',)


def precision_key(typedef: str) -> str:
    """The config key (under LayerName.<layer>) of one of the types a kernel sees: `accum_t` -> `Precision.accum`."""
    return f'Precision.{PRECISION_KEYS.get(typedef, typedef.removesuffix("_t"))}'


def _narrow_index(t: FixedType, local: np.ndarray, headroom: int) -> FixedType | None:
    """The same width with the integer bits the softmax's sum needs (it is at most the number of
    classes), so that the table's address bits fall on the sum's significant bits."""
    classes = local.shape[-1] if local.ndim else 1
    need = integer_bits_needed(np.array([float(classes)]), t.signed) + headroom
    if need >= t.integer:
        return None
    return FixedType(t.width, need, t.signed, t.rounding, t.saturation)


SOFTMAX_INPUT_FRACTIONAL = 10


def _narrow_input(t: FixedType, values: np.ndarray | None, headroom: int = HEADROOM) -> FixedType:
    """A softmax input type from the data: the integer bits its values need (+ headroom),
    10 fractional bits (hls4ml's default ap_fixed<16,6> has 10)."""
    integer = integer_bits_needed(values, True) + headroom if values is not None and values.size else 6
    integer = min(integer, t.integer)
    return FixedType(integer + SOFTMAX_INPUT_FRACTIONAL, integer, True, t.rounding, t.saturation)


def remedy_of(found: Responsible) -> Remedy | None:
    """The responsible type as the config change the hints, `fix` and the JSON share (None: no config reaches
    it). Its effect here is the layer's own error, emulated; `predict.Predictor.effect` gives the outputs'."""
    if found.key in NOT_CONFIGURABLE or '.Precision.' not in found.config_key:
        return None
    layer, _, key = found.config_key.removeprefix('LayerName.').rpartition('.Precision.')
    return Remedy(layer, f'Precision.{key}', found.before, found.proposed, found.detail, evidence='emulation',
                  derived=found.before, own_error_before=found.error_before, own_error_after=found.error_proposed,
                  verified=found.verified)
