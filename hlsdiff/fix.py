"""`hlsdiff fix`: compare, search config changes by prediction, confirm with the C-simulation.

Each round runs the real C-simulation of the current config (the compare). Then the search
(search.py) tries config changes by prediction: hls4ml converts and writes the project for
each candidate config, and the emulation runs it from the input data to the model outputs
(predict.py); the changes that meet the user's gate with the fewest bits added are applied.
The next round's C-simulation confirms them: predicted vs measured, per changed layer and per
output, a miss beyond the tolerance reported as an emulation bug; the changes are kept only
if the C-simulation shows they helped. Where the emulation cannot reach the outputs, the
compare's own per-layer remedies are applied and confirmed instead. What configuration cannot
cure (a kernel defect, a Keras setting hls4ml drops) is listed with the reason.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from hlsdiff.errors import BadInput, SimulationFailed
from hlsdiff.fixedpoint import parse_type
from hlsdiff.remedy import Unfixable
from hlsdiff.remedy import get as get_entry
from hlsdiff.remedy import put as put_entry
from hlsdiff.result import CompareResult
from hlsdiff.whatif import Loaded, initial_config, load, make_predictor, yaml_ready

if TYPE_CHECKING:
    from hlsdiff.layers import Collected
    from hlsdiff.predict import Predictor
    from hlsdiff.search import Found

# a change is kept when the real C-simulation shows the layer's own error at most this share of before
CURED = 0.5


@dataclass
class Change:
    layer: str  # the config entry changed (LayerName.<layer>)
    key: str  # e.g. Precision.accum, Strategy
    before: str | None
    after: str
    why: str
    target: str  # the layer whose own error it cures
    own_error_before: float | None = None
    own_error_after: float | None = None
    round: int = 0
    verified: bool = False
    status: str = 'applied'  # applied | kept | reverted
    config_before: object = None  # the config entry as it was (e.g. 'auto'; None: absent), restored on revert
    evidence: str = 'emulation'  # prediction (searched through hls4ml's project) | emulation (the layer alone)
    workaround: bool = False  # works around an hls4ml defect
    predicted_max_abs: float | None = None  # the changed layer's error vs Keras, predicted
    measured_max_abs: float | None = None  # and measured by the C-simulation that confirmed it

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop('config_before')
        return out


def _get(config: dict, layer: str, key: str):
    return get_entry(config, layer, key)


def _set(config: dict, layer: str, key: str, value) -> None:
    """Set one entry of the config hls4ml reads for `layer`; None removes it (a change taken back)."""
    put_entry(config, layer, key, value)


def _bits(text) -> int | None:
    t = parse_type(str(text)) if text is not None else None
    return t.width if t else None


def _own_error(layer) -> float | None:
    """The error a layer adds by itself (for an input row: its whole error)."""
    return layer.local_max_abs if layer.local_max_abs is not None or layer.inputs else layer.max_abs


def _remedies(result, tried: set) -> tuple[list[Change], list[Unfixable]]:
    """The changes the compare's own diagnosis proposes (its typed remedy; used where the prediction
    cannot reach the outputs), and what configuration cannot cure."""
    from hlsdiff.diagnosis.causes import DEPTHWISE_CLASSES

    changes, unfixable = [], []
    for layer in result.layers:
        if not layer.introduces_error or layer.status not in ('mismatch',) and layer.name != (result.onset or {}).get('layer'):
            continue
        if layer.cause == 'kernel-defect':
            how = ('`hlsdiff patch` repairs it in the generated project' if layer.class_name in DEPTHWISE_CLASSES
                   else 'the kernel does not compute what its types say')
            unfixable.append(Unfixable(layer.name, layer.cause, f'{layer.cause_detail or "kernel defect"}; no '
                                                                f'configuration cures it ({how})'))
            continue
        remedy = layer.remedy
        if layer.cause == 'unsupported-attribute' or not remedy:
            why = layer.cause_detail if layer.cause == 'unsupported-attribute' else (
                f'{layer.cause_detail or layer.cause}: no configuration change is known to cure it')
            unfixable.append(Unfixable(layer.name, layer.cause, why))
            continue
        change = Change(remedy['layer'], remedy['key'], remedy['before'], remedy['after'],
                        f'{layer.cause}: {layer.cause_detail}', layer.name, remedy['own_error_before'],
                        remedy['own_error_after'], verified=bool(remedy['verified']), evidence='emulation')
        if (change.layer, change.key, change.after) in tried:
            unfixable.append(Unfixable(layer.name, layer.cause, f'{change.key} of {change.layer} was set to '
                                                                f'{change.after} already and did not cure it'))
            continue
        changes.append(change)
    return changes, unfixable


@dataclass
class FixState:
    """What one `fix` run carries from round to round."""

    config: dict
    loaded: Loaded
    changes: list[Change] = field(default_factory=list)
    unfixable: list[Unfixable] = field(default_factory=list)
    tried: set = field(default_factory=set)
    predictor: Predictor | None = None  # made once from the first compare
    found: Found | None = None  # the last round's search: its prediction, to compare with the C-simulation
    distance: float | None = None  # the last measured distance of the outputs from Keras
    what_ifs: int = 0
    builds: int = 0
    confirmed: list = field(default_factory=list)  # predicted vs measured, per changed layer and per output
    emulation_bugs: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _space(result, collected, gates, opts: dict):
    from hlsdiff.search import Space

    expected = {name: a.expected for name, a in collected.arrays.items() if a.expected is not None}
    return Space({i.name: i.inputs for i in collected.layers}, {i.name: i.class_name for i in collected.layers},
                 expected, gates, (result.onset or {}).get('layer'), bool(opts.get('allow_argmax')))


def _measured_distance(result, ranges: dict[str, float]) -> float:
    """The measured counterpart of search.distance (outputs only): how far the C-simulation is from Keras."""
    return sum(o['max_abs'] / max(ranges.get(o['name'], 1.0), 1e-9)
               + (1 - (o['top1_agreement'] if o['top1_agreement'] is not None else 1)) for o in result.outputs)


def _search_round(state: FixState, source, data, result, collected, settings, gates, opts, rnd: int, budget: float) -> bool:
    """Search by prediction; apply what it found. False when it found nothing (or cannot predict)."""
    from hlsdiff.search import search

    if state.predictor is None:
        state.predictor = make_predictor(state.loaded, collected, settings)
    predictor = state.predictor
    assert predictor is not None
    found = search(predictor.predict, state.config, _space(result, collected, gates, opts), budget)
    state.what_ifs += found.evaluated
    state.found = found
    if state.distance is None:
        state.distance = _measured_distance(result, {o.name: o.value_range for o in found.prediction.outputs})
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
        change = Change(r.layer, r.key, r.derived or _plain(r.before), str(r.after), r.why, r.layer, round=rnd,
                        config_before=r.before, evidence=r.evidence, workaround=r.workaround)
        pred_layer = found.prediction.layers.get(r.layer)
        change.predicted_max_abs = pred_layer.max_abs if pred_layer is not None else None
        measured = next((layer for layer in result.layers if layer.name == r.layer), None)
        change.own_error_before = _own_error(measured) if measured is not None else None
        _set(state.config, r.layer, r.key, r.after)
        state.tried.add((r.layer, r.key, str(r.after)))
        state.changes.append(change)
    return True


def _plain(value):
    return None if value is None else str(value)


def _confirm(state: FixState, result, rnd: int) -> bool:
    """The C-simulation after last round's changes: predicted vs measured per changed layer and per
    output; a miss beyond the tolerance is an emulation bug, said so; the changes are kept only if
    the outputs came closer to Keras (or the gate holds), else taken back."""
    from hlsdiff.predict import within_tolerance

    found, state.found = state.found, None
    last = [c for c in state.changes if c.round == rnd - 1 and c.status == 'applied']
    if found is None:
        return False
    measured = _measured_distance(result, {o.name: o.value_range for o in found.prediction.outputs})
    if last:
        by_layer = {layer.name: layer for layer in result.layers}
        for o in found.prediction.outputs:
            got = next((m for m in result.outputs if m['name'] == o.name), None)
            if got is not None:
                _record(state, rnd, f'output {o.name}', o.max_abs, got['max_abs'], o.lsb, within_tolerance)
        for c in last:
            layer = by_layer.get(c.layer)
            c.measured_max_abs = layer.max_abs if layer is not None else None
            c.own_error_after = _own_error(layer) if layer is not None else None
            pl = found.prediction.layers.get(c.layer)
            if layer is not None and pl is not None and c.predicted_max_abs is not None:
                lsb = pl.max_abs / pl.max_lsb if pl.max_lsb else 0.0
                _record(state, rnd, f'layer {c.layer}', c.predicted_max_abs, layer.max_abs, lsb, within_tolerance)
    helped = result.verdict == 'pass' or state.distance is None or measured < state.distance
    for c in last:
        if c.evidence != 'prediction':
            continue
        c.verified = True
        c.status = 'kept' if helped else 'reverted'
        if not helped:
            _set(state.config, c.layer, c.key, c.config_before)  # as it was (None: removed)
    if helped or not last:
        state.distance = measured
    return not helped and bool(last)


def _record(state: FixState, rnd: int, what: str, predicted: float, measured: float, lsb: float, check) -> None:
    if any(r['round'] == rnd and r['what'] == what for r in state.confirmed):
        return
    ok = bool(check(predicted, measured, lsb))
    state.confirmed.append({'round': rnd, 'what': what, 'predicted_max_abs': predicted, 'measured_max_abs': measured,
                            'lsb': lsb, 'within_tolerance': ok})
    if not ok:
        state.emulation_bugs.append(f'{what}: predicted max abs {predicted:.6g}, the C-simulation measured '
                                    f'{measured:.6g} (tolerance 10% or 1 LSB = {lsb:g}): a bug in the emulation')


def run_fix(model: str, data: str, opts: dict) -> int:
    """`hlsdiff fix`: the exit code (0: the written config passes; 1: the gate was not reached). --json is
    written on every exit code: on bad input or a failed conversion or build, with the error."""
    from hlsdiff.errors import HlsdiffError
    from hlsdiff.reports import files
    from hlsdiff.result import error_result

    try:
        return fix_model(model, data, opts).exit_code
    except HlsdiffError as exc:
        if opts.get('json_path'):
            failed = error_result(exc.kind, exc.message, exc.exit_code, str(model), layer=exc.layer)
            with contextlib.suppress(OSError):  # an unwritable --json is the error itself: said once, by the raise
                files.write_json(failed, opts['json_path'])
        raise


def fix_model(model, data, opts: dict) -> CompareResult:
    """The rounds of `fix`; the final compare, with `.fix` (rounds, changes, unfixable, config)."""
    from hlsdiff.gate import apply
    from hlsdiff.job import check_paths
    from hlsdiff.request import conversion_options
    from hlsdiff.request import gates as request_gates
    from hlsdiff.trace.load import check_model_path
    from hlsdiff.writable import check_writable

    err = Console(stderr=True, quiet=bool(opts.get('quiet')))
    output = Path(opts.get('output') or 'hlsdiff_fixed.yml')
    paths = check_paths(opts)
    check_writable(str(output), '-o')
    max_rounds = int(opts.get('max_rounds') or 8)
    if max_rounds < 1:
        raise BadInput(f'--max-rounds must be at least 1, got {max_rounds}')
    gates = request_gates(opts)
    source = check_model_path(model, opts.get('weights'), opts.get('custom_objects'))
    started = time.perf_counter()
    budget = float(opts.get('budget') or 120.0)
    loaded = load(source, data)
    config, settings = initial_config(loaded, conversion_options(opts))
    base = {k: v for k, v in opts.items() if k not in ('config_path', 'precision', 'strategy', 'reuse_factor')}
    base['granularity'] = 'name'
    state = FixState(config, loaded)
    result, rounds = None, 0
    try:
        for rounds in range(1, max_rounds + 1):
            err.print(f'hlsdiff fix: round {rounds}', highlight=False)
            compared = _compare_round(state, source, data, base, err, rounds)
            if compared is None:
                continue
            result, collected = compared
            apply(result, gates)
            _verify(result, state.changes, state.config, rounds)
            reverted = _confirm(state, result, rounds)
            if result.verdict == 'pass' or reverted:
                break
            left = budget - (time.perf_counter() - started)
            if _search_round(state, source, data, result, collected, settings, gates, opts, rounds, left):
                continue
            new, state.unfixable = _remedies(result, state.tried)
            if not new:
                break
            for change in new:
                change.round = rounds
                change.config_before = _get(state.config, change.layer, change.key)
                _set(state.config, change.layer, change.key, change.after)
                state.tried.add((change.layer, change.key, change.after))
                state.changes.append(change)
    finally:
        if state.predictor is not None:
            state.predictor.close()
    _take_back_unmeasured(state, rounds)
    passed = result is not None and result.verdict == 'pass'
    if opts.get('minimize') and passed:
        state.config, result = _minimize(source, data, base, state.config, state.changes, gates, opts, err, result)
    return _finish(state, result, rounds, passed, output, settings, paths, opts, started)


def _take_back_unmeasured(state: FixState, rounds: int) -> None:
    """Changes applied after the last round's C-simulation were never measured: `fix` writes none of them
    (the rounds ran out before their confirmation), and says so."""
    for c in state.changes:
        if c.round == rounds and c.status == 'applied':
            _set(state.config, c.layer, c.key, c.config_before)
            c.status = 'reverted'
            state.notes.append(f'{c.key} of {c.layer} -> {c.after} was found in the last round and not measured by the '
                               'C-simulation: not written (raise --max-rounds to confirm it)')


def _compare_round(state: FixState, source, data, base: dict, err: Console, rnd: int):
    """One C-simulation of the current config; a Resource kernel that aborts gets Strategy Latency (a
    workaround of an hls4ml defect) and None."""
    try:
        state.builds += 1
        return compare_once(source, data, {**base, 'config': copy.deepcopy(state.config)}, err)
    except SimulationFailed as exc:
        if exc.layer and _strategy(state.config, exc.layer) == 'resource':
            change = Change(exc.layer, 'Strategy', _get(state.config, exc.layer, 'Strategy') or 'Resource', 'Latency',
                            f'kernel-abort: {exc.message}', exc.layer, round=rnd, verified=True, status='kept',
                            workaround=True)
            _set(state.config, exc.layer, 'Strategy', 'Latency')
            state.changes.append(change)
            state.tried.add((change.layer, change.key, change.after))
            return None
        raise


def _strategy(config: dict, layer: str) -> str:
    """The Strategy a layer is converted with: its own entry, else the model's."""
    return str(_get(config, layer, 'Strategy') or (config.get('Model') or {}).get('Strategy') or 'latency').lower()


