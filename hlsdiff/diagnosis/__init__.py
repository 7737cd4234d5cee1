"""From arrays to a verdict: status per layer, the onset layer, pattern, cause and hint.

The central idea: for every layer there are two errors.
- the *end-to-end* error, C-simulation vs Keras, which decides the status;
- the *own* error, C-simulation vs Keras's layer re-run on the C-simulation's inputs of
  that layer, which says whether the layer adds an error itself or only passes one on.
The onset is found from the first mismatched layer (topological order): the earliest layer
at or before it that adds a significant error of its own; when none does (small quantization
steps that quantized activations grow into a mismatch), the one that adds the largest share
relative to its signal. Layers after a source that add nothing are `propagated`; a later
layer that adds a significant error of its own keeps its own cause.
Pure functions: no I/O, no printing, no hls4ml or Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hlsdiff.diagnosis import causes, patterns
from hlsdiff.diagnosis.links import generator_defect
from hlsdiff.diff import (
    NOISE_FRACTION,
    WRONG_LISTED,
    OutputAccumulator,
    Stats,
    classifier_kind,
    diff,
    element_tolerance,
    scale_of,
    status_of,
)
from hlsdiff.fixedpoint import parse_type
from hlsdiff.layers import Collected, LayerArrays, LayerInfo
from hlsdiff.remedy import Remedy
from hlsdiff.result import CompareResult, LayerResult
from hlsdiff.rounding import FIRST_INDICES
from hlsdiff.vocabulary import Evidence


@dataclass
class _Analysis:
    """What the stages of `analyse` share: the layers' results and their own errors."""
    collected: Collected
    infos: dict[str, LayerInfo]
    order: list[str]
    results: dict[str, LayerResult]
    own_share: dict[str, float]
    own_significant: dict[str, bool]
    ancestors: dict[str, set[str]]
    wrong: dict[str, set[int]] = field(default_factory=dict)  # samples wrong beyond rounding at each layer
    defects: list[str] = field(default_factory=list)  # the C-simulation differs from the project's emulation
    generated: list[str] = field(default_factory=list)  # hls4ml wrote something other than the framework's layer


def analyse(collected: Collected, headroom: int = 1) -> CompareResult:
    """`headroom`: integer bits added above the observed range in the types a hint proposes."""
    state = _measure(collected)
    _attach_proofs(state)
    _bit_exact_findings(state)
    _beyond_rounding(state)
    outputs = model_outputs(collected, state.results)
    produced = {o['name'] for o in outputs}
    _demote_to_noise(state, all(o['agree'] for o in outputs) if outputs else False, produced)
    onset = _onset(state)
    _explain_layers(state, onset, headroom)
    onset = _explained_by_rounding(state, onset, all(o['agree'] for o in outputs) if outputs else False, produced)
    _name_range_events(state, headroom)
    onset = _dropped_settings(state, onset)
    if collected.bit_exact:
        collected.notes.append('an HGQ proxy model: it promises its quantizers\' outputs bit for bit, so any '
                               'difference from Keras there (0 LSB) is a mismatch')
    result = CompareResult(
        model=collected.model,
        io_type=collected.io_type,
        backend=collected.backend,
        samples=collected.samples,
        layers=[state.results[n] for n in state.order],
        unmatched_keras=[{'keras': k, 'reason': why} for k, why in collected.unmatched_keras],
        notes=list(collected.notes),
        timings=dict(collected.timings),
    )
    result.outputs = [_with_wrong_samples(o, state) for o in outputs]
    if onset:
        res = state.results[onset]
        em = (collected.emulation or {}).get(onset)
        proven = em is not None and (em.status == 'differs' or res.evidence == 'emulation')
        evidence: Evidence = 'emulation' if proven else 'heuristic'
        res.evidence = evidence
        result.onset = {'layer': onset, 'cause': res.cause, 'pattern': res.pattern['kind'], 'evidence': evidence}
    result.summary = summary_sentence(result)
    return result


def _measure(collected: Collected) -> _Analysis:
    """Every layer's statistics and status, and the share of the error it adds itself."""
    state = _Analysis(collected, {info.name: info for info in collected.layers}, [info.name for info in collected.layers],
                      {}, {}, {}, _ancestors(collected.layers))
    for info in collected.layers:
        arrays = collected.arrays.get(info.name)
        res, share, adds_error = _layer(info, arrays, collected.arrays, (collected.stats or {}).get(info.name))
        state.results[info.name] = res
        state.own_share[info.name] = share
        state.own_significant[info.name] = adds_error
    return state


