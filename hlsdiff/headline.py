"""The compare's headline hint, checked where it matters: at the model's outputs.

The onset's remedy is shown by emulation to cure that layer's own error. Whether it helps the outputs is
another question (a narrower type downstream, a softmax table): this converts the config with the change
through hls4ml's own conversion and emulates the model to its outputs (`predict.Predictor`, no g++), with
and without it, and says what it does there. Never fails a compare: what cannot be predicted is said.
"""

from __future__ import annotations

import time
from typing import Any

from hlsdiff.result import CompareResult, LayerResult

HEADLINE_SAMPLES = 64  # the samples the check predicts: the wrong ones first, then the first ones


def check_at_outputs(result: CompareResult, collected: Any, model: Any, request: Any) -> None:
    """Annotate the onset's hint (and the summary) with its predicted effect at the outputs."""
    onset = result.onset
    layer = result.layer(onset['layer']) if onset else None
    if layer is None or not layer.remedy or collected is None or model is None:
        return
    started = time.perf_counter()
    try:
        effect = _predicted_effect(layer, collected, model, request)
    except Exception as exc:  # noqa: BLE001 - a prediction that cannot run is said, never a failed compare
        effect = f'not checked at the outputs: the prediction could not run ({type(exc).__name__}: {exc})'
    result.timings['hint_prediction_seconds'] = round(time.perf_counter() - started, 3)
    layer.hint = f'{layer.hint.rstrip(".")} ({effect})'
    from hlsdiff.diagnosis import summary_sentence

    result.summary = summary_sentence(result)


def _predicted_effect(layer: LayerResult, collected: Any, model: Any, request: Any) -> str:
    from hlsdiff.remedy import applied
    from hlsdiff.search import failing
    from hlsdiff.trace.load import read_data
    from hlsdiff.whatif import Loaded, initial_config, make_predictor

    data = read_data(request.data)
    names, shapes = collected.frontend.inputs(model, data)
    loaded = Loaded(collected.frontend, model, data, names, shapes)
    config, settings = initial_config(loaded, request.convert)
    changed = applied(config, [layer.remedy] if layer.remedy is not None else [])
    predictor = make_predictor(loaded, collected, settings, limit=HEADLINE_SAMPLES)
    try:
        before, after = predictor.predict(config), predictor.predict(changed)
    finally:
        predictor.close()
    if not after.complete:
        missing = ', '.join(list(after.not_emulated)[:3])
        return f'not checked at the outputs: the emulation does not reach them (not emulated: {missing})'
    figures = '; '.join(_output_figures(before.output(o.name), o) for o in after.outputs)
    left = failing(after, request.gates)
    if not left:
        return f'predicted at the outputs: {figures}; the outputs then pass the gate'
    helps = sum(o.max_abs for o in after.outputs) < sum(o.max_abs for o in before.outputs)
    verdict = 'it helps, and alone does not suffice' if helps else 'it does not help the outputs'
    return (f'predicted at the outputs: {figures}: {verdict} ({len(left)} gate rule(s) still fail); '
            '`hlsdiff fix` finds and confirms the set of changes that does')


def _output_figures(before, after) -> str:
    text = f'{after.name} max abs {before.max_abs:.4g} -> {after.max_abs:.4g}' if before else \
        f'{after.name} max abs {after.max_abs:.4g}'
    if before is not None and after.top1_agreement is not None and before.top1_agreement is not None:
        text += f', top-1 {before.top1_agreement:.1%} -> {after.top1_agreement:.1%}'
    return text
