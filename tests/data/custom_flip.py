"""A custom Keras layer and its hls4ml extension, as a user would give them with --custom-objects.

`Flip` reverses the last axis. The hls4ml side follows hls4ml's extension API: a Keras
parser, an IR layer, a config and a function template, and the HLS source of the kernel.
"""

import os
import tempfile

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import hls4ml  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow as tf  # noqa: E402


class Flip(keras.layers.Layer):
    def call(self, inputs):
        return tf.reverse(inputs, axis=[-1])

    def get_config(self):
        return super().get_config()


class HFlip(hls4ml.model.layers.Layer):
    def initialize(self):
        inp = self.get_input_variable()
        self.add_output_variable(inp.shape)


def parse_flip(keras_layer, input_names, input_shapes, data_reader):
    layer = {'class_name': 'HFlip', 'name': keras_layer['config']['name'], 'n_in': input_shapes[0][1]}
    if input_names is not None:
        layer['inputs'] = input_names
    return layer, list(input_shapes[0])


class FlipConfigTemplate(hls4ml.backends.template.LayerConfigTemplate):
    def __init__(self):
        super().__init__(HFlip)
        self.template = 'struct config{index} : nnet::flip_config {{\n    static const unsigned n_in = {n_in};\n}};\n'

    def format(self, node):
        return self.template.format(**self._default_config_params(node))


class FlipFunctionTemplate(hls4ml.backends.template.FunctionCallTemplate):
    def __init__(self):
        super().__init__(HFlip, include_header=['nnet_utils/nnet_flip.h'])
        self.template = 'nnet::flip<{input_t}, {output_t}, {config}>({input}, {output});'

    def format(self, node):
        return self.template.format(**self._default_function_params(node))


FLIP_H = """#ifndef NNET_FLIP_H_
#define NNET_FLIP_H_
#include "nnet_common.h"
namespace nnet {
struct flip_config { static const unsigned n_in = 10; };
template <class data_T, class res_T, typename CONFIG_T>
void flip(data_T input[CONFIG_T::n_in], res_T out[CONFIG_T::n_in]) {
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) out[CONFIG_T::n_in - 1 - i] = input[i];
}
}
#endif
"""

hls4ml.converters.register_keras_v2_layer_handler('Flip', parse_flip)
hls4ml.model.layers.register_layer('HFlip', HFlip)
for name in ('Vivado', 'Vitis'):
    backend = hls4ml.backends.get_backend(name)
    backend.register_template(FlipConfigTemplate)
    backend.register_template(FlipFunctionTemplate)
    source = os.path.join(tempfile.mkdtemp(prefix='flip-'), 'nnet_flip.h')
    with open(source, 'w') as f:
        f.write(FLIP_H)
    backend.register_source(source)

custom_objects = {'Flip': Flip}
