"""`hlsdiff fix`: rounds of compare -> computed config changes -> compare again, until the gate holds.

Each change comes from a layer's remedy (diagnosis): the type whose change, emulated on the
C-simulation's own inputs, removes the layer's own error, with a type computed from the data.
The next round converts and builds again (cached) and checks with the real C-simulation that
the layer's own error went down; a change that did not cure is taken back. What configuration
cannot cure (a kernel defect, a Keras setting hls4ml drops) is listed with the reason.
"""

from __future__ import annotations

import copy
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hlsdiff.errors import BadInput, SimulationFailed
from hlsdiff.fixedpoint import parse_type
from hlsdiff.result import CompareResult

# a change is kept when the real C-simulation shows the layer's own error at most this share of before
CURED = 0.5
_SET = re.compile(r'^Set (LayerName\.(?P<layer>[^ ]+?)\.(?P<key>Precision\.\w+)) to (?P<type>\w+<[^>]*>)')


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

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop('config_before')
        return out


@dataclass
class Unfixable:
    layer: str
    cause: str
    why: str


def _config_entry(config: dict, layer: str) -> dict:
    names = config.setdefault('LayerName', {})
    return names.setdefault(layer, {})


def _get(config: dict, layer: str, key: str):
    entry = (config.get('LayerName') or {}).get(layer) or {}
    for part in key.split('.'):
        if not isinstance(entry, dict):
            return None
        entry = entry.get(part)
    return entry


def _set(config: dict, layer: str, key: str, value) -> None:
    entry = _config_entry(config, layer)
    parts = key.split('.')
    for part in parts[:-1]:
        if not isinstance(entry.get(part), dict):
            entry[part] = {} if entry.get(part) is None else {'default': entry[part]}
        entry = entry[part]
    entry[parts[-1]] = value


def initial_config(source, opts: dict) -> tuple[dict, dict]:
    """hls4ml's own config for the model (Model / LayerName, as config_from_keras_model writes
    it) with the user's config and options merged in."""
    from hlsdiff.request import conversion_options
    from hlsdiff.trace.convert import build_config
    from hlsdiff.trace.load import load_model

    model = load_model(source)
    cfg, settings, _ = build_config(model, conversion_options(opts))
    cfg = copy.deepcopy(cfg)
    for entry in (cfg.get('LayerName') or {}).values():
        entry.pop('Trace', None)
    return {'Model': cfg.get('Model', {}), 'LayerName': cfg.get('LayerName', {})}, settings


def _bits(text) -> int | None:
    t = parse_type(str(text)) if text is not None else None
    return t.width if t else None


def _own_error(layer) -> float | None:
    """The error a layer adds by itself (for an input row: its whole error)."""
    return layer.local_max_abs if layer.local_max_abs is not None or layer.inputs else layer.max_abs


def _remedies(result, tried: set) -> tuple[list[Change], list[Unfixable]]:
    """The changes this round's diagnosis proposes, and what configuration cannot cure."""
    changes, unfixable = [], []
    for layer in result.layers:
        if not layer.introduces_error or layer.status not in ('mismatch',) and layer.name != (result.onset or {}).get('layer'):
            continue
        if layer.cause == 'kernel-defect':
            how = ('`hlsdiff patch` repairs it in the generated project' if 'patch' in layer.hint
                   else 'the kernel does not compute what its types say')
            unfixable.append(Unfixable(layer.name, layer.cause, f'{layer.cause_detail or "kernel defect"}; no '
                                                                f'configuration cures it ({how})'))
            continue
        if layer.cause == 'unsupported-attribute':
            unfixable.append(Unfixable(layer.name, layer.cause, layer.cause_detail))
            continue
        remedy = layer.remedy
        if remedy:
            change = Change(remedy['layer'], remedy['key'], remedy['before'], remedy['after'],
                            f'{layer.cause}: {layer.cause_detail}', layer.name, remedy['own_error_before'],
                            remedy['own_error_after'], verified=bool(remedy['verified']))
        else:
            m = _SET.match(layer.hint or '')
            if not m:
                unfixable.append(Unfixable(layer.name, layer.cause, f'{layer.cause_detail or layer.cause}: no '
                                                                    'configuration change is known to cure it'))
                continue
            before = layer.result_type if m.group('key') == 'Precision.result' else (
                layer.accum_type if m.group('key') == 'Precision.accum' else None)
            change = Change(m.group('layer'), m.group('key'), before, m.group('type'),
                            f'{layer.cause}: {layer.cause_detail} (heuristic)', layer.name, _own_error(layer))
        sig = (change.layer, change.key, change.after)
        if sig in tried:
            unfixable.append(Unfixable(layer.name, layer.cause, f'{change.key} of {change.layer} was set to '
                                                                f'{change.after} already and did not cure it'))
            continue
        changes.append(change)
    return changes, unfixable


