"""Search config changes by prediction: fewest bits added that meet the user's gate.

Every candidate is a config change that hls4ml converts and writes and the emulation runs
to the model outputs (`predict.Predictor`). Greedy: each step evaluates the candidates of the
layers where the predicted error first grows (and their chain: a Dense and the linear and
activation layers hls4ml splits from it), and keeps the one that meets the gate with the
fewest bits added, else the one that brings the outputs closest to it. Once the gate is met
by prediction, each widened type is narrowed again, bit by bit, while the prediction still
meets the gate. The C-simulation confirms afterwards (hlsdiff/fixing/).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hlsdiff.diff import NOISE_RTOL
from hlsdiff.errors import ConversionFailed
from hlsdiff.fixedpoint import FixedType, integer_bits_needed, parse_type
from hlsdiff.gate import Gates
from hlsdiff.predict import Prediction
from hlsdiff.remedy import (
    SOFTMAX_IMPLEMENTATIONS,
    TABLE_SIZES,
    TYPEDEF_OF,
    WIDEN_FRACTIONAL,
    Remedy,
    applied,
    fractional_for,
    get,
    sized_result,
    widened,
)

Edit = tuple[str, str, object]  # (layer, key, value)
SPLIT_SUFFIXES = ('linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign',
                  'hard_sigmoid', 'leaky_relu')
FOCUS_LAYERS = 4
LATER_KEYS = ('Precision.weight', 'Precision.bias', 'Precision.depthwise', 'Precision.pointwise', 'Precision.scale')
# kernels that read a lookup table (Precision.table, TableSize); linear and relu read none
TABLE_KERNELS = ('sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign')
# kernels whose table type hls4ml 1.3.0 reads from the layer's `table_t` key, not from Precision.table
TABLE_T_KERNELS = ('elu', 'selu', 'softplus', 'softsign')
DEFAULT_TABLE = 'ap_fixed<18,8>'  # the table type hls4ml's Vivado backend gives them where `table_t` is not set
# constants a kernel reads whose type hls4ml sets from the model default where the config names none
KERNEL_CONSTANTS = ('scale', 'bias')
# a candidate that brings the outputs this much closer is taken without trying the rest of the step
TAKE_AT_ONCE = 0.5
# a candidate must make the outputs at least this share closer to the gate to be taken
MIN_GAIN = 0.02


@dataclass(frozen=True)
class Space:
    """What the search knows of the model: layer graph and classes, Keras values, the gate."""

    graph: dict[str, tuple[str, ...]]  # hls4ml layer -> the layers feeding it, topological order
    classes: dict[str, str]
    expected: dict[str, np.ndarray]
    gates: Gates
    onset: str | None = None
    allow_argmax: bool = False


@dataclass
class Found:
    """The search's outcome: the changes, their predicted effect, and the cost of finding them."""

    remedies: list[Remedy]
    base: Prediction
    prediction: Prediction
    evaluated: int
    passes: bool
    seconds: float
    note: str = ''
    failures: list[str] = field(default_factory=list)


def gate_failures(p: Prediction, gates: Gates) -> list[str]:
    """The user's gate, evaluated on a prediction (what can be predicted of it)."""
    return [f'{name}: {why}' for name, why in failing(p, gates)]


def failing(p: Prediction, gates: Gates) -> list[tuple[str, str]]:
    """(layer, why) for every part of the gate the prediction fails."""
    out = []
    for name, layer in p.layers.items():
        if layer.beyond:  # the default gate's rule 2 holds with any options (docs/gate.md)
            out.append((name, f'wrong beyond rounding on {layer.beyond} element(s)'))
        elif not gates.given and layer.status == 'mismatch':
            out.append((name, 'status mismatch'))
        limit = gates.max_error.get(name, gates.max_error.get(''))
        if limit is not None and layer.max_abs > limit:
            out.append((name, f'max error {layer.max_abs:.4g} > {limit:g}'))
        limit = gates.max_lsb.get(name, gates.max_lsb.get(''))
        if limit is not None and layer.max_lsb is not None and layer.max_lsb > limit:
            out.append((name, f'{layer.max_lsb:.1f} LSB > {limit:g}'))
        if gates.max_mismatched_fraction is not None and layer.mismatched_fraction > gates.max_mismatched_fraction:
            out.append((name, f'mismatched {layer.mismatched_fraction:.2%}'))
    if not gates.given:  # an output the compare did not map (a layer this config adds) is judged as an output
        out += [(o.name, 'status mismatch') for o in p.outputs if o.name not in p.layers and o.status == 'mismatch']
    # the default gate's top-1 rule holds with any options (docs/gate.md): --min-agreement, else 99%
    out += [(o.name, f'top-1 {o.top1_agreement:.2%}') for o in p.outputs
            if o.top1_agreement is not None and o.top1_agreement < gates.top1_floor]
    if gates.output_share is not None:  # fix's target (gate.fix_target): every output within a share of its range
        out += [(o.name, f'max error {o.max_abs:.4g} beyond {gates.output_share:.0%} of its range {o.value_range:.4g}')
                for o in p.outputs if o.value_range > 0
                and o.max_abs > max(gates.output_share * o.value_range, 2 * (o.lsb or 0.0))]
    return out


