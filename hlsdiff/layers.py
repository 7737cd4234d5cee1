"""What the trace step hands to the diff and the diagnosis: layer facts and arrays, no I/O."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from hlsdiff.vocabulary import Origin


@dataclass(frozen=True)
class WeightLoss:
    """The worst relative error of storing one of a layer's float weights in its ap_fixed type."""

    variable: str  # 'weight', 'bias', ...
    type: str  # the type hls4ml stores it in
    max_abs: float
    peak: float
    rel: float  # max_abs / peak


@dataclass(frozen=True)
class HlsAttrs:
    """The hls4ml attributes of one layer that hlsdiff reads (None: hls4ml has no such attribute)."""

    index: int | None = None
    n_in: int | None = None
    n_out: int | None = None
    n_filt: int | None = None
    n_chan: int | None = None
    in_height: int | None = None
    in_width: int | None = None
    pool_height: int | None = None
    pool_width: int | None = None
    pool_op: str | None = None
    table_size: int | None = None
    strategy: str | None = None
    reuse_factor: int | None = None
    activation: str | None = None
    depth_multiplier: int | None = None
    types: dict[str, str] = field(default_factory=dict)  # table_t, weight_t, bias_t, exp_table_t, inv_table_t


@dataclass(frozen=True)
class KerasFacts:
    """What the framework's layer says that hls4ml may not carry over."""

    activation: str | None = None  # a fused activation (None: linear or none)
    depth_multiplier: int = 1
    depthwise_alpha: str | None = None  # the QKeras depthwise quantizer's alpha, as text ('auto_po2', '1', ...)
    dropped_settings: dict[str, object] = field(default_factory=dict)  # settings hls4ml 1.3.0 ignores, with values
    dropped_layers: tuple[str, ...] = ()  # framework layers before this one no hls4ml layer computes


@dataclass(frozen=True)
class Folded:
    """A framework layer hls4ml folded into an hls4ml layer (a BatchNormalization, a Dropout, a quantizer)."""

    kind: str  # its class or op type
    name: str


@dataclass(frozen=True)
class LayerInfo:
    """One hls4ml layer and the framework tensor it is compared with.

    `inputs` are the hls4ml layers feeding this one (after skipping inserted layers that are not
    compared), `keras` is the label of the mapped tensor (None when not compared, with `reason`),
    `origin` says where hls4ml's layer comes from, `folded` the framework layers hls4ml folded
    into it; `hls` and `framework` hold the facts the diagnosis reads of each side.
    """

    name: str
    class_name: str
    inputs: tuple[str, ...] = ()
    keras: str | None = None
    keras_class: str | None = None
    shape: tuple[int, ...] = ()
    result_type: str | None = None
    accum_type: str | None = None
    mapping_note: str = ''
    reason: str = ''
    origin: Origin = 'model'
    folded: tuple[Folded, ...] = ()
    bit_exact_point: bool = False  # a quantizer's output: an HGQ proxy model promises it bit for bit
    hls: HlsAttrs = field(default_factory=HlsAttrs)
    framework: KerasFacts = field(default_factory=KerasFacts)
    weight_loss: WeightLoss | None = None

    @property
    def compared(self) -> bool:
        return self.keras is not None and not self.reason

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LayerInfo:
        """The inverse of `to_dict` (a conversion cache entry)."""
        fw = d['framework']
        return cls(**{
            **d,
            'inputs': tuple(d['inputs']),
            'shape': tuple(d['shape']),
            'folded': tuple(Folded(**f) for f in d['folded']),
            'hls': HlsAttrs(**d['hls']),
            'framework': KerasFacts(**{**fw, 'dropped_layers': tuple(fw['dropped_layers'])}),
            'weight_loss': WeightLoss(**d['weight_loss']) if d['weight_loss'] else None,
        })


@dataclass
class LayerArrays:
    """Per-sample arrays of one layer, channels last, float64.

    `expected` is Keras end to end, `actual` the C-simulation, `local` Keras's own layer
    applied to the C-simulation's inputs of this layer (None where it cannot be computed):
    `actual - local` is the error this layer adds by itself.
    """

    expected: np.ndarray | None
    actual: np.ndarray | None
    local: np.ndarray | None = None


@dataclass
class Collected:
    """Everything the trace step produced for one compare."""

    layers: list[LayerInfo]
    arrays: dict[str, LayerArrays]
    unmatched_keras: list[tuple[str, str]]  # (Keras layer, why it has no hls4ml counterpart)
    model: str = ''
    io_type: str = ''
    backend: str = ''
    samples: int = 0
    notes: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    emulation: dict = field(default_factory=dict)  # hls4ml layer -> emulate.Emulation
    emulator: object = None  # emulate.Emulator: what-if evaluation of other types (None if unavailable)
    # over every sample, when they streamed through in chunks and `arrays` holds only the first ones:
    stats: dict | None = None  # hls4ml layer -> diff.Stats
    outputs: list | None = None  # [{name, top1_agreement, max_abs, mean_abs}]
    diagnosed_samples: int | None = None  # how many samples `arrays` holds
    spilled: object = None  # Path: every sample's arrays, one .npy per layer and side (streamed --save-traces)
    links: dict = field(default_factory=dict)  # hls4ml layer -> emulate.links.Links (precision, generator, kernel)
    bit_exact: bool = False  # the model promises bit-exactness with the firmware (an HGQ proxy model)
    # hls4ml layer -> rounding.ElementCheck: the elements beyond what the layer's types explain, over every sample
    checks: dict = field(default_factory=dict)
    kept_samples: list | None = None  # the samples `arrays` holds, when not the first ones (wrong samples first)
    frontend: object = None  # the frontend that loaded the model, and the model: what a prediction converts
    model_object: object = None
