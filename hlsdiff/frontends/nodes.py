"""Map hls4ml layers to the nodes of a framework graph (PyTorch FX, ONNX): one `Ref` per layer or a reason.

hls4ml's PyTorch and ONNX converters name each layer after the graph node it comes from, fold a
BatchNormalization (or a bias Add, a Dropout) into the layer before it, insert Transpose layers for
channels-first inputs, and keep reshapes as layers that write no code. A `Ref` here names the node
whose output the layer is compared with, and its chain says how to recompute it from the
C-simulation's values of the layer's compared parents: `('from', node, ...)` (the parents' nodes),
then `('run', node)` for every graph node between them and the target, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hlsdiff.layers import Folded, LayerInfo
from hlsdiff.trace.mapping import Ref, hls_attrs, type_text, weight_quantization
from hlsdiff.vocabulary import Origin


@dataclass
class NodeGraph:
    """A framework graph by node name, in topological order."""

    label: str  # 'PyTorch', 'ONNX'
    order: list[str]
    reads: dict[str, list[str]]  # node -> the nodes whose outputs it reads
    kind: dict[str, str]  # node -> module class or op type
    graph_inputs: list[str]
    foldable: frozenset[str] = frozenset()  # kinds hls4ml folds into the layer before it

    def consumers(self, name: str) -> list[str]:
        return [n for n in self.order if name in self.reads.get(n, [])]

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            n = todo.pop()
            for p in self.reads.get(n, []):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    def between(self, sources: list[str], target: str) -> list[str]:
        """The nodes that compute `target` from the outputs of `sources`, in order (target included)."""
        known = set(sources)
        for s in sources:
            known |= self.ancestors(s)
        wanted = (self.ancestors(target) | {target}) - known
        return [n for n in self.order if n in wanted]


@dataclass
class _State:
    g: NodeGraph
    hls: dict  # hls4ml layer name -> layer
    parents: dict[str, list[str]]
    refs: dict[str, Ref] = field(default_factory=dict)
    folded: dict[str, str] = field(default_factory=dict)  # node -> hls4ml layer it was folded into
    reasons: dict[str, str] = field(default_factory=dict)
    namesakes: dict[str, str] = field(default_factory=dict)  # hls4ml layer -> graph node of (almost) its name
    excluded: dict[str, str] = field(default_factory=dict)  # hls4ml layer -> why the frontend does not compare it

    def compared_parents(self, name: str) -> list[str]:
        """The layer's parents, looking through single-input layers that are not compared."""
        out = []
        for p in self.parents[name]:
            while p in self.reasons and len(self.parents.get(p, [])) == 1:
                p = self.parents[p][0]
            out.append(p)
        return out


def traced(layer) -> bool:
    """hls4ml writes a function call for it (a reshape that moves no data has none, and no trace)."""
    return bool(layer.get_attr('function_cpp', None))


def _graph_of(hls_model) -> tuple[list, dict[str, list[str]]]:
    layers = list(hls_model.get_layers())
    producer = {var: layer.name for layer in layers for var in layer.outputs}
    return layers, {layer.name: [producer[v] for v in layer.inputs if v in producer] for layer in layers}


def namesake(g: NodeGraph, layer) -> str | None:
    """The graph node an hls4ml layer is named after: its own name, or with hls4ml's class prefix
    (`Conv2D_Conv_0`, `Dense_MatMul_0` from the ONNX converter's passes) or `bn_` (`bn_Add_0`)."""
    if layer.name in g.kind:
        return layer.name
    # `bn_<node>`: a constant Add/Mul that hls4ml's ONNX constant-merging pass made an ApplyAlpha
    for prefix in (f'{layer.class_name}_', 'bn_'):
        rest = layer.name[len(prefix):] if layer.name.startswith(prefix) else None
        if rest in g.kind:
            return rest
    return None


def _ref_for(s: _State, layer) -> tuple[Ref | None, str, str]:
    """(Ref or None, mapping note, reason it is not compared)."""
    g, cls = s.g, layer.class_name
    name = s.namesakes.get(layer.name, layer.name)
    if layer.name in s.excluded:
        return None, '', s.excluded[layer.name]
    if cls == 'Input':
        if name in g.graph_inputs:
            return Ref(('input', name)), 'the data cast to the input type', ''
        return None, '', f'an input hls4ml made of a constant ({name}), not the data'
    if name in g.kind and not traced(layer):
        return None, '', f'{g.kind[name]}: hls4ml writes no code for it (moves no data), so there is no trace'
    parents = s.compared_parents(layer.name)
    sources = [s.refs[p].tensor[1] for p in parents if p in s.refs]
    if name in g.kind:
        target, note = name, ''
        while True:
            after = g.consumers(target)
            taken = after and (after[0] in s.hls or after[0] in s.namesakes.values())
            if len(after) != 1 or taken or g.kind.get(after[0]) not in g.foldable:
                break
            target = after[0]
            s.folded[target] = name
            note = f'{g.kind[target]} {target} folded into this layer by hls4ml'
        chain = [('from', *sources)] + [('run', n) for n in g.between(sources, target)]
        return Ref(('out', target), chain if len(sources) == len(parents) else [], parents), note, ''
    if cls == 'Transpose':
        return None, '', f'transpose inserted by hls4ml (channels-first to channels-last; no {g.label} tensor)'
    if cls == 'Clone' and parents and parents[0] in s.refs:
        src = s.refs[parents[0]].tensor
        return Ref(src, [('from', src[1])], parents[:1]), f'copy of {parents[0]} (inserted by hls4ml for io_stream)', ''
    return None, '', f'no {g.label} node named {name} (inserted or renamed by hls4ml)'


