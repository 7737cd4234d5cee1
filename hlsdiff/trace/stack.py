"""The one place that imports TensorFlow, Keras, QKeras and hls4ml.

QKeras pulls in tensorflow-model-optimization, which sets TF_USE_LEGACY_KERAS=1 when it
is imported. If `tensorflow.keras` were resolved before that, Keras and QKeras layers
would come from different packages and hls4ml would see TFOpLambda layers. Setting the
variable here, before TensorFlow is imported, makes every layer come from tf_keras.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from types import SimpleNamespace


@functools.lru_cache(maxsize=None)
def load():
    """Import the stack once; return a namespace with `tf`, `keras`, `qkeras`, `hls4ml`."""
    os.environ['TF_USE_LEGACY_KERAS'] = '1'
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    os.environ.setdefault('CUDA_VISIBLE_DEVICES', '-1')
    warnings.filterwarnings('ignore', module='tf_keras')
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    warnings.filterwarnings('ignore', category=UserWarning)
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    import tf_keras as keras
    import qkeras
    import hls4ml
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
