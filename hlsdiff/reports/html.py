"""A self-contained HTML report: diagnosis, layer x channel heatmap (embedded PNG), table, mapping."""

from __future__ import annotations

import base64
import html as h
import io

import numpy as np

from hlsdiff.reports.terminal import output_line

STATUS_COLOUR = {'ok': '#2e7d32', 'noise': '#b58900', 'mismatch': '#c62828', 'not-compared': '#888'}


def heatmap_png(result) -> bytes | None:
    """Layers (rows) x channels (columns), error in LSBs of each layer's type, log scale."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from hlsdiff.fixedpoint import parse_type

    rows, labels = [], []
    for layer in result.layers:
        pc = (layer.per_channel or {}).get('max_abs') or []
        if layer.status == 'not-compared' or not pc:
            continue
        t = parse_type(layer.result_type)
        lsb = t.lsb if t else 1.0
        rows.append(np.asarray(pc, dtype=float) / lsb)
        labels.append(layer.name)
    if not rows:
        return None
    width = max(len(r) for r in rows)
    grid = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        grid[i, : len(r)] = r
    fig, ax = plt.subplots(figsize=(max(6, min(18, 0.35 * width + 3)), max(3, 0.38 * len(rows) + 1.5)), dpi=100)
    masked = np.ma.masked_invalid(np.maximum(grid, 1e-3))
    image = ax.imshow(masked, aspect='auto', cmap='magma_r', norm=LogNorm(vmin=1e-3, vmax=max(1.0, np.nanmax(grid))),
                      interpolation='nearest')
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel('channel')
    onset = result.onset['layer'] if result.onset else None
    if onset in labels:
        i = labels.index(onset)
        ax.axhline(i - 0.5, color='#00bcd4', lw=2)
        ax.axhline(i + 0.5, color='#00bcd4', lw=2)
        ax.get_yticklabels()[i].set_color('#c62828')
        ax.get_yticklabels()[i].set_fontweight('bold')
    fig.colorbar(image, ax=ax, label='max |error| in LSB of the layer type (log)')
    ax.set_title('error per layer and channel' + (f' — onset: {onset}' if onset else ''))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    plt.close(fig)
    return buf.getvalue()


def scatter_png(name: str, keras: np.ndarray, csim: np.ndarray) -> bytes:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=90)
    k, c = keras.reshape(-1), csim.reshape(-1)
    if k.size > 20000:
        idx = np.random.default_rng(0).choice(k.size, 20000, replace=False)
        k, c = k[idx], c[idx]
    ax.scatter(k, c, s=2, alpha=0.4)
    lo, hi = float(min(k.min(), c.min())), float(max(k.max(), c.max()))
    ax.plot([lo, hi], [lo, hi], color='#888', lw=1)
    ax.set_xlabel('Keras')
    ax.set_ylabel('C-simulation')
    ax.set_title(name, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    plt.close(fig)
    return buf.getvalue()


def _img(png: bytes, alt: str, cls: str = '', ident: str = '') -> str:
    attr = f' id="{ident}"' if ident else ''
    return f'<img{attr} class="{cls}" alt="{h.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _arrays(traces, name):
    """Keras and C-sim arrays of a layer from a Collected or from load_traces()."""
    if traces is None:
        return None, None
    if hasattr(traces, 'arrays'):
        a = traces.arrays.get(name)
        return (a.expected, a.actual) if a is not None else (None, None)
    d = traces.get(name) or {}
    return d.get('keras'), d.get('csim')


def _n(v, fmt='.3g'):
    return '-' if v is None else format(v, fmt)


def _wrong(layer) -> str:
    """A layer's samples wrong beyond rounding: the count and the first indices."""
    if not layer.wrong_samples_count:
        return '-'
    more = ', ...' if layer.wrong_samples_count > len(layer.wrong_samples) else ''
    return f'{layer.wrong_samples_count}: {", ".join(str(i) for i in layer.wrong_samples[:10])}{more}'


