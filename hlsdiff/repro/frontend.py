"""What `repro` needs from a model's framework: cut layers out, save them, write repro.py.

One small module per frontend registers itself here (Keras 2, Keras 3, PyTorch, ONNX), so the
reproducer's steps never branch on the framework; repro.py is written from one template (script.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class ScriptFacts:
    """What repro.py is written from: file names, the tolerance, the title."""

    model_file: str
    title: str
    tolerance: float
    kernels: bool  # the DIR carries hand-edited kernel headers to copy into the project
    # the DIR carries hand-edited weights files (DIR/weights/FILE): (FILE, hls4ml layer, its variable's prefix)
    weights: tuple[tuple[str, str, str], ...] = ()


class ReproFrontend(Protocol):
    name: str
    label: str  # what the outputs are compared with, in repro.py and ISSUE.md: 'Keras', 'PyTorch', 'ONNX'

    def cut(self, model: Any, layers: list[str], input_name: str) -> Any:
        """A model with one input shaped like `layers[0]`'s and `layers` applied in order (same
        classes, configs, weights)."""

    def input_of(self, model: Any, layer: str) -> str | None:
        """The layer feeding `layer` (None: the model input; '' when it has several inputs)."""

    def layer_names(self, model: Any) -> list[str]:
        """The model's layers (its input excluded), in order."""

    def describe(self, model: Any) -> str:
        """The classes of the model's layers, e.g. 'QDepthwiseConv2D + BatchNormalization'."""

    def input_shape(self, model: Any, layer: str) -> tuple[int, ...]:
        """The shape of one sample of `layer`'s input (no batch axis)."""

    def from_csim(self, model: Any, values: np.ndarray, layer: str) -> np.ndarray:
        """The C-simulation's values of `layer`'s input (one row per sample, hls4ml's layout) in the framework's
        layout, shaped like `input_shape`."""

    def configure(self, model: Any, hls: dict) -> None:
        """Take from the HLSConfig the compare converted with what the cut depends on (a layout)."""

    def own_layer(self, model: Any, hls_name: str, class_name: str) -> str | None:
        """The framework layer an hls4ml layer is named after (None: hls4ml inserted or renamed it)."""

    def class_of(self, model: Any, layer: str) -> str:
        """The class (or op type) of a framework layer."""

    def prefix(self, model: Any, layer: str) -> Any:
        """The model from its input to `layer`'s output (single-input models)."""

    def values(self, model: Any, samples: np.ndarray, layer: str | None) -> np.ndarray:
        """The framework's own values of `layer`'s output (of the model input when None)."""

    def save(self, model: Any, folder: Any, suffix: str) -> str:
        """Save the cut model in the user's format; returns the file name."""

    def script(self, facts: ScriptFacts, model: Any) -> str:
        """repro.py: convert, compile, predict with hls4ml, compare with the framework."""

    def versions(self) -> dict[str, str]:
        """The framework packages' versions, by name."""


_FRONTENDS: dict[str, ReproFrontend] = {}


def register(frontend: ReproFrontend) -> ReproFrontend:
    _FRONTENDS[frontend.name] = frontend
    return frontend


def registered(name: str) -> ReproFrontend:
    """The frontend registered under `name` (its module imported first by the caller)."""
    return _FRONTENDS[name]