def _attach_proofs(state: _Analysis) -> None:
    """The emulation's verdicts and the links onto the layers; the layers they prove wrong."""
    emulation = state.collected.emulation or {}
    links = state.collected.links or {}
    for name in state.order:
        em = emulation.get(name)
        if em is not None:
            state.results[name].emulation = em.to_json()
    for name, link in links.items():
        if name in state.results:
            state.results[name].links = link.to_json()
            emulated = state.results[name].emulation
            if link.reason and emulated is not None and not emulated.get('reason'):
                emulated['reason'] = link.reason
    state.defects = [n for n in state.order if emulation.get(n) is not None and emulation[n].status == 'differs']
    # hls4ml wrote something other than the Keras layer: its weights, an attribute, its function
    state.generated = [n for n in state.order if n not in state.defects and n in links and links[n].generator_defect]
    for name in state.defects + state.generated:  # the C-simulation does not compute what the Keras layer says
        state.results[name].status = 'mismatch'
        state.own_significant[name] = True
        state.own_share[name] = max(state.own_share[name], 1.0)


def _bit_exact_findings(state: _Analysis) -> None:
    """An HGQ proxy model: any difference from Keras at a point it promises bit for bit is a finding."""
    if not state.collected.bit_exact:
        return
    for name in state.order:
        res = state.results[name]
        if res.status in ('ok', 'noise') and state.infos[name].bit_exact_point and (res.max_abs or 0.0) > 0.0:
            res.status = 'mismatch'
            state.own_significant[name] = bool(res.local_max_abs) or state.own_significant[name]


def _demote_to_noise(state: _Analysis, outputs_agree: bool, produced: set[str]) -> None:
    """When nothing is proven wrong and the model's outputs agree, the precision errors along the way
    are noise. For an HGQ proxy model, a point it promises bit for bit keeps any difference (its
    accumulators before a quantizer are not such points: their rounding is the types'). A model output
    (`produced`) is the result, not a step along the way: a classifier whose top-1 agrees while more than 1%
    of its values are off by more than 5% of its range keeps its mismatch."""
    results = state.results
    if any(state.wrong.values()):  # a layer is wrong beyond rounding on some samples: those samples count
        return
    if state.defects or state.generated or not outputs_agree:
        return
    # every layer emulated computes what its types say, and the model's outputs agree with the framework:
    # the precision errors along the way do not matter to the result
    for name in state.order:
        promised = state.collected.bit_exact and state.infos[name].bit_exact_point
        if results[name].status == 'mismatch' and not promised and name not in produced:
            results[name].status = 'noise'
            state.own_significant[name] = False


def _explained_by_rounding(state: _Analysis, onset: str | None, outputs_agree: bool, produced: set[str]) -> str | None:
    """A layer whose own error the emulation proves within rounding is not a mismatch: when every mismatch
    left is such a layer or propagated from one, and the outputs agree, they are noise and there is no onset
    (an HGQ accumulator before its quantizer, whose rounding the quantizer takes back). Nothing after a model
    output takes its rounding back: a mismatched output keeps it."""
    mismatched = [n for n in state.order if state.results[n].status == 'mismatch']
    if any(n in produced for n in mismatched):
        return onset
    if not mismatched or not outputs_agree or any(state.wrong.values()) or state.defects or state.generated:
        return onset
    proven = {n for n in mismatched if state.results[n].cause == 'rounding' and state.results[n].evidence == 'emulation'}
    if not proven or any(n not in proven and state.results[n].propagated_from not in proven for n in mismatched):
        return onset
    for name in mismatched:
        state.results[name].status = 'noise'
        state.own_significant[name] = False
    return None


