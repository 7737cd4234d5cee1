"""ONNX: each layer's effective weights and attributes, as the cleaned graph computes them (the generator link).

The graph is the one hls4ml converts (qonnx's cleaning: channels-last inside, Gemm as MatMul + Add). For every
hls4ml layer mapped to a node (`nodes.py` chains), the `LayerSpec` of the node itself: a MatMul's weight
(in, out) with the bias Add hls4ml folds into it, a channels-last Conv's weight (out, kh, kw, in) as
(kh, kw, in, out) with its bias, a BatchNormalization folded or alone, pooling, merges, activations. A weight
computed by other nodes (a QONNX Quant) has no spec here yet: said, never guessed. The reference emulation
(`hlsdiff/emulate/reference.py`) computes the spec at the project's types.
"""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate.spec import LayerSpec, batchnorm, conv_geometry, fold, pooling_attrs
from hlsdiff.frontends.nodes import chain_specs

_RESHAPES = ('Flatten', 'Reshape', 'Squeeze', 'Unsqueeze')
_NO_OPS = ('Dropout', 'Identity')
_ACTIVATIONS = {'Relu': 'relu', 'Sigmoid': 'sigmoid', 'Tanh': 'tanh'}
_MERGES = {'Add': 'add', 'Sub': 'subtract', 'Mul': 'multiply', 'Max': 'maximum', 'Min': 'minimum'}


def layer_specs(model, refs: dict) -> dict:
    """hls4ml layer -> the spec of its own node in the cleaned graph (a qonnx ModelWrapper), or the reason."""
    nodes = {n.name: n for n in model.graph.node}
    return chain_specs(refs, 'ONNX', lambda name, runs: _chain_spec([nodes[n] for n in runs], model))


def _chain_spec(chain: list, model) -> LayerSpec | str:
    """The spec of the first node that is not a reshape, with the bias Add and BatchNormalization after it folded."""
    own = next((i for i, n in enumerate(chain) if n.op_type not in _RESHAPES), None)
    if own is None:
        return 'a reshape: nothing to compute'
    node = chain[own]
    spec = _spec(node, model)
    for after in chain[own + 1:]:
        if after.op_type in _NO_OPS:
            continue
        if isinstance(spec, str) or spec.kind not in ('dense', 'conv'):
            return f'{after.op_type} {after.name} after {node.name} in this layer is not in the reference'
        bias = _constant(model, after) if after.op_type == 'Add' else None
        if bias is not None:
            assert spec.bias is not None
            spec = LayerSpec(spec.kind, spec.kernel, spec.bias + bias, attrs=spec.attrs,
                             source=f'{spec.source} with Add {after.name} folded in')
        elif after.op_type == 'BatchNormalization':
            spec = fold(spec, *_bn(model, after), f'BatchNormalization {after.name}')
        else:
            return f'{after.op_type} {after.name} after {node.name} in this layer is not in the reference'
    return spec


def _constant(model, node) -> np.ndarray | None:
    """The initializer one input of a binary node reads (the bias of an Add), if exactly one is."""
    values = [model.get_initializer(i) for i in node.input]
    found = [v for v in values if v is not None]
    return np.asarray(found[0], dtype=np.float64).reshape(-1) if len(found) == 1 and len(values) == 2 else None


def _weight(model, node, index: int) -> np.ndarray:
    value = model.get_initializer(node.input[index]) if len(node.input) > index else None
    if value is None:
        raise ValueError(f'{node.name}\'s input {index} is computed by other nodes (a Quant?), not a constant')
    return np.asarray(value, dtype=np.float64)


def _attr(node, name: str, default=None):
    from onnx import helper

    found = [a for a in node.attribute if a.name == name]
    return helper.get_attribute_value(found[0]) if found else default


