"""Tiny Keras/QKeras models for the real-build tests (a few channels, small images)."""

from __future__ import annotations

import numpy as np


def _k():
    from hlsdiff.trace import stack

    return stack.load().keras


def float_cnn(seed=0):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 2), name='inp')
    x = keras.layers.Conv2D(4, 3, activation='relu', name='conv')(inp)
    x = keras.layers.BatchNormalization(name='bn')(x)
    x = keras.layers.MaxPooling2D(2, name='pool')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(5, activation='relu', name='fc1')(x)
    x = keras.layers.Dense(3, name='fc2')(x)
    return keras.Model(inp, x)


def conv_bn_fold(seed=0):
    """A linear Conv followed by BatchNormalization: hls4ml folds the BN into the conv."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 2), name='inp')
    x = keras.layers.Conv2D(3, 3, name='conv')(inp)
    x = keras.layers.BatchNormalization(name='bn')(x)
    x = keras.layers.Activation('relu', name='act')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(2, name='out')(x)
    return keras.Model(inp, x)


def qkeras_bn(seed=0):
    keras = _k()
    from qkeras import QActivation, QConv2DBatchnorm, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1), name='inp')
    x = QConv2DBatchnorm(4, 3, kernel_quantizer=quantized_bits(8, 0, alpha=1),
                         bias_quantizer=quantized_bits(8, 0, alpha=1), name='qconvbn')(inp)
    x = QActivation(quantized_relu(6, 0), name='qact')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = QDense(3, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
               activation=quantized_relu(6, 0), name='qfc')(x)
    return keras.Model(inp, x)


def qkeras_sepblock(seed=0):
    """A QKeras depthwise-separable block: QDepthwiseConv2D -> QActivation -> pointwise QConv2D."""
    keras = _k()
    from qkeras import QActivation, QConv2D, QDepthwiseConv2D, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    q = lambda: quantized_bits(8, 1, alpha=1)  # noqa: E731
    inp = keras.Input((6, 7, 4), name='inp')
    x = QDepthwiseConv2D(3, padding='same', depthwise_quantizer=q(), bias_quantizer=q(), name='dw')(inp)
    x = QActivation(quantized_relu(8, 3), name='dw_act')(x)
    x = QConv2D(4, 1, kernel_quantizer=q(), bias_quantizer=q(), name='pw')(x)
    x = QActivation(quantized_relu(8, 3), name='pw_act')(x)
    return keras.Model(inp, x)


def gap_after_qact(seed=0):
    """QActivation -> GlobalAveragePooling2D: the average's accumulator wraps at default precision."""
    keras = _k()
    from qkeras import QActivation, QConv2D, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 1), name='inp')
    x = QConv2D(3, 1, kernel_quantizer=quantized_bits(8, 3, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
                kernel_initializer=keras.initializers.Constant(1.5), bias_initializer=keras.initializers.Constant(1.0),
                name='conv')(inp)
    x = QActivation(quantized_relu(8, 3), name='act')(x)
    x = keras.layers.GlobalAveragePooling2D(name='gap')(x)
    return keras.Model(inp, x)


def dense_softmax(seed=0):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8,), name='inp')
    x = keras.layers.Dense(6, activation='softmax', name='fc',
                           kernel_initializer=keras.initializers.RandomNormal(stddev=4.0))(inp)
    return keras.Model(inp, x)


def relu_max_value(seed=0):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((10,), name='inp')
    x = keras.layers.Dense(8, name='fc', kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))(inp)
    x = keras.layers.ReLU(max_value=1.0, name='relu6')(x)
    x = keras.layers.Dense(2, name='out')(x)
    return keras.Model(inp, x)


def conv1d_dilated(seed=0):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 2), name='inp')
    x = keras.layers.Conv1D(3, 3, dilation_rate=2, name='dconv')(inp)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(2, name='out')(x)
    return keras.Model(inp, x)