def _beyond_rounding(state: _Analysis) -> None:
    """The per-element rounding check (hlsdiff/rounding.py): a layer with an own error beyond what its types
    explain on any element of any sample is a mismatch that adds an error of its own, however rare; a layer
    after it that differs from the framework on those samples is a mismatch too (propagated)."""
    checks = state.collected.checks or {}
    for name in state.order:
        res, check = state.results[name], checks.get(name)
        inherited: set[int] = set().union(*(state.wrong.get(p, set()) for p in state.infos[name].inputs))
        own = set(check.samples) if check is not None else set()
        if own and _wrapped_as_its_quantizer(state, name):
            state.collected.notes.append(
                f'{name}: the data does not fit the input type on {len(own)} sample(s), and its quantizer, which '
                'gives the input its type, equals the framework bit for bit on every sample: the model\'s own wrap')
            own, check = set(), None
        state.wrong[name] = own | inherited
        res.wrong_samples_count = len(state.wrong[name])
        res.wrong_samples = sorted(state.wrong[name])[:FIRST_INDICES]
        if check is not None:
            res.beyond_rounding, res.rounding_bound_lsb = check.elements, check.bound_lsb
            res.worst_wrong = check.worst.to_json() if check.worst is not None else None
        if res.status == 'not-compared' and not (own and check is not None and check.method == 'inserted'):
            continue
        if own:  # a layer hls4ml inserted is measured against its exact arithmetic (its range-free emulation)
            res.status = 'mismatch'
            state.own_significant[name] = True
            state.own_share[name] = max(state.own_share[name], 1.0)
        elif inherited and res.status == 'noise' and res.mismatched > 0:
            res.status = 'mismatch'


def _wrapped_as_its_quantizer(state: _Analysis, name: str) -> bool:
    """An input of an HGQ proxy model read only by quantizers whose outputs equal the framework's bit for bit on
    every sample: hls4ml gives the input its quantizer's type (HGQ's overrides), so the data wraps or saturates
    in the input where the quantizer does it too, and those exact outputs show it is the model's own arithmetic,
    not an error (the input's difference from the raw data then counts for nothing)."""
    if not state.collected.bit_exact or state.infos[name].inputs:
        return False
    checks = state.collected.checks or {}
    readers = [n for n in state.order if name in state.infos[n].inputs]
    return bool(readers) and all(
        state.infos[n].bit_exact_point and state.results[n].status == 'ok' and state.results[n].max_abs == 0.0
        and not getattr(checks.get(n), 'samples', None) for n in readers)


def _name_range_events(state: _Analysis, headroom: int = 1) -> None:
    """A layer wrong beyond rounding says on how many samples, and how far; where no other cause was proven,
    the kind the element check found (a wrap, a saturation, an accumulator) is its cause."""
    checks = state.collected.checks or {}
    samples = state.collected.samples
    for name in state.order:
        check, res = checks.get(name), state.results[name]
        if check is None or not check.elements:
            continue
        events = f'wrong beyond rounding on {check.describe(samples)}'
        if check.worst is not None and check.worst.kind != 'beyond-bound' and res.cause in _UNPROVEN:
            res.cause = check.worst.kind  # a vocabulary cause
        if check.method == 'inserted' and state.collected.emulator is not None:
            _inserted_remedy(res, state.collected.emulator)
        elif check.method == 'input':
            _input_remedy(res, state.collected.arrays.get(name), headroom)
        res.cause_detail = f'{events}: {res.cause_detail}' if res.cause_detail else events


# causes the element check may replace: nothing specific was proven on the layer
_UNPROVEN = ('none', 'rounding', 'unexplained', 'unknown', 'input-quantization', 'propagated')


def _input_remedy(res: LayerResult, arrays: LayerArrays | None, headroom: int) -> None:
    """An input whose data does not fit its type: the type with the integer bits the data needs (+ headroom),
    shown to hold every sample the diagnosis keeps (the wrong ones first) within one LSB."""
    from hlsdiff.fixedpoint import integer_bits_needed, quantize

    t = parse_type(res.result_type)
    if t is None or arrays is None or arrays.expected is None:
        return
    data = np.asarray(arrays.expected, dtype=np.float64)
    proposed = t.with_integer_bits(max(integer_bits_needed(data, t.signed) + headroom, t.integer + 1))
    error = float(np.max(np.abs(quantize(data, proposed) - data), initial=0.0))
    if error > proposed.lsb * (1 + 1e-9):
        return
    res.evidence = 'emulation'
    res.remedy = Remedy(res.name, 'Precision.result', str(t), str(proposed), 'its data does not fit its type',
                        evidence='emulation', own_error_before=(res.worst_wrong or {}).get('abs'),
                        own_error_after=error, verified=True)
    res.hint = res.remedy.hint()


