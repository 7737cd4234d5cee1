"""Keras 3 (+ HGQ2), on the torch backend of the modern environment: a Keras 3 `.keras` file or model object.

hls4ml 1.3.0's `convert_from_keras_model` takes Keras 3 models. Layers are nodes named after the Keras
layers; Keras is channels-last like hls4ml, so no axis moves. A fused `activation=` is split by hls4ml
into the linear layer and `<name>_<activation>`: the activation layer is compared with the Keras
layer's output; the linear part has no Keras 3 tensor here (hlsdiff builds no linear twin on Keras 3),
so it is not compared, with that reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from hlsdiff.errors import BadInput
from hlsdiff.frontends.nodes import NodeGraph, map_nodes

BATCH = 256
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
    def __init__(self, model, refs: dict):
        keras = _keras()
        self.model = model
        self.layers = {layer.name: layer for layer in model.layers}
        self.tensors = list(dict.fromkeys(r.tensor for r in refs.values() if r.tensor[0] != 'input'))
        outputs = [self.layers[t[1]].output for t in self.tensors]
        self.multi = keras.Model(model.inputs, outputs) if outputs else None

    def _batches(self, inputs: tuple):
        for start in range(0, inputs[0].shape[0], BATCH):
            batch = [x[start:start + BATCH].astype(np.float32) for x in inputs]
            outs = self.multi(batch if len(batch) > 1 else batch[0], training=False)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            yield [np.asarray(_keras().ops.convert_to_numpy(o), dtype=np.float64) for o in outs]

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
        if not chain or chain[0][0] != 'from' or len(chain) != 2 or len(arrays) != 1:
            raise ValueError('only a single layer on a single input is re-run')
        out = self.layers[chain[1][1]](arrays[0].astype(np.float32), training=False)
        return np.asarray(_keras().ops.convert_to_numpy(out), dtype=np.float64)


class Keras3:
    name = 'keras3'
    label = 'Keras 3'
    cacheable = False

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
        order, reads, kind = [], {}, {}
        inputs = [t._keras_history.operation.name for t in model.inputs]
        for layer in model.layers:
            if layer.name in inputs:
                continue
            order.append(layer.name)
            nodes = getattr(layer, '_inbound_nodes', [])
            reads[layer.name] = [t._keras_history.operation.name for t in nodes[0].input_tensors] if nodes else []
            kind[layer.name] = type(layer).__name__
        return NodeGraph('Keras 3', inputs + order, reads, kind, inputs, _FOLDABLE)

    def map_layers(self, hls_model, model):
        infos, refs, unmatched = map_nodes(hls_model, self.graph(model), lambda layer, ref: '')
        return _split_activations(infos, refs, model), refs, unmatched

    def reference(self, model, refs: dict) -> Keras3Reference:
        return Keras3Reference(model, refs)

    def running(self):
        return contextlib.nullcontext()

    def bit_exact(self, model) -> bool:
        return any(type(layer).__module__.startswith('hgq') for layer in model.layers)

    def csim_layout(self, hls_model) -> dict[str, tuple[int, ...]]:
        return {}


def _split_activations(infos: list, refs: dict, model) -> list:
    """A Keras layer with a fused activation: hls4ml's `<name>_<act>` is its output, the linear part is not compared."""
    import dataclasses

    from hlsdiff.trace.mapping import Ref

    layers = {layer.name: layer for layer in model.layers}
    out = []
    for info in infos:
        layer = layers.get(info.name)
        act = _activation(layer) if layer is not None else None
        split = f'{info.name}_{act}' if act else None
        if split and any(i.name == split for i in infos) and info.name in refs:
            ref = refs.pop(info.name)
            refs[split] = Ref(ref.tensor, [], ref.inputs)  # its C-sim input is the linear part: no re-run
            out.append(dataclasses.replace(info, keras=None, reason=f'before the fused {act}: no Keras 3 tensor '
                                           '(hlsdiff builds no linear twin on Keras 3)'))
        else:
            out.append(info)
    return [dataclasses.replace(i, keras=refs[i.name].tensor[1], reason='', mapping_note=f'activation of '
                                f'{refs[i.name].tensor[1]} (split by hls4ml)') if i.name in refs and i.keras is None
            else i for i in out]


FRONTEND = Keras3()
