"""What every frontend's mapping shares: the `Ref` (how to get the framework's value of one hls4ml layer) and the
facts read of an hls4ml layer, whatever its framework (its attributes, its types as C++ text, the loss of storing
its weights). The Keras 2 mapping is hlsdiff/frontends/keras2_mapping.py; the others' is frontends/nodes.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hlsdiff.layers import HlsAttrs, WeightLoss


@dataclass
class Ref:
    """How to get the Keras value of one hls4ml layer.

    `tensor` names the Keras tensor: ('out', layer), ('pre', layer) for the output before a
    fused activation, or ('input', name). `chain` is applied, in order, to the arrays of
    `inputs` to recompute the layer from the C-simulation's inputs: ('layer', name) calls
    the Keras layer, ('pre', name) its linear twin, ('act', name) its activation function,
    ('identity',) passes the input through.
    """

    tensor: tuple
    chain: list = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # Keras layers before this one no hls4ml layer computes


def type_text(named_type) -> str | None:
    """An hls4ml type (or precision) as C++ text (`ap_fixed<16,6>`; its rounding and saturation when not TRN/WRAP)."""
    if named_type is None:
        return None
    precision = getattr(named_type, 'precision', named_type)
    width, integer = getattr(precision, 'width', None), getattr(precision, 'integer', None)
    if width is None or integer is None:
        return str(precision)
    signed = getattr(precision, 'signed', True)
    rounding = str(getattr(precision, 'rounding_mode', 'TRN') or 'TRN')
    saturation = str(getattr(precision, 'saturation_mode', 'WRAP') or 'WRAP')
    base = f'ap_{"" if signed else "u"}fixed<{width},{integer}'
    if rounding != 'TRN' or saturation != 'WRAP':
        base += f',AP_{rounding}'
    if saturation != 'WRAP':
        base += f',AP_{saturation}'
    return base + '>'


_INT_ATTRS = ('index', 'n_in', 'n_out', 'n_filt', 'n_chan', 'in_height', 'in_width', 'pool_height', 'pool_width',
              'table_size', 'reuse_factor', 'depth_multiplier')


_STR_ATTRS = ('pool_op', 'strategy', 'activation')

_TYPE_ATTRS = ('table_t', 'weight_t', 'bias_t', 'exp_table_t', 'inv_table_t')


def hls_attrs(layer) -> HlsAttrs:
    """The attributes hlsdiff reads of an hls4ml layer (any frontend)."""
    values: dict = {}
    for key in _INT_ATTRS + _STR_ATTRS:
        value = getattr(layer, key, None) if key == 'index' else layer.get_attr(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in _INT_ATTRS:
            values[key] = int(value)
        elif isinstance(value, str) and key in _STR_ATTRS:
            values[key] = value
    types = {key: text for key in _TYPE_ATTRS if (text := type_text(layer.get_attr(key))) is not None}
    return HlsAttrs(**values, types=types)


def weight_quantization(layer) -> WeightLoss | None:
    """The worst relative error of storing this layer's float weights in their ap_fixed type."""
    import numpy as np

    from hlsdiff.fixedpoint import parse_type, quantize

    worst = None
    for key, var in (getattr(layer, 'weights', None) or {}).items():
        data = np.asarray(getattr(var, 'data', None), dtype=np.float64) if getattr(var, 'data', None) is not None else None
        text = type_text(getattr(var, 'type', None))
        t = parse_type(text)
        if data is None or t is None or data.size == 0 or not np.any(data):
            continue
        err = float(np.max(np.abs(quantize(data, t) - data)))
        peak = float(np.max(np.abs(data)))
        rel = err / peak
        if worst is None or rel > worst.rel:
            worst = WeightLoss(variable=key, type=str(text), max_abs=err, peak=peak, rel=rel)
    return worst
