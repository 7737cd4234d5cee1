"""da4ml's kernels (Strategy: distributed_arithmetic) computed from the statements of nnet_code_gen.h
(hlsdiff/emulate/kernels/da.py). Fast: no g++; the real builds are in tests/modern/test_distributed_arithmetic.py."""

from __future__ import annotations

import numpy as np
import pytest

from hlsdiff.emulate import arith
from hlsdiff.emulate.kernels import NotEmulated, run
from hlsdiff.emulate.program import Call, Config, Program
from hlsdiff.fixedpoint import parse_type

KERNEL = '''
template <typename inp_t, typename out_t>
void dense_da_3(inp_t model_inp[2], out_t model_out[2]) { // ap_fixed<9,3> -> ap_fixed<16,6>
    #pragma HLS INLINE

    ap_fixed<9,3> v0 = model_inp[0]; // 0.0
    ap_fixed<9,3> v1 = model_inp[1]; // 0.0
    ap_fixed<11,5> v2 = v0 + bit_shift<1>(v1); // 1.0
    ap_fixed<11,4> v3 = v0 - bit_shift<-1>(v1); // 1.0
    model_out[0] = ap_fixed<12,5>(v2);
    model_out[1] = ap_fixed<16,4>(bit_shift<-2>(v3));
}
'''


def _program(tmp_path, kernel: str, configs: dict[str, Config] | None = None) -> Program:
    (tmp_path / 'nnet_utils').mkdir()
    (tmp_path / 'nnet_utils' / 'nnet_code_gen.h').write_text(kernel)
    return Program(tmp_path, [], {}, configs or {}, {}, {}, ['x'], {})


def _inputs(n: int = 200) -> np.ndarray:
    return np.random.default_rng(0).integers(-192, 192, (n, 2)) / 64.0  # ap_fixed<9,3> values


def test_a_da4ml_kernel_is_computed_from_its_statements(tmp_path):
    program = _program(tmp_path, KERNEL)
    x = _inputs()
    result = parse_type('ap_fixed<16,6>')
    out = run(program, Call('dense_da_3', ['x_t', 'result_t'], ['x', 'y']), [arith.exact(x, 6)], result,
              parse_type('ap_fixed<9,3>')).to_float()
    # every step is exact in these types: x0 + 2 x1, and (x0 - x1/2) / 4
    assert np.array_equal(out, np.stack([x[:, 0] + 2 * x[:, 1], (x[:, 0] - x[:, 1] / 2) / 4], axis=1))


def test_the_io_stream_dense_runs_the_kernel_its_config_names(tmp_path):
    config = Config('config3', text='static const unsigned strategy = nnet::distributed_arithmetic;\n'
                                    'constexpr static auto dense_da = nnet::dense_da_3<typename x_t::value_type, '
                                    'typename result_t::value_type>;')
    program = _program(tmp_path, KERNEL, {'config3': config})
    x = _inputs(8)
    result = parse_type('ap_fixed<16,6>')
    parallel = run(program, Call('dense_da_3', ['x_t', 'result_t'], ['x', 'y']), [arith.exact(x, 6)], result, None)
    stream = run(program, Call('dense', ['x_t', 'result_t', 'config3'], ['x', 'y']), [arith.exact(x, 6)], result, None)
    assert np.array_equal(parallel.to_float(), stream.to_float())


@pytest.mark.parametrize('edit, why', [
    (('v0 - bit_shift<-1>(v1)', 'v0 * v1'), 'the expression `v0 * v1` is not emulated'),
    (('model_out[1] =', 'model_out[3] ='), 'leaves some outputs unassigned'),
    (('dense_da_3', 'dense_da_4'), 'nnet::dense_da_3 was not found there'),
])
def test_what_is_not_emulated_says_why(tmp_path, edit, why):
    program = _program(tmp_path, KERNEL.replace(*edit))
    with pytest.raises(NotEmulated, match='da4ml generated') as caught:
        run(program, Call('dense_da_3', ['x_t', 'result_t'], ['x', 'y']), [arith.exact(_inputs(4), 6)],
            parse_type('ap_fixed<16,6>'), None)
    assert why in str(caught.value)


def test_a_convolution_runs_its_kernel_per_window_and_is_not_emulated(tmp_path):
    config = Config('config5', text='static const unsigned strategy = nnet::distributed_arithmetic;\n'
                                    'constexpr static auto dense_da = nnet::dense_da_3<x_t, result_t>;')
    program = _program(tmp_path, KERNEL, {'config5': config})
    with pytest.raises(NotEmulated, match='once per window'):
        run(program, Call('conv2d_cl', ['config5', 'x_t', 'result_t'], ['x', 'y']), [arith.exact(_inputs(4), 6)],
            parse_type('ap_fixed<16,6>'), None)
