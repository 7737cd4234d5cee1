"""What the trace step hands to the diff and the diagnosis: layer facts and arrays, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LayerInfo:
    """One hls4ml layer and the Keras tensor it is compared with.

    `inputs` are the hls4ml layers feeding this one (after skipping inserted layers that
    are not compared), `keras` is the label of the mapped Keras tensor (None when not
    compared, with `reason`), `attrs` holds facts the diagnosis needs (accumulator type,
    activation, Keras settings hls4ml drops, pooling size...).
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
    attrs: dict = field(default_factory=dict)

    @property
    def compared(self) -> bool:
        return self.keras is not None and not self.reason


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