def compare_once(source, data, opts: dict, err: Console) -> tuple[CompareResult, Collected | None]:
    """One round's compare through the engine (no gates: `fix` applies them)."""
    from hlsdiff import engine
    from hlsdiff.job import console_progress
    from hlsdiff.request import CompareRequest

    with console_progress(err) as progress:
        outcome = engine.run_once(CompareRequest.from_options(source, data, opts), progress)
    return outcome.result, outcome.collected


def _finish(state: FixState, result, rounds: int, passed: bool, output: Path, settings: dict, paths: dict, opts: dict,
            started: float) -> CompareResult:
    from hlsdiff._version import __version__
    from hlsdiff.engine import hls4ml_version
    from hlsdiff.reports import files

    out = Console() if sys.stdout.isatty() else Console(width=200)
    kept = [c for c in state.changes if c.status != 'reverted']
    added = sum(max(0, (_bits(c.after) or 0) - (_bits(c.before) or _bits(c.after) or 0)) for c in kept)
    removed = sum(max(0, (_bits(c.before) or 0) - (_bits(c.after) or 0)) for c in kept if _bits(c.before))
    _write_config(output, state.config, settings, passed, result)
    result.hlsdiff_version, result.hls4ml_version = __version__, hls4ml_version()
    result.fix = {'rounds': rounds, 'changes': [c.to_json() for c in state.changes],
                  'unfixable': [u.to_json() for u in ([] if passed else state.unfixable)], 'bits_added': added,
                  'bits_removed': removed, 'config': str(output), 'passed': passed,
                  'seconds': round(time.perf_counter() - started, 1), 'what_ifs': state.what_ifs,
                  'builds': state.builds, 'predicted_vs_measured': state.confirmed,
                  'emulation_bugs': state.emulation_bugs, 'notes': state.notes}
    files.render_terminal(result, out, verbose=bool(opts.get('verbose')))
    render_changes(result.fix, out)
    files.write_all(result, paths, None)
    if opts.get('markdown_path'):
        Path(opts['markdown_path']).write_text(Path(opts['markdown_path']).read_text() + '\n' + markdown(result.fix))
    result.exit_code = 0 if passed else 1
    result.verdict = 'pass' if passed else 'fail'
    return result


