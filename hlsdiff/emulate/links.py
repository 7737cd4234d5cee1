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
