"""The files of a given project that differ from what hls4ml writes: kernel headers (a hand-edited kernel) and
the weights files the compare found other than the framework's layer computes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GENERATED = ('nnet_code_gen.h',)  # written per project by hls4ml's writer from its template: not a kernel


def stock_dirs(backend: str) -> list[Path]:
    """hls4ml's nnet_utils template folders for the backend, the more specific first."""
    import importlib.util

    spec = importlib.util.find_spec('hls4ml')  # not imported: its templates are files beside it (no TensorFlow)
    root = Path(spec.origin if spec is not None and spec.origin else '.').resolve().parent / 'templates'
    names = ['vitis', 'vivado'] if backend.lower() == 'vitis' else [backend.lower(), 'vivado']
    return [root / n / 'nnet_utils' for n in dict.fromkeys(names) if (root / n / 'nnet_utils').is_dir()]


def edited_headers(project_dir: Path, backend: str) -> list[Path]:
    """The project's nnet_utils headers whose text is not hls4ml's stock header of the same name
    (headers hls4ml does not ship, e.g. one `hlsdiff patch` wrote, are not kernels of hls4ml's)."""
    edited = []
    stock = stock_dirs(backend)
    for header in sorted((project_dir / 'firmware' / 'nnet_utils').glob('*.h')):
        if header.name in GENERATED:
            continue
        original = next((d / header.name for d in stock if (d / header.name).is_file()), None)
        if original is not None and original.read_bytes() != header.read_bytes():
            edited.append(header)
    return edited


def edited_weights(project_dir: Path, target: Any) -> list[tuple[Path, str, str]]:
    """The target layer's weights files the compare found other than the framework's layer computes (its generator
    evidence): (file, hls4ml layer, the variable's prefix: `w` of `w7.txt`), to travel with the reproducer."""
    found = []
    for item in (target.result.generator_evidence if target.result is not None else None) or []:
        match = re.fullmatch(r'([a-z_]+?)\d+\.txt', str(item.get('name') or ''))
        path = project_dir / 'firmware' / 'weights' / str(item.get('name'))
        if item.get('what') == 'weights' and match and path.is_file():
            found.append((path, target.layer, match.group(1)))
    return found
