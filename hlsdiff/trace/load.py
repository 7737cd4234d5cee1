"""Load the user's model and data, and validate them before any heavy work."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.errors import BadInput

MODEL_SUFFIXES = ('.h5', '.hdf5', '.keras')


@dataclass(frozen=True)
class Samples:
    """The data, one float64 array `(N, *input_shape)` per model input, in model-input order."""

    arrays: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    note: str = ''

    @property
    def count(self) -> int:
        return int(self.arrays[0].shape[0])


def check_model_path(path: str | os.PathLike) -> Path:
    """Fail fast, without TensorFlow, on a model path that cannot be a Keras model."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f'model file not found: {p}')
    if p.is_dir():
        if not (p / 'saved_model.pb').exists():
            raise BadInput(f'{p} is a folder but not a SavedModel (no saved_model.pb)')
        return p
    if p.suffix.lower() not in MODEL_SUFFIXES:
        raise BadInput(f'{p}: not a Keras model file (expected .h5, .keras or a SavedModel folder)')
    with open(p, 'rb') as f:
        head = f.read(8)
    if p.suffix.lower() == '.keras':
        if not zipfile.is_zipfile(p):
            raise BadInput(f'{p}: corrupt .keras file (not a zip archive)')
    elif head != b'\x89HDF\r\n\x1a\n':
        raise BadInput(f'{p}: corrupt or not an HDF5 Keras model (bad file signature)')
    return p


def read_data(path: str | os.PathLike) -> dict[str, np.ndarray] | np.ndarray:
    """Read `.npy` (one array) or `.npz` (arrays by input name); check dtype and finiteness."""
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

    arrays = []
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
    arrays = tuple(np.ascontiguousarray(a[:n], dtype=np.float64) for a in arrays)
    return Samples(arrays, tuple(input_names), note)


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


def load_model(path: Path):
    """Load a Keras/QKeras model with QKeras objects registered; never compile it."""
    from hlsdiff.trace import stack

    if Path(path).suffix.lower() == '.keras':
        with tempfile.TemporaryDirectory(prefix='hlsdiff-keras-') as tmp:
            return load_model(_keras_v3_as_h5(Path(path), Path(tmp)))
    s = stack.load()
    try:
        with stack.no_autograph():
            return s.keras.models.load_model(str(path), custom_objects=s.custom_objects, compile=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f'{path}: cannot load as a Keras model: {first}') from None
