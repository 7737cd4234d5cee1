"""Keras 2 models loaded (tf_keras 2.15: Keras, QKeras, HGQ v1 proxy models): a file (`.h5`, a `.json`
architecture with its weights, a Keras 2 `.keras` archive, a SavedModel) or the object given to the API, with
QKeras's and the user's objects registered, never compiled."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from hlsdiff.errors import BadInput
from hlsdiff.trace.load import ModelFile, import_custom_objects

_KERAS_V3_TO_H5 = """
import os, sys
os.environ['TF_USE_LEGACY_KERAS'] = '1'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import tf_keras
tf_keras.models.load_model(sys.argv[1], compile=False).save(sys.argv[2])
"""


def _keras_v3_as_h5(path: Path, folder: Path) -> Path:
    """A `.keras` file as `.h5`, converted in a child process without QKeras.

    With QKeras 0.9.0 imported, tf_keras 2.15 never finishes loading a `.keras` file (it spins
    in `reconstruct_from_config`), and hlsdiff imports QKeras; a child that does not, does.
    """
    with zipfile.ZipFile(path) as z:
        config = z.read('config.json').decode(errors='replace') if 'config.json' in z.namelist() else ''
    if 'qkeras' in config:
        raise BadInput(f'{path}: a QKeras model in the .keras format: tf_keras 2.15 with QKeras 0.9.0 never '
                       'finishes loading those; save it with model.save("model.h5")')
    target = folder / (path.stem + '.h5')
    proc = subprocess.run([sys.executable, '-c', _KERAS_V3_TO_H5, str(path), str(target)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ['unknown error'])[-1]
        raise BadInput(f'{path}: cannot load as a Keras model: {last}')
    return target


def load_model(source):
    """Load a Keras/QKeras model with QKeras (and the user's) objects registered; never compile it."""
    from hlsdiff.trace import stack

    source = source if isinstance(source, ModelFile) else ModelFile(Path(source))
    if source.obj is not None:
        if source.custom_objects:
            import_custom_objects(source.custom_objects)  # registers the user's hls4ml extensions
        return source.obj
    path = source.path
    if path.suffix.lower() == '.keras':
        with tempfile.TemporaryDirectory(prefix='hlsdiff-keras-') as tmp:
            return load_model(ModelFile(_keras_v3_as_h5(path, Path(tmp)), None, source.custom_objects))
    s = stack.load()
    objects = {**s.custom_objects, **import_custom_objects(source.custom_objects)}
    try:
        return _load(s, source, objects)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if any(name in first for name in HGQ_PROXY_LAYERS):  # an HGQ proxy model: its quantizer layers
            try:
                return _load(s, source, {**objects, **hgq_objects(path)})
            except BadInput:
                raise
            except Exception as again:
                first = str(again).strip().splitlines()[0] if str(again).strip() else type(again).__name__
        if 'Unknown layer' in first or 'Unknown object' in first:
            first += ' (give its class with --custom-objects FILE.py)'
        elif source.weights is not None and 'qkeras' in path.read_text(errors='replace'):
            # model.to_json() of QKeras 0.9.0 on tf_keras 2.15 writes quantizers that neither tf_keras nor
            # QKeras's own quantized_model_from_json can read back
            first += (' — a QKeras architecture written by model.to_json() on tf_keras 2.15 cannot be read back '
                      '(QKeras cannot either); save the whole model with model.save("model.h5")')
        raise BadInput(f'{path}: cannot load as a Keras model: {first}') from None


HGQ_PROXY_LAYERS = ('FixedPointQuantizer', 'UnaryLUT')


def hgq_objects(path) -> dict:
    """HGQ v1's proxy-model layers (the `hgq` package), registered only for a model that has them."""
    try:
        from HGQ.proxy import FixedPointQuantizer, UnaryLUT
    except ImportError:
        raise BadInput(f'{path}: an HGQ proxy model, and the hgq package is not installed (pip install --no-deps '
                       'hgq==0.2.6)') from None
    return {'FixedPointQuantizer': FixedPointQuantizer, 'UnaryLUT': UnaryLUT}


def is_hgq_proxy(model) -> bool:
    return any(type(layer).__name__ in HGQ_PROXY_LAYERS for layer in getattr(model, 'layers', []))


def _load(s, source: ModelFile, objects: dict):
    from hlsdiff.trace import stack

    # the scope as well: a Sequential architecture deserialises its layers without custom_objects
    with stack.no_autograph(), s.keras.utils.custom_object_scope(objects):
        if source.weights is not None:
            model = s.keras.models.model_from_json(source.path.read_text(errors='replace'), custom_objects=objects)
            model.load_weights(str(source.weights))
            return model
        return s.keras.models.load_model(str(source.path), custom_objects=objects, compile=False)
