"""What to do next when the precision of several layers, not one defect, keeps the outputs from Keras."""

from __future__ import annotations

from hlsdiff.result import CompareResult

# causes that a configuration cures (the layer computes what its types say; a type is what costs it)
PRECISION_CAUSES = ('rounding', 'input-quantization', 'overflow-wrap', 'saturation', 'accumulator', 'table-range',
                    'weights')


def next_step(result: CompareResult) -> str | None:
    """A note when the onset's hint is a precision change and the model outputs disagree with Keras: the
    hint is verified on its own layer; the layers whose own error comes from their types are named, and
    `hlsdiff fix` searches the changes the outputs need."""
    onset = result.onset or {}
    if onset.get('cause') not in PRECISION_CAUSES or onset.get('evidence') != 'emulation':
        return None
    off = [o for o in result.outputs if not _agrees(o, result)]
    if not off:
        return None
    sources = [layer.name for layer in result.layers if layer.cause in PRECISION_CAUSES and layer.status == 'mismatch']
    outputs = ', '.join(f'{o["name"]} (top-1 {o["top1_agreement"]:.0%})' if o.get('top1_agreement') is not None
                        else o['name'] for o in off)
    return (f'the hint for {onset["layer"]} is verified on that layer\'s own error; {len(sources)} layer(s) add an error '
            f'of their own from their types ({", ".join(sources[:6])}{"..." if len(sources) > 6 else ""}) and the '
            f'outputs {outputs} disagree with Keras: `hlsdiff fix` searches the changes they need by prediction '
            'and confirms them with the C-simulation')


def _agrees(output: dict, result: CompareResult) -> bool:
    top1 = output.get('top1_agreement')
    if top1 is not None:
        return top1 >= 0.99
    return all(layer.status != 'mismatch' for layer in result.layers if layer.name == output.get('name'))
