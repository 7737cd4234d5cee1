"""The cause a layer's links prove: what hls4ml wrote other than Keras's layer (the generator link)."""

from __future__ import annotations

from hlsdiff.diagnosis.causes import DEPTHWISE_CLASSES, unfold_workaround
from hlsdiff.result import LayerResult


def generator_defect(res: LayerResult, links, keras_class: str | None) -> None:
    """Proven: the reference (Keras's layer at the project's types) and the project's files differ."""
    res.cause = 'generator-defect'
    res.propagated_from = None
    res.evidence = 'emulation'
    res.generator_evidence = [d.to_json() for d in links.differences]
    what = '; '.join(d.detail for d in links.differences)
    measured = []
    if links.generator is not None:
        measured.append(f'Keras\'s layer at the project\'s types and the project\'s files differ by up to '
                        f'{links.generator:.4g} ({links.generator_fraction:.0%} of the values)')
    if links.kernel == 0.0:
        measured.append('the kernel computes its files bit for bit')
    res.cause_detail = f'hls4ml wrote {res.name} other than Keras computes it: {what}'
    if _not_computed(res, links):  # no call for this layer at all: the evidence says it whole
        res.cause_detail = what
        res.hint = (f'Replace {keras_class or res.class_name} {res.name} by layers this backend has kernels for, and '
                    'report to hls4ml that it writes no call for it (with this evidence)')
        return
    if measured:
        res.cause_detail += ' (' + '; '.join(measured) + ')'
    res.hint = _hint(res, links, keras_class)


def _not_computed(res: LayerResult, links) -> bool:
    """The project has no call for the layer itself (emulate.links.missing_calls)."""
    return any(d.what == 'function' and d.name == res.name for d in links.differences)


def _hint(res: LayerResult, links, keras_class: str | None) -> str:
    if res.class_name in DEPTHWISE_CLASSES and any('diagonal' in d.detail for d in links.differences):
        folded = any(part.startswith('BatchNormalization ') for part in res.folded)
        return ('Run `hlsdiff patch` on the project (or compare --patch): it writes the folded depthwise weights '
                'hls4ml should have written' + (f'; or {unfold_workaround(res.name)}' if folded else ''))
    if any(d.permutation and 'Resource' in d.permutation for d in links.differences):
        return ('Convert the model with Strategy: Latency (hls4ml then writes these weights in the order its kernel '
                f'reads; a LayerName.{res.name}.Strategy alone does not change the order), and report the Resource '
                'weight order to hls4ml with this evidence')
    return f'Report it to hls4ml with this evidence ({keras_class or res.class_name} {res.name})'