def _inserted_remedy(res: LayerResult, emulator) -> None:
    """A layer hls4ml inserted that is wrong beyond rounding: the one type of it whose integer bits, widened
    (emulated), give its exact values; the narrowest such type is the hint and the remedy."""
    from hlsdiff.diagnosis.precision import precision_key
    from hlsdiff.rounding import widened_range

    t = parse_type(res.result_type)
    found = widened_range(emulator, res.name, keep_result=t is not None and t.saturation != 'WRAP')
    if found is None:
        res.hint = res.hint or ('No single type of this layer, widened, gives its exact values (emulated): '
                                'compare it by hand (--save-traces)')
        return
    key, before, after, error = found
    res.evidence = 'emulation'
    res.cause_detail = (f'hls4ml inserted this layer; its {key} {before} does not hold its values: with {after} it '
                        f'computes them exactly (emulated, error {error:.4g})')
    res.remedy = Remedy(res.name, precision_key(key), before, after, res.cause_detail, evidence='emulation',
                        own_error_before=(res.worst_wrong or {}).get('abs'), own_error_after=error, verified=True)
    res.hint = res.remedy.hint()


# a top-1 flip where the framework's top class led by at most this many LSB of the output type is a near tie
NEAR_TIE_LSB = 2


def _with_wrong_samples(output: dict, state: _Analysis) -> dict:
    """An output's JSON entry: its figures, and the samples on which it is wrong: a layer it depends on erred
    beyond its types on them, or (a classifier) its top-1 flipped. The flips on near ties are counted apart
    (the framework's top class ahead by at most two LSB of the output's type: what the output's own rounding
    can reorder), for the user to see; the gate counts every flip."""
    entry = {k: v for k, v in output.items() if k != 'agree'}
    res = state.results.get(output['name'])
    t = parse_type(res.result_type) if res is not None else None
    tol = NEAR_TIE_LSB * t.lsb if t is not None else 0.0
    flips = list(zip(output.get('_flipped') or (), output.get('_margins') or ()))
    entry['top1_near_ties'] = sum(1 for _, margin in flips if margin <= tol)
    wrong = set(state.wrong.get(output['name'], set()))
    if output.get('classifier'):
        wrong |= {sample for sample, _ in flips}
    listed = sorted(wrong)
    entry['wrong_samples_count'] = len(listed)
    entry['wrong_samples'] = listed[:WRONG_LISTED]
    return entry


def _onset(state: _Analysis) -> str | None:
    """A layer proven wrong first; else the earliest layer at or before the first mismatch that adds a
    significant error of its own; else the largest contribution relative to its signal."""
    order = state.order
    if state.defects or state.generated:
        return min(state.defects + state.generated, key=order.index)
    mismatched = [n for n in order if state.results[n].status == 'mismatch']
    if not mismatched:
        return None
    first = mismatched[0]
    upstream = [n for n in order if n == first or n in state.ancestors[first]]
    significant = [n for n in upstream if state.own_significant[n]]
    # the earliest layer that adds a real error of its own; a layer whose own error is a
    # few stray elements (status noise) does not hide a later one that ruins the output
    real = [n for n in significant if state.results[n].status == 'mismatch']
    if real:
        return real[0]
    if significant:
        return significant[0]
    # no single layer is wrong by itself: the largest contribution relative to its signal
    contributing = [n for n in upstream if state.own_share[n] > 0]
    return max(contributing, key=lambda n: state.own_share[n]) if contributing else first


