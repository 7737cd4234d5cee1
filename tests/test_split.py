"""The top translation unit split in two (pure text; the real build is tested in test_build_fast.py)."""

from __future__ import annotations

import re

from hlsdiff.csim import pch
from hlsdiff.csim.split import THUNK, split_top

TOP = '''#include <iostream>

#include "myproject.h"
#include "parameters.h"

void myproject(
    hls::stream<input_t> &input_1,
    hls::stream<result_t> &layer4_out
) {
#ifndef __SYNTHESIS__
    static bool loaded_weights = false;
    if (!loaded_weights) {
        nnet::load_weights_from_txt<weight2_t, 36>(w2, "w2.txt");
        loaded_weights = true;    }
#endif
    hls::stream<layer2_t> layer2_out("layer2_out");
    hls::stream<layer3_t> layer3_out("layer3_out");
    nnet::conv_2d_cl<input_t, layer2_t, config2>(input_1, layer2_out, w2, b2); // conv
#ifndef __SYNTHESIS__
    nnet::save_layer_output<layer2_t>(layer2_out, "conv", 16*16*4);
#endif
    nnet::relu<layer2_t, layer3_t, relu_config3>(layer2_out, layer3_out); // relu
    nnet::dense<layer3_t, result_t, config4>(
        layer3_out, layer4_out, w4, b4); // fc: two lines, left as it is
}
'''


def _defined(part: str) -> set[int]:
    return {int(k) for k in re.findall(rf'void {THUNK}(\d+)\(A&&\.\.\. a\) {{', part)}


def test_every_one_line_call_moves_behind_a_thunk_defined_exactly_once():
    parts = split_top(TOP, 'myproject')
    assert parts is not None and len(parts) == 2
    first, second = parts
    assert 'void myproject(' in first and 'void myproject(' not in second and 'void hlsdiff_part_1(' in second
    # four one-line calls: every one is a thunk in both parts, defined in exactly one of them
    defined = [_defined(first), _defined(second)]
    assert defined[0] and defined[1] and not defined[0] & defined[1]
    assert defined[0] | defined[1] == {0, 1, 2, 3}
    for part, head in zip(parts, ('void myproject(', 'void hlsdiff_part_1(')):
        body = part[part.index(head):]
        assert 'nnet::dense<layer3_t, result_t, config4>(\n' in body  # the two-line call stays
        assert f'{THUNK}1(input_1, layer2_out, w2, b2); // conv' in body
        assert f'{THUNK}2(layer2_out, "conv", 16*16*4);' in body
        assert 'nnet::conv_2d_cl<' not in body and 'nnet::save_layer_output<' not in body
    # the callee and its template arguments are kept verbatim in the thunk that defines it
    everything = first + second
    assert 'nnet::conv_2d_cl<input_t, layer2_t, config2>(static_cast<A&&>(a)...);' in everything
    assert 'nnet::relu<layer2_t, layer3_t, relu_config3>(static_cast<A&&>(a)...);' in everything


def test_the_trace_calls_go_with_the_element_wise_layers_and_kernels_elsewhere():
    first, second = split_top(TOP, 'myproject')
    kernel = next(k for k in _defined(first) | _defined(second) if f'{THUNK}{k}(input_1' in first)
    trace = next(k for k in _defined(first) | _defined(second) if f'{THUNK}{k}(layer2_out, "conv"' in first)
    assert kernel in _defined(first) and trace in _defined(second)


def test_files_that_do_not_look_like_an_hls4ml_top_function_are_compiled_whole():
    assert split_top(TOP, 'otherproject') is None  # no such function
    assert split_top(TOP.replace('void myproject(', 'void myproject(int);\nvoid myproject('), 'myproject') is None
    few = '\n'.join(line for line in TOP.splitlines() if 'relu' not in line and 'save_layer' not in line)
    assert split_top(few, 'myproject') is None  # too few calls to be worth a second unit
    once = split_top(TOP, 'myproject')[0]
    assert split_top(once, 'myproject') is None  # never split twice


def test_a_macro_defined_in_the_unit_keeps_the_precompiled_header_out():
    assert not pch._defines_macros('#ifndef MYPROJECT_BRIDGE_H_\n#define MYPROJECT_BRIDGE_H_\n#include "x.h"\n#endif\n')
    assert pch._defines_macros('#define AP_INT_MAX_W 4096\n#include "ap_int.h"\n')
    assert pch._defines_macros('#undef __SYNTHESIS__\n')


PARALLEL = '''#include "myproject.h"
#include "parameters.h"

void myproject(
    input_t input_1[16*16*1],
    result_t layer9_out[4]
) {
    nnet::conv_2d_cl<input_t, layer2_t, config2>(input_1, layer2_out, w2, b2); // conv
    nnet::save_layer_output<layer2_t>(layer2_out, "conv", 16*16*4);
    nnet::depthwise_conv_2d_cl<layer2_t, layer3_t, config3>(layer2_out, layer3_out, w3, b3); // dw1
    nnet::relu<layer3_t, layer4_t, relu_config4>(layer3_out, layer4_out); // relu
    nnet::depthwise_conv_2d_cl<layer4_t, layer5_t, config5>(layer4_out, layer5_out, w5, b5); // dw2
    nnet::depthwise_conv_2d_cl<layer5_t, layer6_t, config6>(layer5_out, layer6_out, w6, b6); // dw3
    nnet::pointwise_conv_2d_cl<layer6_t, layer7_t, config7>(layer6_out, layer7_out, w7, b7); // pw
    nnet::global_pooling2d_cl<layer7_t, layer8_t, config8>(layer7_out, layer8_out); // gap
    nnet::dense<layer8_t, result_t, config9>(layer8_out, layer9_out, w9, b9); // fc
}
'''


def test_io_parallel_kernels_are_spread_over_more_units_than_cores():
    parts = split_top(PARALLEL, 'myproject')
    assert parts is not None and len(parts) == 4  # six kernels, at most four units
    defined = [_defined(p) for p in parts]
    assert set().union(*defined) == set(range(9)) and sum(len(d) for d in defined) == 9  # each once
    for n, part in enumerate(parts[1:], start=1):
        assert f'void hlsdiff_part_{n}(' in part and 'void myproject(' not in part
    where = {}
    for n, part in enumerate(parts):
        for k in re.findall(rf'void {THUNK}(\d+)\(A&&\.\.\. a\) {{ nnet::depthwise_conv_2d_cl<', part):
            where[int(k)] = n
    assert len(where) == 3 and len(set(where.values())) == 3  # no two depthwise kernels in one unit
    assert len(split_top(PARALLEL, 'myproject', parts=2)) == 2
    assert len(split_top(TOP, 'myproject')) == 2  # io_stream: two units for two cores
