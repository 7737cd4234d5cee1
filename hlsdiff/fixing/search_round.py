"""One round of `fix`'s search, and its confirmation by the next round's C-simulation.

The search (search.py) tries config changes by prediction (predict.py) and the changes it finds are
applied; the next C-simulation measures them: predicted vs measured per changed layer and per output (a
miss beyond the tolerance is an emulation bug, said so), and the changes are kept only if the outputs
came closer to the framework (or the gate holds), else taken back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hlsdiff.fixing.changes import Change, FixState, own_error
from hlsdiff.remedy import put

if TYPE_CHECKING:
    from hlsdiff.gate import Gates
    from hlsdiff.layers import Collected
    from hlsdiff.result import CompareResult
    from hlsdiff.search import Space


@dataclass(frozen=True)
class Measured:
    """One round's C-simulation: the round's number, the compare's result and the arrays behind it."""

    round: int
    result: CompareResult
    collected: Collected | None


@dataclass(frozen=True)
class SearchLimits:
    """What the search is held to: the user's gate, whether an argmax-only output may pass, the seconds left."""

    gates: Gates
    allow_argmax: bool
    budget: float


def space(measured: Measured, gates: Gates, allow_argmax: bool) -> Space:
    from hlsdiff.search import Space

    result, collected = measured.result, measured.collected
    assert collected is not None
    expected = {name: a.expected for name, a in collected.arrays.items() if a.expected is not None}
    return Space({i.name: i.inputs for i in collected.layers}, {i.name: i.class_name for i in collected.layers},
                 expected, gates, (result.onset or {}).get('layer'), allow_argmax)


def measured_distance(result: CompareResult, ranges: dict[str, float]) -> float:
    """The measured counterpart of search.distance (outputs only): how far the C-simulation is from Keras."""
    return sum(o['max_abs'] / max(ranges.get(o['name'], 1.0), 1e-9)
               + (1 - (o['top1_agreement'] if o['top1_agreement'] is not None else 1)) for o in result.outputs)


def search_round(state: FixState, measured: Measured, settings: dict, limits: SearchLimits) -> bool:
    """Search by prediction; apply what it found. False when it found nothing (or cannot predict)."""
    from hlsdiff.search import search
    from hlsdiff.whatif import make_predictor

    result, rnd = measured.result, measured.round
    if state.predictor is not None:  # made again on this round's compare: its wrong samples are the ones to predict
        state.predictor.close()
    state.predictor = predictor = make_predictor(state.loaded, measured.collected, settings)
    found = search(predictor.predict, state.config, space(measured, limits.gates, limits.allow_argmax), limits.budget)
    state.what_ifs += found.evaluated
    state.found = found
    if state.distance is None:
        state.distance = measured_distance(result, {o.name: o.value_range for o in found.prediction.outputs})
    if not found.remedies and not found.base.complete:
        missing = ', '.join(f'{k} ({v})' for k, v in list(found.base.not_emulated.items())[:3])
        state.notes.append(f'round {rnd}: the prediction cannot reach the outputs (not emulated: {missing}); '
                           'the compare\'s own remedies are confirmed with the C-simulation instead')
        return False
    if not found.remedies:
        state.notes.append(f'round {rnd}: {found.note}')
        return False
    if found.note:  # changes that bring the outputs closer, the gate not met by prediction
        state.notes.append(f'round {rnd}: {found.note}; the changes that came closest are confirmed')
    for r in found.remedies:
        change = Change.of(r, r.layer, round=rnd, config_before=r.before)
        pred_layer = found.prediction.layers.get(r.layer)
        change.predicted_max_abs = pred_layer.max_abs if pred_layer is not None else None
        layer = next((layer for layer in result.layers if layer.name == r.layer), None)
        change.own_error_before = own_error(layer) if layer is not None else None
        state.apply(change, r.after)
    return True


def confirm(state: FixState, result: CompareResult, rnd: int) -> bool:
    """The C-simulation after last round's changes: predicted vs measured per changed layer and per
    output; a miss beyond the tolerance is an emulation bug, said so; the changes are kept only if
    the outputs came closer to Keras (or the gate holds), else taken back. True when they were taken back."""
    found, state.found = state.found, None
    last = [c for c in state.changes if c.round == rnd - 1 and c.status == 'applied']
    if found is None:
        return False
    measured = measured_distance(result, {o.name: o.value_range for o in found.prediction.outputs})
    covered = (found.prediction.samples or result.samples, result.samples)
    if last:
        by_layer = {layer.name: layer for layer in result.layers}
        for o in found.prediction.outputs:
            got = next((m for m in result.outputs if m['name'] == o.name), None)
            if got is not None:
                record(state, rnd, f'output {o.name}', (o.max_abs, got['max_abs'], o.lsb), covered)
        for c in last:
            layer = by_layer.get(c.layer)
            c.measured_max_abs = layer.max_abs if layer is not None else None
            c.own_error_after = own_error(layer) if layer is not None else None
            pl = found.prediction.layers.get(c.layer)
            if layer is not None and layer.max_abs is not None and pl is not None and c.predicted_max_abs is not None:
                lsb = pl.max_abs / pl.max_lsb if pl.max_lsb else 0.0
                record(state, rnd, f'layer {c.layer}', (c.predicted_max_abs, layer.max_abs, lsb), covered)
    helped = result.verdict == 'pass' or state.distance is None or measured < state.distance
    for c in last:
        if c.evidence != 'prediction':
            continue
        c.verified = True
        c.status = 'kept' if helped else 'reverted'
        if not helped:
            put(state.config, c.layer, c.key, c.config_before)  # as it was (None: removed)
    if helped or not last:
        state.distance = measured
    return not helped and bool(last)


def record(state: FixState, rnd: int, what: str, figures: tuple[float, float, float], covered: tuple[int, int]) -> None:
    """One predicted-vs-measured row (once per round and part): `figures` (predicted, measured, lsb) on `covered`
    (samples predicted, samples measured). On the same samples a miss beyond the tolerance is an emulation bug.
    A prediction on fewer samples (the compare's kept rows of a streamed run) is a maximum over a subset: the
    measurement can only be larger, so only a measurement below it is a miss."""
    from hlsdiff.predict import within_tolerance

    predicted, measured, lsb = figures
    if any(r['round'] == rnd and r['what'] == what for r in state.confirmed):
        return
    ok = bool(within_tolerance(predicted, measured, lsb)) or (covered[0] < covered[1] and measured >= predicted)
    state.confirmed.append({'round': rnd, 'what': what, 'predicted_max_abs': predicted, 'measured_max_abs': measured,
                            'lsb': lsb, 'within_tolerance': ok, 'predicted_samples': covered[0],
                            'measured_samples': covered[1]})
    if not ok:
        state.emulation_bugs.append(f'{what}: predicted max abs {predicted:.6g}, the C-simulation measured '
                                    f'{measured:.6g} (tolerance 10% or 1 LSB = {lsb:g}): a bug in the emulation')
