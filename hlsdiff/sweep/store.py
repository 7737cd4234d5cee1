"""A sweep's points kept in its output folder as they finish, keyed by content: a re-run (or a sweep that
was killed) finds every point already computed and computes it not again.

A point's key hashes what its figures depend on: the model file's bytes, the samples, the labels, the
point's whole hls4ml config and project settings, and the hlsdiff and hls4ml versions. An entry that
cannot be read (a write cut short) is computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hlsdiff.sweep.point import PointResult, Settings

Kind = Literal['points', 'confirmed']


def digest_of(model_bytes: bytes, arrays: tuple[np.ndarray, ...], labels: np.ndarray | None) -> str:
    """What the model, the samples and the labels are, as one hex digest."""
    h = hashlib.sha256(model_bytes)
    for a in (*arrays, *(() if labels is None else (labels,))):
        a = np.ascontiguousarray(a)
        h.update(f'{a.dtype.str}{a.shape}'.encode())
        h.update(a.tobytes())
    h.update(b'labels' if labels is not None else b'')
    return h.hexdigest()


def point_key(digest: str, config: dict, settings: Settings, versions: tuple[str, ...]) -> str:
    """The key of one point: the payload's digest, the point's config and settings, the versions."""
    text = json.dumps({'payload': digest, 'config': config, 'settings': settings.as_dict(), 'versions': versions},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """Finished points (and confirmations) under DIR/points/ and DIR/confirmed/, one JSON file each."""

    def __init__(self, root: Path):
        self.root = root

    def get(self, kind: Kind, key: str) -> PointResult | None:
        path = self.root / kind / f'{key}.json'
        try:
            result = PointResult.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return result if result.key == key else None

    def put(self, kind: Kind, result: PointResult) -> None:
        """Written at once and whole (a temporary file renamed), so a killed sweep leaves no half entry."""
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f'.{result.key}.{os.getpid()}.tmp'
        tmp.write_text(json.dumps(_plain(result.to_json()), indent=1))
        tmp.replace(folder / f'{result.key}.json')


def _plain(value: Any) -> Any:
    """JSON's values: numpy scalars as Python's, NaN as null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
