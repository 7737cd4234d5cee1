"""CSV: one row per layer, or one row per layer and channel (pandas)."""

from __future__ import annotations

COLUMNS = ['name', 'keras', 'class', 'result_type', 'status', 'max_abs', 'mean_abs', 'rmse', 'max_lsb',
           'mismatched_fraction', 'pattern', 'cause', 'propagated_from', 'hint', 'reason']


def render_layers(result) -> str:
    import pandas as pd

    rows = []
    for layer in result.layers:
        d = layer.to_json()
        d['pattern'] = d['pattern'].get('kind')
        rows.append({c: d.get(c) for c in COLUMNS})
    return pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False)


def render_channels(result) -> str:
    import pandas as pd

    rows = []
    for layer in result.layers:
        pc = layer.per_channel or {}
        for c, (mx, mean) in enumerate(zip(pc.get('max_abs', []), pc.get('mean_abs', []))):
            rows.append({'layer': layer.name, 'channel': c, 'max_abs': mx, 'mean_abs': mean,
                         'in_pattern': c in (layer.pattern.get('channels') or []), 'status': layer.status})
    return pd.DataFrame(rows, columns=['layer', 'channel', 'max_abs', 'mean_abs', 'in_pattern', 'status']).to_csv(index=False)
