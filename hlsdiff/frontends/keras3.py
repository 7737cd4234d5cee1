"""Keras 3 (+ HGQ2), on the torch backend of the modern environment: a Keras 3 `.keras` file or model object.

hls4ml 1.3.0's `convert_from_keras_model` takes Keras 3 models. Layers are nodes named after the Keras
layers; Keras is channels-last like hls4ml, so no axis moves. A fused `activation=` is split by hls4ml
into the linear layer and `<name>_<activation>`: the activation layer is compared with the Keras
layer's output, the linear layer with a linear twin of it (same class and weights, activation=None,
on the same input; the user's model is not changed).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from hlsdiff.batches import fixed_batches, in_fixed_batches
from hlsdiff.errors import BadInput
from hlsdiff.frontends import FrontendBase
from hlsdiff.frontends.nodes import NodeGraph, map_nodes

_FOLDABLE = frozenset({'BatchNormalization', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise'})


def _keras():
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    return keras


def _activation(layer) -> str | None:
    act = getattr(layer, 'activation', None)
    name = getattr(act, '__name__', None) if act is not None else None
    return None if name in (None, 'linear') else name


class Keras3Reference:
    """Every wanted tensor in one forward pass (a multi-output model; the output before a fused activation
    from a linear twin of the layer, same weights, on the same input); nodes re-run on given values."""

    def __init__(self, model, refs: dict, graph: NodeGraph):
        keras = _keras()
        self.model = model
        self.reads = graph.reads
        self.layers = {layer.name: layer for layer in model.layers}
        self.split = {n: base for n, base in _split_names(model).items()}  # '<name>_<act>' -> name
        self.twins = {base: _linear_twin(self.layers[base]) for base in self.split.values()}
        self.tensors = list(dict.fromkeys(r.tensor for r in refs.values() if r.tensor[0] != 'input'))
        outputs = [self._symbolic(t[1]) for t in self.tensors]
        self.multi = keras.Model(model.inputs, outputs) if outputs else None

    def _symbolic(self, node: str):
        if node in self.split:
            return self.layers[self.split[node]].output
        if node in self.twins:
            return self.twins[node](self.layers[node].input)
        return self.layers[node].output

    def _call(self, node: str, args: list):
        value = args if len(args) > 1 else args[0]
        if node in self.split:
            return self.layers[self.split[node]].activation(value)
        if node in self.twins:
            return self.twins[node](value, training=False)
        return self.layers[node](value, training=False)

    def _batches(self, inputs: tuple):
        assert self.multi is not None
        for count, arrays in fixed_batches(inputs):
            batch = [x.astype(np.float32) for x in arrays]
            outs = self.multi(batch, training=False)  # a list, as `multi`'s inputs are (one warning per call else)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            yield [np.asarray(_keras().ops.convert_to_numpy(o), dtype=np.float64)[:count] for o in outs]

    def forward(self, inputs: tuple) -> dict:
        if self.multi is None:
            return {}
        parts: dict = {t: [] for t in self.tensors}
        for outs in self._batches(inputs):
            for t, out in zip(self.tensors, outs):
                parts[t].append(out)
        return {t: np.concatenate(p) for t, p in parts.items()}

    def scales(self, inputs: tuple) -> dict:
        return {t: float(np.max(np.abs(a))) if a.size else 0.0 for t, a in self.forward(inputs).items()}

    def apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        """Run `chain` (see `Ref`) on input arrays shaped like the tensors they stand for, in fixed-size batches."""
        return in_fixed_batches(lambda batch: self._apply_chain(chain, batch), arrays)

    def _apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        if not chain or chain[0][0] != 'from' or len(chain) < 2:
            raise ValueError('no chain')
        env = {name: a.astype(np.float32) for name, a in zip(chain[0][1:], arrays)}
        for _, name in chain[1:]:
            env[name] = self._call(name, [env[p] for p in self.reads[name]])
        return np.asarray(_keras().ops.convert_to_numpy(env[chain[-1][1]]), dtype=np.float64)


def _split_names(model) -> dict[str, str]:
    """hls4ml's `<name>_<activation>` layer -> the Keras layer whose fused activation it was split from."""
    return {f'{layer.name}_{act}': layer.name for layer in model.layers if (act := _activation(layer))}


