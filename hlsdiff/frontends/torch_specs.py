"""PyTorch: each layer's effective weights and attributes, as torch computes them (the generator link).

For every hls4ml layer mapped to a graph node (`nodes.py`: its chain runs the nodes between its compared
parents and its target), the `LayerSpec` of the torch module or function that is the layer itself: a
Linear's weight as (in, out), a Conv's as (kh, kw, in, out), a BatchNorm that hls4ml folded into the
layer before it folded the same way, the geometry from the shapes torch computes (padding as torch
pads), the activation and its parameters. The nodes before the layer's own node may only reshape
(`flatten`, `view`...); anything else is said, never guessed. The reference emulation
(`hlsdiff/emulate/reference.py`) computes the spec at the project's types.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hlsdiff.emulate.spec import LayerSpec, batchnorm, conv_geometry, fold, pooling_attrs
from hlsdiff.frontends.nodes import chain_specs

_RESHAPES = ('flatten', 'view', 'reshape', 'Flatten', 'squeeze', 'unsqueeze')
_NO_OPS = ('Dropout', 'Identity')
_BATCHNORMS = ('BatchNorm1d', 'BatchNorm2d')
# module class or function name -> the hls4ml activation kernel
_ACTIVATIONS = {'ReLU': 'relu', 'relu': 'relu', 'Sigmoid': 'sigmoid', 'sigmoid': 'sigmoid', 'Tanh': 'tanh',
                'tanh': 'tanh', 'Identity': 'linear'}
_MERGES = {'add': 'add', 'sub': 'subtract', 'mul': 'multiply'}


def layer_specs(module, graph, refs: dict, shapes: dict[str, tuple[int, ...]], flat_channels_last: set[str]) -> dict:
    """hls4ml layer -> the spec of its own torch node, or the reason there is none. `graph`: the FX graph hls4ml
    traced; `shapes`: every node's output shape per sample; `flat_channels_last`: the Dense layers that read a
    channels-last tensor flattened as it is (pytorch.py)."""
    modules = dict(module.named_modules())
    nodes = {n.name: n for n in graph.nodes}
    return chain_specs(refs, 'PyTorch', lambda name, runs: _chain_spec([nodes[n] for n in runs], modules, shapes,
                                                                       name in flat_channels_last))


def _kind(node, modules: dict) -> str:
    if node.op == 'call_module':
        return type(modules[node.target]).__name__
    return str(getattr(node.target, '__name__', node.target))


def _chain_spec(chain: list, modules: dict, shapes: dict, flat_channels_last: bool) -> LayerSpec | str:
    """The spec of the first node that is not a reshape, with the BatchNorms after it folded in."""
    kinds = [_kind(n, modules) for n in chain]
    own = next((i for i, k in enumerate(kinds) if k not in _RESHAPES), None)
    if own is None:
        return 'a reshape: nothing to compute'
    node, kind = chain[own], kinds[own]
    spec = _spec(node, kind, modules, shapes)
    if own and kind == 'Linear' and flat_channels_last and isinstance(spec, LayerSpec):
        spec = _flattened_channels_last(spec, shapes[chain[0].all_input_nodes[0].name])
    for after, after_kind in zip(chain[own + 1:], kinds[own + 1:]):
        if after_kind in _NO_OPS:
            continue
        if after_kind not in _BATCHNORMS or isinstance(spec, str) or spec.kind not in ('dense', 'conv'):
            return f'{after_kind} {after.name} after {node.name} in this layer is not in the reference'
        spec = fold(spec, *_bn(modules[after.target]), f'{after_kind} {after.name}')
    return spec


def _spec(node, kind: str, modules: dict, shapes: dict) -> LayerSpec | str:
    module: Any = modules.get(node.target) if node.op == 'call_module' else None
    source = f'{kind} {node.name}'
    if kind == 'Linear':
        weight = _array(module.weight)
        bias = _array(module.bias) if module.bias is not None else np.zeros(weight.shape[0])
        return LayerSpec('dense', weight.T, bias, attrs={'n_in': weight.shape[1], 'n_out': weight.shape[0]},
                         source=source)
    if kind in ('Conv1d', 'Conv2d'):
        return _conv(node, module, shapes, source)
    if kind in _BATCHNORMS:
        scale, shift = _bn(module)
        return LayerSpec('batchnorm', bias=shift, scale=scale, source=source)
    if kind in ('MaxPool1d', 'MaxPool2d', 'AvgPool1d', 'AvgPool2d'):
        return _pooling(node, module, shapes, source)
    if kind in _MERGES and len(node.all_input_nodes) == 2 and not node.kwargs:
        return LayerSpec('merge', attrs={'function': _MERGES[kind]}, source=source)
    return _activation(node, kind, module, shapes, source)


def _activation(node, kind: str, module, shapes: dict, source: str) -> LayerSpec | str:
    if kind in _ACTIVATIONS:
        return LayerSpec('activation', attrs={'function': _ACTIVATIONS[kind]}, source=source)
    if kind in ('LeakyReLU', 'leaky_relu'):
        slope = module.negative_slope if module is not None else node.kwargs.get(
            'negative_slope', node.args[1] if len(node.args) > 1 else 0.01)
        return LayerSpec('activation', attrs={'function': 'leaky_relu', 'alpha': float(slope)}, source=source)
    if kind in ('Softmax', 'softmax'):
        dim = module.dim if module is not None else node.kwargs.get('dim', node.args[1] if len(node.args) > 1 else None)
        rank = len(shapes.get(node.name, ())) + 1
        if dim not in (-1, rank - 1) or rank != 2:
            return f'a softmax over dim {dim} of a rank-{rank} tensor'
        return LayerSpec('activation', attrs={'function': 'softmax'}, source=source)
    return f'no reference emulation of {kind} yet'


def _flattened_channels_last(spec: LayerSpec, image: tuple[int, ...]) -> LayerSpec:
    """A Linear after a flatten of a channels-first tensor: torch flattens (C, H, W), the project (channels last)
    flattens (H, W, C); the same layer on the project's order reads the weight rows in that order."""
    if len(image) < 2 or spec.kernel is None or int(np.prod(image)) != spec.kernel.shape[0]:
        return spec
    torch_index = np.arange(int(np.prod(image))).reshape(image)
    rows = np.moveaxis(torch_index, 0, -1).reshape(-1)
    return LayerSpec(spec.kind, spec.kernel[rows], spec.bias, attrs=spec.attrs,
                     source=f'{spec.source} (its input flattened channels-first, read in the project\'s channels-last order)')


