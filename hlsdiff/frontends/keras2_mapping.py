"""Keras 2: map hls4ml layers to Keras tensors, explicitly, following the rules in docs/mapping.md.

hls4ml splits a fused `activation=` into the linear layer and `<name>_<activation>`, folds
a BatchNormalization into the layer before it, inserts Clone/ZeroPadding/Transpose layers
and optimises Flatten/Reshape/Dropout away. Every hls4ml layer gets a `Ref`: the Keras
tensor it is compared with, and the chain of Keras operations that computes it from the
layer's own inputs (used to measure the error the layer adds by itself), or a reason why it
is not compared. Every Keras layer without a counterpart is listed with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hlsdiff.layers import Folded, KerasFacts, LayerInfo
from hlsdiff.trace.mapping import Ref, hls_attrs, type_text, weight_quantization
from hlsdiff.vocabulary import Origin

# Keras settings that hls4ml 1.3.0 drops without a word, and their harmless values.
DROPPED_SETTINGS = {
    'dilation_rate': (1, (1,), (1, 1), [1], [1, 1]),
    'max_value': (None,),
    'threshold': (0, 0.0, None),
    'negative_slope': (0, 0.0, None),
}

_RESHAPES = ('Flatten', 'Reshape')

_FOLDABLE = ('BatchNormalization', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout')

QUANTIZER_LAYERS = ('FixedPointQuantizer',)  # HGQ v1 proxy models

# layers the framework itself skips at inference: hls4ml not computing them drops nothing
_INFERENCE_IDENTITY = ('Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'AlphaDropout',
                       'GaussianNoise', 'GaussianDropout', 'ActivityRegularization')


def identity_at_inference(layer) -> bool:
    """A framework layer that is the identity at inference (Dropout, GaussianNoise, a linear Activation)."""
    kind = type(layer).__name__
    if kind in _INFERENCE_IDENTITY:
        return True
    activation = getattr(layer, 'activation', None)
    return kind == 'Activation' and getattr(activation, '__name__', str(activation)) == 'linear'


_INSERTED = {
    'ZeroPadding1D': 'padding inserted by hls4ml (no Keras tensor)',
    'ZeroPadding2D': 'padding inserted by hls4ml (no Keras tensor)',
    'Transpose': 'transpose inserted by hls4ml (no Keras tensor)',
}


def _activation_name(klayer) -> str | None:
    act = getattr(klayer, 'activation', None)
    if act is None:
        return None
    name = getattr(act, '__name__', None) or type(act).__name__
    return None if name == 'linear' else name


def dropped_settings(klayer) -> dict:
    """The Keras settings of this layer that hls4ml 1.3.0 would silently drop."""
    cfg = klayer.get_config()
    found = {}
    for key, harmless in DROPPED_SETTINGS.items():
        if key in cfg and cfg[key] not in harmless:
            value = cfg[key]
            if key == 'dilation_rate' and all(v == 1 for v in (value if isinstance(value, (list, tuple)) else [value])):
                continue
            found[key] = list(value) if isinstance(value, tuple) else value
    return found


@dataclass
class _Graph:
    """The hls4ml graph by name, with each layer's parents and children, and the Keras layers."""

    hlayers: list
    by_name: dict
    parents: dict[str, list[str]]
    children: dict[str, list[str]]
    klayers: dict
    kinputs: dict = field(default_factory=dict)  # the Keras input layers by name (a Sequential model's are not in .layers)

    @classmethod
    def of(cls, hls_model, keras_model) -> _Graph:
        hlayers = list(hls_model.get_layers())
        producer = {var: layer.name for layer in hlayers for var in layer.outputs}
        parents = {layer.name: [producer[v] for v in layer.inputs if v in producer] for layer in hlayers}
        children: dict[str, list[str]] = {}
        for name, ps in parents.items():
            for p in ps:
                children.setdefault(p, []).append(name)
        kinputs = {}
        for t in getattr(keras_model, 'inputs', None) or []:
            layer = t._keras_history.layer
            kinputs[layer.name] = layer
        return cls(hlayers, {layer.name: layer for layer in hlayers}, parents, children,
                   {layer.name: layer for layer in keras_model.layers}, kinputs)

    @property
    def hnames(self) -> set[str]:
        return set(self.by_name)


def _is_activation(hlayer) -> bool:
    from hlsdiff.trace import stack

    return isinstance(hlayer, stack.load().hls4ml.model.layers.Activation)


