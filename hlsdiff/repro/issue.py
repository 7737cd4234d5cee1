"""ISSUE.md: a bug report for hls4ml, from a confirmed reproducer; then DIR is put in place."""

from __future__ import annotations

import platform
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.diagnosis.patterns import describe
from hlsdiff.diff import NOISE_FRACTION
from hlsdiff.repro.cut import Candidate, Source, script_facts
from hlsdiff.repro.target import Target

_ABS_PATH = re.compile(r'(?<![\w.])(?:/[\w.+@-]+)+/(?=[\w.+@-])')  # a folder path in a compiler's or hls4ml's message


@dataclass(frozen=True)
class Written:
    folder: Path
    title: str
    summary: str
    layers: list[str]


def scrub(text: str) -> str:
    """Nothing of the user's machine: folder paths reduced to the file name, the host name out."""
    text = _ABS_PATH.sub('', text)
    host = socket.gethostname()
    return text.replace(host, '<host>') if len(host) > 2 else text


def observed(found: Candidate, tol: float) -> tuple[list[tuple], str]:
    """Per channel (channel, max, mean, share over the tolerance, wrong) and the pattern, from the arrays
    repro.py compared."""
    arrays = found.confirmed.observed
    if not arrays:
        return [], ''
    x, expected, got = arrays['x'], arrays['expected'], arrays['got']
    err = np.abs(got - expected).reshape(-1, expected.shape[-1])
    share = (err > tol).mean(axis=0)
    bad = share > NOISE_FRACTION
    pattern = describe(got, expected, bad, tol, layer_input=x if x.shape == got.shape else None)
    rows = [(c, float(err[:, c].max()), float(err[:, c].mean()), float(share[c]), bool(bad[c]))
            for c in range(err.shape[1])]
    return rows, pattern.detail


def title_of(classes: str, target: Target, pattern: str, settings: dict, version: str, label: str = 'Keras') -> str:
    what = ('aborts the C-simulation with a C++ assert' if target.cause == 'kernel-abort'
            else f'C-simulation differs from {label}: {pattern.split("; ")[0].split(": ")[0] if pattern else "wrong outputs"}')
    return f'hls4ml {version}: {classes}: {what} ({settings["IOType"]})'


