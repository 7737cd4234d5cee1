"""`hlsdiff patch`: repair the known hls4ml 1.3.0 depthwise defects in a generated project.

Reads only the project's own files (myproject.cpp, parameters.h, defines.h, weights/,
hls4ml_config.yml, nnet_utils/) through hlsdiff/project, never TensorFlow or hls4ml. For each
depthwise layer it finds which defects apply (docs/patch.md):

1. depth_multiplier > 1            -> the corrected kernel (nnet_depthwise_hlsdiff.h)
2. Strategy Resource, io_parallel  -> the corrected kernel
3. BatchNormalization folded with a broadcast scale: the weights file holds (kh, kw, C, C)
   values                          -> weights rewritten with the diagonal, sizes to match
4. auto_po2 scaled weights that do not fit the layer's weight type (they wrap)
                                   -> the weight type widened to hold them, the accumulator
                                      by the same number of integer bits

`plan` works out the changes (a `PatchPlan`) without writing; `apply` writes them through
hlsdiff/project/write.py: every replaced file is copied first to `.hlsdiff-backup/` in the
project, `--revert` puts them back byte for byte, writes are atomic.
"""

from __future__ import annotations

import difflib
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hlsdiff.errors import EXIT_GATE_FAILED, EXIT_OK, BuildFailed, NotAProject
from hlsdiff.fixedpoint import parse_type
from hlsdiff.project import ConfigStruct, KernelCall, Project, backend_family, headers_of, open_project, read_top, writer
from hlsdiff.project.write import BACKUP_DIR, TMP_SUFFIX, apply_changes, remove_leftovers, revert_changes

__all__ = ['BACKUP_DIR', 'INCLUDE_LINE', 'KERNEL_NAME', 'TMP_SUFFIX', 'Fix', 'PatchPlan', 'apply', 'plan', 'revert',
           'run_patch_command']

KERNEL_NAME = 'nnet_depthwise_hlsdiff.h'
KERNEL_SOURCE = Path(__file__).resolve().parent / KERNEL_NAME
KERNEL_FILE = f'{writer.FIRMWARE}/{writer.NNET_UTILS}/{KERNEL_NAME}'
INCLUDE_LINE = f'#include "nnet_utils/{KERNEL_NAME}" // hlsdiff patch'
DEFINES = f'{writer.FIRMWARE}/{writer.DEFINES}'
PARAMETERS = f'{writer.FIRMWARE}/{writer.PARAMETERS}'
DEPTHWISE = ('depthwise_conv_1d_cl', 'depthwise_conv_2d_cl')
NAMESPACE = 'hlsdiff'  # nnet::hlsdiff::depthwise_conv_2d_cl: the corrected kernel


@dataclass
class Layer:
    """A depthwise layer of the project: its call and its config struct."""

    name: str
    call: KernelCall
    config: ConfigStruct

    @property
    def weights(self) -> str:
        return self.call.args[2]

    @property
    def patched(self) -> bool:
        return self.call.namespace == NAMESPACE

    @property
    def taps(self) -> int:
        c = self.config
        return c.int('filt_height', 1) * c.int('filt_width', 1) if self.call.function.endswith('2d_cl') \
            else c.int('filt_width', 1)


@dataclass
class Fix:
    layer: str
    defect: str
    description: str


@dataclass
class PatchPlan:
    """The changes `hlsdiff patch` would make to a project, and why."""

    project: Path
    fixes: list[Fix] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> new text
    originals: dict[str, str | None] = field(default_factory=dict)  # relative path -> old text (None: new file)

    @property
    def changes(self) -> dict[str, str]:
        return {p: t for p, t in self.files.items() if self.originals.get(p) != t}


def patchable(project_dir: Path) -> Project:
    """The project, if it has the stock kernels of the layout this patcher knows."""
    prj = open_project(project_dir)
    family = backend_family(prj.path)
    if family != 'Vivado':  # the defects it repairs are in Vivado's templates (docs/backends.md)
        raise NotAProject(f'{prj.path}: a {prj.backend} project: hlsdiff patch repairs the depthwise kernels of '
                          f"Vivado/Vitis projects only; {family}'s are not patched")
    header = writer.unknown_kernel_header(prj.firmware)
    if header is not None:
        raise NotAProject(f'{prj.path}: {writer.NNET_UTILS}/{header} is not the hls4ml {writer.VERSION} layout this '
                          'patcher knows; refusing')
    return prj


def depthwise_layers(prj: Project, top: str, params: str) -> list[Layer]:
    """Every depthwise call (stock or patched), named by its trace call, else hls4ml's comment, else its config."""
    structs = headers_of('', params).structs
    found = []
    for call in read_top(top, prj.name).calls:
        if call.function in DEPTHWISE and call.namespace in ('', NAMESPACE) and len(call.args) >= 4:
            config = call.type_args[-1]
            if config not in structs:
                raise NotAProject(f'parameters.h has no struct {config}; not a layout this patcher knows')
            found.append(Layer(call.layer or config, call, structs[config]))
    return found