def _alpha_of(g: _Graph, name: str) -> str | None:
    """The ApplyAlpha layer hls4ml inserted after `name` (a QKeras alpha scale factored out), if any."""
    alpha = f'{name}_alpha'
    if alpha in g.by_name and g.by_name[alpha].class_name == 'ApplyAlpha' and g.parents.get(alpha) == [name]:
        return alpha
    return None


def _split_activations(g: _Graph) -> dict[str, str]:
    """hls4ml activation layer -> the Keras layer whose fused `activation=` it was split from."""
    split = {}
    for layer in g.hlayers:
        # a SeparableConv2D's activation follows its pointwise half
        owner = layer.name.rpartition('_')[0] if _separable_half(g, layer.name) == 'pointwise' else layer.name
        k = g.klayers.get(owner)
        if k is None or _activation_name(k) is None:
            continue
        after = _alpha_of(g, layer.name) or layer.name  # after its alpha scale, when hls4ml factored one out
        for child in g.children.get(after, []):
            if child not in g.klayers and child.startswith(owner + '_') and _is_activation(g.by_name[child]):
                split[child] = owner
    return split


class _Mapping:
    """The Refs found so far, and what is not compared (with the reason)."""

    def __init__(self, g: _Graph, split: dict[str, str]):
        self.g, self.split = g, split
        self.refs: dict[str, Ref] = {}
        self.folded: dict[str, str] = {}  # Keras layer folded away -> hls4ml layer it lives in
        self.not_compared: dict[str, str] = {}

    def compared_parents(self, name: str) -> list[str]:
        """The layer's parents, looking through inserted layers that are not compared."""
        g, out = self.g, []
        for p in g.parents[name]:
            while p in self.not_compared and len(g.parents.get(p, [])) == 1 and (
                    g.by_name[p].class_name in _INSERTED or _separable_half(g, p) == 'depthwise'):
                p = g.parents[p][0]
            out.append(p)
        return out

    def ref_for(self, layer) -> tuple[Ref | None, object, str, str]:
        """(Ref or None, the Keras layer, mapping note, reason it is not compared)."""
        g, split = self.g, self.split
        name, cls = layer.name, layer.class_name
        k = g.klayers.get(name)
        if cls == 'Input':
            absorbed = self._absorbed_quantizer(name)
            if absorbed is not None:  # an HGQ input quantizer hls4ml made the input type: compared after it
                self.folded[absorbed.name] = name
                return Ref(('out', absorbed.name)), k, (f'the data through {absorbed.name}, the quantizer hls4ml '
                                                         'absorbs into the input type'), ''
            return Ref(('input', name)), k, 'the data cast to the input type', ''
        if name in split:
            kname = split[name]
            note = f'activation of {kname} (split by hls4ml)'
            return Ref(('out', kname), [('act', kname)], [_alpha_of(g, kname) or kname]), g.klayers[kname], note, ''
        if k is not None and _alpha_of(g, name):
            return None, k, '', (f'before its alpha scale, which hls4ml applies in {name}_alpha (Keras has no '
                                 'such tensor)')
        if cls == 'ApplyAlpha' and name.endswith('_alpha') and g.klayers.get(name[:-6]) is not None:
            host = name[:-6]
            ref, _, note = self._keras_layer(host, g.klayers[host], after=name)
            ref.inputs = self.compared_parents(host)
            return ref, g.klayers[host], f'{host} with its alpha scale (applied here by hls4ml)' + (
                f'; {note}' if note else ''), ''
        if k is not None:
            return (*self._keras_layer(name, k), '')
        if _separable_half(g, name):
            return self._separable(name)
        if cls == 'Clone' and g.parents[name]:
            src = self.compared_parents(name)[0]
            if src in self.refs:
                note = f'copy of {src} (inserted by hls4ml for io_stream)'
                return Ref(self.refs[src].tensor, [('identity',)], [src]), k, note, ''
            return None, k, '', f'copy of {src}, which is not compared'
        if cls in _INSERTED:
            return None, k, '', _INSERTED[cls]
        if _is_activation(layer) and name.endswith('_linear') and g.parents[name]:
            src = self.compared_parents(name)[0]
            if src in self.refs:
                note = f'linear activation inserted by hls4ml after {src}'
                return Ref(self.refs[src].tensor, [('identity',)], [src]), k, note, ''
            return None, k, '', f'linear activation after {src}, which is not compared'
        return None, k, '', f'no Keras layer named {name} (inserted or renamed by hls4ml)'

    def _keras_layer(self, name: str, k, after: str | None = None) -> tuple[Ref, object, str]:
        """A layer with a Keras namesake: its output, or the output before its fused activation, with
        the no-op layers hls4ml folded into it (BatchNormalization, Dropout, an absorbed HGQ quantizer).
        `after`: the hls4ml layer whose children follow it (its ApplyAlpha)."""
        g = self.g
        fused = any(c in self.split for c in g.children.get(after or name, []))
        parents = self.compared_parents(name)
        before = self._keras_between(k, parents)
        dropped = [b.name for b in before if type(b).__name__ not in _RESHAPES and not identity_at_inference(b)]
        steps = [('layer', b.name) for b in before]
        note = 'after ' + ', '.join(dropped) + ', which no hls4ml layer computes' if dropped else ''
        if fused:
            ref = Ref(('pre', name), steps + [('pre', name)], parents, dropped)
            return ref, k, 'before the fused activation' + (f'; {note}' if note else '')
        ref, last = Ref(('out', name), steps + [('layer', name)], parents, dropped), k
        while True:
            consumer = _single_consumer(last)
            kind = type(consumer).__name__ if consumer is not None else None
            if consumer is None or consumer.name in g.hnames or kind not in _FOLDABLE + QUANTIZER_LAYERS:
                return ref, k, note
            self.folded[consumer.name] = name
            ref = Ref(('out', consumer.name), ref.chain + [('layer', consumer.name)], ref.inputs)
            note, last = f'{kind} {consumer.name} folded into this layer', consumer

    def _separable(self, name: str) -> tuple[Ref | None, object, str, str]:
        """A half of a SeparableConv2D hls4ml split in two: the depthwise half has no Keras tensor; the
        pointwise half is compared with the Keras layer's output, re-run from the depthwise half's input."""
        base, _, half = name.rpartition('_')
        k = self.g.klayers[base]
        if half == 'depthwise':
            return None, k, '', (f'the depthwise half of {base} (hls4ml splits the {type(k).__name__} in two; Keras '
                                 f'has no tensor between them): compared after {base}_pointwise')
        note = f'{base} (hls4ml splits the {type(k).__name__} into {base}_depthwise and this layer)'
        if any(c in self.split for c in self.g.children.get(name, [])):  # its activation is a layer of its own
            ref = Ref(('pre', base), [('pre', base)], self.compared_parents(name))
            return ref, k, note + ', before the fused activation', ''
        return Ref(('out', base), [('layer', base)], self.compared_parents(name)), k, note, ''

    def _absorbed_quantizer(self, name: str):
        """The Keras quantizer that reads only this input and that hls4ml has no layer for (it became the input type)."""
        klayer = self.g.kinputs.get(name) or self.g.klayers.get(name)
        consumer = _single_consumer(klayer) if klayer is not None else None
        if consumer is None or type(consumer).__name__ not in QUANTIZER_LAYERS or consumer.name in self.g.hnames:
            return None
        return consumer

    def _keras_between(self, k, parents: list[str]) -> list:
        """The Keras layers between the tensor the layer's one compared parent holds and the layer itself, in
        order, when hls4ml has no layer for them (a reshape it made a no-op, or a layer it dropped)."""
        if len(parents) != 1 or parents[0] not in self.refs:
            return []
        target = self.refs[parents[0]].tensor
        if target[0] not in ('out', 'input'):
            return []
        between: list = []  # Keras layer objects
        layer = k
        for _ in range(6):
            inbound = _inbound_layers(layer)
            if len(inbound) != 1:
                return []
            layer = inbound[0]
            if layer.name == target[1]:
                return between[::-1]
            if layer.name in self.g.hnames or layer.name in self.folded or type(layer).__name__ == 'InputLayer':
                return []
            between.append(layer)
        return []

    def record(self, name: str, ref: Ref | None, reason: str) -> None:
        if reason or ref is None:
            self.not_compared[name] = reason
        else:
            self.refs[name] = ref


