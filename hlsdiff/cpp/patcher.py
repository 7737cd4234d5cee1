"""`hlsdiff patch`: repair the known hls4ml 1.3.0 depthwise defects in a generated project.

Reads only the project's own files (myproject.cpp, parameters.h, defines.h, weights/,
hls4ml_config.yml, nnet_utils/), never TensorFlow or hls4ml. For each depthwise layer it
finds which defects apply (DESIGN.md, patch section):

1. depth_multiplier > 1            -> the corrected kernel (nnet_depthwise_hlsdiff.h)
2. Strategy Resource, io_parallel  -> the corrected kernel
3. BatchNormalization folded with a broadcast scale: the weights file holds (kh, kw, C, C)
   values                          -> weights rewritten with the diagonal, sizes to match
4. auto_po2 scaled weights that do not fit the layer's weight type (they wrap)
                                   -> the weight type widened to hold them, the accumulator
                                      by the same number of integer bits

Every replaced file is copied first to `.hlsdiff-backup/` in the project; `--revert` puts
them back byte for byte. Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hlsdiff.errors import EXIT_GATE_FAILED, EXIT_OK, BadInput, BuildFailed, NotAProject
from hlsdiff.fixedpoint import parse_type
from hlsdiff.writable import writable

KERNEL_NAME = 'nnet_depthwise_hlsdiff.h'
KERNEL_SOURCE = Path(__file__).resolve().parent / KERNEL_NAME
BACKUP_DIR = '.hlsdiff-backup'
INCLUDE_LINE = f'#include "nnet_utils/{KERNEL_NAME}" // hlsdiff patch'
# a depthwise kernel call of the top function, found by its function and config (the trailing
# `// name` comment hls4ml writes is optional: users edit it away)
_CALL_RE = re.compile(
    r'^(?P<indent>[ \t]*)(?P<call>nnet::(?P<ns>hlsdiff::)?(?P<func>depthwise_conv_[12]d_cl)<(?P<targs>[^>]*)>'
    r'\((?P<args>[^)]*)\);)[ \t]*(?://[ \t]*(?P<name>\S+)[ \t]*)?$',
    re.M,
)
_TRACE_RE = re.compile(r'save_layer_output<[^>]*>\(\s*(?P<var>\w+)\s*,\s*"(?P<name>[^"]+)"')
TMP_SUFFIX = '.hlsdiff-tmp'  # a write in progress; one left by a killed patch is removed by the next
# Lines of the stock 1.3.0 kernels that identify the layout this patcher knows.
_KNOWN_LAYOUT = {
    'nnet_sepconv2d_latency.h': 'only a depth multiplier of 1 is currently supported',
    'nnet_sepconv2d.h': 'Resource strategy for DepthwiseConv2D is not supported.',
    'nnet_sepconv2d_stream.h': 'only a depth multiplier of 1 is currently supported',
}


@dataclass
class Layer:
    name: str
    call: str  # the call as written, e.g. nnet::depthwise_conv_2d_cl<...>(...);
    func: str  # depthwise_conv_2d_cl / depthwise_conv_1d_cl
    config: str  # config struct name, e.g. config2
    weights: str  # weight array name, e.g. w2
    biases: str
    params: dict
    patched_call: bool


@dataclass
class Fix:
    layer: str
    defect: str
    description: str


@dataclass
class Plan:
    project: Path
    fixes: list[Fix] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> new text
    originals: dict[str, str | None] = field(default_factory=dict)  # relative path -> old text (None: new file)

    @property
    def changes(self) -> dict[str, str]:
        return {p: t for p, t in self.files.items() if self.originals.get(p) != t}


class Project:
    """The files of a generated project that the patcher reads and writes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise NotAProject(f'{self.path}: not a folder, so not an hls4ml project')
        cfg = self.path / 'hls4ml_config.yml'
        if not cfg.exists():
            raise NotAProject(f'{self.path}: not an hls4ml project (no hls4ml_config.yml)')
        text = cfg.read_text(errors='replace')
        match = re.search(r'^ProjectName:\s*(\S+)', text, re.M)
        self.name = match.group(1) if match else 'myproject'
        io = re.search(r'^IOType:\s*(\S+)', text, re.M)
        self.io_type = io.group(1) if io else 'io_parallel'
        self.top = f'firmware/{self.name}.cpp'
        for rel in (self.top, 'firmware/parameters.h', 'firmware/defines.h', 'firmware/nnet_utils'):
            if not (self.path / rel).exists():
                raise NotAProject(f'{self.path}: not an hls4ml project ({rel} is missing)')
        for header, marker in _KNOWN_LAYOUT.items():
            p = self.path / 'firmware' / 'nnet_utils' / header
            if not p.exists() or marker not in p.read_text(errors='replace'):
                raise NotAProject(
                    f'{self.path}: nnet_utils/{header} is not the hls4ml 1.3.0 layout this patcher knows; refusing'
                )

    def read(self, rel: str) -> str | None:
        p = self.path / rel
        return p.read_text() if p.exists() else None

    def layers(self, top_text: str, params_text: str) -> list[Layer]:
        """Every depthwise call, named by its trace call, else hls4ml's comment, else its config."""
        traced = {t.group('var'): t.group('name') for t in _TRACE_RE.finditer(top_text)}
        found = []
        for m in _CALL_RE.finditer(top_text):
            targs = [t.strip() for t in m.group('targs').split(',')]
            args = [a.strip() for a in m.group('args').split(',')]
            config = targs[-1]
            name = traced.get(args[1]) or m.group('name') or config
            found.append(Layer(name, m.group('call'), m.group('func'), config, args[2], args[3],
                               _struct(params_text, config), bool(m.group('ns'))))
        return found

    def remove_leftovers(self) -> list[str]:
        """Temporary files of a patch that was killed mid-write."""
        removed = []
        for p in self.path.rglob(f'.*{TMP_SUFFIX}'):
            p.unlink(missing_ok=True)
            removed.append(str(p.relative_to(self.path)))
        return removed


