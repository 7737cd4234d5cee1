"""Quartus and Catapult projects as hls4ml's own writers write them (convert + write, no g++): the top function,
its inputs, weights and traces read as the build and the emulation need them (docs/backends.md)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hlsdiff.csim.split import split_top
from hlsdiff.emulate.program import read_program
from hlsdiff.project import open_project, read_top, read_top_file, read_weights

from . import models

PROJECTS = {  # name: (model, conversion options)
    'quartus-stream': ('float_cnn', {'backend': 'Quartus', 'io_type': 'io_stream'}),
    'quartus-parallel': ('float_cnn', {'backend': 'Quartus'}),
    'catapult': ('small_mlp', {'backend': 'Catapult'}),
    'quartus-ap': ('small_mlp', {'backend': 'Quartus', 'precision': 'ap_fixed<8,2>'}),
}


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    """`written(name)` -> (project folder written through hlsdiff, hls4ml ModelGraph, folder written by hls4ml alone)."""
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.trace.convert import ConvertOptions, write_project

    root = tmp_path_factory.mktemp('projects')
    made: dict = {}

    def get(name: str):
        if name not in made:
            model, conv = PROJECTS[name]
            converted = keras2.convert(getattr(models, model)(), ConvertOptions(**conv), root / name)
            converted.hls_model.write()  # as hls4ml alone writes it, traces on every layer
            stock = (root / name / 'firmware' / 'myproject.cpp').read_text()
            made[name] = (write_project(converted, model_in_yml=False), converted.hls_model, stock, converted.warnings)
        return made[name]

    return get


def _traces(text: str) -> list[tuple[str, str]]:
    return re.findall(r'save_layer_output<\w+>\(([\w.]+), "(\w+)"', text)


def test_quartus_io_stream_traces_are_rewritten_after_the_call_that_writes_each_layer(written):
    folder, hls_model, stock, warnings = written('quartus-stream')
    # hls4ml 1.3.0's Quartus io_stream writer traces the output stream under every layer's name
    assert {var for var, _ in _traces(stock)} == {hls_model.get_output_variables()[0].name}
    # read as it is (a --project), that stream names no layer rather than the first one
    assert [call.layer for call in read_top(stock, 'myproject').kernels()] == [None] * len(_traces(stock))
    program = read_program(folder / 'firmware')
    kernels = [layer.name for layer in hls_model.get_layers() if layer.get_attr('function_cpp', None)]
    assert [call.layer for call in program.calls] == kernels
    assert program.family == 'Quartus' and program.top_inputs == ['inp']
    assert program.source('layer6_out') == 'layer5_out'  # the Flatten: an alias at namespace scope
    assert any('trace calls hls4ml wrote were corrected' in w for w in warnings)
    # its streams are global objects: the top unit is compiled whole, not split
    assert split_top((folder / 'firmware' / 'myproject.cpp').read_text(), 'myproject') is None


def test_quartus_io_parallel_reads_the_struct_members_and_the_compiled_in_weights(written):
    folder, hls_model, stock, _ = written('quartus-parallel')
    top = read_top_file(folder / 'firmware', 'myproject')
    assert top.io_type == 'io_parallel' and top.arguments[0] == 'inp'
    assert top.calls[0].args[0] == 'inp'  # `inputs.inp` as the variable it names
    assert stock == (folder / 'firmware' / 'myproject.cpp').read_text()  # hls4ml's io_parallel traces are right
    conv = hls_model.graph['conv']
    values = read_weights(folder / 'firmware', top.loads['w2'].file)
    # the header holds the kernel's values (in Quartus's order), written with 10 decimals
    assert np.allclose(np.sort(values), np.sort(conv.weights['weight'].data.ravel()),
                       atol=1e-9)
    assert split_top((folder / 'firmware' / 'myproject.cpp').read_text(), 'myproject') is not None


def test_catapult_is_read_as_vivado_under_its_ccs_block_head(written):
    folder, hls_model, _, _ = written('catapult')
    assert open_project(folder).backend == 'Catapult'
    top = read_top_file(folder / 'firmware', 'myproject')
    assert top.head >= 0 and top.arguments[0] == 'inp'
    program = read_program(folder / 'firmware')
    assert program.family == 'Catapult' and [c.layer for c in program.calls] == ['fc1', 'fc1_relu', 'fc2']
    assert program.fixed('input_t') is not None and str(program.fixed('input_t')) == 'ap_fixed<16,6>'


@pytest.mark.parametrize('name', ['quartus-ap', 'catapult'])
def test_precision_in_any_notation_is_written_as_the_backend_expects(written, name):
    folder, _, _, _ = written(name)
    defines = (folder / 'firmware' / 'defines.h').read_text()
    typedefs = re.findall(r'^typedef (\w+)<', defines, re.M)
    assert typedefs and set(typedefs) <= {'ac_fixed', 'ac_int'}
    if name == 'quartus-ap':  # --precision ap_fixed<8,2> on Quartus
        assert 'typedef ac_fixed<8,2,true> input_t;' in defines
