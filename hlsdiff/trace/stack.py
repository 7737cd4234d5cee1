"""The one place that imports TensorFlow, Keras, QKeras and hls4ml.

QKeras pulls in tensorflow-model-optimization, which sets TF_USE_LEGACY_KERAS=1 when it
is imported. If `tensorflow.keras` were resolved before that, Keras and QKeras layers
would come from different packages and hls4ml would see TFOpLambda layers. Setting the
variable here, before TensorFlow is imported, makes every layer come from tf_keras.

The import is the floor of every compare, cold or warm (the C-simulation waits for the
conversion, the conversion for QKeras), so what a compare never uses is not imported:
tf_keras imports pandas (for DataFrame inputs) and QKeras networkx (for graph utilities)
at import time, about 1 s between them; both are deferred to their first use. TensorFlow
imports distutils for one site-packages path; setuptools' replacement of it (installed by
a .pth file at start-up) takes 0.3 s to import, Python 3.11's own a few ms, same path.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
import sys
import types
import warnings
from types import SimpleNamespace

DEFERRED = ('pandas', 'networkx')


class _Deferred(types.ModuleType):
    """A module imported when one of its attributes is first used (`import x as y` alone
    does not use any: unlike importlib.util.LazyLoader, whose module the import statement
    itself loads, by reading its __spec__)."""

    def __getattr__(self, attr):
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        try:
            real = importlib.import_module(name)
        except BaseException:
            sys.modules.setdefault(name, self)
            raise
        self.__dict__.update(real.__dict__)  # whoever holds this object now holds the module
        return getattr(real, attr)


def defer(name: str) -> None:
    """Put a stand-in for `name` in sys.modules, unless it is imported already or missing."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    module = _Deferred(name)
    module.__spec__ = spec
    sys.modules[name] = module


def _stdlib_distutils() -> None:
    """Let TensorFlow import the standard library's distutils, where there still is one."""
    if 'distutils' in sys.modules or sys.version_info >= (3, 12) or 'SETUPTOOLS_USE_DISTUTILS' in os.environ:
        return
    hack = sys.modules.get('_distutils_hack')
    if hack is not None and hasattr(hack, 'remove_shim'):
        hack.remove_shim()


@functools.cache
def load():
    """Import the stack once; return a namespace with `tf`, `keras`, `qkeras`, `hls4ml`."""
    os.environ['TF_USE_LEGACY_KERAS'] = '1'
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    os.environ.setdefault('CUDA_VISIBLE_DEVICES', '-1')
    for name in DEFERRED:
        defer(name)
    _stdlib_distutils()
    warnings.filterwarnings('ignore', module='tf_keras')
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    warnings.filterwarnings('ignore', category=UserWarning)
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    import hls4ml
    import qkeras
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    custom_objects: dict = {}
    _add_supported_quantized_objects(custom_objects)

    return SimpleNamespace(tf=tf, keras=keras, qkeras=qkeras, hls4ml=hls4ml, custom_objects=custom_objects)


def no_autograph():
    """A context in which Keras builds layers without autograph-converting their `call`.

    Loading a QKeras model spends almost all its time (16 s of 17 s for the demo) in
    autograph converting QConv2DBatchnorm and friends; their calls need no conversion, and
    the outputs are identical.
    """
    load()
    from tensorflow.python.autograph.core import ag_ctx

    return ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED)
