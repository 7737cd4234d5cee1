"""The Keras 2 (tf_keras 2.15, QKeras, HGQ v1) frontend of `repro`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.repro.frontend import ScriptFacts, register

# repro.py: hls4ml + the framework + numpy only (PyYAML comes with hls4ml). {placeholders} are filled in.
SCRIPT = '''"""{title}

Run: python repro.py   (exit 1: the defect shows; exit 0: it does not)
"""
import os
import shutil
import sys
import tempfile

{env}
import numpy as np
import yaml
{imports}
import hls4ml

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = {tol!r}  # the layer's rounding bound (4 LSB of its result type, or 5% of its range)
cfg = yaml.safe_load(open(os.path.join(HERE, 'config.yml')))
model = {load}(os.path.join(HERE, '{model_file}'){load_args})
x = np.load(os.path.join(HERE, 'data.npy'))
expected = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
prj = tempfile.mkdtemp(prefix='hls4ml-repro-')
hls_model = hls4ml.converters.convert_from_keras_model(
    model, hls_config=cfg['HLSConfig'], io_type=cfg['IOType'], backend=cfg['Backend'], output_dir=prj)
hls_model.write()
{kernels}hls_model._compile()  # compile() would write the project again
pid = os.fork()  # the C-simulation in a child: a C++ assert that aborts it is an answer, not a crash
if pid == 0:
    np.save(os.path.join(prj, 'got.npy'), hls_model.predict(np.ascontiguousarray(x)))
    os._exit(0)
status = os.waitpid(pid, 0)[1]
if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
    how = f'signal {{os.WTERMSIG(status)}}' if os.WIFSIGNALED(status) else f'exit {{os.WEXITSTATUS(status)}}'
    print(f'DEFECT: the C-simulation aborted ({{how}}); Keras computes the layer')
    shutil.rmtree(prj, ignore_errors=True)
    sys.exit(1)
got = np.load(os.path.join(prj, 'got.npy')).astype(np.float64).reshape(expected.shape)
err = np.abs(got - expected)
print('channel  max |Keras - hls4ml|')
for c, e in enumerate(err.reshape(-1, err.shape[-1]).max(axis=0)):
    print(f'{{c:7d}}  {{e:.4g}}')
i = tuple(int(v) for v in np.unravel_index(int(np.argmax(err)), err.shape))  # plain ints when printed
print(f'worst at {{i}}: expected (Keras) {{expected[i]:.6g}}, got (hls4ml) {{got[i]:.6g}}')
if len(sys.argv) > 1:
    np.savez(sys.argv[1], x=x, expected=expected, got=got)
shutil.rmtree(prj, ignore_errors=True)
share = float((err > TOL).mean())
if share > 0.01:
    print(f'DEFECT: {{share:.1%}} of the outputs differ from Keras by more than {{TOL:.3g}} (max {{err.max():.4g}})')
    sys.exit(1)
print(f'OK: hls4ml matches Keras within {{TOL:.3g}}')
'''

ENV = "os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')  # Keras 2 (tf_keras), as hls4ml 1.3.0 and QKeras use it"


def script(facts: ScriptFacts, env: str, imports: str, load: str, load_args: str) -> str:
    """repro.py for a Keras model (2 or 3): `env` sets the environment before the imports, `load` loads it."""
    return SCRIPT.format(title=facts.title, env=env, imports=imports, tol=float(f'{facts.tolerance:.6g}'), load=load,
                         model_file=facts.model_file, load_args=load_args, kernels=KERNELS if facts.kernels else '')


KERNELS = '''kernels = os.path.join(HERE, 'nnet_utils')  # the edited kernel headers of the project
for name in os.listdir(kernels):
    shutil.copy(os.path.join(kernels, name), os.path.join(prj, 'firmware', 'nnet_utils', name))
'''


class Keras2Repro:
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

    def layer_names(self, model: Any) -> list[str]:
        return [layer.name for layer in model.layers if type(layer).__name__ != 'InputLayer']

    def describe(self, model: Any) -> str:
        return ' + '.join(type(layer).__name__ for layer in model.layers if type(layer).__name__ != 'InputLayer')

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
        return script(facts, ENV, imports, load, args)

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
    from hlsdiff.trace.load import hgq_objects, is_hgq_proxy

    return hgq_objects('model') if is_hgq_proxy(model) else {}


register(Keras2Repro())