def distance(p: Prediction, gates: Gates) -> float:
    """How far the outputs are from Keras: what a step that does not yet meet the gate reduces."""
    d = sum(o.max_abs / max(o.value_range, 1e-9) + (1 - (o.top1_agreement if o.top1_agreement is not None else 1))
            for o in p.outputs)
    layers = list(p.layers.values())
    if layers:
        d += sum(l_.mismatched_fraction for l_ in layers if l_.status == 'mismatch') / len(layers)
        d += sum(1.0 for l_ in layers if l_.beyond)  # values a type does not hold: first to cure
    return d


def focus(p: Prediction, space: Space) -> list[str]:
    """The layers where the predicted error first grows beyond its tolerance, in topological order,
    the compare's onset and every input layer."""
    grows = []
    for name, inputs in space.graph.items():
        layer = p.layers.get(name)
        if layer is None:
            continue
        before = max((p.layers[i].max_abs for i in inputs if i in p.layers), default=0.0)
        if layer.max_abs - before > 0.5 * layer.tolerance or (not inputs and layer.max_abs > 0):
            grows.append(name)
    picked = [n for n in space.graph if not space.graph[n] and n in p.layers]
    picked += [n for n in p.not_emulated if n in space.graph][:2]  # a config may make hls4ml write it otherwise
    first_failing = [name for name, _ in failing(p, space.gates)][:1]
    grows = first_failing + grows
    # a layer's error grows also from the type its input is stored in: the layer before it
    feeding = [i for name in grows for i in space.graph.get(name, ())]
    for name in ([space.onset] if space.onset else []) + grows[:1] + feeding[:1] + grows[1:2] + feeding[1:2] + grows[2:]:
        if name not in picked and len(picked) < FOCUS_LAYERS + 2:
            picked.append(name)
    return picked


def family(config: dict, layer: str) -> list[str]:
    """A layer and the ones hls4ml splits from it (`<layer>_linear`, `<layer>_relu`...), as configured."""
    names = list(config.get('LayerName') or {})
    root = layer
    for suffix in SPLIT_SUFFIXES:
        if layer.endswith('_' + suffix) and layer[: -len(suffix) - 1] in names:
            root = layer[: -len(suffix) - 1]
    return [root] + [n for n in names if n != root and n.startswith(root + '_') and n[len(root) + 1:] in SPLIT_SUFFIXES]


def candidates(config: dict, p: Prediction, space: Space, layers: list[str]) -> list[list[Edit]]:
    """Single changes on the focus layers, then the chain of each (all its result types at once);
    first the result and accumulator types, the tables and strategies, then weights and biases."""
    first: list[list[Edit]] = []
    then: list[list[Edit]] = []
    chains: list[list[Edit]] = []
    seen: set[str] = set()
    for name in layers:
        for member in family(config, name):
            if member in seen:
                continue
            seen.add(member)
            for e in _layer_edits(config, p, space, member):
                (then if e[1] in LATER_KEYS else first).append([e])
        chain = [e for m in family(config, name) for e in _result_edits(config, p, space, m)[:1]]
        if len(chain) > 1 and chain not in chains:
            chains.append(chain)
    out: list[list[Edit]] = []
    for cand in first + chains + then:
        if cand not in out and any(get(config, layer, key) != value for layer, key, value in cand):
            out.append(cand)
    return out