def _verify(result, changes: list[Change], config: dict, rnd: int) -> None:
    """Last round's changes, measured by the real C-simulation: kept if the layer's own error fell."""
    by_name = {layer.name: layer for layer in result.layers}
    for change in changes:
        if change.status != 'applied' or change.round != rnd - 1 or change.key == 'Strategy' or \
                change.evidence == 'prediction':
            continue
        layer = by_name.get(change.target)
        now = _own_error(layer) if layer is not None else None
        change.own_error_after = now if now is not None else change.own_error_after
        before = change.own_error_before
        if now is None or before is None or now <= before * CURED or (layer is not None and layer.status != 'mismatch'):
            change.status, change.verified = 'kept', True
        else:
            change.status = 'reverted'
            _set(config, change.layer, change.key, change.config_before)


def _minimize(source, data, base, config, changes, gates, opts, err, best):
    """Shrink the widened types while the gate holds, one real C-simulation per candidate, within --budget."""
    from hlsdiff.fixedpoint import FixedType
    from hlsdiff.gate import apply

    budget = float(opts.get('budget') or 120.0)
    started = time.perf_counter()
    targets = [c for c in changes if c.status != 'reverted' and c.key.startswith('Precision.')]
    if opts.get('minimize') == 'all':
        for layer, entry in (config.get('LayerName') or {}).items():
            for key, value in ((entry or {}).get('Precision') or {}).items():
                if parse_type(str(value)) and not any(c.layer == layer and c.key == f'Precision.{key}' for c in targets):
                    targets.append(Change(layer, f'Precision.{key}', str(value), str(value), 'minimize all', layer))
    for change in targets:
        t = parse_type(change.after)
        if t is None:
            continue
        for step in ('integer', 'fractional'):
            while time.perf_counter() - started < budget:
                smaller = (FixedType(t.width - 1, t.integer - 1, t.signed, t.rounding, t.saturation) if step == 'integer'
                           else FixedType(t.width - 1, t.integer, t.signed, t.rounding, t.saturation))
                if smaller.width < 2 or (step == 'fractional' and smaller.fractional < 0):
                    break
                trial = copy.deepcopy(config)
                _set(trial, change.layer, change.key, str(smaller))
                try:
                    result, _ = compare_once(source, data, {**base, 'config': trial, 'quiet': True}, err)
                except SimulationFailed:
                    break
                apply(result, gates)
                if result.verdict != 'pass':
                    break
                config, best, t = trial, result, smaller
                change.after = str(smaller)
    return config, best