def _struct(params_text: str, name: str) -> dict:
    m = re.search(r'struct\s+' + re.escape(name) + r'\s*:\s*nnet::\w+\s*\{(.*?)\n\};', params_text, re.S)
    if not m:
        raise NotAProject(f'parameters.h has no struct {name}; not a layout this patcher knows')
    body = m.group(1)
    out: dict = {}
    for key, value in re.findall(r'static const (?:unsigned|bool|int)\s+(\w+)\s*=\s*([^;]+);', body):
        out[key] = value.strip()
    for typ, key in re.findall(r'typedef\s+([\w:<>, ]+?)\s+(\w+);', body):
        out[key] = typ.strip()
    return out


def _int(params: dict, key: str, default: int = 0) -> int:
    try:
        return int(params.get(key, default))
    except ValueError:
        return default


def _type_range(text: str) -> tuple[int, int, bool] | None:
    """(width, integer bits, signed) of an ap_fixed type: hlsdiff's one fixed-point type model."""
    t = parse_type(text)
    return (t.width, t.integer, t.signed) if t is not None and not text.strip().startswith(('ap_int', 'ap_uint')) else None


def _typedef(defines: str, name: str) -> tuple[str, re.Match] | None:
    m = re.search(r'^typedef\s+(ap_u?fixed<[^;]*>)\s+' + re.escape(name) + r';', defines, re.M)
    return (m.group(1), m) if m else None


def _weights_values(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.replace('\n', ' ').split(',') if v.strip()])


def _fmt(values: np.ndarray) -> str:
    return ', '.join(f'{v:.10f}' for v in values)


