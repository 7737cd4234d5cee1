"""The reference emulation on a hand-built program (pure numpy): the evidence it gives for what a generator
wrote other than the framework's layer, and the three links."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hlsdiff.emulate import arith
from hlsdiff.emulate.kernels import EmulatedCall
from hlsdiff.emulate.kernels.mac import dense
from hlsdiff.emulate.links import measure
from hlsdiff.emulate.program import Call, Config, Program
from hlsdiff.emulate.reference import reference
from hlsdiff.emulate.spec import LayerSpec, conv_geometry
from hlsdiff.fixedpoint import parse_type

RESULT = parse_type('ap_fixed<24,10>')
KERNEL = np.array([[0.5, -0.25], [0.125, 1.0], [-0.75, 0.375]])  # (in, out)
BIAS = np.array([0.25, -0.5])
X = arith.from_double(np.array([[1.0, -2.0, 0.5], [0.25, 0.75, -1.5]]), parse_type('ap_fixed<16,6>'))


def _program(weights: np.ndarray, strategy: str = 'latency') -> tuple[Program, Call]:
    cfg = Config('config2', types={'weight_t': 'ap_fixed<16,6>', 'bias_t': 'ap_fixed<16,6>',
                                   'accum_t': 'ap_fixed<32,12>'},
                 values={'n_in': 3, 'n_out': 2, 'strategy': strategy})
    call = Call('dense', ['input_t', 'layer2_t', 'config2'], ['x', 'y', 'w2', 'b2'], layer='fc')
    program = Program(Path('.'), [call], {}, {'config2': cfg}, {'w2': ('weight2_t', 'w2.txt'), 'b2': ('bias2_t', 'b2.txt')},
                      {'w2': '6', 'b2': '2'}, ['x'], {'y': 0}, _loaded={'w2': weights.reshape(-1), 'b2': BIAS})
    return program, call


def _emulate(program: Program, call: Call) -> arith.Fx:
    return dense(EmulatedCall(program, call, [X], RESULT))


class _Emulator:
    """What `measure` needs of an emulator: the project's program, its calls, and both emulations."""

    def __init__(self, program: Program, call: Call):
        self.program, self.calls = program, {call.layer: call}

    def emulate(self, layer: str) -> arith.Fx:
        return _emulate(self.program, self.calls[layer])

    def run_call(self, program: Program, call: Call) -> arith.Fx:
        return _emulate(program, call)


SPEC = LayerSpec('dense', KERNEL, BIAS, attrs={'n_in': 3, 'n_out': 2}, source='Dense fc')


def test_a_faithful_project_has_no_difference_and_the_same_values():
    program, call = _program(KERNEL)
    ref = reference(program, call, SPEC, _emulate)
    assert ref.differences == ()
    assert np.array_equal(ref.values.v, _emulate(program, call).v)


@pytest.mark.parametrize('strategy, written, named', [
    ('latency', KERNEL.T, 'as (out, in); the Latency kernel reads (in, out)'),
    ('resource', KERNEL, 'as (in, out); the Resource kernel reads (out, in)'),
])
def test_weights_in_another_axis_order_are_named(strategy, written, named):
    program, call = _program(written, strategy)
    ref = reference(program, call, SPEC, _emulate)
    (diff,) = ref.differences
    assert diff.what == 'weights' and diff.name == 'w2.txt' and diff.permutation == named
    assert diff.detail.startswith('4 of 6 values of w2.txt differ')


@pytest.mark.parametrize('strategy', ['latency', 'resource'])
def test_other_values_show_the_largest_differences(strategy):
    written = KERNEL.copy()
    written[1, 0] = 0.625
    program, call = _program(written if strategy == 'latency' else written.T, strategy)
    (diff,) = reference(program, call, SPEC, _emulate).differences
    assert diff.permutation is None
    assert diff.detail == ('1 of 6 values of w2.txt differ from the framework\'s; largest: (in 1, out 0) framework 0.125, '
                           'project 0.625')


def test_an_attribute_is_named_with_both_values():
    program, call = _program(KERNEL)
    spec = LayerSpec('dense', KERNEL, BIAS, attrs={'n_in': 3, 'n_out': 2, 'n_zeros': 0})
    program.configs['config2'].values['n_zeros'] = 4
    (diff,) = reference(program, call, spec, _emulate).differences
    assert (diff.what, diff.name, diff.detail) == ('attribute', 'n_zeros', 'n_zeros: the framework has 0, the project 4')


def test_the_links_split_the_error():
    program, call = _program(KERNEL.T)  # written transposed
    emulator = _Emulator(program, call)
    project = _emulate(program, call).to_float()
    actual = project.copy()
    actual[0, 1] += 2.0**-14  # the kernel off by one LSB of its result somewhere
    local = X.to_float() @ KERNEL + BIAS  # the framework in float: exact here
    links = measure(emulator, 'fc', SPEC, actual, local, tol=1e-3)
    assert links.kernel == pytest.approx(2.0**-14)
    assert links.generator == pytest.approx(float(np.max(np.abs(project - local))))
    assert links.precision == 0.0 and links.generator_defect and links.reason is None


def test_measure_never_raises_and_says_why():
    program, call = _program(KERNEL)
    links = measure(_Emulator(program, call), 'fc', LayerSpec('conv', KERNEL[None, None], BIAS), None, None, tol=0.0)
    assert links.generator is None and 'the framework computes a conv layer' in links.reason
    assert measure(_Emulator(program, call), 'fc', 'no reference of Lambda', None, None, 0.0).reason == 'no reference of Lambda'


@pytest.mark.parametrize('shape, k, s, padding, out, pads', [
    ((7, 7, 2), (3, 3), (2, 2), 'valid', (3, 3), (0, 0, 0, 0)),
    ((6, 7, 1), (3, 3), (1, 1), 'same', (6, 7), (1, 1, 1, 1)),
    ((6, 6, 1), (3, 3), (2, 2), 'same', (3, 3), (0, 1, 0, 1)),  # TensorFlow puts the odd pixel after
    ((5, 8, 1), (2, 4), (2, 3), 'same', (3, 3), (0, 1, 1, 1)),
])
def test_conv_geometry_follows_tensorflow(shape, k, s, padding, out, pads):
    g = conv_geometry(shape, k, s, padding, 4)
    assert (g['out_height'], g['out_width']) == out
    assert (g['pad_top'], g['pad_bottom'], g['pad_left'], g['pad_right']) == pads


def test_the_rounding_bound_is_what_one_lsb_and_one_finer_bit_move():
    """Emulated: every input moved by one LSB of its type moves a dense output by at most sum|w| LSB, and
    the types one bit finer by what the finer result and accumulator keep."""
    from hlsdiff.emulate import Emulator

    program, call = _program(KERNEL)
    program.typedefs.update({'input_t': 'ap_fixed<16,6>', 'layer2_t': 'ap_fixed<12,4>'})
    data = np.array([[1.0, -2.0, 0.5], [0.25, 0.75, -1.5]])
    bound = Emulator(program, {}, {'x': data}).rounding_bound('fc')
    lsb_in, lsb_out = 2.0**-10, 2.0**-8
    worst_move = float(np.max(np.abs(KERNEL).sum(axis=0))) * lsb_in
    assert bound['inputs'] <= worst_move + lsb_out and bound['inputs'] >= lsb_out  # at least one output step moves
    assert bound['types'] <= lsb_out  # one bit finer: the truncation of the result, at most one of its steps
    assert bound['bound'] == pytest.approx(bound['inputs'] + bound['types'] + lsb_out)
