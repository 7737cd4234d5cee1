"""Load the user's model and data, and validate them before any heavy work."""

from __future__ import annotations

import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.errors import BadInput

MODEL_SUFFIXES = ('.h5', '.hdf5', '.keras', '.json')
# Formats no hls4ml frontend takes. PyTorch (.pt/.pth/.pt2), ONNX (.onnx) and Keras 3 (.keras) models go to
# their frontends (hlsdiff/frontends), in the environment that has them.
NOT_SUPPORTED = {
    '.ts': 'TorchScript archives (hls4ml traces Python modules: save the module or its state_dict)',
    '.tflite': 'TensorFlow Lite models', '.pb': 'frozen TensorFlow graphs',
}
OTHER_FRONTEND_SUFFIXES = ('.pt', '.pth', '.pt2', '.onnx')


@dataclass(frozen=True)
class ModelFile:
    """Where the model comes from: a file or SavedModel folder, the weights of a `.json`
    architecture, and the user's custom objects (`--custom-objects`)."""

    path: Path
    weights: Path | None = None
    custom_objects: str | None = None
    obj: Any = field(default=None, compare=False)  # a model given as an object (the Python API), of any framework

    def __str__(self) -> str:
        return str(self.path) if self.obj is None else f'<{type(self.obj).__name__} {getattr(self.obj, "name", "") or ""}>'

    def digest(self) -> bytes:
        """What defines the model, for the conversion cache's key: its files' bytes, or for a model
        object its architecture and weights."""
        import hashlib

        h = hashlib.sha256()
        if self.obj is not None:
            h.update(self.obj.to_json().encode())
            for w in self.obj.get_weights():
                h.update(np.ascontiguousarray(w).tobytes())
        else:
            for p in self.files():
                h.update(p.name.encode() + b'\0' + p.read_bytes())
        source = custom_objects_file(self.custom_objects)
        if self.obj is not None and source is not None:
            h.update(source.read_bytes())
        return h.digest()

    def files(self) -> list[Path]:
        """Every file whose bytes define the model."""
        files = sorted(p for p in self.path.rglob('*') if p.is_file()) if self.path.is_dir() else [self.path]
        if self.weights is not None:
            files.append(self.weights)
        source = custom_objects_file(self.custom_objects)
        if source is not None:
            files.append(source)
        return files


@dataclass(frozen=True)
class Samples:
    """The data, one float64 array `(N, *input_shape)` per model input, in model-input order."""

    arrays: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    note: str = ''

    @property
    def count(self) -> int:
        return int(self.arrays[0].shape[0])


HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'


def check_model_path(path, weights: str | os.PathLike | None = None,
                     custom_objects: str | None = None) -> ModelFile:
    """Fail fast, without TensorFlow, on a model path that cannot be a Keras model."""
    if isinstance(path, ModelFile):
        return path
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in NOT_SUPPORTED:
        raise BadInput(f'{p}: {NOT_SUPPORTED[suffix]} are not supported: hlsdiff takes Keras 2/3 (.h5, .keras, a '
                       'SavedModel folder, a .json with its weights), PyTorch (.pt2, .pt) and ONNX (.onnx) models')
    if not p.exists():
        raise BadInput(f'model file not found: {p}')
    if suffix in OTHER_FRONTEND_SUFFIXES:
        if custom_objects:
            custom_objects_file(custom_objects.split('.py:')[0] + '.py' if '.py:' in custom_objects else custom_objects)
        if weights is not None:
            raise BadInput(f'--weights is for a .json Keras architecture; {p.name} holds its own weights')
        return ModelFile(p, None, custom_objects)
    if custom_objects:
        custom_objects_file(custom_objects)  # a missing file is bad input before any work
    if p.is_dir():
        if not (p / 'saved_model.pb').exists():
            raise BadInput(f'{p} is a folder but not a SavedModel (no saved_model.pb)')
        return ModelFile(p, None, custom_objects)
    if suffix not in MODEL_SUFFIXES:
        raise BadInput(f'{p}: not a Keras model file (expected .h5, .keras, .json with weights, or a SavedModel folder)')
    if suffix == '.json':
        return ModelFile(p, _weights_for(p, weights), custom_objects)
    if weights is not None:
        raise BadInput(f'--weights is for a .json architecture; {p.name} holds its own weights')
    with open(p, 'rb') as f:
        head = f.read(8)
    if suffix == '.keras':
        if not zipfile.is_zipfile(p):
            raise BadInput(f'{p}: corrupt .keras file (not a zip archive)')
        if _keras_version(p).startswith('3'):  # the Keras 3 frontend's (hlsdiff/frontends/keras3.py)
            return ModelFile(p, None, custom_objects)
    elif head != HDF5_SIGNATURE:
        raise BadInput(f'{p}: corrupt or not an HDF5 Keras model (bad file signature)')
    else:
        _refuse_weights_only(p)
    return ModelFile(p, None, custom_objects)


