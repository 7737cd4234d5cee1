"""The rounds of `fix`: a real C-simulation of the current config, then the search by prediction (or the
compare's own remedies) and its changes, until the gate holds, nothing helps or the rounds run out; the
config written, the final compare returned with `.fix`. Nothing here prints."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hlsdiff.engine import Progress
from hlsdiff.errors import SimulationFailed
from hlsdiff.fixing.changes import (
    Change,
    FixState,
    bits,
    compare_remedies,
    strategy_of,
    take_back_unmeasured,
    verify_changes,
)
from hlsdiff.fixing.search_round import Measured, SearchLimits, confirm, search_round
from hlsdiff.gate import fix_target
from hlsdiff.remedy import Remedy, get

if TYPE_CHECKING:
    from hlsdiff.layers import Collected
    from hlsdiff.request import CompareRequest, FixRequest
    from hlsdiff.result import CompareResult

# a round's search takes at most this share of the budget left: the samples its C-simulation shows wrong
# are searched again in the next round
ROUND_SHARE = 0.6


@dataclass(frozen=True)
class FixProgress:
    """What `fix` shows while it runs (nothing unless given): each round's start, each compare's steps."""

    round: Callable[[int], None] = lambda number: None
    compare: Callable[[], AbstractContextManager[Progress]] = lambda: contextlib.nullcontext(Progress())


@dataclass(frozen=True)
class RoundCompare:
    """The real C-simulation of a config through the engine, the user's gate applied to it."""

    request: CompareRequest
    progress: FixProgress

    def __call__(self, config: dict) -> tuple[CompareResult, Collected | None]:
        from hlsdiff import engine
        from hlsdiff.gate import apply

        convert = dataclasses.replace(self.request.convert, config=copy.deepcopy(config))
        with self.progress.compare() as progress:
            outcome = engine.run_once(dataclasses.replace(self.request, convert=convert), progress)
        apply(outcome.result, self.request.gates)
        return outcome.result, outcome.collected

    def judged(self, config: dict) -> CompareResult:
        return self(config)[0]


def fix_model(request: FixRequest, progress: FixProgress | None = None) -> CompareResult:
    """The rounds of `fix`; the final compare, with `.fix` (rounds, changes, unfixable, config); the config written
    to `request.output`."""
    from hlsdiff.fixing.minimize import minimize
    from hlsdiff.trace.load import check_model_path
    from hlsdiff.whatif import initial_config, load

    request.check()
    base = request.compare
    source = check_model_path(base.model, base.weights, base.custom_objects)
    simulate = RoundCompare(dataclasses.replace(base, model=source), progress or FixProgress())
    started = time.perf_counter()
    loaded = load(source, base.data)
    config, settings = initial_config(loaded, request.initial)
    run = FixRun(request, simulate, FixState(config, loaded), settings, started)
    try:
        result, rounds = run.rounds()
    finally:
        if run.state.predictor is not None:
            run.state.predictor.close()
    take_back_unmeasured(run.state, rounds)
    passed = result is not None and result.verdict == 'pass'
    if request.minimize and passed and result is not None:
        def measured(config: dict) -> CompareResult:  # each narrower type tried is a build, counted in fix.builds
            run.state.builds += 1
            return simulate.judged(config)

        run.state.config, result = minimize(request, run.state.config, run.state.changes, result, measured)
    return run.finish(result, rounds, passed)


