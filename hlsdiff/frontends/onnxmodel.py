"""ONNX and QONNX (`.onnx`, or an onnx.ModelProto / qonnx ModelWrapper through the Python API).

hlsdiff runs the cleaning steps hls4ml's ONNX frontend expects (its documentation: qonnx's
`cleanup_model`, `ConvertToChannelsLastAndClean`, `GemmToMatMul`, `cleanup_model` again) and says so
in a note; the cleaned model is what hls4ml converts and what the reference runs. After cleaning,
the graph is channels-last inside (a Transpose node takes the NCHW input), so its tensors have
hls4ml's shapes: no axis is moved by hlsdiff. The reference is qonnx's executor (onnxruntime per
node, qonnx's own code for its custom ops such as Quant), keeping every node's output; one layer is
re-run by executing its nodes on the C-simulation's values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hlsdiff.errors import BadInput
from hlsdiff.frontends import FrontendBase
from hlsdiff.frontends.nodes import NodeGraph, map_nodes, namesake

CLEANING = ('qonnx cleanup_model, ConvertToChannelsLastAndClean, GemmToMatMul, cleanup_model (the steps hls4ml\'s '
            'ONNX frontend expects, run by hlsdiff)')
_FOLDABLE = frozenset({'Add', 'BatchNormalization', 'Dropout', 'Identity'})


def clean(proto_or_wrapper):
    """The model as hls4ml's ONNX frontend wants it (channels-last, Gemm as MatMul + Add, constants folded)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.transformation.general import RemoveStaticGraphInputs
    from qonnx.util.cleanup import cleanup_model

    model = proto_or_wrapper if isinstance(proto_or_wrapper, ModelWrapper) else ModelWrapper(proto_or_wrapper)
    batch = fixed_batch(model)
    if batch:  # the weights some exporters list as graph inputs out of the way: the data input is input[0]
        model = model.transform(RemoveStaticGraphInputs())
    model = cleanup_model(model, override_inpsize=1 if batch else None)  # qonnx's ChangeBatchSize
    notes = [f'ONNX: the graph fixes a batch of {batch}; qonnx\'s cleanup_model(override_inpsize=1) set it to 1'
             ] if batch else []
    unclean = None
    try:
        model = model.transform(ConvertToChannelsLastAndClean())
    except Exception as exc:  # hls4ml is given the graph as it is, to say what it cannot convert in it
        unclean = f'qonnx\'s cleaning, which hls4ml\'s ONNX frontend needs first, failed: {_first_line(exc)}'
    model = cleanup_model(model.transform(GemmToMatMul()))
    model.hlsdiff_notes = notes  # said by `convert`
    model.hlsdiff_unclean = unclean  # what `hls4ml_convert` refuses with when hls4ml has nothing to say
    return model


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fixed_batch(model) -> int | None:
    """The batch size an exported graph fixes on its data input when it is not 1 (torch.onnx.export without
    dynamic axes writes the example's batch); hlsdiff runs one sample at a time, hls4ml converts batch 1."""
    data = [i for i in model.graph.input if model.get_initializer(i.name) is None]
    dims = data[0].type.tensor_type.shape.dim if data else []
    batch = dims[0].dim_value if dims and dims[0].HasField('dim_value') else None
    return int(batch) if batch and batch != 1 else None


