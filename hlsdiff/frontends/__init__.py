"""One interface for every framework hls4ml converts: Keras 2, Keras 3 (+ HGQ2), PyTorch, ONNX/QONNX.

What a frontend does for a compare; nothing else changes per framework (the diff, the emulation,
the diagnosis and the reports read the same `LayerInfo`, `Ref` and arrays):

- `load(source)`: the model from a file (or the object given to the Python API);
- `inputs(model, data)`: the input names and per-sample shapes (PyTorch's come from the data);
- `convert(model, opts, output_dir)`: hls4ml's conversion call for this framework, tracing every layer;
- `base_config(model, opts, **kwargs)`, `layer_names(model)`, `hls4ml_convert(model, **kwargs)`: hls4ml's
  own calls for this framework (its default config, the names a user's config may use, its converter),
  which the conversion, `fix` and `repro` call;
- `map_layers(hls_model, model)`: each hls4ml layer -> the framework tensor it stands for (a `Ref`), or
  the reason it is not compared; axes moved from channels-first to channels-last are said in the note;
- `reference(model, refs)`: every wanted tensor in one forward pass (`forward`, `scales`), and one
  layer re-run on the C-simulation's inputs (`apply_chain`), in hls4ml's layout;
- `layer_specs(model, refs)`: the framework's own layers for the reference emulation (the generator
  link); `csim_layout`, `bit_exact` and `running` as declared below (`FrontendBase` gives defaults);
- `predictor(model, inputs, settings, expected, softmax)`: a what-if's predictor (predict.Predictor) through
  the frontend's converter; `config_usage(io_type, backend)`: how hls4ml takes the config `fix` writes.

The Keras 2 frontend is `keras2.py` with its loading (`keras2_load.py`), mapping (`keras2_mapping.py`),
reference (`keras2_reference.py`) and layer specs (`keras2_specs.py`). Frontends are listed by name in
`_REGISTRY` and imported on first use; `for_source` picks one from a file's suffix and contents,
`for_object` from a model object. A frontend whose packages this environment lacks is not
`available()`: the CLI then re-runs itself in the environment that has them (`stacks.py`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from hlsdiff.errors import BadInput

if TYPE_CHECKING:
    from hlsdiff.predict import Predictor


class Reference(Protocol):
    """The framework side of a compare, for the tensors the mapping asks for."""

    def forward(self, inputs: tuple) -> dict: ...

    def scales(self, inputs: tuple) -> dict: ...

    def apply_chain(self, chain: list, arrays: list) -> Any: ...


class Frontend(Protocol):
    name: str  # 'keras2', 'keras3', 'pytorch', 'onnx'
    label: str  # what the user calls it, for messages
    cacheable: bool  # the conversion cache (keyed by files and hlsdiff's Keras 2 code) applies

    def available(self) -> bool: ...

    def load(self, source) -> Any: ...

    def inputs(self, model, data) -> tuple[list[str], list[tuple[int, ...]]]: ...

    def convert(self, model, opts, output_dir: Path): ...

    def base_config(self, model, opts, **kwargs) -> dict:
        """hls4ml's own config for the model (`config_from_<framework>_model` with `kwargs`)."""
        ...

    def layer_names(self, model) -> set[str]:
        """The model's layer names, the keys a user's config may give."""
        ...

    def hls4ml_convert(self, model, **kwargs) -> Any:
        """hls4ml's converter for this framework (`convert_from_<framework>_model(model, **kwargs)`)."""
        ...

    def map_layers(self, hls_model, model) -> tuple[list, dict, list]: ...

    def reference(self, model, refs: dict) -> Reference: ...

    def running(self) -> contextlib.AbstractContextManager: ...

    def bit_exact(self, model) -> bool: ...

    def layer_specs(self, model, refs: dict) -> dict:
        """hls4ml layer -> emulate.spec.LayerSpec: the framework's own layer (effective weights, attributes)
        for the reference emulation (the generator link); {} where the frontend has none yet."""
        ...

    def csim_layout(self, hls_model) -> dict[str, tuple[int, ...]]: ...

    def predictor(self, model, inputs: tuple, settings: dict, expected: dict, softmax: tuple[str, ...]) -> Predictor:
        """A what-if predictor (predict.Predictor) of the model on `inputs`: hls4ml's converter for this
        framework, the framework's values of the mapped layers (`expected`) as the reference."""
        ...

    def config_usage(self, io_type: str, backend: str) -> list[str]:
        """The comment lines that head the config `fix` writes: how hls4ml takes it for this framework."""
        ...


