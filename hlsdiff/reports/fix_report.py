"""`hlsdiff fix`'s own report (result.fix): the changes round by round, predicted vs measured, what
configuration cannot cure; on the terminal (rich) and as a Markdown section."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def render(fix: dict, console: Console) -> None:
    table = Table(title=f'hlsdiff fix: {fix["rounds"]} round(s), {"passes" if fix["passed"] else "does NOT pass"} '
                        f'the gate; config written to {fix["config"]}', header_style='bold')
    for col in ('round', 'layer', 'key', 'before', 'after', 'error predicted / measured', 'status', 'why'):
        table.add_column(col, overflow='fold')
    for c in fix['changes']:
        if c['evidence'] == 'prediction':
            err = f'{_num(c["predicted_max_abs"])} / {_num(c["measured_max_abs"])}'
        else:
            err = f'own {_num(c["own_error_before"])} → {_num(c["own_error_after"])}'
        why = ('workaround of an hls4ml defect: ' if c['workaround'] else '') + c['why']
        table.add_row(str(c['round']), c['layer'], c['key'], str(c['before']), str(c['after']), err, c['status'],
                      why[:160])
    console.print(table)
    console.print(f'bits added {fix["bits_added"]}, removed {fix["bits_removed"]}; {fix["what_ifs"]} what-ifs '
                  f'predicted, {fix["builds"]} C-simulation build(s), {fix["seconds"]} s')
    for row in fix['predicted_vs_measured']:
        mark = 'ok' if row['within_tolerance'] else '[red]MISSED[/]'
        k, n = row.get('predicted_samples'), row.get('measured_samples')
        subset = f' (predicted on {k} of {n} samples)' if k and n and k < n else ''
        console.print(f'  round {row["round"]} {row["what"]}: predicted {_num(row["predicted_max_abs"])}, '
                      f'measured {_num(row["measured_max_abs"])} {mark}{subset}')
    for bug in fix['emulation_bugs']:
        console.print(f'[red]emulation bug[/]: {bug}')
    for c in fix.get('candidates', []):
        console.print(f'candidate measured by the C-simulation: {candidate_line(c)}', highlight=False)
    for note in fix['notes']:
        console.print(f'note: {note}')
    for u in fix['unfixable']:
        console.print(f'[red]cannot be fixed by configuration[/]: {u["layer"]} ({u["cause"]}): {u["why"]}')


def markdown(fix: dict) -> str:
    lines = [f'### hlsdiff fix: {fix["rounds"]} round(s), {"passes" if fix["passed"] else "does not pass"}', '',
             '| round | layer | key | before | after | error predicted / measured | status |',
             '|---|---|---|---|---|---|---|']
    for c in fix['changes']:
        lines.append(f'| {c["round"]} | {c["layer"]} | {c["key"]} | `{c["before"]}` | `{c["after"]}` | '
                     f'{_num(c["predicted_max_abs"])} / {_num(c["measured_max_abs"])} | {c["status"]} |')
    lines.append('')
    lines.append(f'Bits added {fix["bits_added"]}, removed {fix["bits_removed"]}.')
    for c in fix.get('candidates', []):
        lines.append(f'- candidate measured by the C-simulation: {candidate_line(c)}')
    for u in fix['unfixable']:
        lines.append(f'- **{u["layer"]}** ({u["cause"]}): {u["why"]}')
    return '\n'.join(lines) + '\n'


def candidate_line(c: dict) -> str:
    """One candidate of fix.candidates: what it changed, the verdict and the outputs it measured."""
    if c['verdict'] == 'error':
        return f'{c["what"]} ({len(c["edits"])} changes): not built ({"; ".join(c["failures"])[:200]})'
    outs = ', '.join(f'{name} max abs {_num(o["max_abs"])}' + (f', top-1 {o["top1_agreement"]:.1%}'
                                                             if o.get('top1_agreement') is not None else '')
                     for name, o in c['outputs'].items())
    return f'{c["what"]} ({len(c["edits"])} changes): {c["verdict"]} ({outs})' + (' - written' if c['written'] else '')


def _num(v) -> str:
    return '-' if v is None else f'{v:.4g}'
