"""emulate/links.py: a layer the project has no call for, told from one hls4ml removes or makes a no-op."""

from __future__ import annotations

from pathlib import Path

from hlsdiff.emulate import Emulator
from hlsdiff.emulate.links import missing_calls
from hlsdiff.emulate.program import Call, Program
from hlsdiff.layers import HlsAttrs, LayerInfo


def _info(name: str, index: int, inputs: tuple[str, ...] = (), kind: str = 'Dense') -> LayerInfo:
    return LayerInfo(name, kind, inputs, keras=name, keras_class=kind, hls=HlsAttrs(index=index))


def _emulator(calls: list[Call], top: list[str], aliases: dict | None = None) -> Emulator:
    producer = {call.args[1]: i for i, call in enumerate(calls)}
    program = Program(Path('.'), calls, {}, {}, {'w3': ('t', 'w3.txt'), 'b3': ('t', 'b3.txt')}, {}, top, producer,
                      aliases or {})
    return Emulator(program, {}, {})


def test_a_layer_with_no_call_whose_output_nothing_writes():
    """inp -> rnn (no call) -> fc: fc reads layer2_out, which no call writes."""
    calls = [Call('dense', ['layer2_t', 'result_t', 'config3'], ['layer2_out', 'layer3_out', 'w3', 'b3'], 'fc')]
    infos = [_info('inp', 1, kind='InputLayer'), _info('rnn', 2, ('inp',), 'SimpleRNN'), _info('fc', 3, ('rnn',))]
    found = missing_calls(_emulator(calls, ['inp']), infos)
    assert list(found) == ['rnn'] and found['rnn'].generator_defect
    (difference,) = found['rnn'].differences
    assert difference.what == 'function' and difference.name == 'rnn'
    assert difference.detail == ('hls4ml wrote no call for SimpleRNN rnn: nothing in the project computes it, and fc '
                                 'reads its output layer2_out, which no call writes')


def test_the_last_layer_with_no_call_leaves_the_output_unwritten():
    calls = [Call('dense', ['input_t', 'layer2_t', 'config2'], ['inp', 'layer2_out', 'w3', 'b3'], 'fc0')]
    infos = [_info('inp', 1, kind='InputLayer'), _info('fc0', 2, ('inp',)), _info('rnn', 3, ('fc0',), 'SimpleRNN')]
    found = missing_calls(_emulator(calls, ['inp', 'layer3_out']), infos)
    assert 'the top function returns its output layer3_out, which no call writes' in found['rnn'].differences[0].detail


def test_a_removed_or_no_op_layer_is_not_missing():
    """A Flatten hls4ml makes an alias of the array before it (no call, its array written), and a Dropout it removes
    (no hls4ml layer at all): nothing is claimed."""
    calls = [Call('conv_1d_cl', ['input_t', 'layer2_t', 'config2'], ['inp', 'layer2_out', 'w3', 'b3'], 'conv'),
             Call('dense', ['layer2_t', 'result_t', 'config4'], ['layer3_out', 'layer4_out', 'w3', 'b3'], 'fc')]
    infos = [_info('inp', 1, kind='InputLayer'), _info('conv', 2, ('inp',), 'Conv1D'),
             _info('flat', 3, ('conv',), 'Reshape'), _info('fc', 4, ('flat',))]
    assert missing_calls(_emulator(calls, ['inp'], {'layer3_out': 'layer2_out'}), infos) == {}


def test_a_flatten_after_a_layer_with_no_call_is_not_blamed():
    calls = [Call('dense', ['layer2_t', 'result_t', 'config4'], ['layer3_out', 'layer4_out', 'w3', 'b3'], 'fc')]
    infos = [_info('inp', 1, kind='InputLayer'), _info('rnn', 2, ('inp',), 'SimpleRNN'),
             _info('flat', 3, ('rnn',), 'Reshape'), _info('fc', 4, ('flat',))]
    found = missing_calls(_emulator(calls, ['inp'], {'layer3_out': 'layer2_out'}), infos)
    assert list(found) == ['rnn'] and 'fc reads its output layer2_out' in found['rnn'].differences[0].detail


def test_no_emulator_no_finding():
    assert missing_calls(None, [_info('inp', 1, kind='InputLayer')]) == {}