class FrontendBase:
    """What most frontends share: availability from the modules they need, no reference emulation of the
    framework's layers (the kernel link alone is measured), no bit-exact promise, the C-simulation's layout."""

    name = ''
    label = ''
    cacheable = False
    requires: tuple[str, ...] = ('hls4ml',)  # modules the frontend imports

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def running(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def bit_exact(self, model) -> bool:
        return False

    def layer_specs(self, model, refs: dict) -> dict:
        return {}

    def csim_layout(self, hls_model) -> dict[str, tuple[int, ...]]:
        return {}

    converter = 'convert_from_keras_model'  # hls4ml's converter for the framework, named in a written config

    def predictor(self, model, inputs: tuple, settings: dict, expected: dict, softmax: tuple[str, ...]) -> Predictor:
        from hlsdiff.predict import Predictor

        frontend = cast(Frontend, self)  # every frontend defines hls4ml_convert (tests/test_layout.py)
        return Predictor(None, inputs, settings, expected, softmax,
                         convert=lambda **kwargs: frontend.hls4ml_convert(model, **kwargs), input_layout=self.csim_layout)

    def config_usage(self, io_type: str, backend: str) -> list[str]:
        return [f'# use with: {self.converter}(model, hls_config=yaml.safe_load(open(...)), '
                f"io_type='{io_type}', backend='{backend}')"]


_REGISTRY: dict[str, str] = {  # name -> module defining FRONTEND; imported on first use
    'keras2': 'hlsdiff.frontends.keras2',
    'keras3': 'hlsdiff.frontends.keras3',
    'pytorch': 'hlsdiff.frontends.pytorch',
    'onnx': 'hlsdiff.frontends.onnxmodel',
}
TORCH_SUFFIXES = ('.pt', '.pth', '.pt2')
ONNX_SUFFIXES = ('.onnx',)


def get(name: str) -> Frontend:
    import importlib

    return importlib.import_module(_REGISTRY[name]).FRONTEND


def name_for_path(path: Path) -> str:
    """The frontend a model file needs, from its suffix (and a `.keras` file's Keras version)."""
    from hlsdiff.trace.load import keras_file_version

    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        return 'pytorch'
    if suffix in ONNX_SUFFIXES:
        return 'onnx'
    if suffix == '.keras' and keras_file_version(path).startswith('3'):
        return 'keras3'
    return 'keras2'


def for_source(source) -> Frontend:
    """The frontend of a `load.ModelFile` (a file, or an object given to the Python API)."""
    if source.obj is not None:
        return for_object(source.obj)
    frontend = get(name_for_path(Path(source.path)))
    if not frontend.available():
        raise BadInput(f'{source.path}: ' + missing_message(frontend.label, stack_of(frontend.name)))
    return frontend


def name_for_object(obj) -> str | None:
    """The frontend of a model object, by its type's module (no framework is imported for it)."""
    mro = [f'{c.__module__}.{c.__name__}' for c in type(obj).__mro__]
    if any(m.startswith(('tf_keras.', 'keras.src.engine.')) for m in mro):  # Keras 2 (tf_keras; QKeras, HGQ v1)
        return 'keras2'
    if 'keras.src.models.model.Model' in mro:  # Keras 3 (on torch it is a torch.nn.Module too)
        return 'keras3'
    if 'torch.nn.modules.module.Module' in mro:
        return 'pytorch'
    if type(obj).__name__ in ('ModelProto', 'ModelWrapper') and mro[0].startswith(('onnx.', 'qonnx.')):
        return 'onnx'
    return None


def for_object(obj) -> Frontend:
    name = name_for_object(obj)
    if name is None:
        raise BadInput(f'a {type(obj).__name__} is no model hlsdiff knows (Keras 2/3, a torch.nn.Module, an onnx.ModelProto)')
    frontend = get(name)
    if not frontend.available():
        raise BadInput(f'a {frontend.label} model object needs the modern stack in this process (.venv-modern)')
    return frontend


# The two environments (hlsdiff/frontends/stacks.py re-runs a command in the other one).
ROOT = Path(__file__).resolve().parents[2]
_OTHER = {  # the environment a frontend lives in: (variable, default folder, how to install it)
    'modern': ('HLSDIFF_MODERN_PYTHON', ROOT / '.venv-modern', 'bash scripts/setup-modern.sh'),
    'classic': ('HLSDIFF_CLASSIC_PYTHON', ROOT / '.venv', 'bash scripts/setup.sh'),
}


def stack_of(frontend_name: str) -> str:
    return 'classic' if frontend_name == 'keras2' else 'modern'


def python_for(stack: str) -> Path:
    variable, folder, _ = _OTHER[stack]
    return Path(os.environ.get(variable) or folder / 'bin' / 'python')


def missing_message(label: str, stack: str) -> str:
    variable, folder, install = _OTHER[stack]
    return (f'a {label} model needs the {stack} environment, which is not installed here ({python_for(stack)}): '
            f'install it with `{install}` in {ROOT} (or point ${variable} at its python)')