def plan(project_dir: Path, force_kernel: bool = False) -> Plan:
    """Work out every change, without writing anything. `force_kernel` routes every depthwise
    layer through the corrected kernel (used to prove it bit-identical where stock is right)."""
    prj = Project(project_dir)
    result = Plan(prj.path)
    top = prj.read(prj.top)
    params = prj.read('firmware/parameters.h')
    defines = prj.read('firmware/defines.h')
    new_top, new_defines = top, defines
    kernel_rel = f'firmware/nnet_utils/{KERNEL_NAME}'
    need_kernel = False

    for layer in prj.layers(top, params):
        p = layer.params
        n_chan, n_filt = _int(p, 'n_chan'), _int(p, 'n_filt')
        taps = _int(p, 'filt_height', 1) * _int(p, 'filt_width', 1) if layer.func.endswith('2d_cl') else _int(p, 'filt_width', 1)
        reasons = []
        if n_chan and n_filt != n_chan:
            reasons.append(('depth-multiplier',
                            f'depth_multiplier {n_filt // n_chan}: the stock kernel asserts n_filt == n_chan'))
        if prj.io_type == 'io_parallel' and p.get('strategy', '').endswith('resource'):
            reasons.append(('resource-strategy', 'Strategy Resource in io_parallel: the stock kernel asserts'))
        if (reasons or force_kernel) and not layer.patched_call:
            for defect, text in reasons or [('kernel', 'routed through the corrected kernel (bit-identical here)')]:
                result.fixes.append(Fix(layer.name, defect, text))
            new_top = new_top.replace(layer.call, layer.call.replace('nnet::', 'nnet::hlsdiff::', 1), 1)
        if reasons or force_kernel or layer.patched_call:
            need_kernel = True

        # 3. BatchNormalization folded with a broadcast: (kh, kw, C, C) values for (kh, kw, C)
        w_rel = f'firmware/weights/{layer.weights}.txt'
        w_text = prj.read(w_rel)
        if w_text is not None and n_chan and n_filt == n_chan:
            values = _weights_values(w_text)
            if values.size == taps * n_chan * n_chan and n_chan > 1:
                diag = values.reshape(taps, n_chan, n_chan)[:, np.arange(n_chan), np.arange(n_chan)].reshape(-1)
                result.fixes.append(Fix(layer.name, 'bn-broadcast',
                                        f'weights hold {values.size} values (kh*kw*C*C, a BatchNormalization folded with '
                                        f'a broadcast scale): keep the diagonal, {diag.size} values'))
                result.files[w_rel] = _fmt(diag) + '\n'
                h_rel = f'firmware/weights/{layer.weights}.h'
                h_text = prj.read(h_rel)
                if h_text is not None:
                    h_new = re.sub(r'\b' + re.escape(layer.weights) + r'\[\d+\]', f'{layer.weights}[{diag.size}]', h_text)
                    h_new = re.sub(r'(=\s*\{)[^}]*(\};)', lambda m, diag=diag: m.group(1) + _fmt(diag) + m.group(2),
                                   h_new, count=1)
                    result.files[h_rel] = h_new
                new_top = re.sub(r'(load_weights_from_txt<[^,>]+,\s*)\d+(>\(' + re.escape(layer.weights) + r',)',
                                 lambda m, diag=diag: f'{m.group(1)}{diag.size}{m.group(2)}', new_top)
                values = diag
            # 4. weights that do not fit their type (auto_po2 scaling): widen the type
            wtype_name = p.get('weight_t')
            found = _typedef(new_defines, wtype_name) if wtype_name else None
            if found and values.size:
                text, _ = found
                rng = _type_range(text)
                if rng:
                    width, integer, signed = rng
                    frac = width - integer
                    lo = -(2.0 ** (integer - 1)) if signed else 0.0
                    hi = (2.0 ** (integer - 1) if signed else 2.0**integer) - 2.0**-frac
                    if values.max() > hi or values.min() < lo:
                        need_int = _integer_bits(values, signed)
                        need_frac = max(frac, _fraction_bits(values))
                        new_type = f'ap_{"" if signed else "u"}fixed<{need_int + need_frac},{need_int}>'
                        extra = need_int - integer
                        result.fixes.append(Fix(layer.name, 'po2-weights',
                                                f'weights reach {float(np.abs(values).max()):g}, outside {text} '
                                                f'(auto_po2 scaling): {wtype_name} -> {new_type}'))
                        new_defines = new_defines.replace(f'typedef {text} {wtype_name};', f'typedef {new_type} {wtype_name};', 1)
                        acc_name = p.get('accum_t')
                        acc = _typedef(new_defines, acc_name) if acc_name else None
                        if acc and extra > 0 and _type_range(acc[0]):
                            aw, ai, asigned = _type_range(acc[0])
                            wider = f'ap_{"" if asigned else "u"}fixed<{aw + extra},{ai + extra}>'
                            new_defines = new_defines.replace(f'typedef {acc[0]} {acc_name};', f'typedef {wider} {acc_name};', 1)
                            result.fixes.append(Fix(layer.name, 'po2-weights',
                                                    f'{acc_name} -> {wider} (room for the wider weights)'))

    patched = [layer.name for layer in prj.layers(top, params) if layer.patched_call]
    if need_kernel and patched:  # a patched project that lost a part of the patch: completed
        if prj.read(kernel_rel) != KERNEL_SOURCE.read_text():
            result.fixes.append(Fix(patched[0], 'repair', f'{kernel_rel} is missing or changed: written again'))
        if INCLUDE_LINE not in top:
            result.fixes.append(Fix(patched[0], 'repair', f'the include of the corrected kernel is gone from '
                                                          f'{prj.top}: put back'))
    if need_kernel:
        result.files[kernel_rel] = KERNEL_SOURCE.read_text()
        if INCLUDE_LINE not in new_top:
            new_top = re.sub(r'(#include "parameters.h"[^\n]*\n)', lambda m: m.group(1) + INCLUDE_LINE + '\n', new_top, count=1)
            if INCLUDE_LINE not in new_top:
                raise NotAProject(f'{prj.top} does not include parameters.h; not a layout this patcher knows')
    result.files[prj.top] = new_top
    result.files['firmware/defines.h'] = new_defines
    for rel in result.files:
        result.originals[rel] = prj.read(rel)
    return result


