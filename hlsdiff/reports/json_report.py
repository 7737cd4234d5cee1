"""The JSON report: docs/json-schema.md (its version is result.SCHEMA_VERSION)."""

from __future__ import annotations

import json
import math


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def render(result) -> str:
    return json.dumps(_clean(result.to_json()), indent=2) + '\n'