class OnnxReference:
    """Every wanted node's output (qonnx's executor, one sample at a time); one layer's nodes re-run."""

    def __init__(self, model, refs: dict):
        import onnxruntime

        # qonnx's executor runs the graph node by node; onnxruntime warned three lines a node (opset 1, its transpose
        # optimizer): nothing the user can act on
        onnxruntime.set_default_logger_severity(3)
        self.model = model
        self.graph = model.graph
        self.nodes = {n.name: n for n in self.graph.node}
        self.inputs = [i.name for i in self.graph.input if model.get_initializer(i.name) is None]
        self.tensors = list(dict.fromkeys(r.tensor for r in refs.values() if r.tensor[0] != 'input'))
        self.opsets = model.get_opset_imports()

    def _out(self, node: str) -> str:
        return self.nodes[node].output[0] if node in self.nodes else node

    def _sample(self, values: list) -> dict:
        from qonnx.core.onnx_exec import execute_onnx

        feed = {name: v[np.newaxis].astype(np.float32) for name, v in zip(self.inputs, values)}
        return execute_onnx(self.model, feed, return_full_exec_context=True)

    def forward(self, inputs: tuple) -> dict:
        parts: dict = {t: [] for t in self.tensors}
        for i in range(inputs[0].shape[0]):
            context = self._sample([x[i] for x in inputs])
            for t in self.tensors:
                parts[t].append(np.asarray(context[self._out(t[1])], dtype=np.float64).reshape(1, -1))
        shapes = {t: tuple(self.model.get_tensor_shape(self._out(t[1]))[1:]) for t in self.tensors}
        return {t: np.concatenate(p).reshape((-1, *shapes[t])) for t, p in parts.items() if p}

    def scales(self, inputs: tuple) -> dict:
        return {t: float(np.max(np.abs(a))) if a.size else 0.0 for t, a in self.forward(inputs).items()}

    def apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        from qonnx.core.onnx_exec import execute_node
        from qonnx.util.basic import get_preferred_qonnx_opset

        if not chain or chain[0][0] != 'from' or len(chain) < 2:
            raise ValueError('no chain')
        results = []
        for i in range(arrays[0].shape[0]):
            context = self.model.make_empty_exec_context()  # initializers, and every tensor shaped
            for name, arr in zip(chain[0][1:], arrays):
                shape = self.model.get_tensor_shape(self._out(name))
                context[self._out(name)] = arr[i].reshape(shape).astype(np.float32)
            for _, name in chain[1:]:
                node = self.nodes[name]
                execute_node(node, context, self.graph, self.opsets.get(node.domain, get_preferred_qonnx_opset()))
            results.append(np.asarray(context[self._out(chain[-1][1])], dtype=np.float64))
        return np.concatenate(results).reshape((arrays[0].shape[0], *results[0].shape[1:]))


def quant_layers(hls_model, model) -> tuple[dict[str, str], dict[str, str]]:
    """The layers hls4ml makes of QONNX Quant nodes (hls4ml/model/optimizer/passes/quant_opt.py): `Q_act` is Q's
    output unless `Q_rescale` follows (then it holds Q's integer values); `Q_scale` scales into that domain;
    `Q_rescale` restores Q's output, or for a weight quantizer the output of the layer that used its
    integer weights (that layer's own values are scaled). Returns (layer -> node, layer -> why not compared)."""
    quant = {n.name: n for n in model.graph.node if n.op_type in ('Quant', 'BipolarQuant')}
    layers = {layer.name: layer for layer in hls_model.get_layers()}
    producer = {var: layer.name for layer in layers.values() for var in layer.outputs}
    g = Onnx().graph(model)
    names: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for name, layer in layers.items():
        base, _, suffix = name.rpartition('_')
        if base not in quant:
            continue
        weights = model.get_initializer(quant[base].input[0]) is not None
        if suffix == 'scale':
            excluded[name] = f'scales into Quant {base}\'s integer domain (inserted by hls4ml)'
        elif suffix == 'act' and f'{base}_rescale' in layers:
            excluded[name] = f'Quant {base}\'s integer values (hls4ml rescales them in {base}_rescale)'
        elif suffix == 'act' or (suffix == 'rescale' and not weights):
            names[name] = base
        elif suffix == 'rescale':
            parent = next((producer[v] for v in layer.inputs if v in producer), None)
            node = namesake(g, layers[parent]) if parent is not None else None
            if node is not None and parent is not None:
                names[name] = node
                excluded[parent] = f'computes with Quant {base}\'s integer weights; {name} rescales its output'
    for name, base in integer_domain(layers, producer, quant).items():
        names.pop(name, None)
        excluded.setdefault(name, f'computes on Quant {base}\'s integer values (hls4ml moved the scale back past it, '
                                  'into a later ApplyAlpha)')
    return names, excluded


def integer_domain(layers: dict, producer: dict[str, str], quant: dict) -> dict[str, str]:
    """The layers that hold a Quant's integer values, not the graph's: those after its `Q_scale` up to the
    ApplyAlpha that scales back (hls4ml's passes move a rescale past a Dense or a conv into the `bn_` ApplyAlpha
    of the bias Add: hls4ml/model/optimizer/passes/move_scales.py). Layer -> the Quant. Their values are the
    graph's times a scale, so they are not compared; the first layer scaled back is, from the layer before the
    scale (nodes.py looks through the layers not compared)."""
    domain: dict[str, str] = {}
    for name, layer in layers.items():  # hls4ml's order is topological
        base, _, suffix = name.rpartition('_')
        if suffix == 'scale' and base in quant:
            domain[name] = base
            continue
        held = next((domain[producer[v]] for v in layer.inputs if producer.get(v) in domain), None)
        if held is not None and layer.class_name != 'ApplyAlpha' and suffix != 'rescale':
            domain[name] = held
    return {n: b for n, b in domain.items() if not n.endswith('_scale')}


