"""Keras 3: each layer's effective weights and attributes, as Keras computes them (the generator link).

For every hls4ml layer mapped to a Keras 3 node (`nodes.py` chains: the nodes between its compared parents and
its target), the `LayerSpec` of the layer itself: a Dense's kernel (in, out), a Conv's (kh, kw, in, out), a
DepthwiseConv's (kh, kw, ch), a BatchNormalization hls4ml folded into the layer before it folded the same way,
the geometry from the shapes Keras computes, the activation and its parameters. A fused `activation=` is two
nodes as hls4ml splits it: the linear layer (its weights, no activation) and `<name>_<act>`. Keras is
channels-last like hls4ml: no axis moves. Quantized layers (HGQ2) have no spec here: said, never guessed. The
reference emulation (`hlsdiff/emulate/reference.py`) computes the spec at the project's types.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hlsdiff.emulate.spec import LayerSpec, batchnorm, conv_geometry, fold, pooling_attrs
from hlsdiff.frontends.nodes import chain_specs

_RESHAPES = ('Flatten', 'Reshape')
_NO_OPS = ('Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout')
_ACTIVATIONS = ('relu', 'linear', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign')
_MERGES = {'Add': 'add', 'Subtract': 'subtract', 'Multiply': 'multiply', 'Average': 'average', 'Maximum': 'maximum',
           'Minimum': 'minimum'}
_POOLS = ('MaxPooling1D', 'AveragePooling1D', 'MaxPooling2D', 'AveragePooling2D')
_GLOBAL_POOLS = ('GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D')


def layer_specs(model, refs: dict, split: dict[str, str]) -> dict[str, LayerSpec | str]:
    """hls4ml layer -> the spec of its own Keras node, or the reason there is none. `split`: hls4ml's
    `<name>_<activation>` node -> the Keras layer whose fused activation it is."""
    layers = {layer.name: layer for layer in model.layers}
    return chain_specs(refs, 'Keras', lambda name, runs: _chain_spec(runs, layers, split))


def _chain_spec(runs: list[str], layers: dict, split: dict[str, str]) -> LayerSpec | str:
    """The spec of the first node that is not a reshape, with the BatchNormalizations after it folded in."""
    own = next((i for i, n in enumerate(runs) if n in split or type(layers[n]).__name__ not in _RESHAPES), None)
    if own is None:
        return 'a reshape: nothing to compute'
    name = runs[own]
    if name in split:  # the activation hls4ml split from a layer
        return _activation(getattr(layers[split[name]], 'activation', None), f'the activation of {split[name]}')
    spec = _spec(layers[name], fused=name in split.values())
    for after in runs[own + 1:]:
        kind = type(layers[after]).__name__ if after in layers else after
        if kind in _NO_OPS:
            continue
        if kind != 'BatchNormalization' or isinstance(spec, str) or spec.kind not in ('dense', 'conv', 'depthwise'):
            return f'{kind} {after} after {name} in this layer is not in the reference'
        spec = fold(spec, *_bn(layers[after]), f'BatchNormalization {after}')
    return spec


def _spec(layer, fused: bool) -> LayerSpec | str:
    kind, source = type(layer).__name__, f'{type(layer).__name__} {layer.name}'
    if type(layer).__module__.split('.')[0] not in ('keras',):
        return f'no reference of {kind} ({type(layer).__module__}) yet'
    if kind in ('Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv1D', 'DepthwiseConv2D'):
        if not fused and _activation_name(layer) not in (None, 'linear'):
            return f'{layer.name} applies its activation inside the compared tensor'
        return _weighted(layer, kind, source)
    if kind == 'BatchNormalization':
        scale, shift = _bn(layer)
        return LayerSpec('batchnorm', bias=shift, scale=scale, source=source)
    if kind in _POOLS:
        cfg = layer.get_config()
        attrs = pooling_attrs(_shape(layer.input), tuple(int(p) for p in cfg['pool_size']),
                              tuple(int(s) for s in (cfg['strides'] or cfg['pool_size'])), cfg['padding'])
        return LayerSpec('pooling', attrs=attrs, source=source)
    if kind in _GLOBAL_POOLS:
        return LayerSpec('global_pooling', attrs={'n_filt': _shape(layer.input)[-1]}, source=source)
    if kind in _MERGES:
        return LayerSpec('merge', attrs={'function': _MERGES[kind]}, source=source)
    return _activation_layer(layer, kind, source)


def _activation_layer(layer, kind: str, source: str) -> LayerSpec | str:
    cfg = layer.get_config()
    if kind == 'LeakyReLU':
        slope = cfg.get('negative_slope', cfg.get('alpha', 0.3))
        return LayerSpec('activation', attrs={'function': 'leaky_relu', 'alpha': float(slope)}, source=source)
    if kind == 'ReLU':
        if cfg.get('max_value') is not None or float(cfg.get('negative_slope') or 0) or float(cfg.get('threshold') or 0):
            return 'a ReLU with max_value, negative_slope or threshold'
        return LayerSpec('activation', attrs={'function': 'relu'}, source=source)
    if kind == 'ELU':
        return LayerSpec('activation', attrs={'function': 'elu', 'alpha': float(cfg.get('alpha', 1.0))}, source=source)
    if kind == 'Softmax':
        if cfg.get('axis', -1) not in (-1, [-1]):
            return f'a softmax over axis {cfg.get("axis")}'
        return LayerSpec('activation', attrs={'function': 'softmax'}, source=source)
    if kind == 'Activation':
        return _activation(layer.activation, source)
    return f'no reference emulation of {kind} yet'


def _activation_name(layer) -> str | None:
    act = getattr(layer, 'activation', None)
    return None if act is None else getattr(act, '__name__', None)


def _activation(fn, source: str) -> LayerSpec | str:
    name = getattr(fn, '__name__', None) or type(fn).__name__
    if name in _ACTIVATIONS:
        attrs: dict = {'function': name, **({'alpha': 1.0} if name == 'elu' else {})}  # Activation('elu'): alpha 1.0
        return LayerSpec('activation', attrs=attrs, source=f'{source} ({name})')
    return f'no reference of the activation {name}'


def _array(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, 'numpy') else value, dtype=np.float64)


def _shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])


def _weighted(layer, kind: str, source: str) -> LayerSpec:
    depthwise = kind.startswith('Depthwise')
    own = getattr(layer, 'depthwise_kernel', None) if depthwise else None  # Keras 3 calls it `kernel` too
    kernel = _array(own if own is not None else layer.kernel)
    n_out = kernel.shape[-2] * kernel.shape[-1] if depthwise else kernel.shape[-1]
    bias = _array(layer.bias) if getattr(layer, 'bias', None) is not None else np.zeros(n_out)
    if kind == 'Dense':
        return LayerSpec('dense', kernel, bias, attrs={'n_in': kernel.shape[0], 'n_out': kernel.shape[1]}, source=source)
    cfg: dict[str, Any] = layer.get_config()
    if any(int(d) != 1 for d in np.atleast_1d(cfg.get('dilation_rate', 1))) or int(cfg.get('groups', 1)) != 1 \
            or cfg['padding'] not in ('valid', 'same'):
        raise ValueError(f'dilation_rate {cfg.get("dilation_rate")}, groups {cfg.get("groups")}, padding {cfg["padding"]}')
    in_shape = _shape(layer.input)
    strides = tuple(int(s) for s in cfg['strides'])
    if len(in_shape) == 2:  # 1D: a height of 1
        in_shape, strides, kernel = (1, *in_shape), (1, strides[0]), kernel[None]
    if depthwise:
        if kernel.shape[-1] != 1:
            raise ValueError(f'depth_multiplier {kernel.shape[-1]}')
        kernel = kernel[..., 0]
    attrs = conv_geometry(in_shape, (kernel.shape[0], kernel.shape[1]), (strides[0], strides[1]), cfg['padding'],
                          kernel.shape[-1])
    return LayerSpec('depthwise' if depthwise else 'conv', kernel, bias, attrs=attrs, source=source)


def _bn(layer) -> tuple[np.ndarray, np.ndarray]:
    gamma = _array(layer.gamma) if getattr(layer, 'gamma', None) is not None else None
    beta = _array(layer.beta) if getattr(layer, 'beta', None) is not None else None
    return batchnorm(gamma, beta, _array(layer.moving_mean), _array(layer.moving_variance), layer.epsilon)