def _integer_bits(values: np.ndarray, signed: bool) -> int:
    peak = float(np.max(np.abs(values)))
    bits = int(math.floor(math.log2(peak))) + 1 if peak > 0 else 0
    return bits + (1 if signed else 0)


def _fraction_bits(values: np.ndarray, limit: int = 24) -> int:
    for f in range(limit + 1):
        if np.allclose(values * 2**f, np.round(values * 2**f), atol=1e-6):
            return f
    return limit


def render_diff(p: Plan) -> str:
    out = []
    for rel, new in sorted(p.changes.items()):
        old = p.originals.get(rel)
        out.extend(difflib.unified_diff((old or '').splitlines(True), new.splitlines(True),
                                        fromfile='/dev/null' if old is None else f'a/{rel}', tofile=f'b/{rel}'))
    return ''.join(out)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TMP_SUFFIX, dir=path.parent)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    if path.exists():
        shutil.copymode(path, tmp)
    os.replace(tmp, path)


def apply(p: Plan) -> list[str]:
    """Back up every file about to change (once: the first backup is the original), then write."""
    changes = p.changes
    if not changes:
        return []
    for folder in {(p.project / rel).parent for rel in changes} | {p.project}:
        if folder.exists() and not writable(folder):
            raise BadInput(f'{folder}: read-only; hlsdiff patch changes nothing there')
    backup = p.project / BACKUP_DIR
    manifest_path = backup / 'manifest.json'
    manifest = _manifest(p.project) if manifest_path.exists() else {'created': [], 'replaced': [], 'written': {}}
    manifest.setdefault('written', {})
    for rel in changes:
        if rel in manifest['created'] or rel in manifest['replaced']:
            continue
        if p.originals.get(rel) is None:
            manifest['created'].append(rel)
        else:
            dest = backup / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p.project / rel, dest)
            manifest['replaced'].append(rel)
    backup.mkdir(exist_ok=True)
    for rel, text in changes.items():
        manifest['written'][rel] = hashlib.sha256(text.encode()).hexdigest()
    _atomic_write(manifest_path, json.dumps(manifest, indent=2) + '\n')
    for rel, text in changes.items():
        _atomic_write(p.project / rel, text)
    return sorted(changes)


