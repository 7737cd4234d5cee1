"""The result of a compare: per-layer records, the onset, the verdict. JSON in and out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hlsdiff.remedy import Remedy
from hlsdiff.vocabulary import Cause, Evidence, Origin, Status, Verdict

SCHEMA_VERSION = 2  # docs/json-schema.md; version 1 files are read too (every field of 1 is in 2)
READABLE_VERSIONS = (1, 2)


@dataclass
class LayerResult:
    name: str
    keras: str | None
    class_name: str
    result_type: str | None
    shape: list[int]
    status: Status
    max_abs: float | None = None
    mean_abs: float | None = None
    rmse: float | None = None
    max_lsb: float | None = None
    mismatched_fraction: float | None = None
    per_channel: dict = field(default_factory=lambda: {'max_abs': [], 'mean_abs': []})
    pattern: dict = field(default_factory=lambda: {'kind': 'none', 'channels': [], 'period': None})
    cause: Cause = 'none'
    hint: str = ''
    reason: str = ''
    # beyond the minimum of docs/json-schema.md
    inputs: list[str] = field(default_factory=list)
    mapping_note: str = ''
    origin: Origin = 'model'  # where hls4ml's layer comes from (vocabulary.Origin)
    folded: list[str] = field(default_factory=list)  # framework layers hls4ml folded into it: 'BatchNormalization bn1'
    accum_type: str | None = None
    worst_channels: list[int] = field(default_factory=list)
    worst_index: list[int] = field(default_factory=list)
    mismatched: int = 0
    total: int = 0
    tolerance: float | None = None
    min_passing_tolerance: float | None = None
    local_max_abs: float | None = None
    local_max_lsb: float | None = None
    introduces_error: bool = False
    propagated_from: str | None = None
    cause_detail: str = ''
    gate_failures: list[str] = field(default_factory=list)
    emulation: dict | None = None  # {status, differing, max_lsb, channels, reason}
    evidence: Evidence = 'heuristic'  # what the cause rests on
    # the config change that cures this layer's own error (its JSON: Remedy.layer_json); `hlsdiff fix` applies it
    remedy: Remedy | None = None
    # the layer's own error split over three links, each the max abs it carries (None: not computed, the
    # reason in emulation.reason): {precision, generator, kernel}; and what hls4ml wrote other than Keras
    links: dict | None = None
    generator_evidence: list[dict] = field(default_factory=list)
    # how far rounding alone moves this layer (emulated): {inputs, types, bound}; `rounding` is said only within it
    rounding_bound: dict | None = None
    # the per-element rounding check (docs/gate.md): elements whose own error is beyond what the layer's types
    # explain, the samples wrong at this layer (its own or received; the count and the first 20), the worst
    # element, and the largest own error rounding explains, in LSB
    beyond_rounding: int = 0
    wrong_samples_count: int = 0
    wrong_samples: list[int] = field(default_factory=list)
    worst_wrong: dict | None = None
    rounding_bound_lsb: float | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d['class'] = d.pop('class_name')
        d['remedy'] = self.remedy.layer_json() if self.remedy is not None else None
        return d


@dataclass
class CompareResult:
    model: str
    io_type: str
    backend: str
    samples: int
    layers: list[LayerResult]
    onset: dict | None = None
    summary: str = ''
    verdict: Verdict = 'pass'
    exit_code: int = 0
    error: dict | None = None
    unmatched_keras: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    gate_failures: list[str] = field(default_factory=list)  # '<layer>: <rule>' for every rule that failed
    timings: dict = field(default_factory=dict)
    hlsdiff_version: str = ''
    hls4ml_version: str = ''
    patched: CompareResult | None = None  # the result with `hlsdiff patch` applied, when --patch
    outputs: list[dict] = field(default_factory=list)  # [{name, top1_agreement, max_abs, mean_abs}]
    fix: dict | None = None  # `hlsdiff fix`: rounds, changes, unfixable, bits, config
    # with --patch: which project the verdict judges ('stock' unless --gate patched), and both verdicts
    gate: str | None = None
    verdicts: dict | None = None  # {'stock': verdict, 'patched': verdict}
    # the arrays behind it, when the compare ran in this process (the API; not part of the JSON)
    arrays: dict | None = field(default=None, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.verdict == 'pass'

    @property
    def ok(self) -> bool:
        """True when every gate holds."""
        return self.verdict == 'pass'

    def to_frame(self):
        """A pandas DataFrame, one row per hls4ml layer."""
        import pandas as pd

        rows = []
        for layer in self.layers:
            rows.append({'layer': layer.name, 'class': layer.class_name, 'keras': layer.keras,
                         'result_type': layer.result_type, 'status': layer.status, 'max_abs': layer.max_abs,
                         'mean_abs': layer.mean_abs, 'rmse': layer.rmse, 'max_lsb': layer.max_lsb,
                         'mismatched_fraction': layer.mismatched_fraction, 'own_max_abs': layer.local_max_abs,
                         'pattern': layer.pattern.get('kind'), 'cause': layer.cause, 'evidence': layer.evidence,
                         'emulation': (layer.emulation or {}).get('status'), 'hint': layer.hint,
                         'onset': bool(self.onset and self.onset.get('layer') == layer.name)})
        return pd.DataFrame(rows).set_index('layer')

    def channels_frame(self):
        """A pandas DataFrame, one row per layer and channel (max and mean abs error)."""
        import pandas as pd

        rows = []
        for layer in self.layers:
            per = layer.per_channel or {}
            for c, (mx, mean) in enumerate(zip(per.get('max_abs', []), per.get('mean_abs', []))):
                rows.append({'layer': layer.name, 'channel': c, 'max_abs': mx, 'mean_abs': mean,
                             'status': layer.status})
        return pd.DataFrame(rows, columns=['layer', 'channel', 'max_abs', 'mean_abs', 'status'])

    def _repr_html_(self) -> str:
        """The diagnosis, the layer x channel heatmap and the table, inline in Jupyter."""
        from hlsdiff.reports import html

        return html.render(self, _Traces(self.arrays) if self.arrays else None)

    def save(self, path: str | Path) -> None:
        """The JSON report (docs/json-schema.md)."""
        from hlsdiff.reports import files

        files.write_json(self, path)

    def layer(self, name: str) -> LayerResult:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def to_json(self) -> dict:
        return {
            'schema_version': SCHEMA_VERSION,
            'hlsdiff_version': self.hlsdiff_version,
            'hls4ml_version': self.hls4ml_version,
            'model': self.model,
            'io_type': self.io_type,
            'backend': self.backend,
            'samples': self.samples,
            'verdict': self.verdict,
            'exit_code': self.exit_code,
            'error': self.error,
            'onset': self.onset,
            'summary': self.summary,
            'layers': [layer.to_json() for layer in self.layers],
            'outputs': [{k: v for k, v in o.items() if not k.startswith('_')} for o in self.outputs],
            **({'fix': self.fix} if self.fix is not None else {}),
            **({'gate': self.gate, 'verdicts': self.verdicts} if self.gate is not None else {}),
            'unmatched_keras': self.unmatched_keras,
            'notes': self.notes,
            'gates': self.gates,
            'gate_failures': self.gate_failures,
            'timings': self.timings,
            'patched': self.patched.to_json() if self.patched is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> CompareResult:
        if data.get('schema_version') not in READABLE_VERSIONS:
            raise ValueError(f'schema_version {data.get("schema_version")!r} is not one of {READABLE_VERSIONS}')
        layers = []
        known = set(LayerResult.__dataclass_fields__)
        for raw in data['layers']:
            raw = dict(raw)
            raw['class_name'] = raw.pop('class')
            if raw.get('remedy'):
                raw['remedy'] = Remedy.from_layer_json(raw['remedy'])
            layers.append(LayerResult(**{k: v for k, v in raw.items() if k in known}))
        result = cls(model=data.get('model') or '', io_type=data.get('io_type') or '', backend=data.get('backend') or '',
                     samples=int(data.get('samples') or 0), layers=layers)
        for k in ('onset', 'summary', 'verdict', 'exit_code', 'error', 'unmatched_keras', 'notes', 'gates', 'gate_failures',
                  'timings',
                  'hlsdiff_version', 'hls4ml_version', 'outputs', 'fix', 'gate', 'verdicts'):
            if k in data and data[k] is not None:
                setattr(result, k, data[k])
        if isinstance(data.get('patched'), dict):
            result.patched = cls.from_json(data['patched'])
        return result


def error_result(kind: str, message: str, exit_code: int, model: str = '', **extra) -> CompareResult:
    """A result for a compare that could not finish, so that --json still says why."""
    r = CompareResult(model=model, io_type=extra.get('io_type', ''), backend=extra.get('backend', ''), samples=0,
                      layers=[])
    r.verdict, r.exit_code, r.error = 'error', exit_code, {'kind': kind, 'message': message}
    r.error.update({k: extra[k] for k in ('layer', 'cause') if extra.get(k)})
    r.summary = message
    return r


def load(path: str | Path) -> CompareResult:
    return CompareResult.from_json(json.loads(Path(path).read_text()))


class _Traces:
    """The arrays of a compare run in this process, as the HTML report reads them."""

    def __init__(self, arrays):
        self.arrays = arrays
