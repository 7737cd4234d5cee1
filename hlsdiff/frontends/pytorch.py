"""PyTorch: a `torch.export` program (.pt2), a pickled module or a state_dict with the file defining its
class (`--custom-objects model_def.py[:Class]`), or a torch.nn.Module (the Python API).

The graph is the one hls4ml traces (its `CustomFXTracer`), so hls4ml's layer names are the FX node
names. The reference runs that graph once, keeping every node's output; one layer is re-run by
running its nodes on the C-simulation's values. PyTorch tensors are channels-first (N, C, ...):
hls4ml's are channels-last, so every tensor of rank 3 or more is compared with its channel axis
moved last, and each layer's mapping note says so. The input shape comes from the data.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.batches import fixed_batches, in_fixed_batches
from hlsdiff.errors import BadInput
from hlsdiff.frontends import FrontendBase
from hlsdiff.frontends.nodes import NodeGraph, channels_last, map_nodes

_FOLDABLE = frozenset({'BatchNorm1d', 'BatchNorm2d', 'Dropout', 'Identity'})


@dataclass
class TorchModel:
    """The module, the graph hls4ml traces from it, and the input shapes taken from the data."""

    module: Any  # torch.nn.Module
    graph: Any = None  # torch.fx.Graph
    input_names: list[str] = field(default_factory=list)
    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    layout: str = 'full'  # hls4ml's ChannelsLastConversion: 'full', 'internal' (io_stream) or 'off'
    exported: bool = False  # a torch.export program (.pt2): aten operations, not torch.nn modules
    # hls4ml Dense layers that read a channels-last tensor flattened as it is (hls4ml removed the transpose
    # before the flatten and reordered the weights instead: io_parallel)
    flat_channels_last: set[str] = field(default_factory=set)
    shapes: dict[str, tuple[int, ...]] | None = None  # every node's output shape per sample (node_shapes), once


def _import_user_file(spec: str | None) -> tuple[object | None, str | None]:
    """The module of `--custom-objects FILE.py[:Class]` (also as `__main__`'s names, for pickles made by a
    script), and the class name when given."""
    from hlsdiff.trace.load import import_custom_objects

    if not spec:
        return None, None
    path, _, cls = spec.partition('.py:') if '.py:' in spec else (spec, '', '')
    path = path + '.py' if cls else path
    import_custom_objects(path)
    module = sys.modules.get(f'hlsdiff_custom_{Path(path).stem}')
    if module is not None:
        sys.modules.setdefault(Path(path).stem, module)
        main = sys.modules.get('__main__')
        for name, value in vars(module).items():
            if isinstance(value, type) and main is not None and not hasattr(main, name):
                setattr(main, name, value)
    return module, cls or None


def _module_class(module, cls: str | None, path: Path):
    import torch

    if module is None:
        raise BadInput(f'{path}: a state_dict (weights only): give the file that defines the model class '
                       'with --custom-objects model_def.py[:ClassName]')
    if cls:
        found = getattr(module, cls, None)
        if found is None:
            raise BadInput(f'--custom-objects: {cls} is not defined in {module.__file__}')
        return found
    own = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
           and v.__module__ == module.__name__]
    if len(own) != 1:
        names = ', '.join(v.__name__ for v in own) or 'none'
        raise BadInput(f'{path}: a state_dict: name the model class with --custom-objects FILE.py:ClassName '
                       f'(the file defines {names})')
    return own[0]


def load_module(source) -> object:
    """The torch.nn.Module of a file, in eval mode; a file it cannot read is bad input (one line)."""
    import torch

    path = Path(source.path)
    module, cls = _import_user_file(source.custom_objects)
    try:
        if path.suffix.lower() == '.pt2':
            return torch.export.load(str(path)).module()
        loaded = torch.load(str(path), map_location='cpu', weights_only=False)
    except BadInput:
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ' (give the file defining its class with --custom-objects FILE.py)' if 'attribute' in text or \
            'No module named' in text else ''
        raise BadInput(f'{path}: cannot load as a PyTorch model: {type(exc).__name__}: {text}{hint}') from None
    if isinstance(loaded, torch.jit.ScriptModule):
        raise BadInput(f'{path}: a TorchScript archive; hls4ml traces Python modules: save the module itself '
                       '(torch.save(model)) or its state_dict with the file that defines it')
    if isinstance(loaded, dict):
        state = loaded.get('state_dict', loaded) if isinstance(loaded.get('state_dict'), dict) else loaded
        model = _module_class(module, cls, path)()
        try:
            model.load_state_dict(state)
        except Exception as exc:
            raise BadInput(f'{path}: the state_dict does not fit {type(model).__name__}: {str(exc).splitlines()[0]}') from None
        return model.eval()
    if not isinstance(loaded, torch.nn.Module):
        raise BadInput(f'{path}: holds a {type(loaded).__name__}, not a torch.nn.Module or a state_dict')
    return loaded.eval()


def _eval(module):
    """Inference mode (a torch.export program's module is in it already, and refuses `.eval()`)."""
    try:
        return module.eval()
    except NotImplementedError:
        return module


class TorchReference:
    """Every wanted node's output in one forward pass; one layer's nodes re-run on given values."""

    def __init__(self, model: TorchModel, refs: dict, csim_layout: dict):
        import torch

        self.torch = torch
        self.gm = torch.fx.GraphModule(model.module, model.graph)
        self.nodes = {n.name: n for n in self.gm.graph.nodes}
        self.inputs = model.input_names
        self.layout = model.layout
        self.csim_layout = csim_layout
        self.tensors = list(dict.fromkeys(r.tensor for r in refs.values() if r.tensor[0] != 'input'))

    def _perm(self, node: str, rank: int) -> tuple[int, ...]:
        if node in self.inputs:
            return tuple(self.csim_layout.get(node, range(rank)))
        return channels_last(rank) if self.layout != 'off' else tuple(range(rank))

    def _to_hls(self, node: str, value) -> np.ndarray:
        arr = value.detach().cpu().numpy().astype(np.float64) if hasattr(value, 'detach') else np.asarray(value, np.float64)
        return np.ascontiguousarray(arr.transpose(self._perm(node, arr.ndim)))

    def _from_hls(self, node: str, arr: np.ndarray):
        back = np.argsort(self._perm(node, arr.ndim))
        return self.torch.tensor(np.ascontiguousarray(arr.transpose(back)), dtype=self.torch.float32)

    def _run(self, batch: list) -> dict:
        interp = self.torch.fx.Interpreter(self.gm)
        env: dict = {}
        with self.torch.no_grad():
            args = iter(batch)
            for node in self.gm.graph.nodes:
                if node.op == 'placeholder':
                    env[node.name] = interp.env[node] = next(args)
                elif node.op != 'output':
                    env[node.name] = interp.env[node] = interp.run_node(node)
        return env

    def _batches(self, inputs: tuple):
        for count, arrays in fixed_batches(inputs):
            env = self._run([self.torch.tensor(x, dtype=self.torch.float32) for x in arrays])
            yield [self._to_hls(t[1], env[t[1]])[:count] for t in self.tensors]

    def forward(self, inputs: tuple) -> dict:
        parts: dict = {t: [] for t in self.tensors}
        for outs in self._batches(inputs):
            for t, out in zip(self.tensors, outs):
                parts[t].append(out)
        return {t: np.concatenate(p) for t, p in parts.items() if p}

    def scales(self, inputs: tuple) -> dict:
        peak = {t: 0.0 for t in self.tensors}
        for outs in self._batches(inputs):
            for t, out in zip(self.tensors, outs):
                peak[t] = max(peak[t], float(np.max(np.abs(out)))) if out.size else peak[t]
        return peak

    def apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        """Run `chain` (see `Ref`) on input arrays shaped like the tensors they stand for, in fixed-size batches."""
        return in_fixed_batches(lambda batch: self._apply_chain(chain, batch), arrays)

    def _apply_chain(self, chain: list, arrays: list) -> np.ndarray:
        if not chain or chain[0][0] != 'from':
            raise ValueError('no chain')
        interp = self.torch.fx.Interpreter(self.gm)
        last: str = chain[0][1]
        for name, arr in zip(chain[0][1:], arrays):
            interp.env[self.nodes[name]] = self._from_hls(name, arr)
            last = name
        with self.torch.no_grad():
            for _, name in chain[1:]:
                interp.env[self.nodes[name]] = interp.run_node(self.nodes[name])
                last = name
        return self._to_hls(last, interp.env[self.nodes[last]])


def node_shapes(model: TorchModel) -> dict[str, tuple[int, ...]]:
    """Every node's output shape per sample (no batch axis), from one run on zeros of the data's shape (made
    once per model); {} when the model cannot run on them (the reference cannot either: nothing is checked)."""
    import torch

    if model.shapes is None:
        try:
            env = TorchReference(model, {}, {})._run([torch.zeros((2, *s)) for s in model.input_shapes])
        except Exception:  # noqa: BLE001
            env = {}
        model.shapes = {name: tuple(int(x) for x in v.shape[1:]) for name, v in env.items()
                        if hasattr(v, 'shape') and len(v.shape) > 0}
    return model.shapes


def _sizes(model: TorchModel) -> dict[str, int]:
    """Elements per sample of every node's output."""
    return {name: int(np.prod(shape)) for name, shape in node_shapes(model).items()}


def _flat_channels_last(hls_model) -> set[str]:
    """Dense layers whose input is a flatten of a multi-axis tensor with no Transpose before it."""
    out = set()
    for layer in hls_model.get_layers():
        if layer.class_name != 'Dense':
            continue
        flat = layer.get_input_node()
        before = flat.get_input_node() if flat is not None and flat.class_name == 'Reshape' else None
        if before is not None and before.class_name != 'Transpose' and len(before.get_output_variable().shape) > 1:
            out.add(layer.name)
    return out


class PyTorch(FrontendBase):
    name = 'pytorch'
    label = 'PyTorch'
    converter = 'convert_from_pytorch_model'
    requires = ('torch', 'hls4ml')

    def load(self, source) -> TorchModel:
        module = source.obj if source.obj is not None else load_module(source)
        if source.obj is not None and source.custom_objects:
            _import_user_file(source.custom_objects)
        from hls4ml.utils.torch import CustomFXTracer

        try:
            graph = CustomFXTracer().trace(module)
        except Exception as exc:  # what hls4ml's own tracer cannot trace, hls4ml cannot convert
            from hlsdiff.errors import ConversionFailed

            text = str(exc).strip() or type(exc).__name__
            raise ConversionFailed(f'hls4ml could not convert the model: its FX tracer failed: {text.splitlines()[0]}',
                                   detail=text) from None
        names = [n.name for n in graph.nodes if n.op == 'placeholder']
        exported = source.obj is None and Path(source.path).suffix.lower() == '.pt2'
        return TorchModel(_eval(module), graph, names, exported=exported)

    def inputs(self, model: TorchModel, data) -> tuple[list[str], list[tuple[int, ...]]]:
        """The input shapes from the data (PyTorch modules do not declare them): (N, C, H, W) -> (C, H, W)."""
        if isinstance(data, dict):
            arrays = [data.get(n, v) for n, v in zip(model.input_names, data.values())]
        else:
            arrays = [data]
        if len(arrays) != len(model.input_names):
            raise BadInput(f'the model has {len(model.input_names)} inputs ({", ".join(model.input_names)}): '
                           'give a .npz with one array per input name')
        model.input_shapes = [tuple(int(s) for s in np.shape(a)[1:]) for a in arrays]
        if any(len(s) == 0 for s in model.input_shapes):
            raise BadInput('PyTorch data must have a batch axis: (N, *input_shape)')
        return list(model.input_names), list(model.input_shapes)

    # the hls4ml calls (trace/convert.py's `calls`)
    def base_config(self, model: TorchModel, opts, **kwargs) -> dict:
        import hls4ml

        shapes = model.input_shapes[0] if len(model.input_shapes) == 1 else model.input_shapes
        model.layout = 'internal' if opts.io_type == 'io_stream' else 'full'
        return hls4ml.utils.config_from_pytorch_model(model.module, shapes, channels_last_conversion=model.layout, **kwargs)

    def layer_names(self, model: TorchModel) -> set[str]:
        return {n.name for n in model.graph.nodes}

    def hls4ml_convert(self, model: TorchModel, **kwargs):
        import hls4ml

        return hls4ml.converters.convert_from_pytorch_model(model.module, **kwargs)

    def convert(self, model: TorchModel, opts, output_dir: Path):
        from hlsdiff.errors import ConversionFailed
        from hlsdiff.trace.convert import convert

        try:
            converted = convert(model, opts, output_dir, calls=self)
        except ConversionFailed as exc:
            if model.exported:
                exc.detail = (f'{exc.detail}\nhls4ml 1.3.0\'s PyTorch frontend reads torch.nn modules; a torch.export '
                              'program (.pt2) holds aten operations in their place: give the pickled module, or its '
                              'state_dict with --custom-objects model_def.py[:Class]').strip()
            raise
        hls_model: Any = converted.hls_model
        model.layout = hls_model.config.config['HLSConfig']['Model'].get('ChannelsLastConversion', 'off')
        if model.layout == 'internal':
            converted.warnings.append('io_stream: hls4ml takes the input channels-last (ChannelsLastConversion: '
                                      'internal); hlsdiff moves the data\'s channel axis last for the C-simulation')
        return converted

    def graph(self, model: TorchModel) -> NodeGraph:
        order, reads, kind = [], {}, {}
        modules = dict(model.module.named_modules())
        for n in model.graph.nodes:
            if n.op == 'output':
                continue
            order.append(n.name)
            reads[n.name] = [a.name for a in n.all_input_nodes]
            target = modules[n.target] if n.op == 'call_module' else None
            kind[n.name] = type(target).__name__ if target is not None else str(getattr(n.target, '__name__', n.target))
        return NodeGraph('PyTorch', order, reads, kind, list(model.input_names), _FOLDABLE)

    def map_layers(self, hls_model, model: TorchModel):
        layout = hls_model.config.config['HLSConfig']['Model'].get('ChannelsLastConversion', 'off')
        model.layout = layout
        model.flat_channels_last = _flat_channels_last(hls_model) if layout != 'off' else set()

        def note(layer, ref) -> str:
            rank = len(layer.get_output_variable().shape) + 1
            if rank < 3 or layout == 'off' or (ref.tensor[0] == 'input' and layout == 'full'):
                return ''
            return f'PyTorch tensor axes {tuple(range(rank))} compared as {channels_last(rank)} (channels last)'

        return map_nodes(hls_model, self.graph(model), note, sizes=_sizes(model))

    def reference(self, model: TorchModel, refs: dict) -> TorchReference:
        layout = {n: channels_last(len(s) + 1) for n, s in zip(model.input_names, model.input_shapes)
                  if model.layout == 'internal' and len(s) > 1}
        return TorchReference(model, refs, layout)

    def layer_specs(self, model: TorchModel, refs: dict) -> dict:
        from hlsdiff.frontends.torch_specs import layer_specs

        return layer_specs(model.module, model.graph, refs, node_shapes(model), model.flat_channels_last)

    def csim_layout(self, hls_model) -> dict[str, tuple[int, ...]]:
        """io_stream (ChannelsLastConversion 'internal'): the C-simulation takes the input channels-last."""
        if hls_model.config.config['HLSConfig']['Model'].get('ChannelsLastConversion') != 'internal':
            return {}
        return {layer.name: channels_last(len(layer.get_output_variable().shape) + 1)
                for layer in hls_model.get_layers() if layer.class_name == 'Input'
                and len(layer.get_output_variable().shape) > 1}


FRONTEND = PyTorch()
