"""report.html of a sweep: the scan figure (the task figure against the grid's first name, one line per
value of the others), the Pareto plot (the task figure against BOPs, the front marked) and the table;
self-contained (the figures embedded as PNG). The two figures also as SVG files (`figures_svg`), for a page
or a paper."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

TABLE_COLUMNS = ('point', 'method', 'bops', 'weight_bits', 'accuracy', 'auc_mean', 'front', 'confirmed', 'emulation_bug')


def render(frame: pd.DataFrame, summary: dict) -> str:
    names = list(summary['grid'])
    column = summary['objective']['column']
    shown = ['point', *names] + [c for c in frame.columns if c.startswith(('max_abs.', 'top1.', 'measured.'))]
    shown += [c for c in TABLE_COLUMNS if c in frame and c not in shown]
    counts = ', '.join(f'{k} {summary[k]}' for k in ('points', 'predicted', 'reused', 'csim_fallback', 'failed'))
    bugs = ''.join(f'<p class="bug">emulation bug: {html.escape(b)}</p>' for b in summary['emulation_bugs'])
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>hlsdiff sweep</title><style>'
        'body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}'
        'td,th{border:1px solid #ccc;padding:2px 6px}.bug{color:#b00;font-weight:bold}</style></head><body>'
        f'<h1>hlsdiff sweep: {html.escape(summary["model"])}</h1><p>{html.escape(counts)}; '
        f'front: points {html.escape(", ".join(str(p) for p in summary["front"]))}</p>{bugs}'
        f'<h2>Scan: {html.escape(column)} against {html.escape(names[0])}</h2>{_png(_scan(frame, names, column))}'
        f'<h2>Pareto: {html.escape(column)} against BOPs</h2>{_png(_pareto(frame, column))}'
        f'<h2>Points</h2>{frame[shown].to_html(index=False, na_rep="-", float_format=lambda v: f"{v:.6g}")}'
        '</body></html>'
    )


def figures_svg(frame: pd.DataFrame, summary: dict) -> dict[str, str]:
    """scan.svg and pareto.svg: the report's two figures, as SVG text that is the same for the same points."""
    names, column = list(summary['grid']), summary['objective']['column']
    return {'scan.svg': _svg(_scan(frame, names, column)), 'pareto.svg': _svg(_pareto(frame, column))}


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with plt.rc_context({'svg.hashsalt': 'hlsdiff-sweep', 'svg.fonttype': 'none'}):
        fig.savefig(buf, format='svg', metadata={'Date': None, 'Creator': None})
    plt.close(fig)
    return buf.getvalue()


def _scan(frame: pd.DataFrame, names: list[str], column: str):
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    first, others = names[0], names[1:]
    ticks = list(dict.fromkeys(frame[first].astype(str)))
    groups = frame.groupby([frame[o].astype(str) for o in others], sort=False) if others else [('all', frame)]
    for label, group in groups:
        x = [ticks.index(str(v)) for v in group[first]]
        name = ', '.join(f'{o}={v}' for o, v in zip(others, label if isinstance(label, tuple) else (label,))) or column
        ax.plot(x, group[column].to_numpy(dtype=float), marker='o', label=name)
    ax.set_xticks(range(len(ticks)), ticks, rotation=30, ha='right', fontsize=8)
    errors = frame[column].to_numpy(dtype=float)
    if column.startswith('max_abs.') and (errors > 0).all() and errors.max() > 100 * errors.min():
        ax.set_yscale('log')  # an error over decades: every bit shows
    ax.set_xlabel(first)
    ax.set_ylabel(column)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _pareto(frame: pd.DataFrame, column: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(frame['bops'], frame[column], color='#999', label='points')
    front = frame[frame['front']].sort_values('bops')
    ax.step(front['bops'], front[column], where='post', color='#c33', marker='o', label='Pareto front')
    if 'confirmed' in frame:
        done = frame[frame['confirmed']]
        ax.scatter(done['bops'], done[column], s=120, facecolors='none', edgecolors='#06c',
                   label='confirmed (C-simulation)')
    if frame['bops'].gt(0).all():
        ax.set_xscale('log')
    ax.set_xlabel('BOPs (multiplications x weight bits x input bits)')
    ax.set_ylabel(column)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=90)
    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