def run_fix(model: str, data: str, opts: dict) -> int:
    from hlsdiff._version import __version__
    from hlsdiff.engine import hls4ml_version
    from hlsdiff.gate import apply
    from hlsdiff.job import check_paths
    from hlsdiff.reports import files
    from hlsdiff.request import gates as request_gates
    from hlsdiff.trace.load import check_model_path
    from hlsdiff.writable import check_writable

    err = Console(stderr=True, quiet=bool(opts.get('quiet')))
    out = Console() if sys.stdout.isatty() else Console(width=200)
    output = Path(opts.get('output') or 'hlsdiff_fixed.yml')
    paths = check_paths(opts)
    check_writable(str(output), '-o')
    max_rounds = int(opts.get('max_rounds') or 8)
    if max_rounds < 1:
        raise BadInput(f'--max-rounds must be at least 1, got {max_rounds}')
    gates = request_gates(opts)
    source = check_model_path(model, opts.get('weights'), opts.get('custom_objects'))
    started = time.perf_counter()
    config, settings = initial_config(source, opts)
    base = {k: v for k, v in opts.items() if k not in ('config_path', 'precision', 'strategy', 'reuse_factor')}
    base['granularity'] = 'name'
    changes: list[Change] = []
    unfixable: list[Unfixable] = []
    tried: set = set()
    result = None
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        err.print(f'hlsdiff fix: round {rounds}', highlight=False)
        round_opts = {**base, 'config': copy.deepcopy(config)}
        try:
            result = compare_once(source, data, round_opts, err)
        except SimulationFailed as exc:
            if exc.layer and 'Resource' in exc.message and _get(config, exc.layer, 'Strategy') != 'Latency':
                change = Change(exc.layer, 'Strategy', _get(config, exc.layer, 'Strategy') or 'Resource', 'Latency',
                                f'kernel-abort: {exc.message}', exc.layer, round=rounds, verified=True)
                _set(config, exc.layer, 'Strategy', 'Latency')
                changes.append(change)
                tried.add((change.layer, change.key, change.after))
                continue
            raise
        apply(result, gates)
        _verify(result, changes, config, rounds)
        if result.verdict == 'pass':
            break
        new, stuck = _remedies(result, tried)
        unfixable = stuck
        if not new:
            break
        for change in new:
            change.round = rounds
            change.config_before = _get(config, change.layer, change.key)
            _set(config, change.layer, change.key, change.after)
            tried.add((change.layer, change.key, change.after))
            changes.append(change)
    else:
        rounds = max_rounds
    passed = result is not None and result.verdict == 'pass'
    if opts.get('minimize') and passed:
        config, result = _minimize(source, data, base, config, changes, gates, opts, err, result)
    kept = [c for c in changes if c.status != 'reverted']
    added = sum(max(0, (_bits(c.after) or 0) - (_bits(c.before) or _bits(c.after) or 0)) for c in kept)
    removed = sum(max(0, (_bits(c.before) or 0) - (_bits(c.after) or 0)) for c in kept if _bits(c.before))
    _write_config(output, config, settings, passed, result)
    result.hlsdiff_version, result.hls4ml_version = __version__, hls4ml_version()
    result.fix = {'rounds': rounds, 'changes': [c.to_json() for c in changes],
                  'unfixable': [asdict(u) for u in ([] if passed else unfixable)], 'bits_added': added,
                  'bits_removed': removed, 'config': str(output), 'passed': passed,
                  'seconds': round(time.perf_counter() - started, 1)}
    files.render_terminal(result, out, verbose=bool(opts.get('verbose')))
    render_changes(result.fix, out)
    files.write_all(result, paths, None)
    if opts.get('markdown_path'):
        Path(opts['markdown_path']).write_text(Path(opts['markdown_path']).read_text() + '\n' + markdown(result.fix))
    result.exit_code = 0 if passed else 1
    result.verdict = 'pass' if passed else 'fail'
    return result if opts.get('return_result') else result.exit_code


