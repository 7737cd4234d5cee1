"""Build a small HGQ v1 model, trace its ranges and save its proxy model (run in a process of its own:
HGQ's training layers need the keras 2.15 package as tf.keras, hlsdiff runs on tf_keras).

    python tests/data/make_hgq.py dense|dense_layerwise|conv MODEL.h5 DATA.npy
"""

import os
import sys

os.environ.pop('TF_USE_LEGACY_KERAS', None)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
from HGQ import to_proxy_model, trace_minmax  # noqa: E402
from HGQ.layers import HConv2D, HDense, HQuantize, PFlatten  # noqa: E402
from tensorflow import keras  # noqa: E402

kind, model_path, data_path = sys.argv[1:4]
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
# one bit width for the whole input quantizer: hls4ml absorbs it into the input type
LAYERWISE = {'skip_dims': 'all', 'init_bw': 6, 'rnd_strategy': 'standard_round', 'exact_q_value': True, 'dtype': None,
             'bw_clip': (-23, 23), 'trainable': True, 'regularizer': None, 'minmax_record': True}
if kind == 'dense_layerwise':
    model = keras.Sequential([HQuantize(beta=0, input_shape=(10,), name='q', paq_conf=LAYERWISE),
                              HDense(8, activation='relu', beta=0, name='d1'), HDense(3, beta=0, name='d2')])
    x = (rng.random((32, 10)) * 4 - 2).astype('float32')
elif kind == 'dense':
    model = keras.Sequential([HQuantize(beta=0, input_shape=(10,), name='q'),
                              HDense(8, activation='relu', beta=0, name='d1'), HDense(3, beta=0, name='d2')])
    x = (rng.random((32, 10)) * 4 - 2).astype('float32')
else:
    model = keras.Sequential([HQuantize(beta=0, input_shape=(6, 6, 1), name='q'),
                              HConv2D(3, 3, activation='relu', beta=0, name='c'), PFlatten(name='f'),
                              HDense(4, beta=0, name='d')])
    x = (rng.random((32, 6, 6, 1)) * 2 - 1).astype('float32')
model.compile('adam', 'mse')
model.fit(x, rng.random((32, model.output_shape[-1])), epochs=2, verbose=0)
trace_minmax(model, x, cover_factor=1.0)
to_proxy_model(model).save(model_path)
np.save(data_path, x)
