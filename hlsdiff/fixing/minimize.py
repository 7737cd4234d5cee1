"""`fix --minimize`: the widened types (or every layer's) shrunk, bit by bit, while the gate holds, each
candidate measured by the real C-simulation, within --budget."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hlsdiff.errors import SimulationFailed
from hlsdiff.fixedpoint import FixedType, parse_type
from hlsdiff.fixing.changes import Change
from hlsdiff.remedy import Remedy, put

if TYPE_CHECKING:
    from hlsdiff.request import FixRequest
    from hlsdiff.result import CompareResult

Simulate = Callable[[dict], 'CompareResult']  # one real C-simulation of a config, its gates applied


def minimize(request: FixRequest, config: dict, changes: list[Change], best: CompareResult,
             simulate: Simulate) -> tuple[dict, CompareResult]:
    """The smallest config found that still passes, and its compare."""
    started = time.perf_counter()
    for change in _targets(config, changes, request.minimize == 'all'):
        t = parse_type(change.after)
        if t is None:
            continue
        for step in ('integer', 'fractional'):
            while time.perf_counter() - started < request.budget:
                smaller = (FixedType(t.width - 1, t.integer - 1, t.signed, t.rounding, t.saturation) if step == 'integer'
                           else FixedType(t.width - 1, t.integer, t.signed, t.rounding, t.saturation))
                if smaller.width < 2 or (step == 'fractional' and smaller.fractional < 0):
                    break
                trial = copy.deepcopy(config)
                put(trial, change.layer, change.key, str(smaller))
                try:
                    result = simulate(trial)
                except SimulationFailed:
                    break
                if result.verdict != 'pass':
                    break
                config, best, t = trial, result, smaller
                change.after = str(smaller)
    return config, best


def _targets(config: dict, changes: list[Change], every_layer: bool) -> list[Change]:
    """The types to shrink: the kept Precision changes, and with `all` every other layer's typed Precision entry."""
    targets = [c for c in changes if c.status != 'reverted' and c.key.startswith('Precision.')]
    if every_layer:
        for layer, entry in (config.get('LayerName') or {}).items():
            for key, value in ((entry or {}).get('Precision') or {}).items():
                if parse_type(str(value)) and not any(c.layer == layer and c.key == f'Precision.{key}' for c in targets):
                    same = Remedy(layer, f'Precision.{key}', str(value), str(value), 'minimize all', evidence='emulation')
                    targets.append(Change.of(same, layer))
    return targets