def _weights_for(arch: Path, weights) -> Path:
    """The weights of a .json architecture: --weights, or `<stem>_weights.h5` beside it."""
    if weights is not None:
        w = Path(weights)
        if not w.exists():
            raise BadInput(f'weights file not found: {w}')
    else:
        candidates = [arch.with_name(f'{arch.stem}_weights.h5'), arch.with_name(f'{arch.stem}.h5')]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise BadInput(f'{arch}: a .json architecture needs its weights: put them in '
                           f'{candidates[0].name} beside it, or give --weights FILE')
        w = found
    with open(w, 'rb') as f:
        if f.read(8) != HDF5_SIGNATURE:
            raise BadInput(f'{w}: corrupt or not an HDF5 weights file (bad file signature)')
    return w


def keras_file_version(path: Path) -> str:
    """The Keras version a `.keras` archive was saved with ('' when it does not say)."""
    import json

    if not zipfile.is_zipfile(path):
        return ''
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        try:
            meta = json.loads(z.read('metadata.json')) if 'metadata.json' in names else {}
        except ValueError:
            meta = {}
    return str(meta.get('keras_version', ''))


def _keras_version(path: Path) -> str:
    """The Keras version a `.keras` file was saved with (a Keras 3 one goes to the Keras 3 frontend)."""
    try:
        return keras_file_version(path)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise BadInput(f'{path}: corrupt .keras file ({exc})') from None


def _refuse_weights_only(path: Path) -> None:
    """An .h5 with weights and no architecture (model.save_weights): say what is missing."""
    try:
        import h5py
    except ImportError:
        return
    try:
        with h5py.File(path, 'r') as f:
            has_config = 'model_config' in f.attrs
            weights_only = not has_config and ('layer_names' in f.attrs or 'model_weights' not in f)
    except OSError as exc:
        raise BadInput(f'{path}: corrupt HDF5 file ({exc})') from None
    if weights_only:
        raise BadInput(f'{path}: holds weights but no model architecture; give the architecture .json '
                       f'as MODEL (with --weights {path.name}), or save the whole model with model.save()')


def custom_objects_file(spec: str | None) -> Path | None:
    """The file behind `--custom-objects FILE.py` (None for `module:attr`); checked it exists."""
    if not spec:
        return None
    if spec.endswith('.py') or os.sep in spec:
        p = Path(spec)
        if not p.is_file():
            raise BadInput(f'--custom-objects: file not found: {p}')
        return p
    return None


def import_custom_objects(spec: str | None) -> dict:
    """Import the user's module (`FILE.py` or `module[:attr]`) and return its custom objects.

    Importing it also runs any hls4ml extension it registers
    (`hls4ml.model.extensions.register_extension_layer`...), so the conversion uses it.
    """
    import importlib
    import importlib.util

    if not spec:
        return {}
    attr = 'custom_objects'
    try:
        path = custom_objects_file(spec)
        if path is not None:
            name = f'hlsdiff_custom_{path.stem}'
            module = sys.modules.get(name)
            if module is None or Path(getattr(module, '__file__', '')).resolve() != path.resolve():
                # once per process: an extension registers its hls4ml templates and passes on import
                module_spec = importlib.util.spec_from_file_location(name, path)
                if module_spec is None or module_spec.loader is None:  # no loader for the file's suffix
                    raise BadInput(f'--custom-objects {spec}: not a Python file (give FILE.py or module[:attr])')
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[name] = module
                module_spec.loader.exec_module(module)
        else:
            name, _, attr = spec.partition(':')
            attr = attr or 'custom_objects'
            module = importlib.import_module(name)
    except BadInput:
        raise
    except Exception as exc:  # the user's code failed to import: their bug, one line
        raise BadInput(f'--custom-objects {spec}: importing it failed: {type(exc).__name__}: {exc}') from None
    found = getattr(module, attr, None)
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise BadInput(f'--custom-objects {spec}: {attr} must be a dict of name -> class, got {type(found).__name__}')
    return dict(found)


