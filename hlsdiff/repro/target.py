"""Which layer to reproduce, whether its error is a defect, and the framework layers it stands for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsdiff.errors import EXIT_GATE_FAILED, BadInput, HlsdiffError
from hlsdiff.layers import Collected, LayerInfo
from hlsdiff.repro.frontend import ReproFrontend
from hlsdiff.result import CompareResult, LayerResult

# what hls4ml itself gets wrong (not a type the user chose): what a reproducer is for
DEFECT_CAUSES = ('kernel-defect', 'generator-defect', 'kernel-abort', 'weights', 'unsupported-attribute')
PRECISION_CAUSES = ('rounding', 'input-quantization', 'overflow-wrap', 'saturation', 'accumulator', 'table-range')
MAX_SAMPLES = 8


class NotADefect(HlsdiffError):
    """The layer's error is not a defect of hls4ml's (exit 1): no reproducer is written."""

    exit_code = EXIT_GATE_FAILED
    kind = 'not-a-defect'


@dataclass(frozen=True)
class Target:
    layer: str  # the hls4ml layer
    class_name: str
    cause: str
    keras_layers: tuple[str, ...]  # the Keras layers it stands for, in order (a folded BN after its layer)
    tolerance: float  # the bound within which the layer's result is rounding
    result: LayerResult | None = None  # None when the C-simulation aborted
    abort: str = ''  # the abort's message


def resolve(name: str, result: CompareResult, collected: Collected, model, frontend: ReproFrontend) -> Target:
    """The layer `--layer NAME` means (an hls4ml layer, or a Keras layer one stands for), checked to be a
    defect that a reproducer can show."""
    info = _info(name, collected)
    layer = result.layer(info.name)
    if layer.status == 'not-compared':
        raise NotADefect(f'{info.name} is not compared ({layer.reason}): nothing to reproduce')
    if layer.cause == 'propagated' or (not layer.introduces_error and layer.status == 'mismatch'):
        onset = (result.onset or {}).get('layer')
        raise NotADefect(f'{info.name}: its error comes from an earlier layer ({layer.propagated_from or onset}); '
                         f'reproduce that one: hlsdiff repro ... --layer {layer.propagated_from or onset}')
    if layer.status in ('ok', 'noise'):
        raise NotADefect(f'{info.name} matches {frontend.label} ({layer.status}, max abs error {layer.max_abs:.3g}): '
                         'nothing to reproduce')
    if layer.cause in PRECISION_CAUSES:
        raise NotADefect(f'{info.name}: not an hls4ml defect — its error is precision ({layer.cause}: the types it '
                         f'was given); `hlsdiff fix` finds the config that cures it')
    if layer.cause not in DEFECT_CAUSES:
        raise NotADefect(f'{info.name}: the cause of its error is {layer.cause}, not shown to be an hls4ml defect; '
                         'no reproducer is written')
    chain = keras_chain(info, model, frontend)
    return Target(info.name, info.class_name, layer.cause, tuple(chain), float(layer.tolerance or 0.0), layer)


def _info(name: str, collected: Collected) -> LayerInfo:
    by_name = {info.name: info for info in collected.layers}
    if name in by_name:
        return by_name[name]
    for info in collected.layers:  # a Keras layer folded into (or split into) an hls4ml one
        if info.keras and info.keras.split(' (')[0] == name and info.class_name != 'Input':
            return info
    known = ', '.join(i.name for i in collected.layers if i.class_name != 'Input')
    raise BadInput(f'--layer {name}: no such layer (hls4ml layers: {known})')


def keras_chain(info: LayerInfo, model, frontend: ReproFrontend) -> list[str]:
    """The Keras layers from the one hls4ml named this layer after to the one whose output it is compared
    with (e.g. [dw, bn] for a BatchNormalization folded into dw)."""
    end = (info.keras or info.name).split(' (')[0]
    start = frontend.own_layer(model, info.name, info.class_name) or end
    chain = [end]
    while chain[0] != start and len(chain) < 4:
        feeding = frontend.input_of(model, chain[0])
        if not feeding:
            return [end]
        chain.insert(0, feeding)
    return chain if chain[0] == start else [end]


def abort_target(layer: str, message: str, model, frontend: ReproFrontend) -> Target:
    """The layer whose kernel aborted the C-simulation (a C++ assert): the framework layer of that name."""
    own = frontend.own_layer(model, layer, '')
    if own is None:
        raise BadInput(f'the C-simulation aborted in {layer}, which is not a {frontend.label} layer of the model')
    return Target(layer, frontend.class_of(model, own), 'kernel-abort', (own,), 0.0, abort=message)


def worst_samples(collected: Collected | None, target: Target, count: int) -> np.ndarray:
    """The samples that show the defect most (at most MAX_SAMPLES), in their order in the data: the compare's
    wrong samples at the layer (beyond rounding, by its element check) first, then the others over the
    tolerance (the samples wrong beyond rounding are among the ones a streamed compare keeps)."""
    arrays = collected.arrays.get(target.layer) if collected is not None else None
    if collected is None or arrays is None or arrays.actual is None:
        return np.arange(min(count, MAX_SAMPLES))
    reference = arrays.local if arrays.local is not None else arrays.expected
    err = np.abs(np.asarray(arrays.actual, np.float64) - np.asarray(reference, np.float64))
    per_sample = err.reshape(err.shape[0], -1).max(axis=1)
    order = np.argsort(-per_sample, kind='stable')
    kept = collected.kept_samples
    check = collected.checks.get(target.layer)
    wrong = {int(i) for i in getattr(check, 'samples', None) or ()}
    sample_of = (lambda r: int(kept[r])) if kept is not None else int
    first = [int(r) for r in order if sample_of(r) in wrong]
    showing = (first + [int(r) for r in order if per_sample[r] > target.tolerance and int(r) not in first])[:MAX_SAMPLES]
    rows = sorted(showing or [int(i) for i in order[:MAX_SAMPLES]])
    # many samples streamed: the compare kept some (the ones wrong beyond rounding among them), row by row
    return np.array([sample_of(r) for r in rows], dtype=np.int64)