def compare_once(source, data, opts: dict, err: Console) -> CompareResult:
    """One round's compare through the engine (no gates: `fix` applies them)."""
    from hlsdiff import engine
    from hlsdiff.job import console_progress
    from hlsdiff.request import CompareRequest

    with console_progress(err) as progress:
        return engine.run_once(CompareRequest.from_options(source, data, opts), progress).result


def _verify(result, changes: list[Change], config: dict, rnd: int) -> None:
    """Last round's changes, measured by the real C-simulation: kept if the layer's own error fell."""
    by_name = {layer.name: layer for layer in result.layers}
    for change in changes:
        if change.status != 'applied' or change.round != rnd - 1 or change.key == 'Strategy':
            continue
        layer = by_name.get(change.target)
        now = _own_error(layer) if layer is not None else None
        change.own_error_after = now if now is not None else change.own_error_after
        before = change.own_error_before
        if now is None or before is None or now <= before * CURED or (layer is not None and layer.status != 'mismatch'):
            change.status, change.verified = 'kept', True
        else:
            change.status = 'reverted'
            _restore(config, change.layer, change.key, change.config_before)


def _restore(config: dict, layer: str, key: str, value) -> None:
    """Put a config entry back as it was; remove it if it was not there."""
    if value is not None:
        _set(config, layer, key, value)
        return
    entry = (config.get('LayerName') or {}).get(layer) or {}
    parts = key.split('.')
    for part in parts[:-1]:
        entry = entry.get(part) if isinstance(entry, dict) else None
    if isinstance(entry, dict):
        entry.pop(parts[-1], None)


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
                    result = compare_once(source, data, {**base, 'config': trial, 'quiet': True}, err)
                except SimulationFailed:
                    break
                apply(result, gates)
                if result.verdict != 'pass':
                    break
                config, best, t = trial, result, smaller
                change.after = str(smaller)
    return config, best


def _write_config(path: Path, config: dict, settings: dict, passed: bool, result) -> None:
    import yaml

    head = ['# hls4ml config written by hlsdiff fix (LayerName / Model, as config_from_keras_model writes them)',
            f'# use with: convert_from_keras_model(model, hls_config=yaml.safe_load(open(...)), '
            f"io_type='{settings['io_type']}', backend='{settings['backend']}')"]
    if not passed:
        head.insert(0, '# NOT PASSING: the gate was not reached; this is the best config found')
    body = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text('\n'.join(head) + '\n' + body)
    if path.exists():
        backup = path.with_name(path.name + '.bak')
        path.replace(backup)
    tmp.replace(path)


def render_changes(fix: dict, console: Console) -> None:
    table = Table(title=f'hlsdiff fix: {fix["rounds"]} round(s), {"passes" if fix["passed"] else "does NOT pass"} '
                        f'the gate; config written to {fix["config"]}', header_style='bold')
    for col in ('round', 'layer', 'key', 'before', 'after', 'own error before → after', 'status', 'why'):
        table.add_column(col, overflow='fold')
    for c in fix['changes']:
        err = f'{_num(c["own_error_before"])} → {_num(c["own_error_after"])}'
        table.add_row(str(c['round']), c['layer'], c['key'], str(c['before']), c['after'], err, c['status'],
                      c['why'][:160])
    console.print(table)
    console.print(f'bits added {fix["bits_added"]}, removed {fix["bits_removed"]}')
    for u in fix['unfixable']:
        console.print(f'[red]cannot be fixed by configuration[/]: {u["layer"]} ({u["cause"]}): {u["why"]}')


def markdown(fix: dict) -> str:
    lines = [f'### hlsdiff fix: {fix["rounds"]} round(s), {"passes" if fix["passed"] else "does not pass"}', '',
             '| round | layer | key | before | after | own error before → after | status |', '|---|---|---|---|---|---|---|']
    for c in fix['changes']:
        lines.append(f'| {c["round"]} | {c["layer"]} | {c["key"]} | `{c["before"]}` | `{c["after"]}` | '
                     f'{_num(c["own_error_before"])} → {_num(c["own_error_after"])} | {c["status"]} |')
    lines.append('')
    lines.append(f'Bits added {fix["bits_added"]}, removed {fix["bits_removed"]}.')
    for u in fix['unfixable']:
        lines.append(f'- **{u["layer"]}** ({u["cause"]}): {u["why"]}')
    return '\n'.join(lines) + '\n'


def _num(v) -> str:
    return '-' if v is None else f'{v:.4g}'