def read_data(path) -> dict[str, np.ndarray] | np.ndarray:
    """Read `.npy` (one array) or `.npz` (arrays by input name); check dtype and finiteness.
    Arrays given directly (the Python API) are checked the same way."""
    if isinstance(path, np.ndarray):
        _check_array(path, 'X')
        return path
    if isinstance(path, dict):
        if not path:
            raise BadInput('X: the dict holds no arrays')
        for name, arr in path.items():
            _check_array(np.asarray(arr), f'X[{name}]')
        return {k: np.asarray(v) for k, v in path.items()}
    p = Path(path)
    if not p.exists():
        raise BadInput(f'data file not found: {p}')
    suffix = p.suffix.lower()
    if suffix not in ('.npy', '.npz'):
        raise BadInput(f'{p}: data must be a .npy or .npz file')
    try:
        loaded = np.load(p, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError, zipfile errors...
        raise BadInput(f'{p}: cannot read as {suffix}: {exc}') from None
    if suffix == '.npy':
        _check_array(loaded, p.name)
        return loaded
    with loaded:
        arrays = {k: loaded[k] for k in loaded.files}
    if not arrays:
        raise BadInput(f'{p}: the .npz holds no arrays')
    for name, arr in arrays.items():
        _check_array(arr, f'{p.name}[{name}]')
    return arrays


def _check_array(arr: np.ndarray, label: str) -> None:
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise BadInput(f'{label}: dtype {arr.dtype} is not numeric (need float or int)')
    if arr.size == 0:
        raise BadInput(f'{label}: zero samples (the array is empty, shape {arr.shape})')
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise BadInput(f'{label}: {int(bad.sum())} NaN/inf value(s), first at index {first}')


def fit_to_inputs(
    data: dict[str, np.ndarray] | np.ndarray,
    input_names: list[str],
    input_shapes: list[tuple[int, ...]],
    samples: int | None = None,
) -> Samples:
    """Line the data up with the model inputs: shapes `(N, *shape)`, a missing batch axis added."""
    if isinstance(data, np.ndarray):
        if len(input_names) != 1:
            raise BadInput(
                f'the model has {len(input_names)} inputs ({", ".join(input_names)}): '
                'give a .npz with one array per input name'
            )
        by_name = {input_names[0]: data}
    else:
        by_name = dict(data)
        if len(input_names) == 1 and len(by_name) == 1:
            by_name = {input_names[0]: next(iter(by_name.values()))}
        if len(by_name) != len(input_names):
            raise BadInput(
                f'the .npz has {len(by_name)} array(s) ({", ".join(by_name)}) '
                f'but the model has {len(input_names)} input(s) ({", ".join(input_names)})'
            )
        missing = [n for n in input_names if n not in by_name]
        if missing:
            raise BadInput(f'the .npz has no array for input(s) {", ".join(missing)} (has: {", ".join(by_name)})')

    arrays: list[np.ndarray] = []
    for name, shape in zip(input_names, input_shapes):
        arr = np.asarray(by_name[name])
        if tuple(arr.shape) == tuple(shape):
            arr = arr[np.newaxis]
        elif tuple(arr.shape[1:]) != tuple(shape):
            raise BadInput(
                f'data shape {tuple(arr.shape)} matches no input: input {name!r} expects '
                f'(N, {", ".join(str(s) for s in shape)}) or one sample {tuple(shape)}'
            )
        arrays.append(arr)
    counts = {a.shape[0] for a in arrays}
    if len(counts) != 1:
        raise BadInput(f'the inputs have different sample counts: {sorted(counts)}')
    n = counts.pop()
    note = ''
    if samples is not None:
        if samples <= 0:
            raise BadInput(f'--samples must be positive, got {samples}')
        if samples > n:
            note = f'--samples {samples} asked for more than the data holds; using all {n} samples'
        else:
            n = samples
    return Samples(tuple(np.ascontiguousarray(a[:n], dtype=np.float64) for a in arrays), tuple(input_names), note)