def _result_edits(config: dict, p: Prediction, space: Space, layer: str) -> list[Edit]:
    precision = get(config, layer, 'Precision')
    types = p.types.get(layer, {})
    current = parse_type(types.get('result')) or parse_type(str(get(config, layer, 'Precision.result'))) or \
        _default_type(config)
    if not isinstance(precision, dict) or 'result' not in precision or current is None:
        return []
    values = space.expected.get(layer)
    root = family(config, layer)[0]
    values = values if values is not None else space.expected.get(root)
    tol = p.layers[layer].tolerance if layer in p.layers else current.lsb * 4
    frac = max(current.fractional, fractional_for(tol)) + WIDEN_FRACTIONAL
    plain = sized_result(current, values, frac)
    rounded = sized_result(current, values, frac, rounding='RND_CONV')
    return [(layer, 'Precision.result', str(t)) for t in (plain, rounded)]


def _default_type(config: dict) -> FixedType | None:
    """The model's default precision: the type of an `auto` entry the emulation could not read."""
    default = (config.get('Model') or {}).get('Precision')
    default = default.get('default') if isinstance(default, dict) else default
    return parse_type(str(default)) if default else None


def _layer_edits(config: dict, p: Prediction, space: Space, layer: str) -> list[Edit]:
    """Every key hls4ml reads for this layer, each changed alone."""
    edits = _result_edits(config, p, space, layer)
    types = p.types.get(layer, {})
    precision = get(config, layer, 'Precision')
    tables = types.get('kernel') in TABLE_KERNELS
    keys: dict = dict(precision) if isinstance(precision, dict) else {}
    for key in KERNEL_CONSTANTS:  # a scale or bias type the kernel reads with no config entry (an ApplyAlpha
        if TYPEDEF_OF[key] in types and key not in keys:  # hls4ml made of a moved rescale: `bn_Add_0`)
            keys[key] = types[TYPEDEF_OF[key]]
    kernel = types.get('kernel')
    for key in keys:
        if key == 'result' or key not in TYPEDEF_OF or (key == 'table' and (not tables or kernel in TABLE_T_KERNELS)):
            continue
        current = parse_type(types.get(TYPEDEF_OF[key])) or parse_type(str(keys[key]))
        if current is not None and f'Precision.{key}' in LATER_KEYS:  # constants: their range is known, only finer
            edits.append((layer, f'Precision.{key}', str(widened(current, integer=0, fractional=2 * WIDEN_FRACTIONAL))))
        elif current is not None:
            edits.append((layer, f'Precision.{key}', str(widened(current))))
        if current is not None and key == 'exp_table' and layer in space.expected:
            # the softmax addresses its reciprocal table with the top bits of the sum of exponentials,
            # stored in the exp table's type (hls4ml 1.3.0): integer bits for at most `classes`, not more
            classes = float(space.expected[layer].shape[-1])
            integer = integer_bits_needed(np.array([classes]), current.signed) + 1
            edits.append((layer, f'Precision.{key}', str(FixedType(integer + current.fractional + WIDEN_FRACTIONAL,
                                                                   integer, current.signed, current.rounding,
                                                                   current.saturation))))
    if kernel in TABLE_T_KERNELS:
        table = parse_type(str(get(config, layer, 'table_t') or types.get('table_t') or DEFAULT_TABLE))
        if table is not None:
            edits.append((layer, 'table_t', str(widened(table))))
    size = get(config, layer, 'TableSize')
    if tables and isinstance(size, int) and size < max(TABLE_SIZES):
        edits += [(layer, 'TableSize', s) for s in TABLE_SIZES if s > size]
    if space.classes.get(layer) == 'Softmax' or 'exp_table_t' in types:
        current_impl = str(get(config, layer, 'Implementation') or 'stable').lower()
        options = SOFTMAX_IMPLEMENTATIONS + (('argmax',) if space.allow_argmax else ())
        edits += [(layer, 'Implementation', impl) for impl in options if impl != current_impl]
    strategy = get(config, layer, 'Strategy') or (config.get('Model') or {}).get('Strategy')
    if str(strategy).lower() == 'resource':
        edits.append((layer, 'Strategy', 'Latency'))
    return edits


