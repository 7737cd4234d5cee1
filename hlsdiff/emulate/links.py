"""A layer's own error split over three links: precision, generator, kernel (see reference.py).

`measure` never raises: whatever goes wrong while computing a link leaves that link null and
says why in `reason`; the compare goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsdiff.diff import NOISE_FRACTION
from hlsdiff.emulate.reference import Difference, reference
from hlsdiff.emulate.spec import LayerSpec


@dataclass(frozen=True)
class Links:
    """The max abs error each link carries (None: not computed, `reason` says why), the share of
    elements the generator link moves by more than the layer's tolerance, and its evidence."""

    precision: float | None = None
    generator: float | None = None
    kernel: float | None = None
    generator_fraction: float = 0.0
    differences: tuple[Difference, ...] = ()
    reason: str | None = None

    def to_json(self) -> dict:
        return {'precision': self.precision, 'generator': self.generator, 'kernel': self.kernel}

    @property
    def generator_defect(self) -> bool:
        """hls4ml wrote something other than the framework's layer, and it changes values (or its size)."""
        structural = any(d.what in ('attribute', 'function') for d in self.differences)
        return structural or (bool(self.differences) and self.generator_fraction > NOISE_FRACTION)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    if a.shape != b.shape:
        return None
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def measure(emulator, layer: str, spec: LayerSpec | str | None, actual: np.ndarray | None,
            local: np.ndarray | None, tol: float) -> Links:
    """The three links of one layer; `actual` is the C-simulation's trace, `local` the framework's
    float layer on the same inputs, `tol` the layer's element tolerance."""
    reasons = []
    kernel = project = None
    try:
        project = emulator.emulate(layer).to_float()
        if actual is not None:
            kernel = _max_abs(project, np.asarray(actual, dtype=np.float64))
    except Exception as exc:  # noqa: BLE001 - the emulation never takes a compare down
        reasons.append(f'project emulation: {exc}')
    if spec is None or isinstance(spec, str):
        reasons.append(spec or 'no reference of this layer')
        return Links(kernel=kernel, reason='; '.join(reasons))
    try:
        ref = reference(emulator.program, emulator.calls[layer], spec, emulator.run_call)
    except Exception as exc:  # noqa: BLE001
        reasons.append(f'reference emulation: {exc}')
        return Links(kernel=kernel, reason='; '.join(reasons))
    generator = precision = None
    fraction = 0.0
    if ref.values is None:
        reasons.append('the reference is not computed: ' + '; '.join(d.detail for d in ref.differences))
    else:
        values = ref.values.to_float()
        if project is not None:
            generator = _max_abs(values, project)
            if generator is not None:
                moved = np.abs(values.reshape(values.shape[0], -1) - project.reshape(project.shape[0], -1)) > tol
                fraction = float(moved.mean()) if moved.size else 0.0
            else:
                reasons.append('the framework\'s attributes give another output size than the project\'s')
        if local is not None:
            precision = _max_abs(values, np.asarray(local, dtype=np.float64))
    return Links(precision, generator, kernel, fraction, ref.differences, '; '.join(reasons) or None)


def missing_calls(emulator, infos) -> dict[str, Links]:
    """The layers the project computes nothing for: hls4ml has the layer but wrote no call for it (hls4ml 1.3.0's
    Vivado writer leaves out a layer it has no kernel template for, a SimpleRNN, without a word), and a later call
    reads its output from an array no call writes, or the top function returns that array unwritten. A layer hls4ml
    removes (a Dropout, a reshape it makes a no-op) is not one: the next call reads an array that is written.
    `infos`: the layers' LayerInfo, in order. Each gets a generator link that names what is missing."""
    if emulator is None:
        return {}
    program = emulator.program
    unwritten = emulator.unwritten_reads()
    data = {info.name for info in infos if not info.inputs}
    found: dict[str, Links] = {}
    for info in infos:
        if not info.inputs or info.name in emulator.calls or info.hls.index is None:
            continue
        if f'layer{info.hls.index}_out' in program.aliases:  # a reshape hls4ml made a no-op: its array is another's
            continue
        var = _output_variable(info, infos, unwritten, emulator.calls, data)
        if var in unwritten:
            readers = ', '.join(unwritten[var])
            use = f'{readers} read{"s" if len(unwritten[var]) == 1 else ""} its output {var}, which no call writes'
        elif var in program.top_inputs and var not in data:
            use = f'the top function returns its output {var}, which no call writes'
        else:
            continue
        what = f'{info.keras_class or info.class_name} {info.name}'
        detail = f'hls4ml wrote no call for {what}: nothing in the project computes it, and {use}'
        found[info.name] = Links(differences=(Difference('function', info.name, detail),),
                                 reason='no kernel call of this layer in the project: nothing computes it')
    return found


def _output_variable(info, infos, unwritten: dict[str, list[str]], calls: dict, data: set[str]) -> str:
    """The array hls4ml 1.3.0 names this layer's output (`layer<index>_out`), or else the one unwritten array its one
    reader reads, when that reader has no other input without a call but the data."""
    named = f'layer{info.hls.index}_out'
    if named in unwritten:
        return named
    readers = [other for other in infos if info.name in other.inputs and other.name in calls]
    if len(readers) == 1 and sum(1 for p in readers[0].inputs if p not in calls and p not in data) == 1:
        named_by_others = {f'layer{other.hls.index}_out' for other in infos if other is not info}
        read = [var for var, layers in unwritten.items() if readers[0].name in layers and var not in named_by_others]
        if len(read) == 1:
            return read[0]
    return named