class Onnx(FrontendBase):
    name = 'onnx'
    label = 'ONNX/QONNX'
    converter = 'convert_from_onnx_model'
    requires = ('onnx', 'onnxruntime', 'qonnx', 'hls4ml')

    def load(self, source):
        import onnx

        obj = source.obj
        try:
            proto = obj if obj is not None else onnx.load(str(source.path))
        except Exception as exc:
            raise BadInput(f'{source.path}: cannot load as an ONNX model: {type(exc).__name__}: '
                           f'{str(exc).strip().splitlines()[0] if str(exc).strip() else ""}') from None
        try:
            return clean(proto)
        except Exception as exc:  # qonnx cannot clean it: hls4ml's frontend cannot take it either
            from hlsdiff.errors import ConversionFailed

            text = str(exc).strip() or type(exc).__name__
            raise ConversionFailed(f'hls4ml could not convert the model: qonnx\'s cleaning, which hls4ml\'s ONNX '
                                   f'frontend needs first, failed: {text.splitlines()[0]}', detail=text) from None

    def inputs(self, model, data) -> tuple[list[str], list[tuple[int, ...]]]:
        names = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
        return names, [tuple(int(s) for s in model.get_tensor_shape(n)[1:]) for n in names]

    # the hls4ml calls (trace/convert.py's `calls`)
    def base_config(self, model, opts, **kwargs) -> dict:
        import hls4ml

        return hls4ml.utils.config_from_onnx_model(model, **kwargs)

    def layer_names(self, model) -> set[str]:
        return {n.name for n in model.graph.node}

    def hls4ml_convert(self, model, **kwargs):
        import hls4ml

        hls_model = hls4ml.converters.convert_from_onnx_model(model, **kwargs)
        if getattr(model, 'hlsdiff_unclean', None):  # converted, but not channels-last: nothing to compare with
            raise RuntimeError(model.hlsdiff_unclean)
        return hls_model

    def config_usage(self, io_type: str, backend: str) -> list[str]:
        return [*super().config_usage(io_type, backend),
                '# the ONNX model cleaned first as hls4ml\'s ONNX frontend expects (qonnx): cleanup_model, '
                'ConvertToChannelsLastAndClean, GemmToMatMul, cleanup_model']

    def convert(self, model, opts, output_dir: Path):
        from hlsdiff.trace.convert import convert

        converted = convert(model, opts, output_dir, calls=self)
        converted.warnings.append(f'ONNX: cleaned with {CLEANING}; the cleaned, channels-last graph is the reference')
        converted.warnings.extend(getattr(model, 'hlsdiff_notes', []))
        return converted

    def graph(self, model) -> NodeGraph:
        producer = {out: n.name for n in model.graph.node for out in n.output}
        inputs = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
        reads = {n.name: [producer.get(t, t) for t in n.input if t in producer or t in inputs] for n in model.graph.node}
        kind = {n.name: n.op_type for n in model.graph.node}
        return NodeGraph('ONNX', inputs + [n.name for n in model.graph.node], reads, kind, inputs, _FOLDABLE)

    def map_layers(self, hls_model, model):
        names, excluded = quant_layers(hls_model, model)
        sizes = {}
        for n in model.graph.node:
            shape = model.get_tensor_shape(n.output[0])
            if shape and all(isinstance(d, int) and d > 0 for d in shape):
                sizes[n.name] = int(np.prod(shape[1:]))
        return map_nodes(hls_model, self.graph(model), lambda layer, ref: '', names, excluded, sizes)

    def reference(self, model, refs: dict) -> OnnxReference:
        return OnnxReference(model, refs)

    def layer_specs(self, model, refs: dict) -> dict:
        from hlsdiff.frontends.onnx_specs import layer_specs

        return layer_specs(model, refs)

FRONTEND = Onnx()