def depthwise(depth_multiplier=1, seed=0, padding='same', shape=(6, 7, 4)):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape, name='inp')
    x = keras.layers.DepthwiseConv2D(3, padding=padding, depth_multiplier=depth_multiplier, name='dw')(inp)
    x = keras.layers.Activation('relu', name='act')(x)
    return keras.Model(inp, x)


def data_for(model, n=16, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in model.inputs[0].shape[1:])
    return (rng.normal(0, scale, (n, *shape))).astype(np.float32)


def depthwise_bn(seed=0):
    """DepthwiseConv2D -> BatchNormalization with a non-trivial scale (hls4ml folds it, broadcasting)."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((5, 6, 3), name='inp')
    x = keras.layers.DepthwiseConv2D(3, padding='same', name='dw')(inp)
    x = keras.layers.BatchNormalization(name='bn')(x)
    model = keras.Model(inp, x)
    bn = model.get_layer('bn')
    bn.set_weights([np.array([1.0, 2.0, 3.0]), np.array([0.1, -0.2, 0.3]), np.array([0.5, 0.0, -0.5]),
                    np.array([1.0, 4.0, 0.25])])
    return model


def depthwise_po2(seed=0):
    """QDepthwiseConv2D with alpha='auto_po2' and weights large enough to need the scale."""
    keras = _k()
    from qkeras import QDepthwiseConv2D, quantized_bits

    keras.utils.set_random_seed(seed)
    inp = keras.Input((5, 6, 3), name='inp')
    x = QDepthwiseConv2D(3, padding='same', depthwise_quantizer=quantized_bits(4, 0, alpha='auto_po2'), name='dw')(inp)
    model = keras.Model(inp, x)
    layer = model.get_layer('dw')
    w = layer.get_weights()
    w[0] = np.random.default_rng(seed).uniform(-3, 3, w[0].shape).astype(np.float32)
    layer.set_weights(w)
    return model


def depthwise1d(seed=0, strides=1, padding='valid'):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 3), name='inp')
    x = keras.layers.DepthwiseConv1D(3, strides=strides, padding=padding, name='dw')(inp)
    return keras.Model(inp, x)


def depthwise_strided(seed=0, strides=2, padding='valid', shape=(7, 8, 5)):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape, name='inp')
    x = keras.layers.DepthwiseConv2D((3, 2), strides=strides, padding=padding, name='dw')(inp)
    return keras.Model(inp, x)


def two_inputs(seed=0):
    keras = _k()
    keras.utils.set_random_seed(seed)
    a = keras.Input((4,), name='in_a')
    b = keras.Input((3,), name='in_b')
    x = keras.layers.Concatenate(name='cat')([a, b])
    x = keras.layers.Dense(2, name='fc')(x)
    return keras.Model([a, b], x)


def mixed_ops(seed=1):
    """LeakyReLU, sigmoid, Concatenate, AveragePooling, a strided conv with tanh, GlobalMaxPooling, softmax."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 2), name='inp')
    a = keras.layers.Conv2D(3, 3, padding='same', name='c1')(inp)
    a = keras.layers.LeakyReLU(0.2, name='lrelu')(a)
    b = keras.layers.Conv2D(2, 1, name='c2', activation='sigmoid')(inp)
    x = keras.layers.Concatenate(name='cat')([a, b])
    x = keras.layers.AveragePooling2D(2, name='apool')(x)
    x = keras.layers.Conv2D(4, 3, strides=2, name='c3', activation='tanh')(x)
    x = keras.layers.GlobalMaxPooling2D(name='gmp')(x)
    x = keras.layers.Dense(3, activation='softmax', name='out')(x)
    return keras.Model(inp, x)


