"""The CI gate: thresholds per layer with a default, and the one place that decides the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hlsdiff import vocabulary
from hlsdiff.errors import EXIT_GATE_FAILED, EXIT_OK, BadInput
from hlsdiff.result import CompareResult

DEFAULT_TOP1 = 0.99  # a classifier output passes the default gate at this top-1 agreement with the framework
# fix's target beside the default gate (docs/fix.md): every model output within this share of its range
FIX_OUTPUT_SHARE = 0.05
PATTERNS = tuple(p for p in vocabulary.PATTERNS if p != 'none')  # what --fail-on-pattern takes


@dataclass
class Gates:
    """`max_error`/`max_lsb` map a layer name to a limit; the key '' is the default for all."""

    max_error: dict[str, float] = field(default_factory=dict)
    max_lsb: dict[str, float] = field(default_factory=dict)
    fail_on_pattern: tuple[str, ...] = ()
    max_mismatched_fraction: float | None = None
    min_agreement: float | None = None  # share of samples whose top-1 prediction matches Keras, per output
    classifiers: tuple[str, ...] = ()  # outputs the user names as classifiers (`--classifier`); 'none': no auto
    # fix's search only (never the compare's verdict): every output's max abs within this share of its range
    output_share: float | None = None

    @property
    def given(self) -> bool:
        return bool(self.max_error or self.max_lsb or self.fail_on_pattern or self.max_mismatched_fraction is not None
                    or self.min_agreement is not None)

    def describe(self) -> list[str]:
        out = [f'max-error {_fmt(k, v)}' for k, v in self.max_error.items()]
        out += [f'max-lsb {_fmt(k, v)}' for k, v in self.max_lsb.items()]
        out += [f'fail-on-pattern {p}' for p in self.fail_on_pattern]
        if self.max_mismatched_fraction is not None:
            out.append(f'max-mismatched-fraction {self.max_mismatched_fraction:g}')
        if self.min_agreement is not None:
            out.append(f'min-agreement {self.min_agreement:g}')
        rules = [] if self.given else ['no layer has status mismatch']
        rules += ['no layer wrong beyond rounding on any sample',
                  f'top-1 agreement >= {self.top1_floor:.0%} on every classifier output']
        return rules + out

    @property
    def top1_floor(self) -> float:
        """The top-1 agreement every classifier output needs: --min-agreement, else the default."""
        return self.min_agreement if self.min_agreement is not None else DEFAULT_TOP1


def fix_target(gates: Gates) -> Gates:
    """What `fix` searches for: the user's gate options as given; with none, the default gate and every model
    output within FIX_OUTPUT_SHARE of its range (a softmax's probabilities within 0.05), what a user checks by
    hand. The verdict stays the gate's: a config that passes the gate but not this passes."""
    return gates if gates.given else replace(gates, output_share=FIX_OUTPUT_SHARE)


def _fmt(key: str, value: float) -> str:
    return f'{key}:{value:g}' if key else f'{value:g}'


def parse_limits(values: tuple[str, ...], option: str) -> dict[str, float]:
    """`('0.1', 'dense_1:0.5')` -> `{'': 0.1, 'dense_1': 0.5}`."""
    limits: dict[str, float] = {}
    for text in values:
        name, _, number = text.rpartition(':')
        try:
            value = float(number)
        except ValueError:
            raise BadInput(f'{option} takes a number or LAYER:NUMBER, got {text!r}') from None
        if value < 0:
            raise BadInput(f'{option} must not be negative, got {text!r}')
        limits[name] = value
    return limits


def apply(result: CompareResult, gates: Gates) -> list[str]:
    """Evaluate the gates (docs/gate.md), record the failures on the layers and the result, set the verdict
    and exit code. Returns warnings (limits naming layers that do not exist).

    Always: no layer wrong beyond rounding on any sample, and top-1 agreement on every classifier output
    (`--min-agreement`, else 99%). With no gate option, also no layer with status mismatch; the options add
    their own limits on top."""
    names = {layer.name for layer in result.layers}
    warnings = [f'gate names layer {k!r}, which the hls4ml model does not have'
                for limits in (gates.max_error, gates.max_lsb) for k in limits if k and k not in names]
    for layer in result.layers:
        layer.gate_failures = [] if layer.status == 'not-compared' else _layer_failures(layer, gates)
    warnings += _classifier_failures(result, gates)
    failed = [f'{layer.name}: {why}' for layer in result.layers for why in layer.gate_failures]
    result.gates = gates.describe()
    result.gate_failures = failed
    result.verdict = 'fail' if failed else 'pass'
    result.exit_code = EXIT_GATE_FAILED if failed else EXIT_OK
    return warnings


def _layer_failures(layer, gates: Gates) -> list[str]:
    out = []
    if layer.beyond_rounding:
        worst = layer.worst_wrong
        out.append(f'own error beyond rounding on {layer.beyond_rounding} element(s)'
                   + (f', worst {worst["abs"]:.4g} at sample {worst["sample"]}' if worst else ''))
    elif not gates.given and layer.status == 'mismatch':
        out.append('status mismatch')
    limit = gates.max_error.get(layer.name, gates.max_error.get(''))
    if limit is not None and (layer.max_abs or 0.0) > limit:
        out.append(f'max error {layer.max_abs:.4g} > {limit:g}')
    limit = gates.max_lsb.get(layer.name, gates.max_lsb.get(''))
    if limit is not None and layer.max_lsb is not None and layer.max_lsb > limit:
        out.append(f'max error {layer.max_lsb:.1f} LSB > {limit:g} LSB')
    if layer.pattern.get('kind') in gates.fail_on_pattern:
        out.append(f'pattern {layer.pattern["kind"]}')
    if gates.max_mismatched_fraction is not None and (layer.mismatched_fraction or 0) > gates.max_mismatched_fraction:
        out.append(f'mismatched {layer.mismatched_fraction:.2%} > {gates.max_mismatched_fraction:.2%}')
    return out


def _classifier_failures(result: CompareResult, gates: Gates) -> list[str]:
    """Top-1 agreement on every classifier output (recognised, or named by --classifier), every flip counted,
    as a user measures it; the flips on near ties are said (they may pass with a finer output type)."""
    warnings = []
    named = {n for n in gates.classifiers if n != 'none'}
    outputs = {o['name']: o for o in result.outputs}
    for name in sorted(named - set(outputs)):
        warnings.append(f'--classifier names {name!r}, which is not a model output (outputs: {", ".join(outputs)})')
    by_name = {layer.name: layer for layer in result.layers}
    for out in result.outputs:
        if out['name'] in named:
            out['classifier'] = 'named'
            out['top1_agreement'] = out.get('_top1', out.get('top1_agreement'))
        elif 'none' in gates.classifiers:
            out['classifier'], out['top1_agreement'] = None, None
        if out.get('top1_agreement') is None or out['name'] not in by_name:
            continue
        top1 = out['top1_agreement']
        if top1 < gates.top1_floor:
            ties = out.get('top1_near_ties') or 0
            by_name[out['name']].gate_failures.append(
                f'top-1 agreement {top1:.2%} < {gates.top1_floor:.0%}' + (f' ({ties} of the flips on near ties)' if ties else ''))
    if gates.min_agreement is not None and not any(o.get('top1_agreement') is not None for o in result.outputs):
        warnings.append('--min-agreement: no output is a classifier (softmax, probabilities or logits); name one '
                        'with --classifier')
    return warnings


GATED_PROJECTS = ('stock', 'patched')  # what `--gate` takes with --patch


def judge_patched(result: CompareResult, gate: str) -> None:
    """With --patch: keep both verdicts, named, and let the gated project's decide the top-level verdict
    and exit code. The stock project is the default: a project hls4ml writes wrong must not pass a CI job
    because hlsdiff's patch would repair it."""
    patched = result.patched
    if not isinstance(patched, CompareResult):
        return
    result.gate = gate
    result.verdicts = {'stock': result.verdict, 'patched': patched.verdict}
    judged = patched if gate == 'patched' else result
    result.verdict, result.exit_code = judged.verdict, judged.exit_code
