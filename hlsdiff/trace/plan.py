"""What the build, the C-simulation and the comparison need from a conversion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Plan:
    """What the build, the C-simulation and the comparison need, from a conversion or the cache."""

    firmware: Path
    sources: object  # csim.Sources
    input_names: list[str]
    input_shapes: list[tuple[int, ...]]
    hls_inputs: list[str]
    output_sizes: list[int]
    traced: dict[str, int]
    layer_by_index: dict[int, str]
    infos: list
    refs: dict
    unmatched: list
    warnings: list[str]
    # input name -> axes order (batch first) of the data as the C-simulation takes it, where it differs
    csim_layout: dict[str, tuple[int, ...]] = field(default_factory=dict)
