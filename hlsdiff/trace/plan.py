"""What the build, the C-simulation and the comparison need from a conversion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hlsdiff.layers import LayerInfo
from hlsdiff.project import Sources

if TYPE_CHECKING:
    from hlsdiff.trace.load import Samples


@dataclass
class Plan:
    """What the build, the C-simulation and the comparison need, from a conversion or the cache."""

    firmware: Path
    sources: Sources
    input_names: list[str]
    input_shapes: list[tuple[int, ...]]
    hls_inputs: list[str]
    output_sizes: list[int]
    traced: dict[str, int]
    layer_by_index: dict[int, str]
    infos: list[LayerInfo]
    refs: dict  # hls4ml layer -> trace.mapping.Ref
    unmatched: list[tuple[str, str]]
    warnings: list[str]
    # input name -> axes order (batch first) of the data as the C-simulation takes it, where it differs
    csim_layout: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class LoadedInputs:
    """The load stage: the model as its frontend loaded it, its inputs, and the samples fitted to them."""

    model: Any
    input_names: list[str]
    input_shapes: list[tuple[int, ...]]
    samples: Samples