def conv1d_stack(seed=0):
    """Conv1D, MaxPooling1D, a BatchNormalization that is not folded, UpSampling1D, Flatten, Dense."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((20, 3), name='inp')
    x = keras.layers.Conv1D(4, 3, name='c1', activation='relu')(inp)
    x = keras.layers.MaxPooling1D(2, name='p1')(x)
    x = keras.layers.BatchNormalization(name='bn')(x)
    x = keras.layers.UpSampling1D(2, name='up')(x)
    x = keras.layers.Flatten(name='f')(x)
    x = keras.layers.Dense(2, name='d')(x)
    model = keras.Model(inp, x)
    bn = model.get_layer('bn')
    bn.set_weights([w + np.random.default_rng(seed).uniform(0.2, 1.0, np.shape(w)) for w in bn.get_weights()])
    return model


def sequential_mlp(seed=0):
    """A Sequential model without an Input layer (Keras names the input `fc1_input`), softmax head."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.layers.Dense(8, activation='relu', input_shape=(10,), name='fc1'),
                             keras.layers.Dense(3, activation='softmax', name='fc2')])


def qkeras_sequential(seed=0):
    """A QKeras Sequential model without an Input layer, as QKeras's examples write them."""
    keras = _k()
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        QDense(8, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               input_shape=(12,), name='fc1'),
        QActivation(quantized_relu(4, 1), name='relu1'),
        QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               name='fc2'),
        keras.layers.Activation('softmax', name='softmax'),
    ])


def deep_dense(seed=0):
    """Six Dense layers, ReLU, a logits head, small weights: at hls4ml's default precision the
    per-layer errors are the data's quantization carried through (many LSBs of the wide
    pre-activation types); the outputs agree."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,), name='inp')
    x = inp
    for i, width in enumerate((32, 32, 16, 16, 8)):
        x = keras.layers.Dense(width, activation='relu', name=f'd{i}',
                               kernel_initializer=keras.initializers.RandomNormal(stddev=0.3))(x)
    x = keras.layers.Dense(5, name='logits', kernel_initializer=keras.initializers.RandomNormal(stddev=0.3))(x)
    return keras.Model(inp, x)


def nested_submodel(seed=0):
    """A functional model that calls a Sequential submodel as one layer."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inner = keras.Sequential([keras.layers.Dense(6, activation='relu', name='inner_fc')], name='block')
    inp = keras.Input((5,), name='inp')
    x = inner(inp)
    x = keras.layers.Dense(2, name='head')(x)
    return keras.Model(inp, x)


def two_outputs(seed=0):
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6,), name='inp')
    x = keras.layers.Dense(8, activation='relu', name='trunk')(inp)
    a = keras.layers.Dense(3, activation='softmax', name='cls')(x)
    b = keras.layers.Dense(1, name='reg')(x)
    return keras.Model(inp, [a, b])


def qkeras_binary_ternary(seed=0):
    """binary, ternary and quantized_bits(1) QKeras quantizers, and a Dropout that is a no-op at inference."""
    keras = _k()
    from qkeras import QActivation, QDense, binary, quantized_bits, ternary

    keras.utils.set_random_seed(seed)
    inp = keras.Input((10,), name='inp')
    x = QDense(8, kernel_quantizer=ternary(alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name='tern')(inp)
    x = QActivation(binary(alpha=1), name='bin_act')(x)
    x = keras.layers.Dropout(0.3, name='drop')(x)
    x = QDense(4, kernel_quantizer=binary(alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name='bin')(x)
    x = QDense(2, kernel_quantizer=quantized_bits(1, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
               name='one_bit')(x)
    return keras.Model(inp, x)


def custom_flip(seed=0):
    """A model with the custom layer of tests/data/custom_flip.py (give it with --custom-objects)."""
    import importlib.util
    import sys
    from pathlib import Path

    keras = _k()
    path = Path(__file__).parent / 'data' / 'custom_flip.py'
    name = 'hlsdiff_custom_custom_flip'  # the name hlsdiff imports it under: registered once
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    flip = sys.modules[name].Flip
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6,), name='inp')
    x = keras.layers.Dense(6, name='fc')(inp)
    x = flip(name='flip')(x)
    x = keras.layers.Dense(3, name='out')(x)
    return keras.Model(inp, x)


def two_in_sequence(seed=0):
    """A conv whose narrow result wraps its values small, then a global average whose accumulator holds the
    small sum but not the right one: the second problem shows once the first is fixed."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 1), name='inp')
    x = keras.layers.Conv2D(2, 1, kernel_initializer=keras.initializers.Constant(1.5),
                            bias_initializer=keras.initializers.Constant(1.0), name='conv')(inp)
    x = keras.layers.GlobalAveragePooling2D(name='gap')(x)
    return keras.Model(inp, x)


def dense_named_softmax(seed=0):
    """A plain Dense layer whose name ends in _softmax (a softmax-looking name, no softmax)."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8,), name='inp')
    x = keras.layers.Dense(8, activation='relu', name='hidden')(inp)
    x = keras.layers.Dense(4, name='output_softmax', kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))(x)
    return keras.Model(inp, x)


