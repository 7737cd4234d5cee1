"""The note that points from one layer's precision hint to `hlsdiff fix` (pure: results in, a note out)."""

from __future__ import annotations

from hlsdiff.diagnosis.advice import next_step
from hlsdiff.result import CompareResult, LayerResult


def _result(onset_cause: str, top1: float | None, evidence: str = 'emulation') -> CompareResult:
    layers = [LayerResult('conv', 'conv', 'Conv2D', 'ap_fixed<8,3>', [4], 'mismatch', cause=onset_cause),
              LayerResult('fc', 'fc', 'Dense', 'ap_fixed<8,3>', [3], 'mismatch', cause='weights'),
              LayerResult('out', 'out', 'Softmax', 'ap_fixed<8,3>', [3], 'mismatch', cause='propagated')]
    return CompareResult('m', 'io_parallel', 'Vivado', 4, layers,
                         onset={'layer': 'conv', 'cause': onset_cause, 'pattern': 'none', 'evidence': evidence},
                         outputs=[{'name': 'out', 'top1_agreement': top1, 'max_abs': 0.2, 'mean_abs': 0.1}])


def test_a_precision_onset_with_outputs_off_points_to_fix_and_names_the_sources():
    note = next_step(_result('weights', 0.25))
    assert note is not None and 'hlsdiff fix' in note
    assert '2 layer(s)' in note and 'conv, fc' in note and 'top-1 25%' in note


def test_no_note_when_the_outputs_agree_or_the_onset_is_a_defect_or_a_heuristic():
    assert next_step(_result('weights', 1.0)) is None
    assert next_step(_result('generator-defect', 0.0)) is None
    assert next_step(_result('weights', 0.0, evidence='heuristic')) is None


def test_an_output_without_top1_is_judged_by_its_status():
    result = _result('accumulator', None)
    assert next_step(result) is not None
    result.layers[-1].status = 'noise'
    assert next_step(result) is None
