"""The compare engine: one `CompareRequest` in, one `Outcome` out, in named stages.

    load -> convert -> build + run (a child process, beside Keras) -> reference -> emulate -> analyse

Each stage returns a typed value and adds its notes; `compare` applies the gates. The CLI
(job.py), the Python API (api.py) and `fix` all come here; nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hlsdiff._version import __version__
from hlsdiff.csim import HeaderJob, cached
from hlsdiff.csim import processes as children
from hlsdiff.emulate.links import missing_calls
from hlsdiff.errors import BadInput, SimulationFailed
from hlsdiff.gate import apply, judge_patched
from hlsdiff.layers import Collected
from hlsdiff.project import Project, open_project
from hlsdiff.request import CompareRequest, RunOptions
from hlsdiff.result import CompareResult, error_result
from hlsdiff.trace import conversion_cache
from hlsdiff.trace import pipeline as stages
from hlsdiff.trace.convert import ConvertOptions
from hlsdiff.trace.load import Samples, check_model_path, fit_to_inputs, read_data
from hlsdiff.trace.plan import LoadedInputs, Plan

if TYPE_CHECKING:
    from hlsdiff.frontends import Frontend

STEPS = {'load': 'loading model and data', 'convert': 'converting with hls4ml (tracing every layer)',
         'build': 'building the C-simulation library', 'csim': 'running the C-simulation',
         'keras': 'running Keras'}


@dataclass
class Progress:
    """Callbacks to show progress; all optional. `step(name)` gets a key of STEPS."""

    step: Callable[[str], None] = lambda name: None
    csim: Callable[[tuple[int, int] | None], None] | None = None


@dataclass
class Outcome:
    """What a compare produced: the result (gates applied by `compare`) and the arrays behind it."""

    result: CompareResult
    collected: Collected | None = None


def compare(request: CompareRequest, progress: Progress | None = None, spill: Path | None = None) -> Outcome:
    """The compare the request asks for, with its gates applied: the stock project, and with
    `request.patch` the patched one beside it (`result.patched`). `spill`: a folder (`spill_folder`) where
    many samples' arrays stream to disk for --save-traces; it must outlive the writing of the reports."""
    outcome = _with_patch(request, progress, spill) if request.patch else run_once(request, progress, spill=spill)
    if not outcome.result.error and not request.patch and outcome.collected is not None:
        from hlsdiff.headline import check_at_outputs

        check_at_outputs(outcome.result, outcome.collected, outcome.collected.model_object, request)
    if not outcome.result.error:
        outcome.result.notes.extend(apply(outcome.result, request.gates))
    judge_patched(outcome.result, request.gate)
    return outcome


def run_once(request: CompareRequest, progress: Progress | None = None, patched: bool = False,
             spill: Path | None = None) -> Outcome:
    """One compare, no gates: load, convert, build, run, reference, emulate, analyse."""
    from hlsdiff.diagnosis import analyse
    from hlsdiff.diagnosis.advice import next_step

    run = request.run
    if patched:
        from hlsdiff.cpp.patcher import patch_for_compare

        run = dataclasses.replace(run, prepare_project=patch_for_compare, output_dir=None)
        outer = progress or Progress()
        progress = Progress(step=lambda name: outer.step(f'{name} (patched)'), csim=outer.csim)
    if spill is not None:
        run = dataclasses.replace(run, spill=spill / ('arrays-patched' if patched else 'arrays'))
    source = check_model_path(request.model, request.weights, request.custom_objects)
    collected = collect(source, request.data, request.convert, run, progress)
    result = analyse(collected, headroom=request.headroom)
    advice = next_step(result)
    if advice:
        result.notes.append(advice)
    result.hlsdiff_version = __version__
    result.hls4ml_version = hls4ml_version()
    return Outcome(result, collected)


def _with_patch(request: CompareRequest, progress: Progress | None, spill: Path | None) -> Outcome:
    """The stock project and the patched one, side by side."""
    try:
        result = run_once(request, progress, spill=spill).result
    except SimulationFailed as exc:  # e.g. the stock depthwise kernel asserts: show it, then patch
        result = error_result(exc.kind, exc.message, exc.exit_code, str(request.model), layer=exc.layer,
                              cause='kernel-abort')
    patched = run_once(request, progress, patched=True, spill=spill)
    apply(patched.result, request.gates)
    result.patched = patched.result
    return Outcome(result, patched.collected)


@contextlib.contextmanager
def spill_folder(request: CompareRequest) -> Iterator[Path | None]:
    """With --save-traces, many samples stream: their arrays go to disk here, then into the .npz."""
    if not request.reports.traces:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=f'hlsdiff-{os.getpid()}-traces-'))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hls4ml_version() -> str:
    try:
        from importlib.metadata import version

        return version('hls4ml')
    except Exception:
        return 'unknown'