def qkeras_jet(seed=7):
    """A QKeras jet-tagging-shaped Sequential MLP (no Input layer), trained a little, softmax head."""
    keras = _k()
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    q = lambda: quantized_bits(6, 0, alpha=1)  # noqa: E731
    model = keras.Sequential([
        QDense(64, input_shape=(16,), name='fc1', kernel_quantizer=q(), bias_quantizer=q()),
        QActivation(quantized_relu(6), name='relu1'),
        QDense(32, name='fc2', kernel_quantizer=q(), bias_quantizer=q()), QActivation(quantized_relu(6), name='relu2'),
        QDense(5, name='output', kernel_quantizer=q(), bias_quantizer=q()),
        keras.layers.Activation('softmax', name='softmax')])
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    model.compile('adam', 'categorical_crossentropy')
    model.fit(x, keras.utils.to_categorical(np.argmax(x[:, :5], axis=1), 5), epochs=20, verbose=0)
    return model


def conv_act_depthwise(seed=0):
    """Conv2D -> Activation -> DepthwiseConv2D: hls4ml numbers the depthwise layer's config `config4`."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 7, 4), name='inp')
    x = keras.layers.Conv2D(4, 1, name='c1')(inp)
    x = keras.layers.Activation('relu', name='a1')(x)
    x = keras.layers.DepthwiseConv2D(3, padding='same', name='dw')(x)
    return keras.Model(inp, x)


def qconvbn_strategy(seed=1):
    """A QConv2DBatchnorm 3x3, 3 -> 5 channels with quantized_bits(8, 4) kernel and bias, its BatchNormalization
    statistics away from the identity, before a Dense head."""
    keras = _k()
    from qkeras import QConv2DBatchnorm, quantized_bits

    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 3), name='inp')
    x = QConv2DBatchnorm(5, 3, kernel_quantizer=quantized_bits(8, 4, alpha=1), bias_quantizer=quantized_bits(8, 4, alpha=1),
                         name='qconvbn')(inp)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(2, name='out')(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    model.get_layer('qconvbn').batchnorm.set_weights([rng.uniform(0.5, 2, 5), rng.uniform(-1, 1, 5),
                                                      rng.uniform(-1, 1, 5), rng.uniform(0.5, 2, 5)])
    return model


def strided_cnn(seed=0):
    """A strided Conv2D (relu), a BatchNormalization hls4ml keeps as its own layer, a pooling, two Dense layers."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((9, 9, 2), name='inp')
    x = keras.layers.Conv2D(3, 3, strides=2, activation='relu', name='conv')(inp)
    x = keras.layers.BatchNormalization(name='bn')(x)
    x = keras.layers.MaxPooling2D(2, name='pool')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(4, activation='relu', name='fc1')(x)
    x = keras.layers.Dense(2, name='fc2')(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    model.get_layer('bn').set_weights([rng.uniform(0.5, 2, 3), rng.uniform(-1, 1, 3), rng.uniform(-0.5, 0.5, 3),
                                       rng.uniform(0.5, 2, 3)])
    return model


def qkeras_alpha_auto(seed=0):
    """QDense layers whose kernel quantizer has alpha='auto': hls4ml factors the scale out into `<name>_alpha`."""
    keras = _k()
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    inp = keras.Input((10,), name='inp')
    x = QDense(8, kernel_quantizer=quantized_bits(6, 0, alpha='auto'), bias_quantizer=quantized_bits(6, 0, alpha=1),
               name='qfc1')(inp)
    x = QActivation(quantized_relu(8, 3), name='act')(x)
    x = QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha='auto'), bias_quantizer=quantized_bits(6, 0, alpha=1),
               activation='softmax', name='qfc2')(x)
    return keras.Model(inp, x)


