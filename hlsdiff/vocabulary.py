"""The words of the report (docs/vocabulary.md), as types the code shares.

The diagnosis sets them, the gate and the reports read them, the JSON carries them: one
definition, so that a typo is a test failure (tests/test_vocabulary.py), not a silent new word.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal['ok', 'noise', 'mismatch', 'not-compared']
Cause = Literal['none', 'rounding', 'input-quantization', 'overflow-wrap', 'saturation', 'accumulator', 'table-range',
                'propagated', 'kernel-defect', 'generator-defect', 'kernel-abort', 'unsupported-attribute',
                'shape-mismatch', 'weights', 'unexplained', 'unknown']
PatternKind = Literal['none', 'all-channels', 'most-channels', 'alternating', 'strided', 'block', 'few-channels', 'dead-channels',
                      'passthrough', 'permuted', 'per-channel-scale', 'per-channel-offset', 'spatial', 'shape']
EmulationStatus = Literal['bit-exact', 'differs', 'not-emulated']
Evidence = Literal['emulation', 'heuristic']
Verdict = Literal['pass', 'fail', 'error']
# where an hls4ml layer comes from: the data, a framework layer of its name, an activation hls4ml split off a
# layer, the scale hls4ml factored out of a quantized layer (ApplyAlpha), or a layer hls4ml inserted (Clone,
# ZeroPadding, Transpose, a linear activation)
Origin = Literal['input', 'model', 'split', 'alpha', 'inserted']

STATUSES: tuple[str, ...] = get_args(Status)
CAUSES: tuple[str, ...] = get_args(Cause)
PATTERNS: tuple[str, ...] = get_args(PatternKind)
EMULATION_STATUSES: tuple[str, ...] = get_args(EmulationStatus)
EVIDENCE: tuple[str, ...] = get_args(Evidence)