def _spec(node, model) -> LayerSpec | str:
    op, source = node.op_type, f'{node.op_type} {node.name}'
    if op == 'MatMul':
        kernel = _weight(model, node, 1)
        return LayerSpec('dense', kernel, np.zeros(kernel.shape[1]), attrs={'n_in': kernel.shape[0],
                                                                           'n_out': kernel.shape[1]}, source=source)
    if op == 'Conv':
        return _conv(node, model, source)
    if op == 'BatchNormalization':
        scale, shift = _bn(model, node)
        return LayerSpec('batchnorm', bias=shift, scale=scale, source=source)
    if op in ('MaxPool', 'AveragePool'):
        return _pooling(node, model, source)
    if op in ('GlobalAveragePool', 'GlobalMaxPool'):
        return LayerSpec('global_pooling', attrs={'n_filt': _in_shape(model, node)[-1]}, source=source)
    if op in _MERGES and _constant(model, node) is None and len(node.input) == 2:
        return LayerSpec('merge', attrs={'function': _MERGES[op]}, source=source)
    if op in _ACTIVATIONS:
        return LayerSpec('activation', attrs={'function': _ACTIVATIONS[op]}, source=source)
    if op == 'LeakyRelu':
        return LayerSpec('activation', attrs={'function': 'leaky_relu', 'alpha': float(_attr(node, 'alpha', 0.01))},
                         source=source)
    if op == 'Softmax':
        rank = len(_in_shape(model, node)) + 1
        if _attr(node, 'axis', -1) not in (-1, rank - 1) or rank != 2:
            return f'a softmax over axis {_attr(node, "axis", -1)} of a rank-{rank} tensor'
        return LayerSpec('activation', attrs={'function': 'softmax'}, source=source)
    return f'no reference emulation of {op} yet'


def _in_shape(model, node) -> tuple[int, ...]:
    return tuple(int(d) for d in model.get_tensor_shape(node.input[0])[1:])


def _image(model, node) -> tuple[int, int, int]:
    """The node's channels-last input as (height, width, channels); a 1D one has a height of 1."""
    shape = _in_shape(model, node)
    return (shape[0], shape[1], shape[2]) if len(shape) == 3 else (1, shape[0], shape[1])


def _pads(node, rank: int) -> tuple[int, int]:
    """ONNX pads (begins, then ends) as symmetric (height, width) zeros; a 1D one has no height."""
    pads = [int(p) for p in _attr(node, 'pads', [0] * 2 * rank)]
    begins, ends = pads[:rank], pads[rank:]
    if begins != ends:
        raise ValueError(f'asymmetric pads {pads}')
    return (0, begins[0]) if rank == 1 else (begins[0], begins[1])


def _conv(node, model, source: str) -> LayerSpec:
    if int(_attr(node, 'group', 1)) != 1 or any(int(d) != 1 for d in _attr(node, 'dilations', [1])):
        raise ValueError(f'group {_attr(node, "group", 1)}, dilations {_attr(node, "dilations", [1])}')
    weight = _weight(model, node, 1)  # channels-last: (out, kh, kw, in), or (out, k, in)
    kernel = np.moveaxis(weight, 0, -1)
    rank = kernel.ndim - 2
    if rank == 1:
        kernel = kernel[None]
    bias = _weight(model, node, 2) if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0])
    strides = [int(s) for s in _attr(node, 'strides', [1] * rank)]
    attrs = conv_geometry(_image(model, node), (kernel.shape[0], kernel.shape[1]),
                          (1, strides[0]) if rank == 1 else (strides[0], strides[1]), _pads(node, rank), kernel.shape[-1])
    return LayerSpec('conv', kernel, bias.reshape(-1), attrs=attrs, source=source)


def _pooling(node, model, source: str) -> LayerSpec | str:
    pool = [int(k) for k in _attr(node, 'kernel_shape')]
    if int(_attr(node, 'ceil_mode', 0)) or any(int(p) for p in _attr(node, 'pads', [0])):
        return 'a pooling with ceil_mode or padding'
    strides = tuple(int(s) for s in _attr(node, 'strides', pool))
    shape = _in_shape(model, node)
    return LayerSpec('pooling', attrs=pooling_attrs(shape, tuple(pool), strides, 'valid'), source=source)


def _bn(model, node) -> tuple[np.ndarray, np.ndarray]:
    gamma, beta, mean, var = (_weight(model, node, i).reshape(-1) for i in (1, 2, 3, 4))
    return batchnorm(gamma, beta, mean, var, float(_attr(node, 'epsilon', 1e-5)))