def _manifest(project: Path) -> dict:
    """The backup's manifest; a damaged one is bad input (exit 2), never an internal error."""
    path = project / BACKUP_DIR / 'manifest.json'
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), list) for k in ('created', 'replaced')):
            raise ValueError('created/replaced lists missing')
        if not isinstance(manifest.get('written', {}), dict):
            raise ValueError('written is not a mapping')
    except (OSError, ValueError) as exc:
        raise BadInput(f'{path}: damaged backup manifest ({exc}); restore the originals by hand from '
                       f'{project / BACKUP_DIR}/') from None
    return manifest


def revert(project_dir: Path, force: bool = False) -> list[str]:
    prj = Project(project_dir)
    backup = prj.path / BACKUP_DIR
    manifest_path = backup / 'manifest.json'
    if not manifest_path.exists():
        raise BadInput(f'{prj.path}: no {BACKUP_DIR}/ here, so nothing to revert (was it patched by hlsdiff?)')
    manifest = _manifest(prj.path)
    changed = []
    for rel, digest in (manifest.get('written') or {}).items():
        path = prj.path / rel
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changed.append(rel)
    if changed and not force:
        raise BadInput(f'{prj.path}: changed since hlsdiff patched them: {", ".join(sorted(changed))}; --revert would '
                       'discard those edits (--force to revert anyway)')
    for folder in {(prj.path / rel).parent for rel in manifest['replaced'] + manifest['created']} | {prj.path}:
        if folder.exists() and not writable(folder):
            raise BadInput(f'{folder}: read-only; hlsdiff patch --revert changes nothing there')
    restored = []
    for rel in manifest['replaced']:
        src = backup / rel
        tmp = (prj.path / rel).with_name(f'.{Path(rel).name}.hlsdiff-revert')
        shutil.copy2(src, tmp)
        os.replace(tmp, prj.path / rel)
        restored.append(rel)
    for rel in manifest['created']:
        (prj.path / rel).unlink(missing_ok=True)
        restored.append(rel)
    shutil.rmtree(backup)
    return restored


def rebuild(project_dir: Path) -> None:
    """Rebuild with the project's own build script (never hls_model.compile(), which would
    copy the stock nnet_utils back over the patch)."""
    script = Path(project_dir) / 'build_lib.sh'
    if not script.exists():
        raise NotAProject(f'{project_dir}: no build_lib.sh to rebuild with (use --no-build)')
    proc = subprocess.run(['bash', 'build_lib.sh'], cwd=project_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if 'error' in ln]
        raise BuildFailed(f'the patched project does not build: {(errors or ["build_lib.sh failed"])[0].strip()}',
                          detail='\n'.join(errors[:10]))


def patch_for_compare(project_dir: Path) -> Plan:
    """What `compare --patch` runs on the project it just generated (it builds it itself)."""
    p = plan(project_dir)
    apply(p)
    return p


def run_patch_command(project_dir: Path, mode: str, build: bool = True, force: bool = False) -> int:
    import click

    if mode == 'revert':
        restored = revert(project_dir, force)
        for rel in restored:
            click.echo(f'restored {rel}')
        if build and restored:
            rebuild(project_dir)
            click.echo('rebuilt the C-simulation library (build_lib.sh)')
        return EXIT_OK
    if mode == 'write':
        for rel in Project(project_dir).remove_leftovers():
            click.echo(f'removed {rel}, left by a patch that was stopped')
    p = plan(project_dir)
    if not p.fixes or not p.changes:
        click.echo(f'{project_dir}: nothing to patch (no known depthwise defect, or already patched)')
        return EXIT_OK
    for fix in p.fixes:
        click.echo(f'{fix.layer}: {fix.defect}: {fix.description}')
    if mode == 'check':
        for rel in sorted(p.changes):
            click.echo(f'would change {rel}')
        return EXIT_GATE_FAILED
    if mode == 'diff':
        click.echo(render_diff(p), nl=False)
        return EXIT_OK
    for rel in apply(p):
        click.echo(f'wrote {rel}')
    click.echo(f'originals kept in {Path(project_dir) / BACKUP_DIR}; `hlsdiff patch --revert` restores them')
    if build:
        rebuild(project_dir)
        click.echo('rebuilt the C-simulation library (build_lib.sh)')
    return EXIT_OK
