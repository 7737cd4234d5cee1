"""Keras 2 (tf_keras, QKeras): each layer's effective weights and attributes, as Keras computes them.

For every hls4ml layer mapped to a Keras tensor (`mapping.Ref`), the `LayerSpec` of the Keras
layers its chain runs: the kernel and bias after the QKeras quantizers, a QConv2DBatchnorm
folded the way QKeras folds it at inference (moving statistics, then its quantizers), a
BatchNormalization that follows the layer folded into its weights, and the attributes that
decide the arithmetic (strides, padding, dilation, the activation and its parameters). The
reference emulation (`hlsdiff/emulate/reference.py`) computes them at the project's types.
A layer this module does not know gets a reason instead of a spec: it is never guessed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hlsdiff.emulate.spec import LayerSpec, batchnorm, conv_geometry, fold, pooling_attrs
from hlsdiff.trace.mapping import Ref

_DENSE = ('Dense', 'QDense')
_CONV = ('Conv1D', 'Conv2D', 'QConv1D', 'QConv2D', 'QConv2DBatchnorm')
_DEPTHWISE = ('DepthwiseConv1D', 'DepthwiseConv2D', 'QDepthwiseConv2D')
_NO_OPS = ('Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout')
_GLOBAL_POOLS = ('GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D')
_MERGES = {'Add': 'add', 'Subtract': 'subtract', 'Multiply': 'multiply', 'Average': 'average', 'Maximum': 'maximum',
           'Minimum': 'minimum'}
# Keras activation -> the hls4ml kernel that computes it
_ACTIVATIONS = {'relu': 'relu', 'linear': 'linear', 'sigmoid': 'sigmoid', 'tanh': 'tanh', 'softmax': 'softmax',
                'elu': 'elu', 'selu': 'selu', 'softplus': 'softplus', 'softsign': 'softsign'}


def layer_specs(model, refs: dict[str, Ref]) -> dict[str, LayerSpec | str]:
    """hls4ml layer -> its Keras layer's spec, or the reason there is none."""
    layers = {layer.name: layer for layer in model.layers}
    out: dict[str, LayerSpec | str] = {}
    for name, ref in refs.items():
        if not ref.chain or ref.chain[0][0] == 'identity':
            continue
        try:
            spec = _spec(ref.chain[len(ref.chain) - _own_steps(ref, layers):], layers)
            if ref.dropped and isinstance(spec, LayerSpec):
                spec = dataclasses.replace(spec, dropped=tuple(_described(layers[n]) for n in ref.dropped))
            out[name] = spec
        except Exception as exc:  # a layer or quantizer this extraction does not know: said, never guessed
            out[name] = f'Keras\'s weights could not be read ({type(exc).__name__}: {exc})'
    return out


def _own_steps(ref: Ref, layers: dict) -> int:
    """The steps of the chain that are the layer itself (after the Keras layers hls4ml has no layer for)."""
    skip = 0
    for step in ref.chain:
        if step[0] == 'layer' and (step[1] in ref.dropped or type(layers[step[1]]).__name__ in ('Flatten', 'Reshape')):
            skip += 1
        else:
            break
    return len(ref.chain) - skip


def _described(layer) -> str:
    q = getattr(layer, 'activation', None) if type(layer).__name__ == 'QActivation' else None
    return f'{type(layer).__name__} {layer.name}' + (f' ({q})' if q is not None else '')


