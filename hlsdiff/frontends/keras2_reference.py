"""Keras's per-layer outputs in one forward pass, and each layer re-run on C-simulation inputs.

The user's model is never changed: the output before a fused activation comes from a
linear twin of the layer (same class and weights, `activation=None`) called on the same
input tensor, not from setting `layer.activation = None` as hls4ml's profiling does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hlsdiff.batches import fixed_batches, in_fixed_batches
from hlsdiff.trace.mapping import Ref


class KerasReference:
    """Every Keras tensor the mapping asks for, from one multi-output model."""

    def __init__(self, model, refs: dict[str, Ref]):
        from hlsdiff.trace import stack

        self.keras = stack.load().keras
        self.tf = stack.load().tf
        self.model = model
        self.layers = {layer.name: layer for layer in model.layers}
        for t in model.inputs:  # a Sequential model's input layer is not in model.layers
            layer = t._keras_history.layer
            self.layers.setdefault(layer.name, layer)
        self.twins: dict = {}
        self.input_names = [t.name.split(':')[0] for t in model.inputs]
        self.input_layer_names = [layer.name for layer in model.layers if type(layer).__name__ == 'InputLayer']
        wanted = []
        for ref in refs.values():
            if ref.tensor not in wanted and ref.tensor[0] != 'input':
                wanted.append(ref.tensor)
            for step in ref.chain:
                if step[0] == 'pre' and step[1] not in self.twins:
                    self.twins[step[1]] = self._linear_twin(self.layers[step[1]])
        self.tensors = wanted
        outputs = [self._symbolic(t) for t in wanted]
        self.multi: Any = self.keras.Model(model.inputs, outputs) if outputs else None

    def _linear_twin(self, layer):
        cfg = layer.get_config()
        cfg['activation'] = None
        cfg['name'] = f'{layer.name}__hlsdiff_pre'
        twin = type(layer).from_config(cfg)
        twin(layer.input)  # builds the weights, on the same input tensor
        twin.set_weights(layer.get_weights())
        return twin

    def _symbolic(self, tensor):
        kind, name = tensor
        if kind == 'pre':
            layer = self.layers[name]
            return self.twins[name](layer.input)
        return self.layers[name].output

    def _batches(self, inputs: tuple[np.ndarray, ...]):
        """The wanted tensors of each batch of samples, as a list in `self.tensors` order."""
        for count, arrays in fixed_batches(inputs):
            batch = [self.tf.constant(x, dtype=self.tf.float32) for x in arrays]
            outs = self.multi(batch if len(batch) > 1 else batch[0], training=False)
            yield [out[:count] for out in (outs if isinstance(outs, (list, tuple)) else [outs])]

    def forward(self, inputs: tuple[np.ndarray, ...]) -> dict[tuple, np.ndarray]:
        """Every wanted tensor for every sample, float64, one forward pass in batches."""
        if self.multi is None:
            return {}
        result: dict[tuple, list] = {t: [] for t in self.tensors}
        for outs in self._batches(inputs):
            for t, out in zip(self.tensors, outs):
                result[t].append(np.asarray(out, dtype=np.float64))
        return {t: np.concatenate(parts) for t, parts in result.items()}

    def scales(self, inputs: tuple[np.ndarray, ...]) -> dict[tuple, float]:
        """Every wanted tensor's largest |value| over all samples, one batch at a time."""
        peak: dict[tuple, float] = {t: 0.0 for t in self.tensors}
        if self.multi is None:
            return peak
        for outs in self._batches(inputs):
            for t, out in zip(self.tensors, outs):
                if out.shape[0]:
                    peak[t] = max(peak[t], float(np.max(np.abs(np.asarray(out, dtype=np.float64)))))
        return peak

    def apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        """Run `chain` (see `Ref`) on input arrays shaped like the tensors they stand for, in fixed-size batches."""
        return in_fixed_batches(lambda batch: self._apply_chain(chain, batch), arrays)

    def _apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        x = [self.tf.constant(a, dtype=self.tf.float32) for a in arrays]
        value = x if len(x) > 1 else x[0]
        for step in chain:
            op = step[0]
            if op == 'identity':
                value = value[0] if isinstance(value, list) else value
            elif op == 'layer':
                value = self.layers[step[1]](value, training=False)
            elif op == 'pre':
                value = self.twins[step[1]](value, training=False)
            elif op == 'act':
                value = self.layers[step[1]].activation(value)
        return np.asarray(value, dtype=np.float64)

    def tensor_shape(self, tensor: tuple) -> tuple[int, ...]:
        """The Keras shape of a tensor without the batch axis (a linear twin has its layer's)."""
        return tuple(int(s) for s in self.layers[tensor[1]].output.shape[1:])
