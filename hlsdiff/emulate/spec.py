"""A frontend's own layer, as the reference emulation needs it: effective weights and attributes.

A frontend (`keras2_specs.py`, `keras3_specs.py`,
`torch_specs.py`, `onnx_specs.py` in `hlsdiff/frontends/`) fills one `LayerSpec` per layer from its
own framework: the weights the framework computes with (its quantizers applied, a BatchNormalization
folded the way the framework folds it), in one canonical layout, and the attributes that decide the
arithmetic. Pure data: no framework here.
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


def conv_geometry(in_shape: tuple[int, ...], kernel: tuple[int, int], strides: tuple[int, int],
                  padding: str | tuple[int, int], n_filt: int) -> dict:
    """The output size and padding of a convolution: 'valid' or 'same' (TensorFlow's rule), or explicit
    (height, width) zeros on both sides (PyTorch's `padding`)."""
    in_h, in_w, n_chan = in_shape
    out: dict = {'in_height': in_h, 'in_width': in_w, 'n_chan': n_chan, 'n_filt': n_filt,
                 'filt_height': kernel[0], 'filt_width': kernel[1],
                 'stride_height': strides[0], 'stride_width': strides[1]}
    for i, (axis, size, k, s) in enumerate((('height', in_h, kernel[0], strides[0]), ('width', in_w, kernel[1], strides[1]))):
        first, last = ('pad_top', 'pad_bottom') if axis == 'height' else ('pad_left', 'pad_right')
        if isinstance(padding, tuple):
            out[first] = out[last] = int(padding[i])
            n_out = (size + 2 * int(padding[i]) - k) // s + 1
        elif padding == 'same':
            n_out = -(-size // s)
            total = max((n_out - 1) * s + k - size, 0)
            out[first], out[last] = total // 2, total - total // 2
        else:
            n_out = (size - k) // s + 1
            out[first] = out[last] = 0
        out[f'out_{axis}'] = n_out
    return out


def pooling_attrs(in_shape: tuple[int, ...], pool: tuple[int, ...], strides: tuple[int, ...],
                  padding: str | tuple[int, int]) -> dict:
    """A pooling's window, strides and padding under the names of hls4ml's pooling config. `in_shape` is
    (height, width, channels), or (width, channels) for a 1D pooling: a height of 1, whose width hls4ml calls
    n_in / n_out."""
    one_d = len(in_shape) == 2
    if one_d:
        in_shape, pool, strides = (1, *in_shape), (1, *pool), (1, *strides)
        padding = (0, padding[0]) if isinstance(padding, tuple) else padding
    g = conv_geometry(in_shape, (pool[0], pool[1]), (strides[0], strides[1]), padding, in_shape[-1])
    names = {'filt_height': 'pool_height', 'filt_width': 'pool_width'}
    if one_d:
        names.update(in_width='n_in', out_width='n_out')
    skip = ('n_chan',) + (('in_height', 'out_height', 'filt_height', 'stride_height', 'pad_top', 'pad_bottom')
                          if one_d else ())
    return {names.get(k, k): v for k, v in g.items() if k not in skip}


def batchnorm(gamma: np.ndarray | None, beta: np.ndarray | None, mean: np.ndarray, var: np.ndarray,
              epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """A batch normalization at inference as y = x * scale + shift."""
    gamma = np.ones_like(var) if gamma is None else gamma
    beta = np.zeros_like(var) if beta is None else beta
    scale = gamma / np.sqrt(var + float(epsilon))
    return scale, beta - mean * scale


def fold(spec: LayerSpec, scale: np.ndarray, shift: np.ndarray, source: str) -> LayerSpec:
    """A batch normalization after the layer folded into its weights (per output channel, the last axis in
    every canonical layout)."""
    assert spec.kernel is not None and spec.bias is not None
    return LayerSpec(spec.kind, spec.kernel * scale, spec.bias * scale + shift, attrs=spec.attrs,
                     source=f'{spec.source} with {source} folded in')
