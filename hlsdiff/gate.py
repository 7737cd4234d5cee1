"""The CI gate: thresholds per layer with a default, and the one place that decides the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from hlsdiff import vocabulary
from hlsdiff.errors import EXIT_GATE_FAILED, EXIT_OK, BadInput
from hlsdiff.result import CompareResult

PATTERNS = tuple(p for p in vocabulary.PATTERNS if p != 'none')  # what --fail-on-pattern takes


@dataclass
class Gates:
    """`max_error`/`max_lsb` map a layer name to a limit; the key '' is the default for all."""

    max_error: dict[str, float] = field(default_factory=dict)
    max_lsb: dict[str, float] = field(default_factory=dict)
    fail_on_pattern: tuple[str, ...] = ()
    max_mismatched_fraction: float | None = None
    min_agreement: float | None = None  # share of samples whose top-1 prediction matches Keras, per output

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
        return out or ['no layer has status mismatch']


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
    """Evaluate the gates, record the failures on the layers and the result, set the verdict
    and exit code. Returns warnings (limits naming layers that do not exist)."""
    names = {layer.name for layer in result.layers}
    warnings = [f'gate names layer {k!r}, which the hls4ml model does not have'
                for limits in (gates.max_error, gates.max_lsb) for k in limits if k and k not in names]
    failed = False
    for layer in result.layers:
        layer.gate_failures = []
        if layer.status == 'not-compared':
            continue
        if not gates.given:
            if layer.status == 'mismatch':
                layer.gate_failures.append('status mismatch')
        limit = gates.max_error.get(layer.name, gates.max_error.get(''))
        if limit is not None and (layer.max_abs or 0.0) > limit:
            layer.gate_failures.append(f'max error {layer.max_abs:.4g} > {limit:g}')
        limit = gates.max_lsb.get(layer.name, gates.max_lsb.get(''))
        if limit is not None and layer.max_lsb is not None and layer.max_lsb > limit:
            layer.gate_failures.append(f'max error {layer.max_lsb:.1f} LSB > {limit:g} LSB')
        if layer.pattern.get('kind') in gates.fail_on_pattern:
            layer.gate_failures.append(f'pattern {layer.pattern["kind"]}')
        if gates.max_mismatched_fraction is not None and (layer.mismatched_fraction or 0) > gates.max_mismatched_fraction:
            layer.gate_failures.append(f'mismatched {layer.mismatched_fraction:.2%} > {gates.max_mismatched_fraction:.2%}')
        failed |= bool(layer.gate_failures)
    if gates.min_agreement is not None:
        classifiers = [o for o in result.outputs if o.get('top1_agreement') is not None]
        if not classifiers:
            warnings.append('--min-agreement: no output is classifier-shaped (probabilities over a class axis); '
                            'nothing to check')
        by_name = {layer.name: layer for layer in result.layers}
        for out in classifiers:
            if out['top1_agreement'] < gates.min_agreement and out['name'] in by_name:
                by_name[out['name']].gate_failures.append(
                    f'top-1 agreement {out["top1_agreement"]:.2%} < {gates.min_agreement:.2%}')
                failed = True
    result.gates = gates.describe()
    result.verdict = 'fail' if failed else 'pass'
    result.exit_code = EXIT_GATE_FAILED if failed else EXIT_OK
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
