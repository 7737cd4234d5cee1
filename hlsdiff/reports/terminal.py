"""The terminal report: the one-sentence diagnosis, the per-layer table, the mapping."""

from __future__ import annotations

from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {'ok': 'green', 'noise': 'yellow', 'mismatch': 'bold red', 'not-compared': 'dim'}


def _num(value, fmt: str = '.3g') -> str:
    return '-' if value is None else format(value, fmt)


def output_line(out: dict, samples: int) -> str:
    """`top-1 agreement 99.4% (2 near ties), max abs error 95.3, mean 0.05; wrong on 5 of 1000 samples: 17, 250, ...`"""
    text = ''
    if out.get('top1_agreement') is not None:
        ties = out.get('top1_near_ties') or 0
        text = f'top-1 agreement {out["top1_agreement"]:.1%}' + (f' ({ties} near ties)' if ties else '') + ', '
    text += f'max abs error {out["max_abs"]:.3g}, mean {out["mean_abs"]:.3g}'
    count = out.get('wrong_samples_count') or 0
    if count:
        first = ', '.join(str(i) for i in (out.get('wrong_samples') or [])[:10]) + (', ...' if count > 10 else '')
        text += f'; wrong beyond rounding on {count} of {samples} samples ({count / max(samples, 1):.1%}): {first}'
    return text


def render(result, console: Console, verbose: bool = False, label: str = '') -> None:
    """`result`: a result.CompareResult (not imported here: the result renders itself through reports)."""
    if result.error:
        console.print(f'[bold red]error[/]: {result.error["message"]}')
        if _is_result(result.patched):
            console.rule('with hlsdiff patch applied')
            render(result.patched, console, verbose, label='patched project ')
            _gated_verdict(result, console)
        return
    verdict_style = 'bold green' if result.verdict == 'pass' else 'bold red'
    console.print(Text(result.summary, style='bold' if result.onset else 'green'))
    console.print(_table(result))
    for layer in result.layers:
        if layer.introduces_error and layer.cause not in ('none', 'rounding'):
            proof = ' [dim](shown by emulation)[/]' if layer.evidence == 'emulation' else ''
            console.print(f'[bold]{layer.name}[/]: {layer.cause}{proof}'
                          + (f' — {layer.cause_detail}' if layer.cause_detail else '')
                          + (f'\n  pattern: {layer.pattern.get("detail")}' if layer.pattern.get('detail') else '')
                          + (f'\n  hint: {layer.hint}' if layer.hint else ''))
        elif layer.cause == 'unsupported-attribute':
            console.print(f'[bold]{layer.name}[/]: {layer.cause_detail}\n  hint: {layer.hint}')
    for out in result.outputs:
        console.print(f'output [bold]{out["name"]}[/]: {output_line(out, result.samples)}')
    for item in result.unmatched_keras:
        console.print(f'[dim]Keras layer {item["keras"]}: not compared ({item["reason"]})[/]')
    for note in result.notes:
        console.print(f'[yellow]note[/]: {note}')
    if verbose and result.timings:
        console.print('[dim]timings: ' + ', '.join(f'{k}={v}' for k, v in result.timings.items()) + '[/]')
    if _is_result(result.patched):
        console.rule('with hlsdiff patch applied')
        render(result.patched, console, verbose, label='patched project ')
        _gated_verdict(result, console)
        return
    failures = [f'{layer.name}: {", ".join(layer.gate_failures)}' for layer in result.layers if layer.gate_failures]
    console.print(Text(f'{label}verdict: {result.verdict.upper()}', style=verdict_style)
                  + Text(f'  (gate: {"; ".join(result.gates)})', style='dim'))
    for line in failures[:20]:
        console.print(f'  [red]✗[/] {line}')


def _table(result) -> Table:
    """One row per layer: its figures, pattern and cause."""
    table = Table(title=f'{result.model}  ({result.io_type}, {result.backend}, {result.samples} samples)',
                  show_lines=False, header_style='bold')
    columns: tuple[tuple[str, Literal['left', 'right']], ...] = (
        ('hls4ml layer', 'left'), ('Keras tensor', 'left'), ('result type', 'left'), ('status', 'left'),
        ('max abs', 'right'), ('mean abs', 'right'), ('rmse', 'right'), ('max LSB', 'right'), ('mismatched', 'right'),
        ('worst ch', 'left'), ('pattern', 'left'), ('cause', 'left'))
    for col, just in columns:
        table.add_column(col, justify=just, overflow='fold')
    onset = result.onset['layer'] if result.onset else None
    for layer in result.layers:
        name = Text(layer.name + (' ◀ onset' if layer.name == onset else ''),
                    style='bold red' if layer.name == onset else '')
        status = Text(layer.status, style=STATUS_STYLE.get(layer.status, ''))
        if layer.status == 'not-compared':
            table.add_row(name, Text(layer.reason, style='dim'), layer.result_type or '-', status,
                          *(['', '', '', '', '', '', '', '']))
            continue
        pattern = layer.pattern.get('kind', 'none')
        if pattern == 'alternating' and layer.pattern.get('phase') is not None:
            pattern += f' (phase {layer.pattern["phase"]})'
        elif layer.pattern.get('period'):
            pattern += f' (every {layer.pattern["period"]})'
        cause = layer.cause if layer.cause != 'propagated' else f'propagated from {layer.propagated_from}'
        table.add_row(
            name, layer.keras or '-', layer.result_type or '-', status,
            _num(layer.max_abs), _num(layer.mean_abs), _num(layer.rmse), _num(layer.max_lsb, '.1f'),
            f'{layer.mismatched_fraction:.1%}' if layer.mismatched_fraction is not None else '-',
            ', '.join(str(c) for c in layer.worst_channels) or '-',
            '' if pattern == 'none' else pattern,
            '' if cause == 'none' else cause,
        )
    return table


def _is_result(value) -> bool:
    return hasattr(value, 'layers') and hasattr(value, 'verdict')


def _gated_verdict(result, console: Console) -> None:
    """With --patch: which project's verdict is the run's (the exit code follows it)."""
    gate = getattr(result, 'gate', None)
    if not gate:
        return
    verdicts = result.verdicts or {}
    other = 'patched' if gate == 'stock' else 'stock'
    style = 'bold green' if result.verdict == 'pass' else 'bold red'
    console.print(Text(f'verdict: {result.verdict.upper()}', style=style)
                  + Text(f'  (judges the {gate} project; the {other} one: {verdicts.get(other, "-")}'
                         + ('; --gate patched judges the patched one)' if gate == 'stock' else ')'), style='dim'))
