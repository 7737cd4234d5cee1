"""The bundled example: a tiny model in the shape of hls4ml issue #1472, and its data.

Regenerate with `python -m hlsdiff.demo.make_demo`.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = HERE / 'demo_model.h5'
DATA = HERE / 'demo_data.npy'

# What `hlsdiff demo` runs with unless told otherwise: the reporter's io_stream setup and
# the precision at which the GlobalAveragePooling accumulator wraps.
DEFAULTS = {'io_type': 'io_stream', 'precision': 'ap_fixed<16,6>', 'samples': 64}


def demo_paths() -> tuple[Path, Path, dict]:
    return MODEL, DATA, dict(DEFAULTS)
