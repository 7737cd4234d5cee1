"""Candidate changes measured by the C-simulation, where `fix`'s prediction cannot cure the gate (a layer it does
not emulate, or no change of the keys it searches) and the compare's own remedies did not either: `fix` says
that no configuration change cures the model only after these were measured, and lists them.

The candidates, each one build of the real C-simulation, in this order until one passes the gate:

1. the failing layers (the onset and every layer wrong by its own error, with the layers hls4ml splits from
   them) and the result types of the layers feeding them: every type they read widened (result, accum,
   weight, bias, scale, table types), their tables made finer (`TableSize`), and an explicit result type
   (which also stops hls4ml folding a BatchNormalization into the layer: the BN-fold workaround);
2. the same with `Strategy: Latency` on the failing layers that are converted with Resource;
3. every layer of the model widened.

A candidate that passes is written only as far as it is needed: each layer's part of it is taken back while
the gate still holds (one build each, within the budget).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hlsdiff.errors import BuildFailed, ConversionFailed, SimulationFailed
from hlsdiff.fixedpoint import FixedType, parse_type
from hlsdiff.fixing.changes import Change, FixState, own_error, strategy_of
from hlsdiff.remedy import TABLE_SIZES, TYPEDEF_OF, Remedy, Unfixable, get, put, widened
from hlsdiff.search import KERNEL_CONSTANTS, TABLE_KERNELS, TABLE_T_KERNELS, Edit, family

if TYPE_CHECKING:
    from hlsdiff.result import CompareResult

# integer and fractional bits a candidate adds to every type it widens: far beyond what a rounding error needs,
# so that a candidate that does not cure the layer shows that no type of it does
WIDE = 8
# the finest table a candidate gives a kernel that reads one
TABLE_SIZE = 4096
FAILING_LAYERS = 4  # the failing layers a candidate covers, in the order of the model
TABLE_KEYS = ('table', 'exp_table', 'inv_table')
RECURRENT = ('LSTM', 'GRU', 'SimpleRNN')
RECURRENT_TABLE = FixedType(18, 8)  # the table type hls4ml's Vivado backend gives a recurrent layer (and an ELU) by default

Simulate = Callable[[dict], 'CompareResult']  # one real C-simulation of a config, its gates applied


@dataclass
class CandidateSet:
    """One candidate change set and what the C-simulation measured with it."""

    what: str
    edits: list[Edit]
    verdict: str | None = None  # pass | fail | error (hls4ml or the build refused it); None: not measured
    outputs: dict = field(default_factory=dict)  # output -> {max_abs, top1_agreement}
    failures: list[str] = field(default_factory=list)  # the gate rules it broke, or why it could not be built
    written: bool = False  # the candidate `fix` wrote (as far as it is needed)

    def summary(self) -> str:
        from hlsdiff.reports.fix_report import candidate_line

        return candidate_line(self.to_json())

    def to_json(self) -> dict:
        return {'what': self.what, 'edits': [{'layer': layer, 'key': key, 'after': str(value)}
                                             for layer, key, value in self.edits],
                'verdict': self.verdict, 'outputs': self.outputs, 'failures': self.failures, 'written': self.written}


def failing_layers(result: CompareResult) -> list[str]:
    """The onset and the layers wrong by their own error (a mismatch that starts there), in the model's order."""
    onset = (result.onset or {}).get('layer')
    names = [layer.name for layer in result.layers
             if layer.name == onset or (layer.introduces_error and layer.status == 'mismatch')]
    return names[:FAILING_LAYERS]