def _explain_layers(state: _Analysis, onset: str | None, headroom: int) -> None:
    """Cause, pattern and hint of every layer: proven defects by their proof, the onset and the other
    sources by their evidence, the rest as propagated (or no cause within the noise)."""
    collected, infos = state.collected, state.infos
    emulation = collected.emulation or {}
    sources = [n for n in state.order if state.own_significant[n]]
    for name in state.order:
        res = state.results[name]
        if name in state.defects or name in state.generated or name in (onset, *sources):
            res.introduces_error = True
            _explain(res, infos[name], collected.arrays.get(name), collected.arrays)
        if name in state.defects:
            _kernel_defect(res, emulation[name])
        elif name in state.generated:
            generator_defect(res, (collected.links or {})[name], infos[name].keras_class)
        elif name in (onset, *sources):
            em = emulation.get(name)
            if em is not None and em.status == 'bit-exact' and collected.emulator is not None:
                _precision_cause(res, infos[name], collected.arrays, collected.emulator, headroom)
            elif res.hint and infos[name].class_name != 'Input':
                why = em.reason if em is not None and em.reason else 'the layer is not emulated'
                res.hint += f' (not verified by emulation: {why})'
        elif res.status in ('noise', 'mismatch'):
            origin = next((s for s in ([onset] if onset else []) + sources if s in state.ancestors[name]), None)
            if origin:
                res.cause, res.propagated_from = 'propagated', origin
                res.hint = f'fix {origin} first'
            elif res.status == 'noise':  # within the noise: no cause is claimed
                res.cause = 'none'
            else:
                _explain(res, infos[name], collected.arrays.get(name), collected.arrays)


def _dropped_settings(state: _Analysis, onset: str | None) -> str | None:
    """Static checks: Keras settings that hls4ml drops without a word; such a layer before the onset
    (or after one that adds nothing significant) becomes the onset."""
    order = state.order
    for name in order:
        info = state.infos[name]
        dropped = info.framework.dropped_settings
        if not dropped:
            continue
        res = state.results[name]
        settings = ', '.join(f'{k}={v}' for k, v in dropped.items())
        res.cause, res.propagated_from = 'unsupported-attribute', None
        res.cause_detail = f'hls4ml 1.3.0 ignores {settings} on this layer'
        res.hint = f'Remove {settings} from {info.keras_class} {name}, or express it with layers hls4ml supports'
        if res.status != 'ok' and (onset is None or order.index(name) < order.index(onset)
                                   or onset in state.ancestors[name] and not state.own_significant[onset]):
            onset = name
    return onset


def _layer(info: LayerInfo, arrays: LayerArrays | None, all_arrays,
           streamed: Stats | None = None) -> tuple[LayerResult, float, bool]:
    """`streamed`: the layer's statistics over every sample (a compare of many samples keeps only
    the first ones in memory, for patterns and causes); they decide the figures and the status."""
    res = LayerResult(
        name=info.name,
        keras=info.keras,
        class_name=info.class_name,
        result_type=info.result_type,
        shape=list(info.shape),
        status='not-compared',
        inputs=list(info.inputs),
        mapping_note=info.mapping_note,
        origin=info.origin,
        folded=[f'{part.kind} {part.name}' for part in info.folded],
        accum_type=info.accum_type,
        reason=info.reason,
    )
    if not info.compared or arrays is None or arrays.actual is None or arrays.expected is None:
        if info.compared:
            res.reason = ('the C-simulation produced no trace for this layer' if arrays is None or arrays.actual is None
                          else 'Keras produced no value for this layer')
        return res, 0.0, False
    ftype = parse_type(info.result_type)
    lsb = ftype.lsb if ftype else None
    if arrays.expected.shape != arrays.actual.shape:
        res.status, res.cause = 'mismatch', 'shape-mismatch'
        res.pattern = {'kind': 'shape', 'channels': [], 'period': None}
        res.cause_detail = f'Keras shape {arrays.expected.shape[1:]} vs hls4ml {arrays.actual.shape[1:]}'
        res.hint = 'Check the layer mapping and hls4ml\'s handling of this layer\'s shape'
        return res, 1.0, True
    scale = streamed.scale if streamed is not None else scale_of(arrays.expected, arrays.actual)
    stats = streamed if streamed is not None else diff(arrays.expected, arrays.actual, lsb, scale)
    _fill(res, stats)
    res.status = status_of(stats, lsb)

    # the error this layer adds by itself
    if arrays.local is not None:
        own = diff(arrays.local, arrays.actual, lsb, scale)
        res.local_max_abs, res.local_max_lsb = own.max_abs, own.max_lsb
        share = own.rmse / (float(np.sqrt(np.mean(arrays.expected**2))) or 1.0)
        significant = own.mismatched_fraction > NOISE_FRACTION
    elif not info.inputs:  # an input row: its own error is its whole error
        share = stats.rmse / (float(np.sqrt(np.mean(arrays.expected**2))) or 1.0)
        significant = res.status == 'mismatch'
    else:  # no local view: it adds an error if its inputs are fine and it is not
        inputs_fine = all(all_arrays.get(p) is not None and all_arrays[p].actual is not None
                          and np.allclose(all_arrays[p].actual, all_arrays[p].expected,
                                          atol=element_tolerance(None, scale_of(all_arrays[p].expected, all_arrays[p].actual)))
                          for p in info.inputs)
        significant = res.status == 'mismatch' and inputs_fine
        share = stats.rmse / (float(np.sqrt(np.mean(arrays.expected**2))) or 1.0) if significant else 0.0
    return res, share, significant