def _rows(result) -> list[str]:
    """One table row per layer."""
    rows = []
    for layer in result.layers:
        colour = STATUS_COLOUR.get(layer.status, '#000')
        onset = result.onset and result.onset['layer'] == layer.name
        rows.append(
            f'<tr class="{"onset" if onset else ""}"><td>{h.escape(layer.name)}{" ◀ onset" if onset else ""}</td>'
            f'<td>{h.escape(layer.keras or layer.reason or "-")}</td><td><code>{h.escape(layer.result_type or "-")}</code></td>'
            f'<td style="color:{colour};font-weight:bold">{layer.status}</td><td>{_n(layer.max_abs)}</td>'
            f'<td>{_n(layer.max_lsb, ".1f")}</td><td>{_n(layer.mismatched_fraction, ".1%")}</td>'
            f'<td>{_wrong(layer)}</td>'
            f'<td>{h.escape(layer.pattern.get("kind", ""))}</td><td>{h.escape(layer.cause)}</td>'
            f'<td>{h.escape(layer.hint)}</td></tr>'
        )
    return rows


def render(result, traces=None) -> str:
    heat = heatmap_png(result)
    rows = _rows(result)
    scatters: list[str] = []
    for layer in result.layers:
        if layer.status == 'mismatch' and len(scatters) < 8:
            k, c = _arrays(traces, layer.name)
            if k is not None and c is not None and k.shape == c.shape:
                scatters.append(_img(scatter_png(layer.name, k, c), f'Keras vs C-sim for {layer.name}', 'scatter'))
    mapping = ''.join(
        f'<tr><td>{h.escape(layer.name)}</td><td>{h.escape(layer.keras or "—")}</td>'
        f'<td>{h.escape(layer.mapping_note or layer.reason)}</td></tr>' for layer in result.layers
    ) + ''.join(f'<tr><td>—</td><td>{h.escape(u["keras"])}</td><td>{h.escape(u["reason"])}</td></tr>'
                for u in result.unmatched_keras)
    verdict_colour = '#2e7d32' if result.verdict == 'pass' else '#c62828'
    return f'''<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hlsdiff: {h.escape(result.model)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 12px 0; }}
td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
tr.onset td {{ background: #ffebee; }}
.summary {{ font-size: 16px; font-weight: 600; padding: 10px; background: #f5f5f5; border-left: 5px solid {verdict_colour}; }}
.scatter {{ margin: 4px; border: 1px solid #eee; }}
</style></head><body>
<h1>hlsdiff — <span style="color:{verdict_colour}">{result.verdict.upper()}</span></h1>
<p>{h.escape(result.model)} · {h.escape(result.io_type)} · {h.escape(result.backend)} · {result.samples} samples ·
hls4ml {h.escape(str(result.hls4ml_version))} · hlsdiff {h.escape(str(result.hlsdiff_version))}</p>
<p class="summary">{h.escape(result.summary)}</p>
<h2>Error heatmap</h2>
{_img(heat, 'layer by channel error heatmap', 'heatmap', 'heatmap') if heat else '<p>No compared layers.</p>'}
<h2>Layers</h2>
<table><tr><th>hls4ml layer</th><th>Keras tensor</th><th>result type</th><th>status</th><th>max abs</th><th>max LSB</th>
<th>mismatched</th><th>wrong samples</th><th>pattern</th><th>cause</th><th>hint</th></tr>
{''.join(rows)}</table>
<h2>Outputs</h2>
<ul>{''.join(f'<li><b>{h.escape(o["name"])}</b>: {h.escape(output_line(o, result.samples))}</li>' for o in result.outputs)}</ul>
<p>Gate: {h.escape('; '.join(result.gates))}</p>
<ul>{''.join(f'<li>✗ {h.escape(f)}</li>' for f in result.gate_failures)}</ul>
{'<h2>Keras vs C-simulation (mismatched layers)</h2>' + ''.join(scatters) if scatters else ''}
<h2>Layer mapping</h2>
<table><tr><th>hls4ml layer</th><th>Keras tensor</th><th>note</th></tr>{mapping}</table>
<script>
// records how the browser laid out the heatmap (read by hlsdiff's own rendering test)
window.addEventListener('load', function () {{
  var img = document.getElementById('heatmap');
  if (img) {{
    var box = img.getBoundingClientRect();
    document.body.setAttribute('data-heatmap', img.naturalWidth + 'x' + img.naturalHeight + ' ' +
                               Math.round(box.width) + 'x' + Math.round(box.height) + ' ' + img.complete);
  }}
}});
</script>
</body></html>
'''