def type_edits(config: dict, types: dict[str, dict[str, str]], classes: dict[str, str], layer: str,
               softmax_inputs: frozenset[str] = frozenset()) -> list[Edit]:
    """Every type `layer` and the layers hls4ml splits from it read, widened by WIDE bits each way; finer tables
    where a kernel reads one. The result type of a layer feeding a softmax is left as it is: the softmax indexes
    its table with the top bits of its input type, so more integer bits make the table coarser."""
    out: list[Edit] = []
    for member in family(config, layer):
        precision = get(config, member, 'Precision')
        keys = dict(precision) if isinstance(precision, dict) else {}
        known = types.get(member, {})
        keys.setdefault('result', known.get('result'))  # an explicit result type: also the BN-fold workaround
        for key in KERNEL_CONSTANTS:  # a scale or bias type the kernel reads with no config entry
            if TYPEDEF_OF[key] in known:
                keys.setdefault(key, known[TYPEDEF_OF[key]])
        kernel = known.get('kernel')
        for key, value in keys.items():
            if key == 'result' and member in softmax_inputs:
                continue
            # a table type only where the kernel reads Precision.table (not a hard sigmoid's, nor an ELU's: `table_t`)
            if key in TABLE_KEYS and kernel is not None and (kernel not in TABLE_KERNELS or kernel in TABLE_T_KERNELS):
                continue
            current = parse_type(known.get(TYPEDEF_OF.get(key, key), '')) or parse_type(str(value)) or \
                _default(config)
            if current is not None:
                out.append((member, f'Precision.{key}', str(widened(current, WIDE, WIDE))))
        if classes.get(member) in RECURRENT:  # hls4ml 1.3.0 reads an LSTM's or GRU's table type from `table_t` only
            table = parse_type(known.get('table_t', '')) or RECURRENT_TABLE
            out.append((member, 'table_t', str(widened(table, WIDE, WIDE))))
        if kernel in TABLE_T_KERNELS:  # hls4ml 1.3.0 reads an ELU's, SELU's, softplus' or softsign's from `table_t`
            table = parse_type(known.get('table_t', '')) or parse_type(str(get(config, member, 'table_t') or '')) \
                or RECURRENT_TABLE
            out.append((member, 'table_t', str(widened(table, WIDE, WIDE))))
        size = get(config, member, 'TableSize')
        reads_table = (kernel in TABLE_KERNELS if kernel is not None else any(k in keys for k in TABLE_KEYS)) \
            or classes.get(member) in RECURRENT
        if reads_table and (not isinstance(size, int) or size < TABLE_SIZE):
            out.append((member, 'TableSize', TABLE_SIZE if TABLE_SIZE in TABLE_SIZES else max(TABLE_SIZES)))
    return out


def _default(config: dict) -> FixedType | None:
    default = (config.get('Model') or {}).get('Precision')
    default = default.get('default') if isinstance(default, dict) else default
    return parse_type(str(default)) if default else None


def candidate_sets(config: dict, result: CompareResult, types: dict[str, dict[str, str]]) -> list[CandidateSet]:
    """The candidates, in the order they are measured."""
    classes = {layer.name: layer.class_name for layer in result.layers}
    inputs = {layer.name: layer.inputs for layer in result.layers}
    softmax = frozenset(i for layer in result.layers if layer.class_name == 'Softmax' for i in layer.inputs)
    failing = failing_layers(result)
    edits: list[Edit] = []
    for name in failing:
        edits += [e for e in type_edits(config, types, classes, name, softmax) if e not in edits]
        for feeding in inputs.get(name, ()):  # a layer's input is stored in the result type of the layer before it
            edits += [e for e in type_edits(config, types, classes, feeding, softmax)[:1]
                      if e[1] == 'Precision.result' and not any(x[:2] == e[:2] for x in edits)]
    named = ', '.join(failing)
    out = [CandidateSet(f'every type of {named} and of their inputs widened by {WIDE} integer and fractional bits, '
                     'tables made finer', edits)] if edits else []
    resource: list[Edit] = [(m, 'Strategy', 'Latency') for name in failing for m in family(config, name)[:1]
                if strategy_of(config, m) == 'resource']
    if resource:
        out.append(CandidateSet(f'the same with Strategy Latency on {", ".join(e[0] for e in resource)}',
                             edits + resource))
    every: list[Edit] = []
    for name in inputs:
        every += [e for e in type_edits(config, types, classes, name, softmax) if e not in every]
    if any(e not in edits for e in every):
        out.append(CandidateSet(f'every layer of the model widened by {WIDE} integer and fractional bits', every))
    return out


def measure(candidate: CandidateSet, config: dict, simulate: Simulate) -> CompareResult | None:
    """One build of `config` with the candidate's edits; its figures recorded in the candidate."""
    trial = copy.deepcopy(config)
    for layer, key, value in candidate.edits:
        put(trial, layer, key, value)
    try:
        result = simulate(trial)
    except (ConversionFailed, BuildFailed, SimulationFailed) as exc:
        candidate.verdict, candidate.failures = 'error', [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]
        return None
    candidate.verdict = result.verdict
    candidate.outputs = {o['name']: {'max_abs': o['max_abs'], 'top1_agreement': o['top1_agreement']}
                         for o in result.outputs}
    candidate.failures = [f for layer in result.layers for f in layer.gate_failures][:10]
    return result