def _fill(res: LayerResult, stats: Stats) -> None:
    res.max_abs, res.mean_abs, res.rmse = stats.max_abs, stats.mean_abs, stats.rmse
    res.max_lsb = stats.max_lsb
    res.mismatched_fraction = stats.mismatched_fraction
    res.mismatched, res.total = stats.mismatched, stats.total
    res.per_channel = {'max_abs': list(stats.per_channel_max), 'mean_abs': list(stats.per_channel_mean)}
    res.worst_channels = stats.worst_channels()
    res.worst_index = list(stats.worst_index)
    res.tolerance = stats.tolerance
    res.min_passing_tolerance = stats.max_abs


def _explain(res: LayerResult, info: LayerInfo, arrays: LayerArrays | None, all_arrays) -> None:
    """Pattern, cause and hint for a layer that adds an error of its own."""
    if arrays is None or arrays.actual is None or arrays.expected is None or res.cause == 'shape-mismatch':
        return
    reference = arrays.local if arrays.local is not None else arrays.expected
    ftype = parse_type(info.result_type)
    scale = scale_of(arrays.expected, arrays.actual)
    tol = element_tolerance(ftype.lsb if ftype else None, scale)
    err = np.abs(arrays.actual - reference)
    flat = err.reshape(-1, err.shape[-1]) if err.ndim > 1 else err.reshape(-1, 1)
    bad_channels = (flat > tol).mean(axis=0) > NOISE_FRACTION
    if not bad_channels.any():
        bad_channels = (flat > tol).any(axis=0)
    layer_input = None
    if len(info.inputs) == 1 and info.inputs[0] in all_arrays:
        layer_input = all_arrays[info.inputs[0]].actual
    pattern = patterns.describe(arrays.actual, reference, bad_channels, tol, layer_input)
    res.pattern = {'kind': pattern.kind, 'channels': list(pattern.channels), 'period': pattern.period,
                   'phase': pattern.phase, 'also': list(pattern.also), 'detail': pattern.detail}
    facts = causes.Facts(
        name=info.name,
        class_name=info.class_name,
        actual=arrays.actual,
        reference=reference,
        result_type=ftype,
        accum_type=parse_type(info.accum_type),
        hls=info.hls,
        framework=info.framework,
        folded=info.folded,
        weight_loss=info.weight_loss,
        is_input=not info.inputs,
        tol=tol,
    )
    finding = causes.classify(facts, pattern.kind)
    res.cause, res.cause_detail, res.hint = finding.cause, finding.detail, finding.hint


def _kernel_defect(res: LayerResult, em) -> None:
    """Proven: the C-simulation differs from what the layer's own types imply."""
    chans = ', '.join(str(c) for c in em.channels[:12]) + (' ...' if len(em.channels) > 12 else '')
    passthrough = ''
    if em.equals_input_channels and set(em.equals_input_channels) == set(em.channels):
        passthrough = ', and equal the layer\'s input (a pass-through)'
    res.cause = 'kernel-defect'
    res.propagated_from = None
    res.evidence = 'emulation'
    res.cause_detail = (f'{em.differing} of {em.total} values in channel(s) {chans} differ from what the layer\'s '
                        f'types imply (up to {em.max_lsb:.4g} LSB){passthrough}: the kernel does not compute '
                        'its configuration')
    if res.class_name in causes.DEPTHWISE_CLASSES:
        res.hint = 'Run `hlsdiff patch` on the project (or compare --patch) for the corrected depthwise kernel'
    else:
        res.hint = ('Check the kernel source of this layer in the project (firmware/nnet_utils): an edited or '
                    'defective kernel; report it to hls4ml with this evidence')