def upsample_bilinear(seed=0):
    """UpSampling2D(interpolation='bilinear'): hls4ml 1.3.0 computes it as nearest."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4, 4, 2), name='inp')
    x = keras.layers.Conv2D(2, 1, name='conv')(inp)
    x = keras.layers.UpSampling2D(2, interpolation='bilinear', name='up')(x)
    x = keras.layers.Conv2D(2, 1, name='conv2')(x)
    return keras.Model(inp, x)


def qact_between_dense(seed=0):
    """A QActivation(quantized_bits(4, 0, alpha=1)) between two QDense layers."""
    keras = _k()
    from qkeras import QActivation, QDense, quantized_bits

    keras.utils.set_random_seed(seed)
    q = lambda: quantized_bits(8, 2, alpha=1)  # noqa: E731
    inp = keras.Input((6,), name='inp')
    x = QDense(8, kernel_quantizer=q(), bias_quantizer=q(), name='qfc1')(inp)
    x = QActivation(quantized_bits(4, 0, alpha=1), name='qact')(x)
    x = QDense(3, kernel_quantizer=q(), bias_quantizer=q(), name='qfc2')(x)
    return keras.Model(inp, x)


def simple_rnn(seed=0):
    """SimpleRNN(8) -> Dense(3, softmax): hls4ml 1.3.0's Vivado writer has no kernel for the SimpleRNN and writes no
    call for it; the Dense reads an array nothing writes."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 4), name='inp')
    x = keras.layers.SimpleRNN(8, name='rnn')(inp)
    x = keras.layers.Dense(3, activation='softmax', name='fc')(x)
    return keras.Model(inp, x)


# ---- rare events: hls4ml is wrong on a few samples only (tests/test_rare_events_real.py) ----------------------

def rare_mlp(seed=1):
    """A small MLP; its data (`rare_data`) carries values beyond ap_fixed<16,6>'s +-32 on a few samples."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,), name='inp')
    x = keras.layers.Dense(8, activation='relu', name='fc1')(inp)
    x = keras.layers.Dense(1, name='out')(x)
    return keras.Model(inp, x)


def rare_relu_mlp(seed=1):
    """fc1's first unit sums feature 0 twice over: a sample whose feature 0 is 20 gives a ReLU output of 40,
    beyond ap_fixed<16,6>'s +-32, while its input (20) fits."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8,), name='inp')
    fc1 = keras.layers.Dense(4, activation='relu', name='fc1')
    x = fc1(inp)
    x = keras.layers.Dense(1, name='out')(x)
    model = keras.Model(inp, x)
    kernel, bias = fc1.get_weights()
    kernel[:, 0] = 0.1
    kernel[0, 0] = 2.0
    fc1.set_weights([kernel, np.zeros_like(bias)])
    return model


def rare_gap(seed=1):
    """GlobalAveragePooling2D over 6x6 values: the sum of a bright image (every pixel 2.0: 72) does not fit the
    accumulator, while its average (2.0) fits the result."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 2), name='inp')
    x = keras.layers.GlobalAveragePooling2D(name='gap')(inp)
    x = keras.layers.Dense(1, name='out')(x)
    return keras.Model(inp, x)


def rare_data(shape, n=1000, rare=(17, 250, 480, 701, 999), value=None, seed=0):
    """`n` samples of `shape`; the samples `rare` carry an outlier (`value(rng, k)` per sample, on the first
    feature: a channel of an image, the first input of a vector)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (n, *shape)).astype('float32')
    for k, i in enumerate(rare):
        x[(i, *([0] * (len(shape) - 1)), 0)] = value(rng, k) if value else 50.0
    return x


