"""The PyTorch frontend of `repro` (the modern environment): a slice of the FX graph hls4ml traces.

The cut is a torch.fx slice of the nodes kept, written as a small torch.nn.Module class
(`repro_model.py`: the torch.nn layers built from their own constructor text, `forward` as FX writes it)
and its state_dict (`model.pt`), so repro.py needs torch, hls4ml and numpy alone. Tensors are
channels-first; hls4ml's C-simulation is channels-last (ChannelsLastConversion), which repro.py
follows from config.yml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.errors import BadInput
from hlsdiff.frontends.nodes import channels_last
from hlsdiff.frontends.pytorch import TorchModel, node_shapes
from hlsdiff.repro.frontend import ScriptFacts, register
from hlsdiff.repro.script import Parts, render

CLASS_FILE = 'repro_model.py'
MODEL = """sys.path.insert(0, HERE)
from repro_model import Repro  # the cut: torch.nn layers and the forward hls4ml traces

model = Repro().eval()
model.load_state_dict(torch.load(os.path.join(HERE, '{model_file}')))
with torch.no_grad():
    expected = model(torch.tensor(x, dtype=torch.float32)).numpy().astype(np.float64)
layout = cfg['HLSConfig']['Model'].get('ChannelsLastConversion', 'off')  # hls4ml's tensors are channels-last


def last(a):
    return a.transpose(0, *range(2, a.ndim), 1) if a.ndim > 2 and layout != 'off' else a


if not cfg['HLSConfig']['Model'].get('TransposeOutputs'):
    expected = last(expected)
"""
CONVERT = """hls_model = hls4ml.converters.convert_from_pytorch_model(
    model, hls_config=dict(cfg['HLSConfig'], InputShape=tuple(x.shape[1:])), io_type=cfg['IOType'],
    backend=cfg['Backend'], output_dir=prj)
"""
CLASS = '''"""The layers hlsdiff cut out of the model, as hls4ml traces them (torch.fx)."""
import torch
import torch.nn as nn


class Repro(nn.Module):
    def __init__(self):
        super().__init__()
{layers}

{forward}'''


def _nodes(model: TorchModel) -> dict:
    return {n.name: n for n in model.graph.nodes}


def _kind(model: TorchModel, node) -> str:
    if node.op == 'call_module':
        return type(model.module.get_submodule(node.target)).__name__
    return str(getattr(node.target, '__name__', node.target))


class TorchRepro:
    name = 'pytorch'
    label = 'PyTorch'

    def cut(self, model: TorchModel, layers: list[str], input_name: str) -> TorchModel:
        """A graph with one placeholder shaped like `layers[0]`'s input and `layers` applied in order."""
        import torch

        nodes = _nodes(model)
        graph = torch.fx.Graph()
        value = graph.placeholder(input_name)
        modules: dict[str, Any] = {}
        for name in layers:
            node = nodes[name]
            if len(node.all_input_nodes) != 1:
                raise BadInput(f'{name} reads {len(node.all_input_nodes)} tensors: repro cuts single-input chains only')
            value = _copy(graph, node, lambda _, v=value: v, model, modules)
        graph.output(value)
        gm = torch.fx.GraphModule(modules, graph, class_name='Repro')
        return TorchModel(gm.eval(), gm.graph, [input_name], [self.input_shape(model, layers[0])], model.layout)

    def input_of(self, model: TorchModel, layer: str) -> str | None:
        feeding = _nodes(model)[layer].all_input_nodes
        if len(feeding) != 1:
            return ''
        return None if feeding[0].op == 'placeholder' else feeding[0].name

    def layer_names(self, model: TorchModel) -> list[str]:
        return [n.name for n in model.graph.nodes if n.op not in ('placeholder', 'output')]

    def describe(self, model: TorchModel) -> str:
        return ' + '.join(_kind(model, n) for n in model.graph.nodes if n.op not in ('placeholder', 'output'))

    def class_of(self, model: TorchModel, layer: str) -> str:
        return _kind(model, _nodes(model)[layer])

    def configure(self, model: TorchModel, hls: dict) -> None:
        """The layout hls4ml converted with (a given project's own, with io_stream's 'internal')."""
        model.layout = (hls.get('Model') or {}).get('ChannelsLastConversion', model.layout)

    def own_layer(self, model: TorchModel, hls_name: str, class_name: str) -> str | None:
        return hls_name if hls_name in self.layer_names(model) else None

    def input_shape(self, model: TorchModel, layer: str) -> tuple[int, ...]:
        feeding = self.input_of(model, layer)
        if feeding is None:
            return tuple(model.input_shapes[0])
        return tuple(node_shapes(model)[feeding])

    def from_csim(self, model: TorchModel, values: np.ndarray, layer: str) -> np.ndarray:
        """hls4ml's channels-last values back to channels-first (the model input is as the data, unless io_stream
        took it channels-last)."""
        shape = self.input_shape(model, layer)
        moved = len(shape) > 1 and model.layout != 'off' and (
            self.input_of(model, layer) is not None or model.layout == 'internal')
        if not moved:
            return values.reshape((values.shape[0], *shape))
        perm = channels_last(len(shape) + 1)
        last = values.reshape((values.shape[0], *(shape[p - 1] for p in perm[1:])))
        return np.ascontiguousarray(last.transpose(np.argsort(perm)))

    def prefix(self, model: TorchModel, layer: str) -> TorchModel:
        import torch

        if len(model.input_names) != 1:
            raise BadInput('the model has several inputs: repro writes single-input reproducers only')
        nodes = _nodes(model)
        wanted = _ancestors(nodes[layer]) | {nodes[layer]}
        graph = torch.fx.Graph()
        env: dict = {}
        modules: dict[str, Any] = {}
        for node in model.graph.nodes:
            if node in wanted:
                env[node] = _copy(graph, node, env.__getitem__, model, modules)
        graph.output(env[nodes[layer]])
        gm = torch.fx.GraphModule(modules, graph, class_name='Repro')
        return TorchModel(gm.eval(), gm.graph, list(model.input_names), list(model.input_shapes), model.layout)

    def values(self, model: TorchModel, samples: np.ndarray, layer: str | None) -> np.ndarray:
        import torch

        if layer is None:
            return np.asarray(samples, dtype=np.float64)
        with torch.no_grad():
            out = self.prefix(model, layer).module(torch.tensor(samples, dtype=torch.float32))
        return out.numpy().astype(np.float64)

    def save(self, model: TorchModel, folder: Any, suffix: str) -> str:
        import torch

        (Path(folder) / CLASS_FILE).write_text(class_source(model))
        torch.save(model.module.state_dict(), Path(folder) / 'model.pt')
        return 'model.pt'

    def script(self, facts: ScriptFacts, model: Any) -> str:
        parts = Parts('PyTorch', '# PyTorch CPU', 'import torch', MODEL, CONVERT,
                      "last(x) if layout == 'internal' else x")
        return render(facts, parts)

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {'torch': version('torch')}