_CONVERTERS = {'keras2': 'convert_from_keras_model', 'keras3': 'convert_from_keras_model',
               'pytorch': 'convert_from_pytorch_model', 'onnx': 'convert_from_onnx_model'}


def _write_config(path: Path, config: dict, settings: dict, passed: bool, result) -> None:
    import yaml

    frontend = settings.get('frontend', 'keras2')
    converter = _CONVERTERS.get(frontend, 'convert_from_keras_model')
    head = ['# hls4ml config written by hlsdiff fix (as hls4ml\'s config_from_* writes it)',
            f'# use with: {converter}(model, hls_config=yaml.safe_load(open(...)), '
            f"io_type='{settings['io_type']}', backend='{settings['backend']}')"]
    if frontend == 'onnx':
        head.append('# the ONNX model cleaned first as hls4ml\'s ONNX frontend expects (qonnx): cleanup_model, '
                    'ConvertToChannelsLastAndClean, GemmToMatMul, cleanup_model')
    if not passed:
        head.insert(0, '# NOT PASSING: the gate was not reached; this is the best config found')
    body = yaml.safe_dump(yaml_ready(config), sort_keys=False, default_flow_style=False)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text('\n'.join(head) + '\n' + body)
    if path.exists():
        backup = path.with_name(path.name + '.bak')
        path.replace(backup)
    tmp.replace(path)


