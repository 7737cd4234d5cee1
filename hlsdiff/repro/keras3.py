"""The Keras 3 frontend of `repro` (the modern environment: Keras 3 on torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.repro.frontend import ScriptFacts, register
from hlsdiff.repro.keras2 import KerasCommon, keras_parts
from hlsdiff.repro.script import render

ENV = "os.environ.setdefault('KERAS_BACKEND', 'torch')  # Keras 3, on the backend hlsdiff compared it with"


def _keras():
    import os

    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    return keras


def _source(tensor) -> str:
    return tensor._keras_history.operation.name


class Keras3Repro(KerasCommon):
    name = 'keras3'

    def cut(self, model: Any, layers: list[str], input_name: str) -> Any:
        keras = _keras()
        inp = keras.Input(self.input_shape(model, layers[0]), name=input_name)
        x = inp
        for name in layers:
            old = model.get_layer(name)
            new = old.__class__.from_config(old.get_config())
            x = new(x)
            new.set_weights(old.get_weights())
        return keras.Model(inp, x, name='repro')

    def input_of(self, model: Any, layer: str) -> str | None:
        """A loaded Sequential calls each layer twice (its own build and its functional graph): the nodes
        that read the same layers are one input."""
        nodes = getattr(model.get_layer(layer), '_inbound_nodes', [])
        sources = {tuple(_source(t) for t in node.input_tensors) for node in nodes}
        if len(sources) != 1 or len(feeding := next(iter(sources))) != 1:
            return ''
        inputs = {_source(t) for t in model.inputs}
        return None if feeding[0] in inputs else feeding[0]

    def input_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        return tuple(int(d) for d in model.get_layer(layer).input.shape[1:])

    def prefix(self, model: Any, layer: str) -> Any:
        from hlsdiff.errors import BadInput

        if len(model.inputs) != 1:
            raise BadInput('the model has several inputs: repro writes single-input reproducers only')
        return _keras().Model(model.inputs, model.get_layer(layer).output, name='repro')

    def values(self, model: Any, samples: np.ndarray, layer: str | None) -> np.ndarray:
        if layer is None:
            return np.asarray(samples, dtype=np.float64)
        sub = _keras().Model(model.inputs, model.get_layer(layer).output)
        return np.asarray(sub.predict(samples, verbose=0), dtype=np.float64)

    def save(self, model: Any, folder: Path, suffix: str) -> str:
        model.save(str(Path(folder) / 'model.keras'))
        return 'model.keras'

    def script(self, facts: ScriptFacts, model: Any) -> str:
        return render(facts, keras_parts(ENV, 'import keras', 'keras.models.load_model', ', compile=False'))

    def versions(self) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        found: dict[str, str] = {}
        for label, dist in (('keras', 'keras'), ('torch', 'torch')):
            try:
                found[label] = version(dist)
            except PackageNotFoundError:
                continue
        return found


register(Keras3Repro())