def _precision_cause(res: LayerResult, info: LayerInfo, all_arrays, emulator, headroom: int = 1) -> None:
    """Name the type responsible for a bit-exact layer's own error, shown by emulating it widened."""
    from hlsdiff.diagnosis.precision import responsible_type

    arrays = all_arrays.get(info.name)
    if arrays is None or arrays.local is None or arrays.actual is None:
        return
    try:
        types = emulator.types(info.name)
    except Exception:  # the emulation knows this layer's verdict but not its types
        return
    prev = info.inputs[0] if info.inputs else None
    prev_values = all_arrays[prev].actual if prev in all_arrays and all_arrays[prev].actual is not None else None
    try:
        found = responsible_type(info.name, prev, types, arrays.actual, arrays.local, emulator.what_if,
                                 res.tolerance or 0.0, is_softmax=info.class_name == 'Softmax',
                                 input_values=prev_values, headroom=headroom)
    except Exception as exc:  # noqa: BLE001 - a what-if the emulation cannot compute: no claim, the compare goes on
        res.evidence, res.cause = 'emulation', 'unexplained'
        res.cause_detail = (f'its own error is {res.local_max_abs or 0.0:.4g}; it computes what its types say (emulated '
                            f'bit for bit), but its types could not be tried wider ({type(exc).__name__}: {exc})')
        return
    if found is None:
        _rounding_or_unexplained(res, info, emulator)
        return
    known = res.cause == 'kernel-defect'  # the heuristic recognised a known hls4ml generator defect
    known_detail, known_hint = res.cause_detail, res.hint
    res.evidence = 'emulation'
    if found.key == 'input':
        res.cause = 'table-range'
    elif found.key == 'accum_t':
        res.cause = 'accumulator'
    elif found.key in ('weight_t', 'bias_t', 'scale_t'):
        res.cause = 'weights'
    elif found.key.endswith('table_t') or found.key == 'inv_inp_t':
        res.cause = 'table-range'
    elif found.range_cured:  # more integer bits cure it: the values do not fit the type's range
        before = parse_type(found.before)
        res.cause = 'overflow-wrap' if before and before.saturation == 'WRAP' else 'saturation'
    else:  # only more fractional bits do: the type's resolution
        res.cause = 'rounding'
    res.cause_detail = found.detail
    res.hint = found.hint
    if known:
        res.cause_detail += f' ({known_detail})'
        res.hint += f'; or {known_hint[0].lower()}{known_hint[1:]}'
    from hlsdiff.diagnosis.precision import remedy_of

    remedy = remedy_of(found)  # None where no config change reaches it: `fix` lists it as unfixable
    if remedy is not None:
        res.remedy = remedy


def _rounding_or_unexplained(res: LayerResult, info: LayerInfo, emulator) -> None:
    """No type of the layer cures its own error: `rounding` only when rounding can produce that much (its inputs
    moved by one LSB, its types one bit finer, emulated); otherwise `unexplained`, with what was measured."""
    res.evidence = 'emulation'
    own = res.local_max_abs or 0.0
    try:
        bound = emulator.rounding_bound(info.name)
    except Exception as exc:  # noqa: BLE001 - no bound, no claim
        bound = None
        why = f'the rounding bound could not be emulated ({type(exc).__name__}: {exc})'
    res.rounding_bound = bound
    if bound is not None and own <= bound['bound'] * 1.000001:
        res.cause = 'rounding'
        res.cause_detail = (f'its own error {own:.4g} is within what rounding produces here ({bound["bound"]:.4g}: '
                            f'inputs moved by one LSB change it by {bound["inputs"]:.4g}, its types one bit finer by '
                            f'{bound["types"]:.4g}, emulated); it computes what its types say, bit for bit')
        res.hint = 'No type of this layer cures it (emulated): reduce the error of the layers before it'
        return
    res.cause = 'unexplained'
    if bound is not None:
        why = (f'rounding moves it by at most {bound["bound"]:.4g} (inputs moved by one LSB: {bound["inputs"]:.4g}; '
               f'types one bit finer: {bound["types"]:.4g})')
    res.cause_detail = (f'its own error is {own:.4g}; it computes what its types say (emulated bit for bit), no type '
                        f'of it widened (emulated) removes the error, and {why}: nothing measured explains it')
    res.hint = (f'Compare {info.name} with its Keras layer by hand (its C-simulation inputs are in --save-traces); '
                'report it to hlsdiff with this evidence')