def search(predict: Callable[[dict], Prediction], config: dict, space: Space, budget: float,
           base: Prediction | None = None) -> Found:
    """Greedy steps by prediction until the gate is met (then narrowed), or nothing helps, or the budget is spent."""
    started = time.perf_counter()
    evaluated = 0
    base = base or predict(config)
    current, now = config, base
    edits: list[Edit] = []
    seen: set[str] = set()
    while (gate_failures(now, space.gates) or not now.complete) and time.perf_counter() - started < budget:
        step, n = _step(predict, current, now, space, (edits, base), seen, started + budget)
        evaluated += n
        if step is None or not _better(step[2], now, space.gates):
            break
        edits = _merge(edits, step[1])
        current, now = applied_edits(config, edits), step[2]
    if now.complete and not gate_failures(now, space.gates):
        edits, now, n = narrow(predict, config, edits, now, space.gates, budget - (time.perf_counter() - started))
        evaluated += n
    remedies = [_remedy(config, base, e, now) for e in edits]
    failures = gate_failures(now, space.gates)
    spent = time.perf_counter() - started
    if remedies and not failures:
        note = ''
    elif spent >= budget:
        note = f'the search budget (--budget) ran out after {evaluated} what-ifs'
    elif remedies:
        note = f'no further change of the keys searched brings the predicted outputs closer ({evaluated} what-ifs)'
    else:
        note = f'no change of the keys searched brings the predicted outputs closer to the gate ({evaluated} what-ifs)'
    return Found(remedies, base, now, evaluated, now.complete and not failures, round(spent, 2), note, failures)


def _step(predict: Callable[[dict], Prediction], current: dict, now: Prediction, space: Space,
          done: tuple[list[Edit], Prediction], seen: set[str], deadline: float) -> tuple[tuple | None, int]:
    """One greedy step: each candidate on `current`; the first that meets the gate or halves the
    distance, else the best, or the best changes of different layers together when that is better."""
    edits, base = done
    step, helpful, n = None, [], 0
    for cand in candidates(current, now, space, focus(now, space)):
        if time.perf_counter() > deadline:
            break
        trial = applied_edits(current, cand)
        if repr(trial) in seen:
            continue
        seen.add(repr(trial))
        pred = _try(predict, trial)
        n += 1
        if pred is None or not pred.complete:
            continue
        score = _score(pred, space.gates, edits + cand, base)
        if _better(pred, now, space.gates):
            helpful.append((distance(pred, space.gates), cand))
        if step is None or score < step[0]:
            step = (score, cand, pred)
        if not score[0] or distance(pred, space.gates) < TAKE_AT_ONCE * distance(now, space.gates):
            return step, n  # it meets the gate (narrowing finds the fewest bits from here), or it is the main step
    combined = _combine(helpful) if helpful else broad(current, now, space)
    if step is not None and len(combined) > 1 and time.perf_counter() < deadline:
        pred = _try(predict, applied_edits(current, combined))
        n += 1
        if pred is not None and pred.complete and _score(pred, space.gates, edits + combined, base) < step[0]:
            step = (_score(pred, space.gates, edits + combined, base), combined, pred)
    return step, n


def broad(config: dict, p: Prediction, space: Space) -> list[Edit]:
    """Every type of every layer widened at once, as one change: where the error comes from many layers
    together (a deep model whose every weight type is narrow), no single change brings the outputs closer,
    but all of them do; narrowing then takes back what the gate does not need."""
    out: list[Edit] = []
    for layer in space.graph:
        keys: set[str] = set()
        for e in _layer_edits(config, p, space, layer):
            if e[1].startswith('Precision.') and e[1] not in keys:
                keys.add(e[1])
                out.append(e)
    return out


def _combine(helpful: list[tuple[float, list[Edit]]], layers: int = 4) -> list[Edit]:
    """The best helpful change of each of the first few layers, as one change."""
    out: list[Edit] = []
    for _, cand in sorted(helpful, key=lambda h: h[0]):
        if len({e[0] for e in out}) >= layers:
            break
        if not any(e[0] == c[0] for e in out for c in cand):
            out += cand
    return out


def applied_edits(config: dict, edits: list[Edit]) -> dict:
    return applied(config, [Remedy(layer, key, None, value, '') for layer, key, value in edits])


def _try(predict: Callable[[dict], Prediction], config: dict) -> Prediction | None:
    try:
        return predict(config)
    except ConversionFailed:  # hls4ml does not take this config: not a candidate
        return None


def _score(p: Prediction, gates: Gates, edits: list[Edit], base: Prediction) -> tuple:
    failing = gate_failures(p, gates)
    bits = sum(_bits(base, e) for e in edits)
    return (len(failing) > 0, bits if not failing else 0, distance(p, gates), len(failing))