def map_nodes(hls_model, g: NodeGraph, layout_note, names: dict[str, str] | None = None,
              excluded: dict[str, str] | None = None,
              sizes: dict[str, int] | None = None) -> tuple[list[LayerInfo], dict[str, Ref], list[tuple[str, str]]]:
    """(layer facts, refs by hls4ml layer name, graph nodes without a counterpart with the reason).
    `layout_note(layer, ref)`: what the comparison does to the framework tensor's axes ('' if nothing);
    `names`: hls4ml layers the frontend knows the node of; `excluded`: layers it does not compare, and why;
    `sizes`: elements per sample of each node's output, where the frontend knows them (a layer whose node holds
    another number of values than hls4ml's layer is not compared: hls4ml changed what it computes)."""
    layers, parents = _graph_of(hls_model)
    s = _State(g, {layer.name: layer for layer in layers}, parents)
    s.namesakes = {layer.name: n for layer in layers if (n := namesake(g, layer)) is not None and n != layer.name}
    s.namesakes.update(names or {})
    s.excluded = dict(excluded or {})
    infos = []
    for layer in layers:
        try:
            ref, note, reason = _ref_for(s, layer)
        except Exception as exc:  # a graph shape this mapping does not know: not compared, said why
            ref, note, reason = None, '', f'hlsdiff could not map it ({type(exc).__name__}: {exc})'
        node = ref.tensor[1] if ref is not None and ref.tensor[0] == 'out' else None
        size = (sizes or {}).get(node) if node is not None else None
        if size is not None and size != int(np.prod(layer.get_output_variable().shape)):
            shape = tuple(int(x) for x in layer.get_output_variable().shape)
            reason = f'{g.label} node {node} holds {size} values per sample, hls4ml\'s layer {shape}: not the same tensor'
            ref = None
        if ref is None:
            s.reasons[layer.name] = reason or 'not mapped'
        else:
            s.refs[layer.name] = ref
            moved = layout_note(layer, ref)
            note = '; '.join(x for x in (note, moved) if x)
        infos.append(_facts(s, layer, ref, note, reason))
    return infos, s.refs, _unmatched(s)


def _facts(s: _State, layer, ref: Ref | None, note: str, reason: str) -> LayerInfo:
    tensor = ref.tensor if ref is not None else None
    label = None if tensor is None else (f'{tensor[1]} (input)' if tensor[0] == 'input' else tensor[1])
    out = layer.get_output_variable()
    return LayerInfo(
        name=layer.name,
        class_name=layer.class_name,
        inputs=tuple(ref.inputs if ref is not None else s.parents[layer.name]),
        keras=label,
        keras_class=s.g.kind.get(tensor[1]) if tensor is not None else s.g.kind.get(layer.name),
        shape=tuple(int(x) for x in out.shape),
        result_type=type_text(out.type),
        accum_type=type_text(layer.get_attr('accum_t')),
        mapping_note=note,
        reason='' if ref is not None else reason,
        origin=_origin(s, layer),
        folded=tuple(Folded(s.g.kind.get(n, ''), n) for n, host in s.folded.items()
                     if host == s.namesakes.get(layer.name, layer.name)),
        hls=hls_attrs(layer),
        weight_loss=weight_quantization(layer),
    )


def _origin(s: _State, layer) -> Origin:
    if layer.class_name == 'Input':
        return 'input'
    return 'model' if s.namesakes.get(layer.name, layer.name) in s.g.kind else 'inserted'


def _unmatched(s: _State) -> list[tuple[str, str]]:
    mapped = {ref.tensor[1] for ref in s.refs.values()} | set(s.hls) | set(s.namesakes.values())
    out = []
    for n in s.g.order:
        if n in s.g.graph_inputs:
            continue
        if n in s.folded:
            out.append((n, f'{s.g.kind.get(n, "node")} folded into hls4ml layer {s.folded[n]}'))
        elif n not in mapped:
            out.append((n, f'{s.g.kind.get(n, "node")}: no hls4ml layer computes it (removed or merged by hls4ml)'))
    return out


def chain_specs(refs: dict[str, Ref], label: str, spec_of) -> dict:
    """hls4ml layer -> `spec_of(layer name, the graph nodes its chain runs)` (an emulate.spec.LayerSpec, or the
    reason there is none); a node the frontend's extraction does not know is said, never guessed."""
    out: dict = {}
    for name, ref in refs.items():
        runs = [step[1] for step in ref.chain if step[0] == 'run']
        if not runs or ref.tensor[0] != 'out':
            continue
        try:
            out[name] = spec_of(name, runs)
        except Exception as exc:  # noqa: BLE001
            out[name] = f'{label}\'s weights could not be read ({type(exc).__name__}: {exc})'
    return out


def channels_last(rank: int) -> tuple[int, ...]:
    """Axes order (batch first) that moves a channels-first tensor's channel axis last."""
    return (0, *range(2, rank), 1) if rank > 2 else tuple(range(rank))