def dropout_mlp(seed=0):
    """Dense -> Dropout -> Dense, as hls4ml's example models (KERAS_dense_16x100x...) have: Dropout is the
    identity at inference, so hls4ml not computing it drops nothing. The logits head is scaled so that its
    classes are decided, as a trained model's are: a random head's logits are near-uniform, and a flip that
    rounding decides on one sample in 64 is below the default gate's 99% top-1."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,), name='inp')
    x = keras.layers.Dense(12, activation='relu', name='fc1')(inp)
    x = keras.layers.Dropout(0.2, name='dropout_1')(x)
    x = keras.layers.Activation('linear', name='identity')(x)
    head = keras.layers.Dense(5, name='out')
    model = keras.Model(inp, head(x))
    w, b = head.get_weights()
    head.set_weights([w * 8, b])
    return model


def small_mlp(seed=0):
    """Two Dense layers, ReLU, a logits head (the MLP the Quartus tests compare with the float_cnn CNN)."""
    keras = _k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((10,), name='inp')
    x = keras.layers.Dense(8, activation='relu', name='fc1')(inp)
    x = keras.layers.Dense(3, name='fc2')(x)
    return keras.Model(inp, x)


def hls4ml_alone(model_path, config_path, data_path, out_dir):
    """hls4ml alone with a written config (no hlsdiff code): convert, compile, predict; (got, want) per sample."""
    import yaml

    from hlsdiff.trace import stack

    s = stack.load()
    model = s.keras.models.load_model(model_path)
    x = np.load(data_path)
    hls_model = s.hls4ml.converters.convert_from_keras_model(model, hls_config=yaml.safe_load(config_path.read_text()),
                                                             io_type='io_parallel', output_dir=str(out_dir))
    hls_model.compile()
    want = model.predict(x, verbose=0)
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x, dtype=np.float64))).reshape(want.shape)
    return got, want


def compare_and_trace(hlsdiff, tmp_path, model, data, n_samples: int, *options):
    """`hlsdiff compare` with the project kept and the C-simulation's traces saved; an emulator of the kept
    project fed the C-simulation's own traces (input `x`): (emulator, traces by layer, run, project)."""
    from hlsdiff.emulate import Emulator

    project, traces = tmp_path / 'prj', tmp_path / 'traces.npz'
    run = hlsdiff('compare', model, data, '--output-dir', project, '--save-traces', traces, *options)
    assert run.code in (0, 1), run.stderr
    saved = np.load(traces)
    csim = {name[:-len(':csim')]: saved[name].reshape(n_samples, -1) for name in saved.files if name.endswith(':csim')}
    emulator = Emulator.from_project(project / 'firmware', 'myproject', csim, {'x': np.load(data).astype(np.float64)})
    return emulator, csim, run, project


def trained_four_class_mlp(folder, activations: tuple[str, ...]):
    """Dense(24, activation) per entry and a Dense(4) softmax, trained 30 epochs on 4 classes of 10 normal features;
    saved as `elu.h5` with 200 samples as `x.npy` in `folder`."""
    keras = _k()
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (400, 10)).astype(np.float32)
    y = (x[:, :5].sum(1) > 0).astype(int) + 2 * (x[:, 5:].sum(1) > 0)
    model = keras.Sequential([keras.layers.Input((10,))] +
                             [keras.layers.Dense(24, activation=act, name=f'd{i}') for i, act in enumerate(activations, 1)] +
                             [keras.layers.Dense(4, activation='softmax', name='out')])
    model.compile('adam', 'sparse_categorical_crossentropy')
    model.fit(x, y, epochs=30, verbose=0)
    model.save(folder / 'elu.h5')
    np.save(folder / 'x.npy', x[:200])
    return folder