def model_outputs(collected: Collected, results: dict) -> list[dict]:
    """Per model output: top-1 agreement for classifier outputs, max/mean abs error, and the per-sample
    figures (`_top1`, `_flipped`, `_sample_max`) the gate and the wrong samples read.

    The outputs are the compared layers nothing else reads. A classifier (`diff.classifier_kind`): a
    softmax, probabilities over a class axis of two or more, or logits (`logits_head`).
    """
    if collected.outputs is not None:  # measured over every sample while they streamed through
        measured = [dict(o) for o in collected.outputs]
    else:
        measured = []
        for info in output_layers(collected.layers, collected.arrays):
            arrays = collected.arrays[info.name]
            if arrays.expected is None or arrays.actual is None:  # output_layers keeps only layers with both
                continue
            acc = new_output(info, collected.layers, arrays.expected)
            acc.add(arrays.expected, arrays.actual)
            measured.append(acc.result())
    for entry in measured:
        if entry['top1_agreement'] is not None:
            entry['agree'] = entry['top1_agreement'] >= TOP1_AGREE
        else:
            entry['agree'] = results[entry['name']].status != 'mismatch'
    return measured


def new_output(info: LayerInfo, layers: list[LayerInfo], expected: np.ndarray) -> OutputAccumulator:
    return OutputAccumulator(info.name, classifier_kind(expected, is_softmax(info), logits_head(info, layers)))


def is_softmax(info: LayerInfo) -> bool:
    return info.class_name == 'Softmax' or info.hls.activation == 'softmax'


# hls4ml classes of a dense layer (Keras Dense/QDense, PyTorch Linear, ONNX MatMul/Gemm all become one)
DENSE_CLASSES = ('Dense', 'QDense', 'DenseBatchnorm', 'QDenseBatchnorm')


def logits_head(info: LayerInfo, layers: list[LayerInfo]) -> bool:
    """A classifier's logits: an output of two or more values from a dense layer with no activation, whose
    size is not the model input's (an autoencoder's reconstruction is not a class axis)."""
    if info.class_name not in DENSE_CLASSES or info.hls.activation not in (None, '', 'linear'):
        return False
    size = int(np.prod(info.shape)) if info.shape else 0
    if len(info.shape) != 1 or size < 2:
        return False
    return all(int(np.prod(i.shape or (0,))) != size for i in layers if not i.inputs)


def output_layers(layers: list[LayerInfo], arrays: dict) -> list[LayerInfo]:
    """The compared layers nothing else reads, with both sides' arrays of one shape."""
    fed = {p for info in layers for p in info.inputs}
    out = []
    for info in layers:
        a = arrays.get(info.name)
        if info.name in fed or not info.compared or a is None or a.actual is None or a.expected is None:
            continue
        if a.expected.shape == a.actual.shape:
            out.append(info)
    return out


# a classifier output agrees with Keras when at least this share of its top-1 predictions do
TOP1_AGREE = 0.99


def _ancestors(layers: list[LayerInfo]) -> dict[str, set[str]]:
    anc: dict[str, set[str]] = {}
    for info in layers:  # topological order
        s: set[str] = set()
        for p in info.inputs:
            s.add(p)
            s |= anc.get(p, set())
        anc[info.name] = s
    return anc


def summary_sentence(result: CompareResult) -> str:
    """The one sentence a person can act on."""
    if result.onset is None:
        n = sum(1 for layer in result.layers if layer.status != 'not-compared')
        return f'No divergence: {n} layers compared, none beyond rounding noise.'
    layer = result.layer(result.onset['layer'])
    what = layer.cause.replace('-', ' ')
    text = f'First divergence: {layer.name} ({layer.class_name}) — {what}'
    if layer.cause_detail:
        text += f': {layer.cause_detail}'
    if layer.pattern.get('kind') not in (None, 'none') and layer.pattern.get('detail'):
        text += f' [{layer.pattern["detail"]}]'
    if layer.hint:
        text += f'. {layer.hint.rstrip(".")}'
    return text.rstrip('.') + '.'