@dataclass
class FixRun:
    """One `fix` run: its request, its C-simulation, and the state it carries from round to round."""

    request: FixRequest
    simulate: RoundCompare
    state: FixState
    settings: dict  # hls4ml's settings (io_type, backend, part)
    started: float  # when the run started (before the model was loaded)

    def rounds(self) -> tuple[CompareResult | None, int]:
        """Compare, confirm last round's changes, search (or take the compare's remedies), until done."""
        state, request = self.state, self.request
        result, rounds = None, 0
        for rounds in range(1, request.max_rounds + 1):
            self.simulate.progress.round(rounds)
            measured = self.compare_round(rounds)
            if measured is None:
                continue
            result = measured.result
            verify_changes(result, state.changes, state.config, rounds)
            reverted = confirm(state, result, rounds)
            if result.verdict == 'pass' or reverted:
                break
            left = request.budget - (time.perf_counter() - self.started)
            share = left if rounds == request.max_rounds else ROUND_SHARE * left  # a later round can still search
            if search_round(state, measured, self.settings,
                            SearchLimits(fix_target(request.compare.gates), request.allow_argmax, share)):
                continue
            new, state.unfixable = compare_remedies(result, state.tried)
            if not new:
                result = self.measure_candidates(result, rounds) or result
                break
            for change in new:
                change.round = rounds
                change.config_before = get(state.config, change.layer, change.key)
                state.apply(change, change.after)
        return result, rounds

    def measure_candidates(self, result: CompareResult, rnd: int) -> CompareResult | None:
        """Nothing predicted or proposed cures the gate: candidate changes measured by the C-simulation (unless
        every failing layer is a kernel defect, which no configuration cures); the compare of the one that
        passes, else None."""
        from hlsdiff.fixing.candidates import CandidateRun, failing_layers

        causes = {layer.name: layer.cause for layer in result.layers}
        failing = failing_layers(result)
        if failing and all(causes.get(name) == 'kernel-defect' for name in failing):
            return None
        types = self.state.found.base.types if self.state.found is not None else {}
        run = CandidateRun(self.state, self.simulate.judged, self.started + self.request.budget)
        cured = run.run(result, types, rnd)
        self.state.candidates = run.measured
        return cured

    def compare_round(self, rnd: int) -> Measured | None:
        """One C-simulation of the current config; a Resource kernel that aborts gets Strategy Latency (a
        workaround of an hls4ml defect) and None."""
        state = self.state
        try:
            state.builds += 1
            result, collected = self.simulate(state.config)
        except SimulationFailed as exc:
            if exc.layer and strategy_of(state.config, exc.layer) == 'resource':
                before = get(state.config, exc.layer, 'Strategy')
                change = Remedy(exc.layer, 'Strategy', str(before) if before else 'Resource', 'Latency',
                                f'kernel-abort: {exc.message}', evidence='emulation', workaround=True)
                state.apply(Change.of(change, exc.layer, round=rnd, verified=True, status='kept'), 'Latency')
                return None
            raise
        return Measured(rnd, result, collected)

    def finish(self, result, rounds: int, passed: bool) -> CompareResult:
        """The config written; the final compare with `.fix`, its verdict and exit code fix's own."""
        from hlsdiff._version import __version__
        from hlsdiff.engine import hls4ml_version
        from hlsdiff.fixing.config_file import write_config

        state, request = self.state, self.request
        kept = [c for c in state.changes if c.status != 'reverted']
        added = sum(max(0, (bits(c.after) or 0) - (bits(c.before) or bits(c.after) or 0)) for c in kept)
        removed = sum(max(0, (bits(c.before) or 0) - (bits(c.after) or 0)) for c in kept if bits(c.before))
        usage = state.loaded.frontend.config_usage(self.settings['io_type'], self.settings['backend'])
        write_config(request.output, state.config, usage, passed)
        result.hlsdiff_version, result.hls4ml_version = __version__, hls4ml_version()
        result.fix = {'rounds': rounds, 'changes': [c.to_json() for c in state.changes],
                      'unfixable': [u.to_json() for u in ([] if passed else state.unfixable)], 'bits_added': added,
                      'bits_removed': removed, 'config': str(request.output), 'passed': passed,
                      'seconds': round(time.perf_counter() - self.started, 1), 'what_ifs': state.what_ifs,
                      'builds': state.builds, 'predicted_vs_measured': state.confirmed,
                      'emulation_bugs': state.emulation_bugs, 'notes': state.notes,
                      'candidates': [c.to_json() for c in state.candidates]}
        result.exit_code = 0 if passed else 1
        result.verdict = 'pass' if passed else 'fail'
        return result
