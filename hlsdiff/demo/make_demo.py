"""Build the bundled demo model and data (a tiny model in the shape of hls4ml issue #1472).

QConv2DBatchnorm stem -> quantized ReLU -> QDepthwiseConv2D block with a residual Add ->
one tensor feeding both GlobalAveragePooling2D (-> Dense) and a QDepthwiseConv2D head.
Input (16, 35, 1) as in the report; channels 1 -> 4 -> 8 instead of 1 -> 16 -> 32 -> 64 so
that the C-simulation builds in seconds.
"""

from __future__ import annotations

import numpy as np

from hlsdiff.demo import DATA, MODEL


def build_model(seed: int = 1472, channels=(4, 8), input_shape=(16, 35, 1), folded_bn: bool = False):
    """`folded_bn`: a BatchNormalization after the depthwise head, which hls4ml folds into it (the variant
    `hlsdiff repro` writes its example ISSUE.md from); the default model is unchanged by it."""
    from hlsdiff.trace import stack

    keras = stack.load().keras
    from qkeras import QActivation, QConv2D, QConv2DBatchnorm, QDense, QDepthwiseConv2D, quantized_bits, quantized_relu

    keras.utils.set_random_seed(seed)
    # the reporter's quantizer: quantized_bits(bits=8, integer=3, keep_negative=True, alpha=1.0)
    q8 = lambda: quantized_bits(8, 3, keep_negative=True, alpha=1.0)  # noqa: E731
    inp = keras.Input(input_shape, name='input_1')
    x = QConv2DBatchnorm(channels[0], 3, padding='same', kernel_quantizer=q8(), bias_quantizer=q8(), name='stem')(inp)
    x = QActivation(quantized_relu(8, 2), name='stem_relu')(x)
    y = QDepthwiseConv2D(3, padding='same', depthwise_quantizer=q8(), bias_quantizer=q8(), name='dw1')(x)
    y = QActivation(quantized_relu(8, 2), name='dw1_relu')(y)
    x = keras.layers.Add(name='add1')([x, y])
    x = QConv2D(channels[1], 1, kernel_quantizer=q8(), bias_quantizer=q8(), name='pw2')(x)
    x = QActivation(quantized_relu(8, 2), name='pw2_relu')(x)
    y = QDepthwiseConv2D(3, padding='same', depthwise_quantizer=q8(), bias_quantizer=q8(), name='dw2')(x)
    y = QActivation(quantized_relu(8, 2), name='dw2_relu')(y)
    x = keras.layers.Add(name='add2')([x, y])
    g = keras.layers.GlobalAveragePooling2D(name='gap')(x)
    g = QDense(4, kernel_quantizer=q8(), bias_quantizer=q8(), name='classifier')(g)
    # hls4ml folds a BN into a layer whose bias is not quantized (bn_fuse.py): the variant's head has none
    h = QDepthwiseConv2D(3, padding='same', depthwise_quantizer=q8(), bias_quantizer=None if folded_bn else q8(),
                         name='dw_head')(x)
    if folded_bn:
        h = keras.layers.BatchNormalization(name='dw_head_bn')(h)
    h = QActivation(quantized_relu(8, 2), name='dw_head_relu')(h)
    model = keras.Model(inp, [g, h], name='issue1472_tiny')
    rng = np.random.default_rng(seed)
    # BatchNorm statistics that are not the identity, so the folding matters
    stem = model.get_layer('stem')
    weights = stem.get_weights()
    for i, w in enumerate(weights):
        if w.ndim == 1 and w.shape[0] == channels[0] and i >= 2:
            weights[i] = (rng.uniform(0.5, 1.5, w.shape) if 'var' in stem.weights[i].name or 'gamma' in stem.weights[i].name
                          else rng.normal(0, 0.2, w.shape)).astype(w.dtype)
    stem.set_weights(weights)
    # trained depthwise kernels are larger than their initialisation: that is what makes a
    # one-step flip of a quantized activation grow from layer to layer
    for name in ('dw1', 'dw2', 'dw_head'):
        layer = model.get_layer(name)
        w = layer.get_weights()
        w[0] = rng.uniform(-1.5, 1.5, w[0].shape).astype(w[0].dtype)
        layer.set_weights(w)
    if folded_bn:  # statistics that are not the identity, from a generator of their own
        bn = model.get_layer('dw_head_bn')
        bn_rng = np.random.default_rng(seed + 1)
        n = channels[1]
        bn.set_weights([bn_rng.uniform(0.5, 2.0, n), bn_rng.normal(0, 0.2, n), bn_rng.normal(0, 0.2, n),
                        bn_rng.uniform(0.5, 1.5, n)])
    return model


def build_data(n: int = 64, seed: int = 1472, input_shape=(16, 35, 1)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (n, *input_shape)).astype(np.float32)


def main() -> None:
    model = build_model()
    model.save(MODEL)
    np.save(DATA, build_data())
    print(f'wrote {MODEL} and {DATA}')


if __name__ == '__main__':
    main()