def _better(new: Prediction, old: Prediction, gates: Gates) -> bool:
    if not gate_failures(new, gates) or not old.complete:
        return True
    return distance(new, gates) < distance(old, gates) * (1 - MIN_GAIN)


def _merge(edits: list[Edit], new: list[Edit]) -> list[Edit]:
    keys = {(layer, key) for layer, key, _ in new}
    return [e for e in edits if (e[0], e[1]) not in keys] + new


def _bits(base: Prediction, edit: Edit) -> int:
    layer, key, value = edit
    after = parse_type(str(value))
    name = key.removeprefix('Precision.')
    before = parse_type(base.types.get(layer, {}).get(TYPEDEF_OF.get(name, name)))
    return after.width - before.width if after is not None and before is not None else 0


def narrow(predict: Callable[[dict], Prediction], config: dict, edits: list[Edit], now: Prediction, gates: Gates,
           budget: float) -> tuple[list[Edit], Prediction, int]:
    """Each changed type with the fewest fractional, then integer bits (bisection) for which the
    prediction still meets the gate."""
    started, n = time.perf_counter(), 0
    edits, wide = list(edits), now
    for edit in list(edits) if len(edits) > 1 else []:  # first each change taken back whole, if the gate holds
        trial = [e for e in edits if e != edit]
        pred = _try(predict, applied_edits(config, trial)) if time.perf_counter() - started < budget else None
        n += pred is not None
        if pred is not None and pred.complete and not gate_failures(pred, gates) and _keeps(pred, wide):
            edits, now = trial, pred
    for i in range(len(edits)):
        for step in ('fractional', 'integer'):
            t = parse_type(str(edits[i][2]))
            if t is None:
                break
            low, high = (1, t.fractional) if step == 'fractional' else ((1 if t.signed else 0), t.integer)
            while low < high and time.perf_counter() - started < budget:  # `high` meets the gate
                mid = (low + high) // 2
                trial = edits[:i] + [(edits[i][0], edits[i][1], str(_with_bits(t, step, mid)))] + edits[i + 1:]
                pred = _try(predict, applied_edits(config, trial))
                n += 1
                if pred is None or not pred.complete or gate_failures(pred, gates) or not _keeps(pred, wide):
                    low = mid + 1
                else:
                    high, edits, now = mid, trial, pred
    return edits, now, n


def _keeps(pred: Prediction, wide: Prediction) -> bool:
    """A narrower type keeps every output within twice the widened config's error, or within the
    compare's noise tolerance of it (5% of its range): fewer bits, not a worse model."""
    ref = {o.name: o for o in wide.outputs}
    return all(o.max_abs <= max(2 * ref[o.name].max_abs, NOISE_RTOL * o.value_range, o.lsb)
               for o in pred.outputs if o.name in ref)


def _with_bits(t: FixedType, step: str, bits: int) -> FixedType:
    if step == 'fractional':
        return FixedType(t.integer + bits, t.integer, t.signed, t.rounding, t.saturation)
    return FixedType(t.fractional + bits, bits, t.signed, t.rounding, t.saturation)


def _remedy(config: dict, base: Prediction, edit: Edit, now: Prediction) -> Remedy:
    layer, key, value = edit
    name = key.removeprefix('Precision.')
    derived = base.types.get(layer, {}).get(TYPEDEF_OF.get(name, name)) if key.startswith('Precision.') else None
    unfolds = [n for n, t in now.types.items() if n not in base.types and t.get('kernel') == 'normalize']
    workaround = key == 'Strategy' or (key == 'Precision.result' and bool(unfolds))
    if key == 'Strategy':
        why = ('the project hls4ml writes for this layer with Strategy Resource computes far from Keras (emulated); '
               'with Latency it agrees: a workaround of an hls4ml generator defect')
    elif workaround:
        why = (f'an explicit result type stops hls4ml folding {", ".join(unfolds)} into this layer (hls4ml 1.3.0 '
               'optimizer/passes/bn_fuse.py folds only into a layer whose result is auto): a workaround of the '
               'defective fold')
    else:
        why = "predicted by hls4ml's project for this config, emulated to the outputs"
    predicted = {o.name: {'max_abs': o.max_abs, 'top1_agreement': o.top1_agreement} for o in now.outputs}
    return Remedy(layer, key, get(config, layer, key), value, why, 'prediction', workaround, derived, predicted)