def map_layers(hls_model, keras_model) -> tuple[list[LayerInfo], dict[str, Ref], list[tuple[str, str]]]:
    """Return (layer facts, refs by hls4ml layer name, unmatched Keras layers with reasons).

    Steps: the graph; the activations hls4ml split off; a Ref per layer, in topological order;
    the facts of each layer; the Keras layers nothing maps to. A layer that cannot be mapped is
    not compared, with the reason: whatever hls4ml converts never ends in an error here.
    """
    g = _Graph.of(hls_model, keras_model)
    m = _Mapping(g, _split_activations(g))
    infos = []
    for layer in g.hlayers:
        try:
            ref, k, note, reason = m.ref_for(layer)
        except Exception as exc:  # a layer shape this mapping does not know: not compared, said why
            ref, k, note = None, g.klayers.get(layer.name), ''
            reason = f'hlsdiff could not map it ({type(exc).__name__}: {exc})'
        m.record(layer.name, ref, reason)
        infos.append(_layer_facts(layer, k, ref, note, reason, m, g))
    return infos, m.refs, _unmatched(g, m)


def _layer_facts(layer, k, ref: Ref | None, note: str, reason: str, m: _Mapping, g: _Graph) -> LayerInfo:
    """What the diagnosis needs to know of one layer."""
    out_var = layer.get_output_variable()
    return LayerInfo(
        name=layer.name,
        class_name=layer.class_name,
        inputs=tuple(m.compared_parents(layer.name) if ref else g.parents[layer.name]),
        keras=_tensor_label(ref.tensor) if ref else None,
        keras_class=type(k).__name__ if k is not None else None,
        shape=tuple(int(s) for s in out_var.shape),
        result_type=type_text(out_var.type),
        accum_type=type_text(layer.get_attr('accum_t')),
        mapping_note=note,
        reason=reason,
        origin=_origin(layer, m, g),
        folded=tuple(Folded(type(g.klayers[n]).__name__, n) for n, host in m.folded.items()
                     if host == layer.name and n in g.klayers),
        bit_exact_point=bool(ref is not None and ref.tensor[0] == 'out'
                             and type(g.klayers.get(ref.tensor[1])).__name__ in QUANTIZER_LAYERS),
        hls=hls_attrs(layer),
        framework=_keras_facts(k, ref, g),
        weight_loss=weight_quantization(layer),
    )