def _spec(chain: list, layers: dict) -> LayerSpec | str:
    op, first = chain[0][0], layers[chain[0][1]]
    kind = type(first).__name__
    if op == 'act':
        return _activation(first.activation, f'the activation of {first.name}')
    if kind == 'Softmax' and len(chain) == 1 and first.get_config().get('axis', -1) in (-1, [-1]):
        return LayerSpec('activation', attrs={'function': 'softmax'}, source=f'Softmax {first.name}')
    if kind in ('Activation', 'QActivation', 'ReLU', 'LeakyReLU', 'ELU'):
        return _activation_layer(first) if len(chain) == 1 else 'an activation followed by a folded layer'
    if kind in ('MaxPooling1D', 'AveragePooling1D', 'MaxPooling2D', 'AveragePooling2D') and len(chain) == 1:
        return _pooling(first)
    if kind == 'UpSampling1D' and len(chain) == 1:
        return LayerSpec('resize', attrs={'interpolation': 'nearest'}, source=f'UpSampling1D {first.name}')
    if kind in _GLOBAL_POOLS and len(chain) == 1:
        return LayerSpec('global_pooling', attrs={'n_filt': int(first.input_shape[-1])}, source=f'{kind} {first.name}')
    if kind in _MERGES and len(chain) == 1:
        return LayerSpec('merge', attrs={'function': _MERGES[kind]}, source=f'{kind} {first.name}')
    if kind == 'UpSampling2D' and len(chain) == 1:
        return LayerSpec('resize', attrs={'interpolation': first.get_config().get('interpolation', 'nearest')},
                         source=f'UpSampling2D {first.name}')
    if kind == 'BatchNormalization' and len(chain) == 1:
        scale, shift = _bn(first)
        return LayerSpec('batchnorm', bias=shift, scale=scale, source=f'BatchNormalization {first.name}')
    if kind not in _DENSE + _CONV + _DEPTHWISE:
        return f'no reference emulation of {kind} yet'
    if op == 'layer' and _activation_name(first) not in (None, 'linear'):
        return f'{first.name} applies its activation inside the compared tensor'
    spec = _weighted(first)
    for step in chain[1:]:
        nxt = layers[step[1]]
        if type(nxt).__name__ == 'BatchNormalization':
            spec = _fold_bn(spec, nxt)
        elif type(nxt).__name__ not in _NO_OPS:
            return f'{type(nxt).__name__} {nxt.name} folded into this layer is not in the reference'
    return spec


def _activation_name(layer) -> str | None:
    act = getattr(layer, 'activation', None)
    return None if act is None else getattr(act, '__name__', None) or type(act).__name__


def _activation(fn, source: str) -> LayerSpec | str:
    """A Keras activation function or a QKeras quantizer used as one (its rounding is the project's result type)."""
    name = getattr(fn, '__name__', None) or type(fn).__name__
    if name == 'quantized_relu' and not getattr(fn, 'negative_slope', 0):
        name = 'relu'
    elif name == 'quantized_bits' and getattr(fn, 'alpha', None) in (None, 1, 1.0):
        name = 'linear'
    if name in _ACTIVATIONS:
        attrs: dict = {'function': _ACTIVATIONS[name]}
        if name == 'elu':  # Activation('elu'): Keras's alpha 1.0
            attrs['alpha'] = 1.0
        return LayerSpec('activation', attrs=attrs, source=f'{source} ({fn})')
    return f'no reference of the activation {name}'


def _activation_layer(layer) -> LayerSpec | str:
    kind = type(layer).__name__
    cfg = layer.get_config()
    if kind == 'LeakyReLU':
        return LayerSpec('activation', attrs={'function': 'leaky_relu', 'alpha': float(cfg.get('alpha', 0.3))},
                         source=f'LeakyReLU {layer.name}')
    if kind == 'ReLU':
        if cfg.get('max_value') is not None or float(cfg.get('negative_slope') or 0) or float(cfg.get('threshold') or 0):
            return 'a ReLU with max_value, negative_slope or threshold'
        return LayerSpec('activation', attrs={'function': 'relu'}, source=f'ReLU {layer.name}')
    if kind == 'ELU':
        return LayerSpec('activation', attrs={'function': 'elu', 'alpha': float(cfg.get('alpha', 1.0))},
                         source=f'ELU {layer.name}')
    return _activation(layer.activation, f'{kind} {layer.name}')


