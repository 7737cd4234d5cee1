"""The backends hlsdiff takes (hlsdiff/backends.py) and their seam (hlsdiff/project/backend.py). Fast: no g++,
no framework, no hls4ml."""

from __future__ import annotations

import shutil

import pytest

from hlsdiff import backends
from hlsdiff.demo import DATA, MODEL
from hlsdiff.errors import BadInput, NotAProject
from hlsdiff.request import conversion_options


@pytest.mark.parametrize('name, tool', [('oneAPI', 'icpx'), ('Libero', 'shls'), ('oneapi', 'icpx')])
def test_a_backend_whose_tool_is_missing_is_one_line_and_exit_2_before_any_work(hlsdiff, tmp_path, name, tool):
    if shutil.which(tool):
        pytest.skip(f'{tool} is on this machine')
    for command in ('compare', 'fix', 'demo'):
        args = [command, MODEL, DATA] if command != 'demo' else [command]
        run = hlsdiff(*args, '--backend', name, '--output-dir', tmp_path / command, code=2)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert f'`{tool}`' in lines[0] and 'was not found' in lines[0] and 'Traceback' not in run.stderr
        assert not (tmp_path / command).exists()  # nothing converted, nothing written
        assert run.json is None


def test_the_api_and_every_entry_point_check_the_backend_through_the_request():
    if shutil.which('icpx'):
        pytest.skip('icpx is on this machine')
    with pytest.raises(BadInput, match='`icpx`'):
        conversion_options({'backend': 'oneAPI'})
    assert conversion_options({'backend': 'vitis'}).backend == 'Vitis'
    assert conversion_options({}).backend == backends.DEFAULT


def test_strategies_are_spelt_as_hls4ml_reads_them():
    # hls4ml 1.3.0 compares `distributed_arithmetic` case-sensitively: capitalising it would turn it off
    assert conversion_options({'strategy': 'DISTRIBUTED_ARITHMETIC'}).strategy == 'distributed_arithmetic'
    assert conversion_options({'strategy': 'latency'}).strategy == 'Latency'
    with pytest.raises(BadInput, match='--strategy'):
        backends.strategy('unrolled-ish')


def test_the_cli_lists_the_one_table(hlsdiff):
    out = hlsdiff('compare', '--help', code=0).stdout.lower()
    for name in (*backends.NAMES, *backends.STRATEGIES):
        assert name.lower() in out


def test_every_compared_backend_has_its_family_and_no_other():
    from hlsdiff.project.backend import FAMILIES, VIVADO, backend_for

    assert set(backends.COMPARED) <= set(FAMILIES)
    assert backend_for('vitis') is VIVADO and backend_for(None) is VIVADO
    assert backend_for('quartus').family == 'Quartus' and backend_for('catapult').family == 'Catapult'
    with pytest.raises(NotAProject, match='oneAPI project'):
        backend_for('oneAPI')


def test_the_quartus_family_reads_ac_types_and_builds_with_the_headers_hls4ml_ships(tmp_path):
    from hlsdiff.fixedpoint import FixedType
    from hlsdiff.project.backend import QUARTUS

    assert QUARTUS.include_dirs(tmp_path)[0] == tmp_path / 'firmware' / 'ac_types'
    assert QUARTUS.precompiled == ()  # the precompiled header holds ap_types
    assert QUARTUS.parse_type('ac_fixed<16,6,true,AC_RND,AC_SAT>') == FixedType(16, 6, True, 'RND', 'SAT')
    assert QUARTUS.parse_type('ap_fixed<16,6>') is None


def test_a_softmax_input_too_wide_for_ac_math_is_named_with_the_integer_bits_it_takes():
    from hlsdiff.csim.explain import softmax_pwl_integer_bits

    # ac_softmax_pwl.h: int(1.443 * 2**(I - S)) + 1 <= 64
    for signed in (True, False):
        limit = softmax_pwl_integer_bits(signed)
        assert int(1.443 * 2 ** (limit - signed)) + 1 <= 64 < int(1.443 * 2 ** (limit + 1 - signed)) + 1


def test_the_vivado_family_holds_what_the_build_and_the_type_reader_ask(tmp_path):
    from hlsdiff.csim import pch
    from hlsdiff.fixedpoint import FixedType
    from hlsdiff.project.backend import VIVADO

    assert VIVADO.include_dirs(tmp_path) == [tmp_path / 'firmware' / 'ap_types', tmp_path / 'firmware', tmp_path]
    assert VIVADO.parse_type('ap_fixed<16,6,AP_RND,AP_SAT>') == FixedType(16, 6, True, 'RND', 'SAT')
    assert VIVADO.parse_type('ap_ufixed<8,0>') == FixedType(8, 0, False)
    # the precompiled header is made of the Vivado family's type headers: Vitis gets them, another family none
    headers = pch.template_headers('Vitis')
    assert headers is not None and {f'ap_types/{h}' for h in VIVADO.precompiled} <= set(headers)
    assert pch.template_headers('Quartus') is None and pch.template_headers('oneAPI') is None


def test_patch_is_vivado_only_and_says_so_before_any_work(hlsdiff, tmp_path):
    run = hlsdiff('compare', MODEL, DATA, '--backend', 'Quartus', '--patch', '--output-dir', tmp_path / 'out', code=2)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Vivado/Vitis projects only' in lines[0] and 'Quartus' in lines[0], run.stderr
    assert not (tmp_path / 'out').exists()
