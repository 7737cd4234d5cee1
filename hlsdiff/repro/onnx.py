"""The ONNX/QONNX frontend of `repro` (the modern environment): a subgraph between named tensors.

The model repro cuts from is the one the compare converted: cleaned by qonnx as hls4ml's ONNX
frontend asks (channels-last inside, Gemm as MatMul + Add, constants folded). The cut is
`onnx.utils.Extractor` between the tensor that feeds the first kept node and the last kept node's
output, its input renamed for the reduced config; repro.py runs it with qonnx's executor (as the
compare's reference does) and converts it with hls4ml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.errors import BadInput
from hlsdiff.repro.frontend import ScriptFacts, register
from hlsdiff.repro.script import Parts, render

IMPORTS = 'from qonnx.core.modelwrapper import ModelWrapper\nfrom qonnx.core.onnx_exec import execute_onnx'
MODEL = """model = ModelWrapper(os.path.join(HERE, '{model_file}'))  # cleaned by qonnx as hls4ml asks, then cut
inp, out = model.graph.input[0].name, model.graph.output[0].name
expected = np.concatenate([execute_onnx(model, {{inp: s[np.newaxis].astype(np.float32)}})[out] for s in x])
expected = expected.astype(np.float64)
"""
CONVERT = """hls_model = hls4ml.converters.convert_from_onnx_model(
    model, hls_config=cfg['HLSConfig'], io_type=cfg['IOType'], backend=cfg['Backend'], output_dir=prj)
"""


def _nodes(model) -> dict:
    return {n.name: n for n in model.graph.node}


def _data_inputs(model, node) -> list[str]:
    """The tensors a node reads that are not constants (initializers)."""
    return [t for t in node.input if t and model.get_initializer(t) is None]


def _producer(model) -> dict[str, str]:
    return {out: n.name for n in model.graph.node for out in n.output}


class OnnxRepro:
    name = 'onnx'
    label = 'ONNX'

    def cut(self, model: Any, layers: list[str], input_name: str) -> Any:
        nodes = _nodes(model)
        (source,) = _data_inputs(model, nodes[layers[0]])
        return _extract(model, source, nodes[layers[-1]].output[0], input_name)

    def input_of(self, model: Any, layer: str) -> str | None:
        feeding = _data_inputs(model, _nodes(model)[layer])
        if len(feeding) != 1:
            return ''
        return _producer(model).get(feeding[0])

    def layer_names(self, model: Any) -> list[str]:
        return [n.name for n in model.graph.node]

    def describe(self, model: Any) -> str:
        return ' + '.join(n.op_type for n in model.graph.node)

    def class_of(self, model: Any, layer: str) -> str:
        return _nodes(model)[layer].op_type

    def configure(self, model: Any, hls: dict) -> None:
        return None  # the cleaned graph is channels-last inside already

    def own_layer(self, model: Any, hls_name: str, class_name: str) -> str | None:
        """Its own name, or without hls4ml's class prefix (`Dense_MatMul_0`, `Conv2D_Conv_0`) or `bn_`."""
        nodes = _nodes(model)
        candidates = [hls_name] + [hls_name[len(p):] for p in (f'{class_name}_', 'bn_') if hls_name.startswith(p)]
        candidates += [hls_name.split('_', 1)[1]] if '_' in hls_name else []
        return next((c for c in candidates if c in nodes), None)

    def input_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        (source,) = _data_inputs(model, _nodes(model)[layer])
        return tuple(int(d) for d in model.get_tensor_shape(source)[1:])

    def from_csim(self, model: Any, values: np.ndarray, layer: str) -> np.ndarray:
        """The cleaned graph is channels-last inside, as hls4ml's tensors are: only the shape changes."""
        return values.reshape((values.shape[0], *self.input_shape(model, layer)))

    def prefix(self, model: Any, layer: str) -> Any:
        inputs = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
        if len(inputs) != 1:
            raise BadInput('the model has several inputs: repro writes single-input reproducers only')
        return _extract(model, inputs[0], _nodes(model)[layer].output[0], None)

    def values(self, model: Any, samples: np.ndarray, layer: str | None) -> np.ndarray:
        import onnxruntime
        from qonnx.core.onnx_exec import execute_onnx

        if layer is None:
            return np.asarray(samples, dtype=np.float64)
        onnxruntime.set_default_logger_severity(3)  # its warnings on qonnx's one-node models are not the user's
        inp, out = model.graph.input[0].name, _nodes(model)[layer].output[0]
        rows = [execute_onnx(model, {inp: s[np.newaxis].astype(np.float32)}, return_full_exec_context=True)[out]
                for s in samples]
        return np.concatenate(rows).astype(np.float64)

    def save(self, model: Any, folder: Any, suffix: str) -> str:
        model.save(str(Path(folder) / 'model.onnx'))
        return 'model.onnx'

    def script(self, facts: ScriptFacts, model: Any) -> str:
        return render(facts, Parts('ONNX', '# ONNX, cleaned by qonnx', IMPORTS, MODEL, CONVERT))

    def versions(self) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        found: dict[str, str] = {}
        for name in ('onnx', 'onnxruntime', 'qonnx'):
            try:
                found[name] = version(name)
            except PackageNotFoundError:
                continue
        return found


def _extract(model: Any, source: str, target: str, rename: str | None) -> Any:
    """The subgraph from tensor `source` to tensor `target` (onnx.utils.Extractor), its input renamed."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        sub = onnx.utils.Extractor(model.model).extract_model([source], [target])
    except Exception as exc:  # noqa: BLE001 - onnx says why in its own words
        raise BadInput(f'onnx cannot cut the graph from {source} to {target}: {str(exc).splitlines()[0]}') from None
    if rename:
        for value in sub.graph.input:
            value.name = rename if value.name == source else value.name
        for node in sub.graph.node:
            node.input[:] = [rename if t == source else t for t in node.input]
    ends = {v.name for v in sub.graph.input} | {v.name for v in sub.graph.output}
    kept = [v for v in sub.graph.value_info if v.name not in ends]  # qonnx wants one ValueInfo per tensor
    del sub.graph.value_info[:]
    sub.graph.value_info.extend(kept)
    for opset in model.model.opset_import:  # the domains of qonnx's custom ops, as the model imports them
        if all(o.domain != opset.domain for o in sub.opset_import):
            sub.opset_import.append(opset)
    return ModelWrapper(sub)


register(OnnxRepro())