@dataclass
class _Draft:
    """The texts as the plan changes them, and the plan."""

    prj: Project
    top: str
    defines: str
    result: PatchPlan
    need_kernel: bool = False


def plan(project_dir: Path, force_kernel: bool = False) -> PatchPlan:
    """Work out every change, without writing anything. `force_kernel` routes every depthwise
    layer through the corrected kernel (used to prove it bit-identical where stock is right)."""
    prj = patchable(project_dir)
    top, params, defines = prj.read(prj.top_file) or '', prj.read(PARAMETERS) or '', prj.read(DEFINES) or ''
    draft = _Draft(prj, top, defines, PatchPlan(prj.path))
    layers = depthwise_layers(prj, top, params)
    for layer in layers:
        _route_to_corrected_kernel(draft, layer, force_kernel)
        values = _repair_broadcast_weights(draft, layer)
        if values is not None:
            _widen_weight_type(draft, layer, values)
    _complete_kernel(draft, [layer.name for layer in layers if layer.patched], top)
    result = draft.result
    result.files[prj.top_file] = draft.top
    result.files[DEFINES] = draft.defines
    for rel in result.files:
        result.originals[rel] = prj.read(rel)
    return result


def _route_to_corrected_kernel(draft: _Draft, layer: Layer, force_kernel: bool) -> None:
    """Defects 1 and 2: the stock kernel asserts; the call goes to the corrected kernel."""
    n_chan, n_filt = layer.config.int('n_chan'), layer.config.int('n_filt')
    reasons = []
    if n_chan and n_filt != n_chan:
        reasons.append(('depth-multiplier',
                        f'depth_multiplier {n_filt // n_chan}: the stock kernel asserts n_filt == n_chan'))
    if draft.prj.io_type == 'io_parallel' and str(layer.config.values().get('strategy', '')).endswith('resource'):
        reasons.append(('resource-strategy', 'Strategy Resource in io_parallel: the stock kernel asserts'))
    if (reasons or force_kernel) and not layer.patched:
        for defect, text in reasons or [('kernel', 'routed through the corrected kernel (bit-identical here)')]:
            draft.result.fixes.append(Fix(layer.name, defect, text))
        call = layer.call.text
        draft.top = draft.top.replace(call, call.replace('nnet::', f'nnet::{NAMESPACE}::', 1), 1)
    if reasons or force_kernel or layer.patched:
        draft.need_kernel = True


def _repair_broadcast_weights(draft: _Draft, layer: Layer) -> np.ndarray | None:
    """Defect 3: a BatchNormalization folded with a broadcast leaves (kh, kw, C, C) values for
    (kh, kw, C): the diagonal is kept. Returns the layer's weights (repaired), or None when the
    layer has no weights file or is not one weight per channel and tap."""
    n_chan, n_filt = layer.config.int('n_chan'), layer.config.int('n_filt')
    w_rel = writer.weights_file(layer.weights)
    w_text = draft.prj.read(w_rel)
    if w_text is None or not n_chan or n_filt != n_chan:
        return None
    values = writer.weights_values(w_text)
    taps = layer.taps
    if values.size != taps * n_chan * n_chan or n_chan <= 1:
        return values
    diag = values.reshape(taps, n_chan, n_chan)[:, np.arange(n_chan), np.arange(n_chan)].reshape(-1)
    draft.result.fixes.append(Fix(layer.name, 'bn-broadcast',
                                f'weights hold {values.size} values (kh*kw*C*C, a BatchNormalization folded with '
                                f'a broadcast scale): keep the diagonal, {diag.size} values'))
    draft.result.files[w_rel] = writer.weights_text(diag)
    h_rel = writer.weights_file(layer.weights, 'h')
    h_text = draft.prj.read(h_rel)
    if h_text is not None:
        draft.result.files[h_rel] = writer.resized_weights_header(h_text, layer.weights, diag)
    draft.top = writer.resized_weights_load(draft.top, layer.weights, diag.size)
    return diag