def _origin(layer, m: _Mapping, g: _Graph) -> Origin:
    name, cls = layer.name, layer.class_name
    if cls == 'Input':
        return 'input'
    if name in m.split:
        return 'split'
    if cls == 'ApplyAlpha' and name.endswith('_alpha') and name[:-6] in g.klayers:
        return 'alpha'
    return 'model' if name in g.klayers else 'inserted'


def _keras_facts(k, ref: Ref | None, g: _Graph) -> KerasFacts:
    """What the Keras layer says that hls4ml may not carry over."""
    dropped_layers = tuple(f'{type(g.klayers[n]).__name__} {n}' for n in (ref.dropped if ref else []) if n in g.klayers)
    if k is None:
        return KerasFacts(dropped_layers=dropped_layers)
    kcfg = k.get_config()
    quantizer = kcfg.get('depthwise_quantizer')
    alpha = str((quantizer.get('config') or {}).get('alpha')) if isinstance(quantizer, dict) else None
    return KerasFacts(activation=_activation_name(k), depth_multiplier=int(kcfg.get('depth_multiplier', 1) or 1),
                      depthwise_alpha=alpha, dropped_settings=dropped_settings(k), dropped_layers=dropped_layers)


def _unmatched(g: _Graph, m: _Mapping) -> list[tuple[str, str]]:
    """Every Keras layer no hls4ml layer maps to, with the reason."""
    mapped = {ref.tensor[1] for ref in m.refs.values()} | set(m.split.values()) | set(m.folded)
    unmatched = []
    for kname, klayer in g.klayers.items():
        if kname in mapped or kname in g.hnames:
            continue
        kind = type(klayer).__name__
        if kind in ('Flatten', 'Reshape'):
            why = 'a reshape that moves no data: optimised away by hls4ml'
        elif kind in _FOLDABLE:
            why = 'no-op at inference: removed by hls4ml'
        else:
            why = 'no hls4ml layer computes it'
        unmatched.append((kname, why))
    for kname, host in m.folded.items():
        unmatched.append((kname, f'folded into hls4ml layer {host}'))
    return unmatched


def _tensor_label(tensor: tuple) -> str:
    kind, name = tensor
    return {'out': name, 'pre': f'{name} (pre-activation)', 'input': f'{name} (input)'}[kind]


def _separable_half(g: _Graph, name: str) -> str:
    """'depthwise' or 'pointwise' for a half of a Keras SeparableConv2D hls4ml split in two, else ''."""
    base, _, half = name.rpartition('_')
    k = g.klayers.get(base)
    if half in ('depthwise', 'pointwise') and k is not None and 'SeparableConv' in type(k).__name__:
        return half
    return ''


def _inbound_layers(klayer) -> list:
    """The Keras layers whose outputs `klayer` reads (its first call)."""
    try:
        inbound = klayer.inbound_nodes[0].inbound_layers
    except (AttributeError, IndexError):
        return []
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _single_consumer(klayer):
    """The only Keras layer that reads `klayer`'s output, or None."""
    try:
        nodes = klayer.outbound_nodes
    except AttributeError:
        return None
    consumers = {node.outbound_layer for node in nodes}
    return consumers.pop() if len(consumers) == 1 else None
