"""A short Markdown summary for a pull-request comment."""

from __future__ import annotations

from hlsdiff.reports.terminal import output_line


def _n(v, fmt='.3g'):
    return '-' if v is None else format(v, fmt)


def render(result) -> str:
    icon = '✅' if result.verdict == 'pass' else ('❌' if result.verdict == 'fail' else '⚠️')
    lines = [f'### {icon} hlsdiff: {result.verdict}', '', result.summary, '',
             f'`{result.model}` · {result.io_type} · {result.backend} · {result.samples} samples', '',
             '| layer | Keras | type | status | max abs | max LSB | wrong samples | pattern | cause |',
             '|---|---|---|---|---:|---:|---:|---|---|']
    for layer in result.layers:
        if layer.status == 'not-compared':
            continue
        lines.append(f'| {layer.name} | {layer.keras or "-"} | `{layer.result_type}` | {layer.status} | '
                     f'{_n(layer.max_abs)} | {_n(layer.max_lsb, ".1f")} | {layer.wrong_samples_count or "-"} | '
                     f'{layer.pattern.get("kind")} | {layer.cause} |')
    lines += [''] + [f'- output `{o["name"]}`: {output_line(o, result.samples)}' for o in result.outputs]
    lines += [f'- ✗ {failure}' for failure in result.gate_failures]
    return '\n'.join(lines) + '\n'