def _copy(graph, node, arg, model: TorchModel, modules: dict):
    """`node` in `graph`, its inputs mapped by `arg`; a module is kept under a plain attribute name."""
    if node.op == 'get_attr':
        raise BadInput(f'{node.name} reads a tensor of the model (get_attr): repro cuts layers only')
    new = graph.node_copy(node, arg)
    if node.op == 'call_module':
        attr = str(node.target).replace('.', '_')
        modules[attr] = model.module.get_submodule(node.target)
        new.target = attr
    return new


def _ancestors(node) -> set:
    seen: set = set()
    todo = [node]
    while todo:
        for parent in todo.pop().all_input_nodes:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def class_source(model: TorchModel) -> str:
    """The cut as a torch.nn.Module class: each torch.nn layer from its own constructor text, `forward` as FX
    writes it. Checked: the class built from this text, given the state_dict, computes what the cut computes."""
    modules = dict(model.module.named_children())
    for name, module in modules.items():
        if not type(module).__module__.startswith('torch.nn'):
            raise BadInput(f'{name} is a {type(module).__name__}, not a torch.nn layer: repro writes torch.nn '
                           'layers only')
    layers = '\n'.join(f'        self.{name} = nn.{module!r}' for name, module in modules.items()) or '        pass'
    forward = '\n'.join(('    ' + line).rstrip() for line in model.module.code.strip().splitlines())
    text = CLASS.format(layers=layers, forward=forward + '\n')
    _check(text, model)
    return text


def _check(text: str, model: TorchModel) -> None:
    import torch

    scope: dict = {}
    exec(compile(text, CLASS_FILE, 'exec'), scope)  # noqa: S102 - the text hlsdiff wrote above
    rebuilt = scope['Repro']().eval()
    rebuilt.load_state_dict(model.module.state_dict())
    x = torch.rand((2, *model.input_shapes[0]))
    with torch.no_grad():
        if not torch.allclose(rebuilt(x), model.module(x)):
            raise BadInput('the cut layers, written as a class, do not compute what the model computes: repro '
                           'writes torch.nn layers whose text builds them')


register(TorchRepro())
