"""What a point costs in hardware, read from the model hls4ml converted for it.

BOPs (bit operations), as the quantization studies done with hls4ml count them: for every layer with
weights, its multiplications times the weight's bits times the bits of the layer's input, summed over
the layers. A layer multiplies each weight once per output position (a Dense: once; a convolution: once
per output pixel; a BatchNormalization's scale: once per pixel), so its multiplications are the weight's
size times the output's positions (the output's shape without its channel axis). A bias is added, not
multiplied. The bits: every weight's and every result's type width, per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

NOT_MULTIPLIED = ('bias',)


@dataclass(frozen=True)
class Cost:
    """BOPs, the bits stored for the weights, and the width of every weight and result type by layer."""

    bops: int
    weight_bits: int  # bits of every weight and bias value stored, summed
    bits: dict[str, int] = field(default_factory=dict)  # '<layer>.<weight>' / '<layer>.result' -> type width

    def to_json(self) -> dict:
        return {'bops': self.bops, 'weight_bits': self.weight_bits, 'bits': dict(self.bits)}

    @classmethod
    def from_json(cls, data: dict) -> Cost:
        return cls(int(data['bops']), int(data['weight_bits']), {k: int(v) for k, v in data['bits'].items()})


def cost_of(hls_model: Any) -> Cost:
    """The cost of an hls4ml ModelGraph (converted; nothing built)."""
    bops, weight_bits, bits = 0, 0, {}
    for layer in hls_model.get_layers():
        out = layer.get_output_variable()
        bits[f'{layer.name}.result'] = _width(out.type.precision)
        if layer.class_name == 'Input' or not layer.weights:
            continue
        positions = prod(out.shape[:-1]) if len(out.shape) > 1 else 1
        input_bits = _width(layer.get_input_variable().type.precision)
        for name, weight in layer.weights.items():
            width = _width(weight.type.precision)
            size = int(weight.data.size)
            bits[f'{layer.name}.{name}'] = width
            weight_bits += size * width
            if name not in NOT_MULTIPLIED:
                bops += size * positions * width * input_bits
    return Cost(int(bops), int(weight_bits), bits)


def _width(precision: Any) -> int:
    return int(getattr(precision, 'width', 0) or 0)