def render_changes(fix: dict, console: Console) -> None:
    table = Table(title=f'hlsdiff fix: {fix["rounds"]} round(s), {"passes" if fix["passed"] else "does NOT pass"} '
                        f'the gate; config written to {fix["config"]}', header_style='bold')
    for col in ('round', 'layer', 'key', 'before', 'after', 'error predicted / measured', 'status', 'why'):
        table.add_column(col, overflow='fold')
    for c in fix['changes']:
        if c['evidence'] == 'prediction':
            err = f'{_num(c["predicted_max_abs"])} / {_num(c["measured_max_abs"])}'
        else:
            err = f'own {_num(c["own_error_before"])} → {_num(c["own_error_after"])}'
        why = ('workaround of an hls4ml defect: ' if c['workaround'] else '') + c['why']
        table.add_row(str(c['round']), c['layer'], c['key'], str(c['before']), str(c['after']), err, c['status'],
                      why[:160])
    console.print(table)
    console.print(f'bits added {fix["bits_added"]}, removed {fix["bits_removed"]}; {fix["what_ifs"]} what-ifs '
                  f'predicted, {fix["builds"]} C-simulation build(s), {fix["seconds"]} s')
    for row in fix['predicted_vs_measured']:
        mark = 'ok' if row['within_tolerance'] else '[red]MISSED[/]'
        console.print(f'  round {row["round"]} {row["what"]}: predicted {_num(row["predicted_max_abs"])}, '
                      f'measured {_num(row["measured_max_abs"])} {mark}')
    for bug in fix['emulation_bugs']:
        console.print(f'[red]emulation bug[/]: {bug}')
    for note in fix['notes']:
        console.print(f'note: {note}')
    for u in fix['unfixable']:
        console.print(f'[red]cannot be fixed by configuration[/]: {u["layer"]} ({u["cause"]}): {u["why"]}')


def markdown(fix: dict) -> str:
    lines = [f'### hlsdiff fix: {fix["rounds"]} round(s), {"passes" if fix["passed"] else "does not pass"}', '',
             '| round | layer | key | before | after | error predicted / measured | status |',
             '|---|---|---|---|---|---|---|']
    for c in fix['changes']:
        lines.append(f'| {c["round"]} | {c["layer"]} | {c["key"]} | `{c["before"]}` | `{c["after"]}` | '
                     f'{_num(c["predicted_max_abs"])} / {_num(c["measured_max_abs"])} | {c["status"]} |')
    lines.append('')
    lines.append(f'Bits added {fix["bits_added"]}, removed {fix["bits_removed"]}.')
    for u in fix['unfixable']:
        lines.append(f'- **{u["layer"]}** ({u["cause"]}): {u["why"]}')
    return '\n'.join(lines) + '\n'


def _num(v) -> str:
    return '-' if v is None else f'{v:.4g}'