def _array(value) -> np.ndarray:
    return np.asarray(value.detach().cpu().numpy(), dtype=np.float64)


def _bn(module) -> tuple[np.ndarray, np.ndarray]:
    gamma = _array(module.weight) if module.weight is not None else None
    beta = _array(module.bias) if module.bias is not None else None
    return batchnorm(gamma, beta, _array(module.running_mean), _array(module.running_var), module.eps)


def _image(node, shapes: dict) -> tuple[int, ...]:
    """The node's input as (height, width, channels): torch's (C, H, W), or (C, L) as a height of 1."""
    shape = shapes[node.all_input_nodes[0].name]
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else (1, shape[1], shape[0])


def _pair(value) -> tuple[int, int]:
    values = tuple(int(v) for v in (value if isinstance(value, (tuple, list)) else (value,)))
    return (values[0], values[-1])


def _conv(node, module, shapes: dict, source: str) -> LayerSpec:
    if module.groups != 1 or any(int(d) != 1 for d in module.dilation) or module.padding_mode != 'zeros':
        raise ValueError(f'groups={module.groups}, dilation={module.dilation}, padding_mode={module.padding_mode!r}')
    weight = _array(module.weight)  # (out, in, kh, kw) or (out, in, k)
    kernel = weight.transpose(2, 3, 1, 0) if weight.ndim == 4 else weight.transpose(2, 1, 0)[None]
    bias = _array(module.bias) if module.bias is not None else np.zeros(weight.shape[0])
    one_d = weight.ndim == 3
    strides = (1, int(module.stride[0])) if one_d else _pair(module.stride)
    pads = module.padding if isinstance(module.padding, str) else (0, int(module.padding[0])) if one_d else \
        _pair(module.padding)
    attrs = conv_geometry(_image(node, shapes), (kernel.shape[0], kernel.shape[1]), strides, pads, kernel.shape[-1])
    return LayerSpec('conv', kernel, bias, attrs=attrs, source=source)


def _pooling(node, module, shapes: dict, source: str) -> LayerSpec | str:
    if getattr(module, 'ceil_mode', False) or any(int(d) != 1 for d in np.atleast_1d(getattr(module, 'dilation', 1))):
        return 'a pooling with ceil_mode or dilation'
    if any(int(p) for p in np.atleast_1d(module.padding)):
        return 'a padded pooling (torch and hls4ml count the padding differently)'
    h, w, c = _image(node, shapes)
    one_d = type(module).__name__.endswith('1d')
    pool, strides = _pair(module.kernel_size), _pair(module.stride if module.stride is not None else module.kernel_size)
    attrs = pooling_attrs((w, c), (pool[1],), (strides[1],), 'valid') if one_d else \
        pooling_attrs((h, w, c), pool, strides, 'valid')
    return LayerSpec('pooling', attrs=attrs, source=source)
