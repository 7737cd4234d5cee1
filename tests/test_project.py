"""The project package on projects hls4ml's own writer wrote (convert + write, no g++): detection,
the reader of the top function, headers and weights, trace insertion, and `patcher.plan`."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from hlsdiff.cpp import patcher
from hlsdiff.csim.split import split_top
from hlsdiff.emulate.program import read_program
from hlsdiff.errors import NotAProject
from hlsdiff.fixedpoint import parse_type
from hlsdiff.project import (
    is_project,
    open_project,
    read_headers,
    read_top,
    read_top_file,
    read_weights,
    traced_sources,
    writer,
)

from . import models

PROJECTS = {  # name: (model, kwargs, conversion options)
    'dm2': ('depthwise', {'depth_multiplier': 2}, {}),
    'bn': ('depthwise_bn', {}, {}),
    'po2': ('depthwise_po2', {}, {}),
    'resource': ('depthwise', {}, {'strategy': 'Resource', 'reuse_factor': 3}),
    'stream': ('depthwise', {}, {'io_type': 'io_stream', 'project_name': 'other'}),
}


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    """`written(name)` -> (project folder, hls4ml ModelGraph), written once by hls4ml."""
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.trace.convert import ConvertOptions, write_project

    root = tmp_path_factory.mktemp('projects')
    made: dict = {}

    def get(name: str):
        if name not in made:
            model, kwargs, conv = PROJECTS[name]
            converted = keras2.convert(getattr(models, model)(**kwargs), ConvertOptions(**conv), root / name)
            made[name] = (write_project(converted, model_in_yml=False), converted.hls_model)
        return made[name]

    return get


@pytest.fixture
def project_copy(written, tmp_path):
    def get(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(written(name)[0], dest)
        return dest

    return get


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


# ---- detection ---------------------------------------------------------------------------------


def test_a_written_project_is_recognised_with_its_settings(written):
    prj = open_project(written('stream')[0])
    assert (prj.name, prj.io_type, prj.backend) == ('other', 'io_stream', 'Vivado')
    assert prj.top_file == 'firmware/other.cpp' and prj.sources().top_cpp.startswith('#include')
    assert is_project(prj.path)


@pytest.mark.parametrize('missing', ['hls4ml_config.yml', 'firmware/myproject.cpp', 'myproject_bridge.cpp',
                                     'firmware/parameters.h', 'firmware/defines.h', 'firmware/nnet_utils'])
def test_one_rule_names_what_is_missing(project_copy, missing):
    path = project_copy('dm2')
    target = path / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(NotAProject, match='not an hls4ml project') as info:
        open_project(path)
    assert missing.split('/')[-1] in info.value.message
    assert not is_project(path)


def test_a_damaged_config_or_a_file_is_not_a_project(project_copy, tmp_path):
    path = project_copy('dm2')
    (path / 'hls4ml_config.yml').write_text('ProjectName: [unclosed\n')
    with pytest.raises(NotAProject, match='cannot be read'):
        open_project(path)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(NotAProject, match='not a folder'):
        open_project(tmp_path / 'file')


# ---- the top function ---------------------------------------------------------------------------


def test_the_top_function_calls_in_order_named_by_their_trace_calls(written):
    path, hls_model = written('dm2')
    top = read_top_file(path / 'firmware', 'myproject')
    traced = [layer.name for layer in hls_model.get_layers() if layer.get_attr('function_cpp', None)]
    assert [c.layer for c in top.kernels()] == traced == ['dw', 'act']
    dw = top.kernels()[0]
    assert (dw.function, dw.namespace, dw.type_args[-1]) == ('depthwise_conv_2d_cl', '', 'config2')
    assert dw.args == ['inp', 'layer2_out', 'w2', 'b2'] and dw.outputs == ('layer2_out',) and dw.one_line
    assert top.traces == {'layer2_out': 'dw', 'layer4_out': 'act'}
    assert {a: (w.type, w.size, w.file) for a, w in top.loads.items()} == {
        'w2': ('dw_weight_t', '72', 'w2.txt'), 'b2': ('dw_bias_t', '8', 'b2.txt')}
    assert top.arguments == ['inp', 'layer4_out'] and top.io_type == 'io_parallel'
    assert read_top_file(written('stream')[0] / 'firmware', 'other').io_type == 'io_stream'


def test_without_trace_calls_or_comments_a_call_is_still_found(written):
    text = (written('dm2')[0] / 'firmware' / 'myproject.cpp').read_text()
    untraced = re.sub(r'#ifndef __SYNTHESIS__\n\s*nnet::save_layer_output[^\n]*\n#endif\n', '', text)
    assert [c.layer for c in read_top(untraced, 'myproject').kernels()] == ['dw', 'act']  # hls4ml's comments
    bare = re.sub(r'; // \w+', ';', text)
    assert [c.layer for c in read_top(bare, 'myproject').kernels()] == ['dw', 'act']  # the trace calls
    split = text.replace('(inp, layer2_out, w2, b2);', '(inp, layer2_out,\n        w2, b2);')
    call = read_top(split, 'myproject').kernels()[0]
    assert call.args == ['inp', 'layer2_out', 'w2', 'b2'] and not call.one_line


def test_the_emulation_the_patcher_and_the_split_read_the_same_calls(written):
    path = written('dm2')[0]
    text = (path / 'firmware' / 'myproject.cpp').read_text()
    top = read_top(text, 'myproject')
    program = read_program(path / 'firmware')
    assert [(c.function, c.type_args, c.args, c.layer) for c in program.calls] == \
        [(c.function, c.type_args, c.args, c.layer) for c in top.kernels()]
    prj = open_project(path)
    layers = patcher.depthwise_layers(prj, text, (path / 'firmware' / 'parameters.h').read_text())
    assert [(layer.name, layer.call) for layer in layers] == [('dw', top.kernels()[0])]
    units = split_top(text, 'myproject')
    assert units is not None
    defined = ''.join(units)
    for call in top.calls:  # every call is defined behind a thunk, its callee verbatim
        assert defined.count(f'{{ {call.callee}(static_cast<A&&>(a)...); }}') == 1


def test_a_patched_call_is_the_patchers_and_not_the_emulations(project_copy):
    path = project_copy('dm2')
    patcher.apply(patcher.plan(path))
    top = read_top_file(path / 'firmware', 'myproject')
    dw = top.kernels()[0]
    assert (dw.namespace, dw.function, dw.layer) == ('hlsdiff', 'depthwise_conv_2d_cl', 'dw')
    assert [c.layer for c in read_program(path / 'firmware').calls] == ['act']


# ---- headers and weights --------------------------------------------------------------------------


def test_config_structs_typedefs_and_weights_as_the_compiler_reads_them(written):
    firmware = written('dm2')[0] / 'firmware'
    headers = read_headers(firmware)
    config = headers.structs['config2']
    values = config.values()
    assert (values['n_chan'], values['n_filt'], values['kernel_size'], values['strategy']) == (4, 8, 9, 'latency')
    assert values['multiplier_limit'] == 9 * 4 * 8  # DIV_ROUNDUP(kernel_size * n_chan * n_filt, 1) - 0
    assert config.typedefs['weight_t'] == 'dw_weight_t' and headers.resolve('dw_weight_t') == 'ap_fixed<16,6>'
    assert headers.resolve(config.typedefs['mult_config']) == 'config2_mult'
    txt = read_weights(firmware, 'w2.txt')
    synthesis = re.search(r'w2\[72\] = \{([^}]*)\}', (firmware / 'weights' / 'w2.h').read_text()).group(1)
    assert txt.size == 72 and np.array_equal(txt, np.array([float(v) for v in synthesis.split(',')]))


# ---- trace insertion --------------------------------------------------------------------------------


@pytest.mark.parametrize('name', ['dm2', 'stream'])
def test_trace_calls_added_where_hls4ml_writes_them(written, project_copy, name):
    original, hls_model = written(name)
    path = project_copy(name)
    prj = open_project(path)
    top, bridge = path / prj.top_file, path / writer.bridge_file(prj.name)
    top.write_text(re.sub(r'#ifndef __SYNTHESIS__\n\s*nnet::save_layer_output[^\n]*\n#endif\n', '', top.read_text()))
    bridge.write_text(re.sub(r'[^\n]*trace_outputs->insert[^\n]*\n', '', bridge.read_text()))
    sources, added = traced_sources(prj, hls_model)
    assert added
    assert sources.top_cpp == (original / prj.top_file).read_text()  # as hls4ml writes them, byte for byte
    assert sources.bridge_cpp == (original / writer.bridge_file(prj.name)).read_text()
    assert 'save_layer_output' not in top.read_text()  # in memory only
    assert traced_sources(open_project(original), hls_model)[1] is False


# ---- patcher.plan --------------------------------------------------------------------------------------


def test_plan_routes_a_depth_multiplier_through_the_corrected_kernel_and_writes_nothing(written):
    path = written('dm2')[0]
    before = _digest(path)
    plan = patcher.plan(path)
    assert [(f.layer, f.defect) for f in plan.fixes] == [('dw', 'depth-multiplier')]
    assert sorted(plan.changes) == ['firmware/myproject.cpp', f'firmware/nnet_utils/{patcher.KERNEL_NAME}']
    top = plan.changes['firmware/myproject.cpp']
    assert 'nnet::hlsdiff::depthwise_conv_2d_cl<input_t, dw_result_t, config2>(inp, layer2_out, w2, b2);' in top
    assert f'#include "parameters.h"\n{patcher.INCLUDE_LINE}\n' in top
    assert plan.originals[f'firmware/nnet_utils/{patcher.KERNEL_NAME}'] is None
    assert _digest(path) == before


@pytest.mark.parametrize('name, fixes', [('resource', [('dw', 'resource-strategy')]), ('stream', [])])
def test_plan_names_resource_strategy_only_in_io_parallel(written, name, fixes):
    plan = patcher.plan(written(name)[0])
    assert [(f.layer, f.defect) for f in plan.fixes] == fixes
    assert bool(plan.changes) == bool(fixes)


def test_plan_keeps_the_diagonal_of_broadcast_weights(written):
    path = written('bn')[0]
    stock = read_weights(path / 'firmware', 'w2.txt')
    assert stock.size == 9 * 3 * 3
    plan = patcher.plan(path)
    assert [(f.layer, f.defect) for f in plan.fixes] == [('dw', 'bn-broadcast')]
    fixed = writer.weights_values(plan.changes['firmware/weights/w2.txt'])
    np.testing.assert_allclose(fixed, stock.reshape(9, 3, 3)[:, [0, 1, 2], [0, 1, 2]].reshape(-1), atol=1e-9)
    assert 'load_weights_from_txt<dw_weight_t, 27>(w2' in plan.changes['firmware/myproject.cpp']
    assert 'w2[27]' in plan.changes['firmware/weights/w2.h']


def test_plan_widens_a_weight_type_that_po2_weights_overflow(written):
    path = written('po2')[0]
    plan = patcher.plan(path)
    assert [(f.layer, f.defect) for f in plan.fixes] == [('dw', 'po2-weights')] * 2
    config = read_headers(path / 'firmware').structs['config2']
    weight_t, accum_t = config.typedefs['weight_t'], config.typedefs['accum_t']
    old = read_headers(path / 'firmware').typedefs
    new = writer.typedefs(plan.changes['firmware/defines.h'])
    values = read_weights(path / 'firmware', 'w2.txt')
    t = parse_type(new[weight_t])
    assert t is not None and t.min <= values.min() and values.max() <= t.max  # they fit now
    old_w, new_acc, old_acc = parse_type(old[weight_t]), parse_type(new[accum_t]), parse_type(old[accum_t])
    assert not (old_w.min <= values.min() and values.max() <= old_w.max)  # they did not
    assert new_acc.integer - old_acc.integer == t.integer - old_w.integer > 0


def test_apply_is_idempotent_and_revert_byte_for_byte(project_copy):
    path = project_copy('bn')
    before = _digest(path)
    written_files = patcher.apply(patcher.plan(path))
    assert 'firmware/weights/w2.txt' in written_files
    again = patcher.plan(path)
    assert not again.changes and not again.fixes
    patcher.revert(path)
    assert _digest(path) == before


def test_an_unknown_layout_is_refused(project_copy):
    path = project_copy('dm2')
    kernel = path / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d_latency.h'
    kernel.write_text(kernel.read_text().replace('only a depth multiplier of 1', 'any depth multiplier'))
    with pytest.raises(NotAProject, match='not the hls4ml 1.3.0 layout'):
        patcher.plan(path)


def test_the_writer_is_chosen_in_one_place_and_the_package_depends_on_nothing_above_it():
    import ast

    package = Path(__file__).resolve().parents[1] / 'hlsdiff'
    named, above = [], []
    for p in package.rglob('*.py'):
        rel = str(p.relative_to(package))
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('hlsdiff'):
                modules = [f'{node.module}.{a.name}' for a in node.names] + [node.module or '']
                if any(m.endswith('hls4ml_1_3') for m in modules) and rel != 'project/adapter.py':
                    named.append(rel)
                # besides itself: leaves that import nothing of hlsdiff but errors (the backends' names, FixedType)
                if rel.startswith('project/') and not all(m.startswith(('hlsdiff.project', 'hlsdiff.errors',
                                                                        'hlsdiff.writable', 'hlsdiff.backends',
                                                                        'hlsdiff.fixedpoint')) for m in modules):
                    above.append(f'{rel}: {node.module}')
    assert not named and not above, (named, above)


def test_a_keras3_projects_config_is_read_with_its_model_tag():
    """hls4ml writes a Keras 3 model into hls4ml_config.yml as `!keras_model <path>` (--output-dir keeps the model
    in it): the project is still read, the model as None."""
    from hlsdiff.project.hls4ml_1_3 import read_config

    text = 'KerasModel: !keras_model /prj/keras_model.keras\nIOType: io_parallel\nProjectName: myproject\n'
    assert read_config(text) == {'KerasModel': None, 'IOType': 'io_parallel', 'ProjectName': 'myproject'}