# ---- collect: the stages up to the arrays -----------------------------------------------------


@dataclass
class _Session:
    """One collect's working state: scratch folder, notes, timings, the background build."""

    source: Any
    conv: ConvertOptions
    run: RunOptions
    progress: Progress
    scratch: Path
    project: Project | None
    frontend: Frontend  # hlsdiff.frontends: Keras 2/3, PyTorch, ONNX
    notes: list[str] = field(default_factory=list)
    build_notes: list[str] = field(default_factory=list)  # damaged cache entries met on the way
    timings: dict[str, Any] = field(default_factory=dict)
    header: HeaderJob = field(default_factory=HeaderJob)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))
    pending: Future | None = None
    stream_dir: Path | None = None
    clock: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now


def collect(model_path: Any, data_path: Any, conv: ConvertOptions, run: RunOptions,
            progress: Progress | None = None) -> Collected:
    """Load, convert, build once, run the C-simulation and Keras, emulate: the arrays to compare."""
    progress = progress or Progress()
    progress.step('load')
    model_path = check_model_path(model_path)
    data = read_data(data_path)
    project = open_project(run.project_dir) if run.project_dir else None
    from hlsdiff import frontends

    frontend = frontends.for_source(model_path)
    scratch = children.temp_dir('hlsdiff-')
    s = _Session(model_path, conv, run, progress, scratch, project, frontend)
    s.run = stages.usable_cache(run, scratch, s.notes)
    children.reclaim(s.run.cache_dir if s.run.use_cache else None)
    try:
        plan, loaded = _load_and_convert(s, data)
        collected = _reference_and_emulate(s, plan, loaded)
    finally:
        s.header.cancel()
        s.pool.shutdown(wait=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return collected


def _load_and_convert(s: _Session, data: Any) -> tuple[Plan, LoadedInputs]:
    """The load and convert stages; the build and the C-simulation start as soon as a project exists
    (before TensorFlow is loaded when the conversion is cached)."""
    run = s.run
    reusable = s.project is None and run.output_dir is None and run.prepare_project is None and run.use_cache
    reusable = reusable and s.frontend.cacheable
    key = conversion_cache.key(s.source, s.conv) if reusable else None
    cache_dir = Path(run.cache_dir or '.')
    plan = conversion_cache.load(cache_dir, key, s.notes, private=s.scratch / 'cached-project') if key else None
    samples = None
    if plan is not None:  # the C-simulation starts while TensorFlow loads
        samples = fit_to_inputs(data, plan.input_names, plan.input_shapes, run.samples)
        if cached(plan.sources, stages.build_settings(s.conv, run, samples.count), s.build_notes) is None:
            stages.start_header(s.header, s.conv, run, s.project, data, cache_dir)
        _start_build(s, plan, samples, shards=1)  # one C-simulation process: the other core imports TensorFlow
    else:  # the other core compiles the headers every project includes while TensorFlow loads
        stages.start_header(s.header, s.conv, run, s.project, data, cache_dir)
    loaded = _load_model(s, data, samples)
    s.notes.extend([loaded.samples.note] if loaded.samples.note else [])
    s.lap('load')
    if plan is None:
        s.progress.step('convert')
        plan = stages.convert_model(s.frontend, loaded, s.conv, run, stages.Workspace(s.project, s.scratch, s.notes))
        s.lap('convert')
        _start_build(s, plan, loaded.samples, shards=None)
        if key:
            conversion_cache.store(cache_dir, key, plan)
    s.notes.extend(plan.warnings)
    if s.frontend.bit_exact(loaded.model) and stages.sets_precision(s.conv.config):
        s.notes.append('hls4ml takes an HGQ proxy model\'s types from its quantizers: the Precision entries of '
                       '--config are not used (edit the project and compare it with --project to try a type)')
    return plan, loaded


def _load_model(s: _Session, data: Any, samples: Samples | None) -> LoadedInputs:
    model = s.frontend.load(s.source)
    input_names, input_shapes = s.frontend.inputs(model, data)
    if any(d < 0 for shape in input_shapes for d in shape):
        raise BadInput(f'the model input shape {input_shapes} has unknown dimensions; hls4ml needs fixed shapes')
    if samples is None:
        samples = fit_to_inputs(data, input_names, input_shapes, s.run.samples)
    return LoadedInputs(model, input_names, input_shapes, samples)


def _start_build(s: _Session, plan: Plan, samples: Samples, shards: int | None) -> None:
    """The build and run stages, in the background: g++ and the C-simulation are child processes."""
    s.stream_dir = s.scratch / 'run' if samples.count > s.run.chunk else None
    job = stages.CsimJob(s.conv, s.run, s.progress, s.header, s.build_notes)
    s.pending = s.pool.submit(stages.build_and_run, plan, samples, job, shards, s.stream_dir)


def _reference_and_emulate(s: _Session, plan: Plan, loaded: LoadedInputs) -> Collected:
    """The reference stage (Keras, in this process, while the C-simulation runs) and the emulate stage."""
    samples = loaded.samples
    assert s.pending is not None
    with s.frontend.running():
        reference = s.frontend.reference(loaded.model, plan.refs)
        if s.stream_dir is None:
            expected = reference.forward(samples.arrays)
            s.lap('keras')
            lib, csim = s.pending.result()
            s.lap('build+csim')
            gathered = _gather(s, plan, loaded, reference, expected, csim)
            s.lap('emulate')
        else:  # many samples: a first Keras pass for each layer's range, then chunk by chunk
            scales = reference.scales(samples.arrays)
            s.lap('keras')
            lib, csim = s.pending.result()
            s.lap('build+csim')
            gathered = stages.stream_chunks(plan, reference, scales, csim, loaded, s.run, s.notes)
            s.lap('local+emulate')
            extra = len(gathered.kept_rows or ()) - min(s.run.chunk, samples.count)
            s.notes.append(f'{samples.count} samples streamed in chunks of {s.run.chunk}: every figure, status, the '
                           f'emulation and the rounding check cover all of them; patterns, causes and hints are drawn '
                           f'from the first {s.run.chunk}' + (f' and {extra} samples wrong beyond rounding' if extra else ''))
        links = stages.measure_links(s.frontend, loaded.model, plan, gathered.emulator, gathered.arrays, s.notes)
        if s.run.prepare_project is None:  # a layer the project has no call for (a patched project's calls are
            links.update(missing_calls(gathered.emulator, plan.infos))  # the patcher's, not hls4ml's)
        s.lap('reference')
    collected = _collected(s, plan, loaded, (lib, csim), gathered)
    collected.links, collected.checks, collected.kept_samples = links, gathered.checks, gathered.kept_rows
    collected.frontend, collected.model_object = s.frontend, loaded.model
    collected.timings['rounding_check_seconds'] = round(gathered.check_seconds, 3)  # inside emulate / local+emulate
    return collected


def _gather(s: _Session, plan: Plan, loaded: LoadedInputs, reference: Any, expected: dict, csim: Any) -> stages.Gathered:
    """Every sample at once: the arrays lined up (the local re-run beside them), the emulation, the element check."""
    by_name = stages.laid_out(plan, loaded.input_names, loaded.samples.arrays)
    arrays = stages.assemble(plan.infos, plan.refs, reference, expected, csim.traces, by_name)
    s.lap('local')
    emulator, emulation = stages.emulate_layers(plan, csim.traces, by_name, s.notes)
    checks: dict = {}
    started = time.perf_counter()
    stages.check_elements(plan, stages.Chunk(arrays, csim.traces, 0), emulator, emulation, checks,
                          stages.layer_scales(plan, arrays))
    return stages.Gathered(arrays, None, None, emulator, emulation, checks, None, time.perf_counter() - started)


def _collected(s: _Session, plan: Plan, loaded: LoadedInputs, built: tuple[Any, Any], gathered: stages.Gathered) -> Collected:
    lib, csim = built
    s.notes.extend(dict.fromkeys(s.build_notes + s.header.notes))
    if not lib.cached and not s.run.use_cache:
        lib.path.unlink(missing_ok=True)  # built for this compare only
    s.timings.update(
        conversion_cached=s.timings.get('convert') is None,
        build_cached=lib.cached,
        build_seconds=round(lib.seconds, 3),
        build_peak_rss_mb=round(lib.peak_rss_mb, 1),
        csim_seconds=round(csim.seconds, 3),
        csim_peak_rss_mb=round(csim.peak_rss_mb, 1),
        opt_level=lib.opt_level,
        build_parts=None if lib.cached else lib.parts,  # how this compare built it; unknown if cached
        precompiled_header=None if lib.cached else lib.precompiled_header,
        library=str(lib.path),
    )
    settings = stages.settings_of(s.conv)
    if s.project is not None:  # --project: the settings it was generated with (its hls4ml_config.yml)
        settings = {'io_type': s.project.io_type, 'backend': plan.sources.backend}
    spill, stats = s.run.spill, gathered.stats
    return Collected(
        layers=plan.infos, arrays=gathered.arrays, unmatched_keras=plan.unmatched, model=str(s.source),
        io_type=settings['io_type'], backend=settings['backend'], samples=loaded.samples.count,
        notes=s.notes, timings=s.timings, emulation=gathered.emulation, emulator=gathered.emulator, stats=stats,
        outputs=gathered.outputs, bit_exact=s.frontend.bit_exact(loaded.model),
        spilled=spill if stats is not None and spill is not None and spill.exists() else None,
    )