def keeps(result: CompareResult, wide: CompareResult) -> bool:
    """Fewer changes, not a worse model: every output within twice the error the whole candidate measured."""
    ref = {o['name']: o['max_abs'] for o in wide.outputs}
    return all(o['max_abs'] <= 2 * ref[o['name']] + 1e-12 for o in result.outputs if o['name'] in ref)


@dataclass
class CandidateRun:
    """The candidates of one `fix` run: measured until one passes or the budget is spent (the first is always
    measured: `fix` never concludes without it)."""

    state: FixState
    simulate: Simulate
    deadline: float  # perf_counter() time the budget runs out
    measured: list[CandidateSet] = field(default_factory=list)

    def run(self, result: CompareResult, types: dict[str, dict[str, str]], rnd: int) -> CompareResult | None:
        """The compare of the config written if a candidate passes (state.config and state.changes updated), else
        None with state.unfixable saying what was measured."""
        todo = candidate_sets(self.state.config, result, types)
        for i, candidate in enumerate(todo):
            if i and time.perf_counter() > self.deadline:
                self.state.notes.append(f'the budget (--budget) ran out before {len(todo) - i} candidate(s) were '
                                        'measured: ' + '; '.join(c.what for c in todo[i:]))
                break
            self.state.builds += 1
            self.measured.append(candidate)
            passed = measure(candidate, self.state.config, self.simulate)
            if passed is not None and passed.verdict == 'pass':
                return self.write(candidate, passed, (result, types), rnd)
        self.say_unfixable(result, complete=len(self.measured) == len(todo))
        return None

    def write(self, candidate: CandidateSet, passed: CompareResult, before: tuple[CompareResult, dict],
              rnd: int) -> CompareResult:
        """The candidate, each layer's part taken back while the gate holds (within the budget), applied."""
        edits, wide, written = list(candidate.edits), passed, candidate
        for layer in dict.fromkeys(e[0] for e in candidate.edits):
            if time.perf_counter() > self.deadline:
                break
            rest = [e for e in edits if e[0] != layer]
            if not rest or len(rest) == len(edits):
                continue
            trial = CandidateSet(f'{written.what}, without the changes of {layer}', rest)
            self.state.builds += 1
            self.measured.append(trial)
            result = measure(trial, self.state.config, self.simulate)
            if result is not None and result.verdict == 'pass' and keeps(result, wide):
                edits, passed, written = rest, result, trial
        written.written = True
        result, types = before
        own = {layer.name: layer for layer in result.layers}
        after = {layer.name: layer for layer in passed.layers}
        for layer, key, value in edits:
            name = key.removeprefix('Precision.')
            remedy = Remedy(layer, key, get(self.state.config, layer, key), value,
                            f'measured by the C-simulation ({written.what}): the gate holds', evidence='c-simulation',
                            derived=types.get(layer, {}).get(TYPEDEF_OF.get(name, name)) if key != name else None)
            change = Change.of(remedy, layer, round=rnd, verified=True, status='kept',
                               config_before=get(self.state.config, layer, key))
            change.own_error_before = own_error(own[layer]) if layer in own else None
            change.own_error_after = own_error(after[layer]) if layer in after else None
            change.measured_max_abs = after[layer].max_abs if layer in after else None
            self.state.apply(change, value)
        return passed

    def say_unfixable(self, result: CompareResult, complete: bool) -> None:
        """The candidates measured, as the reason nothing is written: said once, in a note; each failing layer's
        entry points to it."""
        if not self.measured:
            return
        listed = '; '.join(c.summary() for c in self.measured)
        if complete:
            self.state.notes.append(f'no configuration change cures it: the candidates measured by the C-simulation: '
                                    f'{listed}')
            told = 'not cured by the candidates measured (fix.candidates)'
        else:
            self.state.notes.append(f'not cured by the candidates measured by the C-simulation before the budget ran '
                                    f'out (raise --budget to measure the rest): {listed}')
            told = 'not cured by the candidates measured before the budget ran out (fix.candidates)'
        unknown = ': no configuration change is known to cure it'
        self.state.unfixable = [Unfixable(u.layer, u.cause, f'{u.why.removesuffix(unknown)}: {told}')
                                if u.why.endswith(unknown) else u for u in self.state.unfixable]
        known = {u.layer for u in self.state.unfixable}
        causes = {layer.name: layer.cause for layer in result.layers}
        self.state.unfixable += [Unfixable(name, causes.get(name) or 'unknown', told)
                                 for name in failing_layers(result) if name not in known]