def environment(src: Source) -> list[str]:
    from importlib.metadata import version

    try:
        gxx = subprocess.run(['g++', '-dumpfullversion'], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        gxx = 'not found'
    model_cfg = src.hls.get('Model') or {}
    precision = model_cfg.get('Precision')
    precision = precision.get('default') if isinstance(precision, dict) else precision
    rows = [('hls4ml', version('hls4ml')), *src.frontend.versions().items(), ('numpy', np.__version__),
            ('g++', gxx), ('Python', platform.python_version())]
    lines = ['| package | version |', '|---|---|'] + [f'| {k} | {v} |' for k, v in rows]
    lines += ['', f'Backend `{src.settings["Backend"]}`, IOType `{src.settings["IOType"]}`, Strategy '
                  f'`{model_cfg.get("Strategy", "Latency")}`, ReuseFactor `{model_cfg.get("ReuseFactor", 1)}`, '
                  f'default precision `{precision}`, on {platform.system()} {platform.machine()}.']
    return lines


def _num(value, spec: str = '.4g') -> str:
    """A figure of the compare as ISSUE.md shows it: `not measured` when there is none."""
    return 'not measured' if value is None else format(float(value), spec)


def evidence(target: Target, label: str = 'Keras') -> list[str]:
    """What hlsdiff measured on the full model: the link that carries the error, the emulation's figures."""
    layer = target.result
    if layer is None:
        return [f'- In the full model the C-simulation aborted in `{target.layer}`: {scrub(target.abort)}',
                f'- {label} computes the layer; hls4ml converts it, then its kernel asserts at run time.']
    lines = [f'- Layer `{layer.name}` ({layer.class_name}, compared with {label} `{layer.keras}`): status {layer.status}, '
             f'cause **{layer.cause}** (evidence: {layer.evidence})' + (f' — {scrub(layer.cause_detail)}'
                                                                      if layer.cause_detail else '')]
    if layer.mapping_note:
        lines.append(f'- hls4ml: {layer.mapping_note}')
    links = getattr(layer, 'links', None)
    if links:
        carried = ', '.join(f'{k} {v:.3g}' if v is not None else f'{k} not computed' for k, v in links.items())
        lines.append(f'- Max abs error each link carries: {carried}')
    em = layer.emulation or {}
    if em.get('status') == 'not-emulated':
        lines.append(f'- Emulation of the project\'s types: not emulated ({scrub(em.get("reason") or "no reason given")})')
    elif em:
        differing = int(em.get('differing') or 0)
        reason = f' ({scrub(em["reason"])})' if em.get('reason') else ''
        lines.append(f'- Emulation of the project\'s types: {em.get("status")}, {differing} elements '
                     f'differ, max {_num(em.get("max_lsb") or 0, ".3g")} LSB{reason}')
    own = 'not measured' if layer.local_max_abs is None else f'{_num(layer.local_max_abs)} max abs'
    lsb = f', {_num(layer.max_lsb, ".1f")} LSB of `{layer.result_type}`' if layer.max_lsb is not None else ''
    lines.append(f'- Error the layer adds by itself (on the C-simulation\'s own inputs): {own}; in the full model '
                 f'{_num(layer.max_abs)} max abs{lsb}, {_num(layer.mismatched_fraction or 0, ".1%")} of the elements wrong')
    if layer.pattern.get('detail'):
        lines.append(f'- Pattern in the full model: {layer.pattern["detail"]}')
    return lines


def _reduction(found: Candidate, own: int, label: str) -> str:
    extra = len(found.layers) - own
    if found.folder.name == 'prefix':
        return (f'not reduced: the model up to the layer, {len(found.layers)} layers; the layer alone, and with up '
                f'to 2 layers before it, match {label}')
    if extra == 0:
        return f'the layer alone: {" + ".join(found.layers)}'
    return f'the layer with the {extra} before it, as the layer alone matches {label}: {" + ".join(found.layers)}'


def _data_of(target: Target, label: str) -> str:
    if target.result is None:  # the C-simulation aborted: it traced nothing
        return f'the values that reach its first layer, as {label} computes them'
    return 'the values that reach its first layer in the C-simulation, on the samples that show the defect most'


def render(found: Candidate, src: Source, target: Target, own: int, title: str) -> str:
    rows, pattern = observed(found, target.tolerance)
    label = src.frontend.label
    model_file = next(p.name for p in found.folder.iterdir() if p.name.startswith('model'))
    out = [f'# {title}', '', '## Environment', '', *environment(src), '', '## Steps to reproduce', '',
           f'`{model_file}` ({label}; {_reduction(found, own, label)}), `data.npy` ({found.data.shape[0]} samples: '
           f'{_data_of(target, label)}), `config.yml` (the hls4ml config: `Backend`, `IOType`, `HLSConfig`), '
           f'`repro.py` (hls4ml + {label} + numpy: convert, compile, predict, compare).', '',
           '```', 'python repro.py', '```', '', *edited_files(src)]
    expected = (f'`hls_model.predict(x)` runs, and matches {label}\'s output' if target.cause == 'kernel-abort' else
                f'`hls_model.predict(x)` matches {label}\'s output within {target.tolerance:.3g} (the rounding bound '
                'of the layer\'s types)')
    out += ['## Expected behaviour', '', expected + '.', '', '## Observed behaviour', '',
            '```', scrub(found.confirmed.stdout.strip())]
    aborts = [ln for ln in found.confirmed.stderr.splitlines() if 'Assertion' in ln or 'assert' in ln.lower()]
    out += [scrub(ln) for ln in aborts[:3]] + ['```', '']
    if rows:
        out += ['| channel | max abs error | mean abs error | elements wrong | |', '|---|---|---|---|---|']
        out += [f'| {c} | {mx:.4g} | {mean:.4g} | {share:.0%} | {"wrong" if bad else "ok"} |'
                for c, mx, mean, share, bad in rows]
        out += ['', f'Pattern: {pattern or "no channel pattern"}.', '']
    out += ['## Evidence (hlsdiff)', '', *evidence(target, label), '']
    return '\n'.join(out)


def edited_files(src: Source) -> list[str]:
    """What ISSUE.md says of the user's project files that travel with the reproducer."""
    out = []
    if src.kernels:
        out += ['The project\'s kernel headers were edited: `nnet_utils/` holds the ones that differ from hls4ml\'s '
                f'({", ".join(p.name for p in src.kernels)}); repro.py copies them into the generated project before '
                'compiling.', '']
    if src.weights:
        out += ['The project\'s weights files differ from what the framework\'s layer computes (hlsdiff\'s generator '
                f'link): `weights/` holds them ({", ".join(p.name for p, _, _ in src.weights)}); repro.py copies each '
                'into the generated project under the name it gives that layer\'s weights before compiling.', '']
    return out


def finish(found: Candidate, src: Source, target: Target, out: Path, own: int) -> Written:
    """Title and ISSUE.md, repro.py's docstring with the title, then the folder moved into place (a non-empty
    DIR is kept as DIR.bakN first)."""
    from importlib.metadata import version

    _, pattern = observed(found, target.tolerance)
    title = title_of(src.frontend.describe(found.model), target, pattern, src.settings, version('hls4ml'),
                     src.frontend.label)
    model_file = next(p.name for p in found.folder.iterdir() if p.name.startswith('model'))
    (found.folder / 'repro.py').write_text(src.frontend.script(script_facts(src, model_file, title, target), found.model))
    (found.folder / 'ISSUE.md').write_text(render(found, src, target, own, title))
    place(found.folder, out)
    kind = 'layer alone' if len(found.layers) == own else f'{len(found.layers)} layers'
    return Written(out, title, f'{" + ".join(found.layers)}: {kind}, confirmed with hls4ml alone', found.layers)


def place(folder: Path, out: Path) -> None:
    """Move `folder` to `out`; an existing non-empty `out` is moved aside to `out.bakN`, never overwritten."""
    import shutil

    if out.is_dir() and any(out.iterdir()):
        n = 1
        while out.with_name(f'{out.name}.bak{n}').exists():
            n += 1
        out.rename(out.with_name(f'{out.name}.bak{n}'))
    elif out.is_dir():
        out.rmdir()
    shutil.move(str(folder), str(out))