def _linear_twin(layer):
    """The same layer with `activation=None` and the same weights (the user's layer is never changed)."""
    cfg = layer.get_config()
    cfg['activation'] = None
    cfg['name'] = f'{layer.name}__hlsdiff_pre'
    twin = type(layer).from_config(cfg)
    twin(layer.input)
    twin.set_weights(layer.get_weights())
    return twin


class Keras3(FrontendBase):
    name = 'keras3'
    label = 'Keras 3'

    def available(self) -> bool:
        if importlib.util.find_spec('keras') is None or importlib.util.find_spec('tf_keras') is not None:
            return False
        from importlib.metadata import version

        return version('keras').startswith('3')

    def load(self, source):
        keras = _keras()
        if source.obj is not None:
            return source.obj
        from hlsdiff.trace.load import import_custom_objects

        objects = import_custom_objects(source.custom_objects)
        with contextlib.suppress(ImportError):
            import hgq  # noqa: F401  (HGQ2 registers its layers with Keras on import)
        try:
            return keras.models.load_model(str(source.path), custom_objects=objects, compile=False)
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BadInput(f'{source.path}: cannot load as a Keras 3 model: {text}') from None

    def inputs(self, model, data) -> tuple[list[str], list[tuple[int, ...]]]:
        names = [t._keras_history.operation.name for t in model.inputs]
        shapes = [tuple(int(s) if s is not None else -1 for s in t.shape[1:]) for t in model.inputs]
        if any(s < 0 for shape in shapes for s in shape):
            raise BadInput(f'the model input shape {shapes} has unknown dimensions; hls4ml needs fixed shapes')
        return names, shapes

    def base_config(self, model, opts, **kwargs) -> dict:
        import hls4ml

        return hls4ml.utils.config_from_keras_model(model, **kwargs)

    def layer_names(self, model) -> set[str]:
        return {layer.name for layer in model.layers}

    def hls4ml_convert(self, model, **kwargs):
        import hls4ml

        return hls4ml.converters.convert_from_keras_model(model, **kwargs)

    def convert(self, model, opts, output_dir: Path):
        from hlsdiff.trace.convert import convert

        return convert(model, opts, output_dir, calls=self)

    def graph(self, model) -> NodeGraph:
        """Keras layers as nodes; a fused activation is a node of its own (`<name>_<act>`, as hls4ml splits it)."""
        inputs = [t._keras_history.operation.name for t in model.inputs]
        split = {base: n for n, base in _split_names(model).items()}
        order, reads, kind = [], {}, {}
        for layer in model.layers:
            if layer.name in inputs:
                continue
            nodes = getattr(layer, '_inbound_nodes', [])
            sources = [t._keras_history.operation.name for t in nodes[0].input_tensors] if nodes else []
            order.append(layer.name)
            reads[layer.name] = [split.get(p, p) for p in sources]
            kind[layer.name] = type(layer).__name__
            if layer.name in split:
                order.append(split[layer.name])
                reads[split[layer.name]] = [layer.name]
                kind[split[layer.name]] = f'activation={_activation(layer)}'
        return NodeGraph('Keras 3', inputs + order, reads, kind, inputs, _FOLDABLE)

    def map_layers(self, hls_model, model):
        def note(layer, ref) -> str:
            split = _split_names(model)
            if ref.tensor[1] in split:
                return f'activation of {split[ref.tensor[1]]} (split by hls4ml)'
            return 'before the fused activation (a linear twin of the layer)' if ref.tensor[1] in split.values() else ''

        sizes = {}
        for layer in model.layers:
            shape = tuple(getattr(getattr(layer, 'output', None), 'shape', ()) or ())[1:]
            if shape and all(isinstance(d, int) for d in shape):
                sizes[layer.name] = int(np.prod(shape))
                sizes.update({n: sizes[layer.name] for n, base in _split_names(model).items() if base == layer.name})
        return map_nodes(hls_model, self.graph(model), note, sizes=sizes)

    def reference(self, model, refs: dict) -> Keras3Reference:
        return Keras3Reference(model, refs, self.graph(model))

    def layer_specs(self, model, refs: dict) -> dict:
        from hlsdiff.frontends.keras3_specs import layer_specs

        return layer_specs(model, refs, _split_names(model))

    def bit_exact(self, model) -> bool:
        return any(type(layer).__module__.startswith('hgq') for layer in model.layers)

FRONTEND = Keras3()
