"""A frontend's own layer, as the reference emulation needs it: effective weights and attributes.

A frontend (Keras 2 today: `hlsdiff/trace/effective.py`; PyTorch or ONNX later) fills one
`LayerSpec` per layer from its own framework: the weights the framework computes with (its
quantizers applied, a BatchNormalization folded the way the framework folds it), in one
canonical layout, and the attributes that decide the arithmetic. Pure data: no framework here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# the canonical layouts, axis names as the evidence prints them
KERNEL_AXES = {
    'dense': ('in', 'out'),
    'conv': ('kh', 'kw', 'in', 'out'),  # a 1D convolution has kh = 1
    'depthwise': ('kh', 'kw', 'ch'),
}
KINDS = ('dense', 'conv', 'depthwise', 'batchnorm', 'pooling', 'global_pooling', 'merge', 'resize', 'activation')


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the framework computes it.

    kind: one of KINDS.
    kernel: dense (in, out); conv (kh, kw, in, out), kh = 1 for 1D; depthwise (kh, kw, ch).
    bias: (out,). scale: batchnorm's per-channel multiplier (its bias is `bias`).
    attrs: geometry the framework uses (`in_height`, `in_width`, `n_chan`, `n_filt`,
    `stride_height`, `stride_width`, `pad_top`...; a pooling's `pool_height`...), a resize's
    `interpolation`, a merge's `function`, or for an activation `function`
    ('relu', 'linear', 'sigmoid', ...) and its parameters (`alpha`).
    source: what the weights were computed from, in words.
    dropped: layers the framework applies to this layer's input that nothing in the project computes.
    """

    kind: str
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    scale: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)
    source: str = ''
    dropped: tuple[str, ...] = ()  # framework layers applied before this one that the project does not compute


def conv_geometry(in_shape: tuple[int, ...], kernel: tuple[int, int], strides: tuple[int, int], padding: str,
                  n_filt: int) -> dict:
    """The output size and padding a 'valid' or 'same' convolution has (TensorFlow's rule)."""
    in_h, in_w, n_chan = in_shape
    out: dict = {'in_height': in_h, 'in_width': in_w, 'n_chan': n_chan, 'n_filt': n_filt,
                 'filt_height': kernel[0], 'filt_width': kernel[1],
                 'stride_height': strides[0], 'stride_width': strides[1]}
    for axis, size, k, s in (('height', in_h, kernel[0], strides[0]), ('width', in_w, kernel[1], strides[1])):
        first, last = ('pad_top', 'pad_bottom') if axis == 'height' else ('pad_left', 'pad_right')
        if padding == 'same':
            n_out = -(-size // s)
            total = max((n_out - 1) * s + k - size, 0)
            out[first], out[last] = total // 2, total - total // 2
        else:
            n_out = (size - k) // s + 1
            out[first] = out[last] = 0
        out[f'out_{axis}'] = n_out
    return out
