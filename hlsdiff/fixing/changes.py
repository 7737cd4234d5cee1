"""What `fix` changes in the config, round by round: a `Change` per config entry, the state a run carries
from round to round, and the bookkeeping that keeps or takes back a change on what the C-simulation measured."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hlsdiff.fixedpoint import parse_type
from hlsdiff.remedy import Remedy, Unfixable, get, put

if TYPE_CHECKING:
    from hlsdiff.predict import Predictor
    from hlsdiff.result import CompareResult
    from hlsdiff.search import Found
    from hlsdiff.whatif import Loaded

# a change is kept when the real C-simulation shows the layer's own error at most this share of before
CURED = 0.5


@dataclass
class Change:
    """A config change `fix` made: the `Remedy` (what, why, its emulated or predicted effect) and the round's
    bookkeeping (the layer it cures, the round, kept or taken back, what the C-simulation measured)."""

    remedy: Remedy
    target: str  # the layer whose own error it cures
    own_error_before: float | None = None
    own_error_after: float | None = None
    round: int = 0
    verified: bool = False
    status: str = 'applied'  # applied | kept | reverted
    config_before: object = None  # the config entry as it was (e.g. 'auto'; None: absent), restored on revert
    predicted_max_abs: float | None = None  # the changed layer's error vs Keras, predicted
    measured_max_abs: float | None = None  # and measured by the C-simulation that confirmed it

    @classmethod
    def of(cls, remedy: Remedy, target: str, **bookkeeping) -> Change:
        """A change made from `remedy`: its emulated effect on the layer is where the measurements start."""
        start = {'own_error_before': remedy.own_error_before, 'own_error_after': remedy.own_error_after,
                 'verified': remedy.verified}
        return cls(remedy, target, **{**start, **bookkeeping})

    @property
    def layer(self) -> str:  # the config entry changed (LayerName.<layer>)
        return self.remedy.layer

    @property
    def key(self) -> str:  # e.g. Precision.accum, Strategy
        return self.remedy.key

    @property
    def before(self) -> str | None:  # the type hls4ml derived for an 'auto' entry, else the entry as it was
        before = self.remedy.derived or self.remedy.before
        return None if before is None else str(before)

    @property
    def after(self) -> str:
        return str(self.remedy.after)

    @after.setter
    def after(self, value: str) -> None:  # --minimize narrows a kept change
        self.remedy = replace(self.remedy, after=value)

    @property
    def why(self) -> str:
        return self.remedy.why

    @property
    def evidence(self) -> str:  # prediction (searched through hls4ml's project) | emulation (the layer alone)
        return self.remedy.evidence

    @property
    def workaround(self) -> bool:  # works around an hls4ml defect
        return self.remedy.workaround

    def to_json(self) -> dict:
        r = self.remedy
        return {'layer': r.layer, 'key': r.key, 'before': self.before, 'after': self.after, 'why': r.why,
                'target': self.target, 'own_error_before': self.own_error_before,
                'own_error_after': self.own_error_after, 'round': self.round, 'verified': self.verified,
                'status': self.status, 'evidence': r.evidence, 'workaround': r.workaround,
                'predicted_max_abs': self.predicted_max_abs, 'measured_max_abs': self.measured_max_abs}


@dataclass
class FixState:
    """What one `fix` run carries from round to round."""

    config: dict
    loaded: Loaded
    changes: list[Change] = field(default_factory=list)
    unfixable: list[Unfixable] = field(default_factory=list)
    tried: set = field(default_factory=set)
    predictor: Predictor | None = None  # made from each round's compare (its kept rows, its wrong samples)
    found: Found | None = None  # the last round's search: its prediction, to compare with the C-simulation
    distance: float | None = None  # the last measured distance of the outputs from Keras
    what_ifs: int = 0
    builds: int = 0
    confirmed: list = field(default_factory=list)  # predicted vs measured, per changed layer and per output
    emulation_bugs: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    candidates: list = field(default_factory=list)  # candidate changes measured by the C-simulation (candidates.py)

    def apply(self, change: Change, value: object) -> None:
        """`change` made: `value` written into the config (its `after`, as the search or the compare gave it)."""
        put(self.config, change.layer, change.key, value)
        self.tried.add((change.layer, change.key, change.after))
        self.changes.append(change)


def bits(text) -> int | None:
    t = parse_type(str(text)) if text is not None else None
    return t.width if t else None


def own_error(layer) -> float | None:
    """The error a layer adds by itself (for an input row: its whole error)."""
    return layer.local_max_abs if layer.local_max_abs is not None or layer.inputs else layer.max_abs


def compare_remedies(result: CompareResult, tried: set) -> tuple[list[Change], list[Unfixable]]:
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
        change = Change.of(replace(remedy, why=f'{layer.cause}: {layer.cause_detail}', derived=None), layer.name)
        if (change.layer, change.key, change.after) in tried:
            unfixable.append(Unfixable(layer.name, layer.cause, f'{change.key} of {change.layer} was set to '
                                                                f'{change.after} already and did not cure it'))
            continue
        changes.append(change)
    return changes, unfixable


def verify_changes(result, changes: list[Change], config: dict, rnd: int) -> None:
    """Last round's changes, measured by the real C-simulation: kept if the layer's own error fell."""
    by_name = {layer.name: layer for layer in result.layers}
    for change in changes:
        if change.status != 'applied' or change.round != rnd - 1 or change.key == 'Strategy' or \
                change.evidence == 'prediction':
            continue
        layer = by_name.get(change.target)
        now = own_error(layer) if layer is not None else None
        change.own_error_after = now if now is not None else change.own_error_after
        before = change.own_error_before
        if now is None or before is None or now <= before * CURED or (layer is not None and layer.status != 'mismatch'):
            change.status, change.verified = 'kept', True
        else:
            change.status = 'reverted'
            put(config, change.layer, change.key, change.config_before)


def take_back_unmeasured(state: FixState, rounds: int) -> None:
    """Changes applied after the last round's C-simulation were never measured: `fix` writes none of them
    (the rounds ran out before their confirmation), and says so."""
    for c in state.changes:
        if c.round == rounds and c.status == 'applied':
            put(state.config, c.layer, c.key, c.config_before)
            c.status = 'reverted'
            state.notes.append(f'{c.key} of {c.layer} -> {c.after} was found in the last round and not measured by the '
                               'C-simulation: not written (raise --max-rounds to confirm it)')


def strategy_of(config: dict, layer: str) -> str:
    """The Strategy a layer is converted with: its own entry, else the model's."""
    return str(get(config, layer, 'Strategy') or (config.get('Model') or {}).get('Strategy') or 'latency').lower()