def _quantized(layer, value: np.ndarray, attr: str) -> np.ndarray:
    """The value after the layer's QKeras quantizer (`kernel_quantizer_internal`...), if any."""
    q = getattr(layer, f'{attr}_quantizer_internal', None)
    if q is None:
        return np.asarray(value, dtype=np.float64)
    alpha = getattr(q, 'alpha', None)
    if alpha not in (None, 1, 1.0):
        raise ValueError(f'{attr} quantizer {q} scales by alpha={alpha!r}')
    from hlsdiff.trace import stack

    tf = stack.load().tf
    return np.asarray(q(tf.constant(np.asarray(value, dtype=np.float32))), dtype=np.float64)


def _weighted(layer) -> LayerSpec:
    kind = type(layer).__name__
    if hasattr(layer, 'get_folded_weights'):  # QConv2DBatchnorm: folded with the moving statistics, then quantized
        kernel, bias = (np.asarray(v, dtype=np.float64) for v in layer.get_folded_weights())
        source = f'{kind} {layer.name}, folded as QKeras folds it at inference'
    else:
        kernel = np.asarray(layer.depthwise_kernel if kind in _DEPTHWISE else layer.kernel, dtype=np.float64)
        has_bias = getattr(layer, 'bias', None) is not None
        bias = np.asarray(layer.bias, dtype=np.float64) if has_bias else np.zeros(0)
        source = f'{kind} {layer.name}'
    kernel = _quantized(layer, kernel, 'depthwise' if kind in _DEPTHWISE else 'kernel')
    n_out = kernel.shape[-1] if kind not in _DEPTHWISE else kernel.shape[-2] * kernel.shape[-1]
    bias = _quantized(layer, bias, 'bias') if bias.size else np.zeros(n_out)
    if kind in _DENSE:
        return LayerSpec('dense', kernel, bias, attrs={'n_in': kernel.shape[0], 'n_out': kernel.shape[1]}, source=source)
    cfg = layer.get_config()
    if any(int(d) != 1 for d in np.atleast_1d(cfg.get('dilation_rate', 1))):
        raise ValueError(f'dilation_rate {cfg["dilation_rate"]}')
    in_shape = tuple(int(s) for s in layer.input_shape[1:])
    strides = (1, int(cfg['strides'][0])) if len(in_shape) == 2 else (int(cfg['strides'][0]), int(cfg['strides'][1]))
    if len(in_shape) == 2:  # 1D: a height of 1
        in_shape = (1, *in_shape)
        kernel = kernel[None]
    ksize = (int(kernel.shape[0]), int(kernel.shape[1]))
    if kind in _DEPTHWISE:
        if kernel.shape[-1] != 1:
            raise ValueError(f'depth_multiplier {kernel.shape[-1]}')
        kernel = kernel[..., 0]
    n_filt = kernel.shape[-1]
    attrs = conv_geometry(in_shape, ksize, strides, cfg['padding'], n_filt)
    return LayerSpec('depthwise' if kind in _DEPTHWISE else 'conv', kernel, bias, attrs=attrs, source=source)


def _pooling(layer) -> LayerSpec:
    cfg = layer.get_config()
    in_shape = tuple(int(s) for s in layer.input_shape[1:])
    attrs = pooling_attrs(in_shape, tuple(int(p) for p in cfg['pool_size']), tuple(int(s) for s in cfg['strides']),
                          cfg['padding'])
    return LayerSpec('pooling', attrs=attrs, source=f'{type(layer).__name__} {layer.name}')


def _bn(layer) -> tuple[np.ndarray, np.ndarray]:
    """BatchNormalization at inference: y = x * scale + shift."""
    weights = {w.name.split('/')[-1].split(':')[0]: np.asarray(w, dtype=np.float64) for w in layer.weights}
    return batchnorm(weights.get('gamma'), weights.get('beta'), weights['moving_mean'], weights['moving_variance'],
                     float(layer.get_config()['epsilon']))


def _fold_bn(spec: LayerSpec, bn_layer) -> LayerSpec:
    """A BatchNormalization after the layer, folded into its weights (per output channel)."""
    return fold(spec, *_bn(bn_layer), f'BatchNormalization {bn_layer.name}')
