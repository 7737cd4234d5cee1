"""Keras 2 (tf_keras 2.15: Keras, QKeras, HGQ v1 proxy models) behind the interface: loading (keras2_load.py),
the mapping (keras2_mapping.py), the Keras reference (keras2_reference.py), the layers' effective weights
(keras2_specs.py); the conversion is trace/convert.py's, with hls4ml's Keras calls below."""

from __future__ import annotations

from pathlib import Path

from hlsdiff.frontends import FrontendBase


class Keras2(FrontendBase):
    name = 'keras2'
    label = 'Keras 2 (tf_keras)'
    cacheable = True
    requires = ('tf_keras', 'qkeras')

    def load(self, source):
        from hlsdiff.frontends.keras2_load import load_model

        return load_model(source)

    def inputs(self, model, data) -> tuple[list[str], list[tuple[int, ...]]]:
        names = [t._keras_history.layer.name for t in model.inputs]
        shapes = [tuple(int(s) if s is not None else -1 for s in t.shape[1:]) for t in model.inputs]
        return names, shapes

    def convert(self, model, opts, output_dir: Path):
        from hlsdiff.trace.convert import convert

        return convert(model, opts, output_dir, calls=self)

    def base_config(self, model, opts, **kwargs) -> dict:
        from hlsdiff.trace import stack

        return stack.load().hls4ml.utils.config_from_keras_model(model, **kwargs)

    def layer_names(self, model) -> set[str]:
        return {layer.name for layer in model.layers}

    def hls4ml_convert(self, model, **kwargs):
        from hlsdiff.trace import stack

        return stack.load().hls4ml.converters.convert_from_keras_model(model, **kwargs)

    def predictor(self, model, inputs: tuple, settings: dict, expected: dict, softmax: tuple[str, ...]):
        """Keras 2's outputs are predicted by the Keras model itself (hls4ml's Keras converter)."""
        from hlsdiff.predict import Predictor

        return Predictor(model, inputs, settings, expected, softmax)

    def map_layers(self, hls_model, model):
        from hlsdiff.frontends.keras2_mapping import map_layers

        return map_layers(hls_model, model)

    def reference(self, model, refs: dict):
        from hlsdiff.frontends.keras2_reference import KerasReference

        return KerasReference(model, refs)

    def running(self):
        from hlsdiff.trace.stack import no_autograph

        return no_autograph()

    def bit_exact(self, model) -> bool:
        from hlsdiff.frontends.keras2_load import is_hgq_proxy

        return is_hgq_proxy(model)

    def layer_specs(self, model, refs: dict) -> dict:
        from hlsdiff.frontends.keras2_specs import layer_specs

        return layer_specs(model, refs)


FRONTEND = Keras2()
