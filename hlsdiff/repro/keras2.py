"""The Keras 2 (tf_keras 2.15, QKeras, HGQ v1) frontend of `repro`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.repro.frontend import ScriptFacts, register
from hlsdiff.repro.script import Parts, render

ENV = "os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')  # Keras 2 (tf_keras), as hls4ml 1.3.0 and QKeras use it"
MODEL = """model = {load}(os.path.join(HERE, '{{model_file}}'){load_args})
expected = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
"""
CONVERT = """hls_model = hls4ml.converters.convert_from_keras_model(
    model, hls_config=cfg['HLSConfig'], io_type=cfg['IOType'], backend=cfg['Backend'], output_dir=prj)
"""


def keras_parts(env: str, imports: str, load: str, load_args: str) -> Parts:
    """repro.py's parts for a Keras model (2 or 3): `env` set before the imports, `load` loads it."""
    return Parts('Keras', env, imports, MODEL.format(load=load, load_args=load_args), CONVERT)


class KerasCommon(ABC):
    """What Keras 2 and Keras 3 models answer alike."""

    label = 'Keras'

    def layer_names(self, model: Any) -> list[str]:
        return [layer.name for layer in model.layers if type(layer).__name__ != 'InputLayer']

    def describe(self, model: Any) -> str:
        return ' + '.join(type(layer).__name__ for layer in model.layers if type(layer).__name__ != 'InputLayer')

    def from_csim(self, model: Any, values: np.ndarray, layer: str) -> np.ndarray:
        return values.reshape((values.shape[0], *self.input_shape(model, layer)))

    def configure(self, model: Any, hls: dict) -> None:
        return None

    def own_layer(self, model: Any, hls_name: str, class_name: str) -> str | None:
        return hls_name if hls_name in {layer.name for layer in model.layers} else None

    def class_of(self, model: Any, layer: str) -> str:
        return type(model.get_layer(layer)).__name__

    @abstractmethod
    def input_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        """The input shape of `layer` in the model, without the batch: each Keras reads it its own way."""


class Keras2Repro(KerasCommon):
    name = 'keras2'

    def cut(self, model: Any, layers: list[str], input_name: str) -> Any:
        from hlsdiff.trace import stack

        s = stack.load()
        inp = s.keras.Input(self.input_shape(model, layers[0]), name=input_name)
        x = inp
        with stack.no_autograph(), s.keras.utils.custom_object_scope({**s.custom_objects, **_hgq_objects(model)}):
            for name in layers:
                old = model.get_layer(name)
                new = old.__class__.from_config(old.get_config())
                x = new(x)
                new.set_weights(old.get_weights())
        return s.keras.Model(inp, x, name='repro')

    def input_of(self, model: Any, layer: str) -> str | None:
        nodes = model.get_layer(layer).inbound_nodes
        feeding = nodes[0].inbound_layers if nodes else []
        feeding = feeding if isinstance(feeding, list) else [feeding]
        if len(nodes) != 1 or len(feeding) != 1:
            return ''
        return None if type(feeding[0]).__name__ == 'InputLayer' else feeding[0].name

    def input_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        return tuple(int(d) for d in model.get_layer(layer).input_shape[1:])

    def prefix(self, model: Any, layer: str) -> Any:
        from hlsdiff.errors import BadInput
        from hlsdiff.trace import stack

        if len(model.inputs) != 1:
            raise BadInput('the model has several inputs: repro writes single-input reproducers only')
        return stack.load().keras.Model(model.inputs, model.get_layer(layer).output, name='repro')

    def values(self, model: Any, samples: np.ndarray, layer: str | None) -> np.ndarray:
        if layer is None:
            return np.asarray(samples, dtype=np.float64)
        from hlsdiff.trace import stack

        s = stack.load()
        with stack.no_autograph():
            sub = s.keras.Model(model.inputs, model.get_layer(layer).output)
            return np.asarray(sub.predict(samples, verbose=0), dtype=np.float64)

    def save(self, model: Any, folder: Path, suffix: str) -> str:
        name = f'model{suffix if suffix in (".h5", ".keras") else ".h5"}'
        model.save(str(Path(folder) / name))
        return name

    def script(self, facts: ScriptFacts, model: Any) -> str:
        modules = {type(layer).__module__.split('.')[0] for layer in model.layers}
        if 'HGQ' in modules:
            imports = 'import tensorflow as tf\nfrom HGQ.proxy import FixedPointQuantizer, UnaryLUT'
            load, args = 'tf.keras.models.load_model', (", compile=False, custom_objects={'FixedPointQuantizer': "
                                                        "FixedPointQuantizer, 'UnaryLUT': UnaryLUT}")
        elif 'qkeras' in modules:
            imports, load, args = 'from qkeras.utils import load_qmodel', 'load_qmodel', ', compile=False'
        else:
            imports, load, args = 'import tensorflow as tf', 'tf.keras.models.load_model', ', compile=False'
        return render(facts, keras_parts(ENV, imports, load, args))

    def versions(self) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        found: dict[str, str] = {}
        for label, dist in (('tensorflow', 'tensorflow-cpu'), ('tensorflow', 'tensorflow'), ('tf_keras', 'tf-keras'),
                            ('QKeras', 'qkeras'), ('HGQ', 'hgq')):
            try:
                found.setdefault(label, version(dist))
            except PackageNotFoundError:
                continue
        return found


def _hgq_objects(model: Any) -> dict:
    from hlsdiff.frontends.keras2_load import hgq_objects, is_hgq_proxy

    return hgq_objects('model') if is_hgq_proxy(model) else {}


register(Keras2Repro())