def _widen_weight_type(draft: _Draft, layer: Layer, values: np.ndarray) -> None:
    """Defect 4: weights (auto_po2 scaled) that do not fit their type wrap: the type is widened
    to hold them, the accumulator by the same number of integer bits."""
    name = layer.config.typedefs.get('weight_t')
    typedefs = writer.typedefs(draft.defines)
    text = typedefs.get(name) if name else None
    rng = _type_range(text) if text is not None and values.size else None
    if rng is None or name is None or text is None:
        return
    width, integer, signed = rng
    frac = width - integer
    lo = -(2.0 ** (integer - 1)) if signed else 0.0
    hi = (2.0 ** (integer - 1) if signed else 2.0**integer) - 2.0**-frac
    if values.max() <= hi and values.min() >= lo:
        return
    need_int = _integer_bits(values, signed)
    new_type = f'ap_{"" if signed else "u"}fixed<{need_int + max(frac, _fraction_bits(values))},{need_int}>'
    draft.result.fixes.append(Fix(layer.name, 'po2-weights', f'weights reach {float(np.abs(values).max()):g}, outside '
                                                           f'{text} (auto_po2 scaling): {name} -> {new_type}'))
    draft.defines = writer.retype(draft.defines, name, new_type)
    extra = need_int - integer
    acc_name = layer.config.typedefs.get('accum_t')
    acc = writer.typedefs(draft.defines).get(acc_name) if acc_name else None
    acc_range = _type_range(acc) if acc is not None else None
    if acc_name and acc_range and extra > 0:
        aw, ai, asigned = acc_range
        wider = f'ap_{"" if asigned else "u"}fixed<{aw + extra},{ai + extra}>'
        draft.defines = writer.retype(draft.defines, acc_name, wider)
        draft.result.fixes.append(Fix(layer.name, 'po2-weights', f'{acc_name} -> {wider} (room for the wider weights)'))


def _complete_kernel(draft: _Draft, patched: list[str], top: str) -> None:
    """The corrected kernel and its include, when a call uses it; a patched project that lost a
    part of the patch is completed."""
    if not draft.need_kernel:
        return
    if patched:
        if draft.prj.read(KERNEL_FILE) != KERNEL_SOURCE.read_text():
            draft.result.fixes.append(Fix(patched[0], 'repair', f'{KERNEL_FILE} is missing or changed: written again'))
        if INCLUDE_LINE not in top:
            draft.result.fixes.append(Fix(patched[0], 'repair', f'the include of the corrected kernel is gone from '
                                                              f'{draft.prj.top_file}: put back'))
    draft.result.files[KERNEL_FILE] = KERNEL_SOURCE.read_text()
    if INCLUDE_LINE not in draft.top:
        included = writer.with_include(draft.top, INCLUDE_LINE)
        if included is None:
            raise NotAProject(f'{draft.prj.top_file} does not include parameters.h; not a layout this patcher knows')
        draft.top = included


def _type_range(text: str) -> tuple[int, int, bool] | None:
    """(width, integer bits, signed) of an ap_fixed type: hlsdiff's one fixed-point type model."""
    t = parse_type(text)
    return (t.width, t.integer, t.signed) if t is not None and not text.strip().startswith(('ap_int', 'ap_uint')) else None


def _integer_bits(values: np.ndarray, signed: bool) -> int:
    peak = float(np.max(np.abs(values)))
    bits = int(math.floor(math.log2(peak))) + 1 if peak > 0 else 0
    return bits + (1 if signed else 0)


def _fraction_bits(values: np.ndarray, limit: int = 24) -> int:
    for f in range(limit + 1):
        if np.allclose(values * 2**f, np.round(values * 2**f), atol=1e-6):
            return f
    return limit


def render_diff(p: PatchPlan) -> str:
    out: list[str] = []
    for rel, new in sorted(p.changes.items()):
        old = p.originals.get(rel)
        out.extend(difflib.unified_diff((old or '').splitlines(True), new.splitlines(True),
                                        fromfile='/dev/null' if old is None else f'a/{rel}', tofile=f'b/{rel}'))
    return ''.join(out)


def apply(p: PatchPlan) -> list[str]:
    """Back up every file about to change (once: the first backup is the original), then write."""
    return apply_changes(p.project, p.changes, p.originals)


def revert(project_dir: Path, force: bool = False) -> list[str]:
    return revert_changes(patchable(project_dir).path, force)


def rebuild(project_dir: Path) -> None:
    """Rebuild with the project's own build script (never hls_model.compile(), which would
    copy the stock nnet_utils back over the patch)."""
    script = Path(project_dir) / writer.BUILD_SCRIPT
    if not script.exists():
        raise NotAProject(f'{project_dir}: no build_lib.sh to rebuild with (use --no-build)')
    proc = subprocess.run(['bash', writer.BUILD_SCRIPT], cwd=project_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if 'error' in ln]
        raise BuildFailed(f'the patched project does not build: {(errors or ["build_lib.sh failed"])[0].strip()}',
                          detail='\n'.join(errors[:10]))


def patch_for_compare(project_dir: Path) -> PatchPlan:
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
        for rel in remove_leftovers(patchable(project_dir).path):
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
