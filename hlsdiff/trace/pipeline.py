"""Load, convert, build once, run the C-simulation and Keras, map: the arrays to compare."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.csim import HeaderJob, cached, library
from hlsdiff.csim import compile as build_mod
from hlsdiff.csim import processes as children
from hlsdiff.errors import BadInput
from hlsdiff.fixedpoint import parse_type, quantize
from hlsdiff.layers import Collected, LayerArrays
from hlsdiff.trace import conversion_cache
from hlsdiff.trace.convert import ConvertOptions, convert, write_project
from hlsdiff.trace.load import check_model_path, fit_to_inputs, is_hgq_proxy, load_model, read_data
from hlsdiff.trace.plan import Plan
from hlsdiff.trace.project import open_project, read_sources, traced_sources
from hlsdiff.trace.run import run_library


@dataclass
class RunOptions:
    """How to build and run: everything that is not about the conversion itself."""

    samples: int | None = None
    project_dir: Path | None = None
    output_dir: Path | None = None
    opt_level: str = build_mod.DEFAULT_OPT_LEVEL
    cache_dir: Path | None = None
    use_cache: bool = True
    timeout: float | None = None
    prepare_project: object = None  # callable(project_dir) run before the build (e.g. the patcher)
    plain_build: bool = False  # compile as hls4ml writes it: no split top unit, no precompiled header
    chunk: int = 128  # samples held in memory at once; more samples stream through in chunks of this many
    spill: Path | None = None  # when streaming: write every sample's arrays here, layer by layer (--save-traces)


@dataclass
class Progress:
    """Callbacks the CLI gives to show progress; all optional."""

    step: object = lambda name: None
    csim: object = None


def collect(model_path, data_path, conv: ConvertOptions, run: RunOptions, progress: Progress | None = None) -> Collected:
    progress = progress or Progress()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    progress.step('load')
    model_path = check_model_path(model_path)
    data = read_data(data_path)
    project = open_project(run.project_dir) if run.project_dir else None
    scratch = children.temp_dir('hlsdiff-')
    cache_notes: list[str] = []
    run = _usable_cache(run, scratch, cache_notes)
    cache_dir = Path(run.cache_dir)
    children.reclaim(cache_dir if run.use_cache else None)
    build_mod.damaged.clear()
    reusable = project is None and run.output_dir is None and run.prepare_project is None and run.use_cache
    key = conversion_cache.key(model_path, conv) if reusable else None
    plan = conversion_cache.load(cache_dir, key, cache_notes, private=scratch / 'cached-project') if key else None

    pool = ThreadPoolExecutor(max_workers=1)
    header = HeaderJob()
    try:
        pending = samples = None
        if plan is not None:  # the conversion is cached: the C-simulation starts while TensorFlow loads
            samples = fit_to_inputs(data, plan.input_names, plan.input_shapes, run.samples)
            if cached(plan.sources, _settings(conv)['io_type'], samples.count, run.opt_level, run.cache_dir,
                            run.use_cache, run.plain_build) is None:
                _start_header(header, conv, run, project, data, cache_dir)
            # one C-simulation process: the other core is importing TensorFlow
            stream_dir = scratch / 'run' if samples.count > run.chunk else None
            pending = pool.submit(_build_and_run, plan, samples, conv, run, progress, 1, header, stream_dir)
        else:  # the other core compiles the headers every project includes while TensorFlow loads
            _start_header(header, conv, run, project, data, cache_dir)
        model = load_model(model_path)
        input_names = [t._keras_history.layer.name for t in model.inputs]
        input_shapes = [tuple(int(s) if s is not None else -1 for s in t.shape[1:]) for t in model.inputs]
        if any(s < 0 for shape in input_shapes for s in shape):
            raise BadInput(f'the model input shape {input_shapes} has unknown dimensions; hls4ml needs fixed shapes')
        if samples is None:
            samples = fit_to_inputs(data, input_names, input_shapes, run.samples)
        notes = cache_notes + ([samples.note] if samples.note else [])
        lap('load')

        if plan is None:
            progress.step('convert')
            plan = _convert(model, input_names, input_shapes, conv, run, project, scratch, notes)
            lap('convert')
            stream_dir = scratch / 'run' if samples.count > run.chunk else None
            pending = pool.submit(_build_and_run, plan, samples, conv, run, progress, None, header, stream_dir)
            if key:
                conversion_cache.store(cache_dir, key, plan)
        notes.extend(plan.warnings)
        if is_hgq_proxy(model) and _sets_precision(conv.config):
            notes.append('hls4ml takes an HGQ proxy model\'s types from its quantizers: the Precision entries of '
                         '--config are not used (edit the project and compare it with --project to try a type)')

        from hlsdiff.trace.keras_side import KerasReference
        from hlsdiff.trace.stack import no_autograph

        # g++ and the C-simulation run in child processes; Keras runs here meanwhile
        stats = outputs = None
        if stream_dir is None:
            with no_autograph():
                reference = KerasReference(model, plan.refs)
                expected = reference.forward(samples.arrays)
            lap('keras')
            lib, csim = pending.result()
            lap('build+csim')
            with no_autograph():
                arrays = _assemble(plan.infos, plan.refs, reference, expected, csim.traces,
                                   dict(zip(input_names, samples.arrays)))
            lap('local')
            emulator, emulation = _emulate(plan, csim.traces, dict(zip(input_names, samples.arrays)), notes)
            lap('emulate')
        else:  # many samples: a first Keras pass for each layer's range, then chunk by chunk
            with no_autograph():
                reference = KerasReference(model, plan.refs)
                scales = reference.scales(samples.arrays)
            lap('keras')
            lib, csim = pending.result()
            lap('build+csim')
            with no_autograph():
                arrays, stats, outputs, emulator, emulation = _stream(plan, reference, scales, csim, samples,
                                                                      input_names, run.chunk, notes, run.spill)
            lap('local+emulate')
            notes.append(f'{samples.count} samples streamed in chunks of {run.chunk}: every figure, status and the '
                         f'emulation cover all of them; patterns, causes and hints are drawn from the first '
                         f'{run.chunk}')
    finally:
        header.cancel()
        pool.shutdown(wait=True)
        shutil.rmtree(scratch, ignore_errors=True)
    notes.extend(dict.fromkeys(build_mod.damaged))
    if not lib.cached and not run.use_cache:
        lib.path.unlink(missing_ok=True)  # built for this compare only

    timings.update(
        conversion_cached=timings.get('convert') is None,
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
    settings = _settings(conv)
    return Collected(
        layers=plan.infos,
        arrays=arrays,
        unmatched_keras=plan.unmatched,
        model=str(model_path),
        io_type=settings['io_type'],
        backend=settings['backend'],
        samples=samples.count,
        notes=notes,
        timings=timings,
        emulation=emulation,
        emulator=emulator,
        stats=stats,
        outputs=outputs,
        bit_exact=is_hgq_proxy(model),
        spilled=run.spill if stats is not None and run.spill is not None and run.spill.exists() else None,
    )


def _stream(plan: Plan, reference, scales: dict, csim, samples, input_names, keep: int, notes: list[str],
            spill: Path | None = None):
    """Chunk by chunk: statistics, model outputs and emulation over every sample; the arrays of
    the first `keep` samples kept for the diagnosis (patterns, causes, what-if)."""
    from hlsdiff.diagnosis import is_softmax, output_layers
    from hlsdiff.diff import OutputAccumulator, StatsAccumulator, classifier_shaped
    from hlsdiff.emulate import Emulator, merge, read_program

    try:
        program = read_program(plan.firmware, plan.sources.project_name)
        program.preload()
    except (OSError, ValueError) as exc:
        notes.append(f'the project could not be read for the emulation ({exc}): no layer is emulated')
        program = None
    accs: dict = {}
    outs: dict = {}
    emulation: dict = {}
    kept: dict[str, list] = {}
    kept_traces: dict[str, list] = {}
    for i, (lo, hi, _) in enumerate(csim.chunks):
        traces = csim.read_chunk(i)
        chunk_inputs = tuple(a[lo:hi] for a in samples.arrays)
        data_by_name = dict(zip(input_names, chunk_inputs))
        expected = reference.forward(chunk_inputs)
        arrays = _assemble(plan.infos, plan.refs, reference, expected, traces, data_by_name)
        for info in plan.infos:
            a = arrays.get(info.name)
            if a is None or a.actual is None or a.expected is None or a.expected.shape != a.actual.shape:
                continue
            if info.name not in accs:
                t = parse_type(info.result_type)
                ref = plan.refs[info.name]
                scale = scales.get(ref.tensor) if ref.tensor[0] != 'input' else _input_scale(samples, input_names, ref)
                accs[info.name] = StatsAccumulator(t.lsb if t else None, scale or 1.0)
            accs[info.name].add(a.expected, a.actual, lo)
        for info in output_layers(plan.infos, arrays):
            a = arrays[info.name]
            if info.name not in outs:
                outs[info.name] = OutputAccumulator(info.name, classifier_shaped(a.expected, is_softmax(info)))
            outs[info.name].add(a.expected, a.actual)
        if program is not None:
            emulator = Emulator(program, traces, _by_hls_input(plan, data_by_name))
            for info in plan.infos:
                verdict = emulator.verdict(info.name, traces.get(info.name))
                emulation[info.name] = merge(emulation[info.name], verdict) if info.name in emulation else verdict
        if spill is not None:
            _spill(spill, arrays, lo, samples.count)
        if lo < keep:
            n = min(hi, keep) - lo
            for name, a in arrays.items():
                kept.setdefault(name, []).append(LayerArrays(*(None if v is None else v[:n] for v in
                                                                (a.expected, a.actual, a.local))))
            for name, v in traces.items():
                kept_traces.setdefault(name, []).append(v[:n])
        del traces, expected, arrays
    first = {name: LayerArrays(*(None if any(p is None for p in col) else np.concatenate(col)
                                 for col in zip(*((p.expected, p.actual, p.local) for p in parts))))
             for name, parts in kept.items()}
    emulator = None
    if program is not None:
        n = min(keep, samples.count)
        emulator = Emulator(program, {k: np.concatenate(v) for k, v in kept_traces.items()},
                            _by_hls_input(plan, dict(zip(input_names, (a[:n] for a in samples.arrays)))))
    stats = {name: acc.stats() for name, acc in accs.items()}
    return first, stats, [o.result() for o in outs.values()], emulator, emulation


def _sets_precision(config: dict | None) -> bool:
    cfg = (config or {}).get('HLSConfig', config or {})
    return any('Precision' in (entry or {}) for entry in (cfg.get('LayerName') or {}).values())


def _spill(folder: Path, arrays: dict, lo: int, total: int) -> None:
    """One chunk's arrays into `<layer>:<side>.npy` files of every sample (memory-mapped: on disk)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        for side, value in (('keras', a.expected), ('csim', a.actual), ('local', a.local)):
            if value is None:
                continue
            path = folder / f'{name}:{side}.npy'
            mode = 'r+' if path.exists() else 'w+'
            out = np.lib.format.open_memmap(path, mode=mode, dtype=np.float64,
                                            shape=None if mode == 'r+' else (total, *value.shape[1:]))
            out[lo:lo + value.shape[0]] = value
            out.flush()
            del out


def _by_hls_input(plan: Plan, data_by_name: dict) -> dict:
    """The data by hls4ml input name (the Keras input of the same name, else the same position)."""
    return {name: data_by_name.get(name, arr) for name, arr in zip(plan.hls_inputs, data_by_name.values())}


def _input_scale(samples, input_names, ref) -> float:
    arrays = dict(zip(input_names, samples.arrays))
    data = arrays.get(ref.tensor[1], samples.arrays[0])
    return float(np.max(np.abs(data))) if data.size else 1.0


def _emulate(plan: Plan, traces: dict, data_by_name: dict, notes: list[str]):
    """Every layer emulated from the C-simulation's own inputs (hlsdiff/emulate)."""
    from hlsdiff.emulate import Emulator, read_program

    try:
        program = read_program(plan.firmware, plan.sources.project_name)
    except (OSError, ValueError) as exc:
        notes.append(f'the project could not be read for the emulation ({exc}): no layer is emulated')
        return None, {}
    program.preload()
    emulator = Emulator(program, traces, _by_hls_input(plan, data_by_name))
    return emulator, {info.name: emulator.verdict(info.name, traces.get(info.name)) for info in plan.infos}


def _usable_cache(run: RunOptions, scratch: Path, notes: list[str]) -> RunOptions:
    """The cache folder if it can be written; else a compare without the cache, and a note."""
    import dataclasses

    cache_dir = Path(run.cache_dir or build_mod.default_cache_dir())
    if run.use_cache:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            probe = children.temp_dir('probe-', cache_dir)
            probe.rmdir()
            return dataclasses.replace(run, cache_dir=cache_dir)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            notes.append(f'the cache {cache_dir} cannot be used ({why}): compared without it')
    return dataclasses.replace(run, cache_dir=scratch / 'cache', use_cache=False)


def _convert(model, input_names, input_shapes, conv, run, project, scratch, notes) -> Plan:
    """Convert with hls4ml (or take the user's project) and map the layers."""
    from hlsdiff.trace.mapping import map_layers

    if project is not None:
        conv = _options_from_project(project, conv)
        converted = convert(model, conv, scratch / 'graph-only')
        if run.prepare_project is not None:  # work on a copy: the user's project stays as it is
            copy = scratch / 'project-copy'
            shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns('.hlsdiff-backup', '*.so', '*.o'))
            run.prepare_project(copy)
            project = open_project(copy)
        sources, added = traced_sources(project, converted.hls_model)
        if added:
            notes.append(f'{project.path} had no trace calls: added them to the build copy (project files untouched)')
        firmware = project.firmware
    else:
        out = _prepare_output_dir(run.output_dir, notes) if run.output_dir else scratch / 'project'
        converted = convert(model, conv, out)
        write_project(converted, model_in_yml=run.output_dir is not None)
        if run.prepare_project is not None:
            run.prepare_project(out)
        sources = read_sources(out, conv.project_name)
        firmware = out / 'firmware'
    hls_model = converted.hls_model
    layers = list(hls_model.get_layers())
    infos, refs, unmatched = map_layers(hls_model, model)
    return Plan(
        firmware=firmware,
        sources=sources,
        input_names=list(input_names),
        input_shapes=[tuple(s) for s in input_shapes],
        hls_inputs=list(hls_model.inputs),
        output_sizes=[int(v.size()) for v in hls_model.get_output_variables()],
        traced={layer.name: int(layer.get_output_variable().size()) for layer in layers
                if layer.get_attr('function_cpp', None) and layer.get_attr('trace', False)},
        layer_by_index={layer.index: layer.name for layer in layers},
        infos=infos,
        refs=refs,
        unmatched=unmatched,
        warnings=list(converted.warnings),
    )


def _build_and_run(plan: Plan, samples, conv, run, progress, shards: int | None = None, header=None, stream_dir=None):
    """Build (or find) the library, then run it on every sample."""
    progress.step('build')
    lib = library(plan.sources, _settings(conv)['io_type'], samples.count, run.opt_level, run.cache_dir,
                        run.use_cache, run.plain_build, header)
    progress.step('csim')
    by_name = dict(zip(plan.input_names, samples.arrays))
    csim = run_library(
        lib.path,
        plan.firmware,
        f'{plan.sources.project_name}_double',
        tuple(by_name[name] for name in plan.hls_inputs),
        plan.output_sizes,
        plan.traced,
        plan.layer_by_index,
        timeout=run.timeout,
        progress=progress.csim,
        shards=shards,
        chunk=run.chunk if stream_dir is not None else None,
        workdir=stream_dir,
    )
    return lib, csim


def _start_header(header, conv, run, project, data, cache_dir) -> None:
    """The precompiled header, on the core TensorFlow's import leaves idle (never for a plain build)."""
    if run.plain_build or not run.use_cache:
        return
    io_type = project.config.get('IOType', conv.io_type) if project is not None else _settings(conv)['io_type']
    first = data if isinstance(data, np.ndarray) else next(iter(data.values()))
    count = min(len(first), run.samples or len(first))
    header.start(io_type, _settings(conv)['backend'], project.firmware if project is not None else None,
                 run.opt_level, count, cache_dir)


def _settings(conv: ConvertOptions) -> dict:
    cfg = conv.config or {}
    if 'HLSConfig' in cfg:
        return {'io_type': conv.io_type if 'io_type' in conv.given else cfg.get('IOType', conv.io_type),
                'backend': conv.backend if 'backend' in conv.given else cfg.get('Backend', conv.backend)}
    return {'io_type': conv.io_type, 'backend': conv.backend}


def _options_from_project(project, conv: ConvertOptions) -> ConvertOptions:
    """Convert with the settings the project was generated with (its hls4ml_config.yml)."""
    cfg = project.config
    hls = cfg.get('HLSConfig') or {}
    return ConvertOptions(
        io_type=cfg.get('IOType', conv.io_type),
        backend=cfg.get('Backend', conv.backend),
        part=cfg.get('Part', conv.part),
        config={'HLSConfig': hls, 'IOType': cfg.get('IOType', conv.io_type), 'Backend': cfg.get('Backend', conv.backend)},
        granularity='name' if 'LayerName' in hls else conv.granularity,
        project_name=project.name,
    )


def _prepare_output_dir(path: Path, notes: list) -> Path:
    """Never overwrite what the user had: a non-empty --output-dir is moved aside first."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        n = 1
        while Path(f'{path}.bak{n}').exists():
            n += 1
        backup = Path(f'{path}.bak{n}')
        path.rename(backup)
        notes.append(f'--output-dir {path} was not empty: moved it to {backup}')
    path.mkdir(parents=True, exist_ok=True)
    return path


def _assemble(infos, refs, reference, expected, traces, data_by_name) -> dict[str, LayerArrays]:
    """Line up Keras, the C-simulation and the local re-run for every compared layer."""
    arrays: dict[str, LayerArrays] = {}
    for info in infos:
        ref = refs.get(info.name)
        if ref is None:
            continue
        if ref.tensor[0] == 'input':
            data = data_by_name.get(ref.tensor[1])
            if data is None:  # hls4ml named the input differently: the inputs in order
                inputs = [i.name for i in infos if i.class_name == 'Input']
                data = list(data_by_name.values())[inputs.index(ref.tensor[1])] if ref.tensor[1] in inputs else None
            if data is None:
                continue
            if info.class_name == 'Input':  # not traced: the data as the C-simulation stores it
                ftype = parse_type(info.result_type)
                actual = quantize(data, ftype) if ftype else data.copy()
            else:  # a copy of the input (io_stream's Clone): its trace
                actual = _shape_like(traces.get(info.name), data.shape[1:])
            arrays[info.name] = LayerArrays(data, actual, None)
            continue
        exp = expected[ref.tensor]
        raw = traces.get(info.name)
        act = _shape_like(raw, exp.shape[1:])
        arrays[info.name] = LayerArrays(exp, act, None)
    for info in infos:
        ref = refs.get(info.name)
        if ref is None or info.class_name == 'Input' or info.name not in arrays or arrays[info.name].actual is None:
            continue
        ins = [arrays.get(p) for p in ref.inputs]
        if not ref.inputs or any(a is None or a.actual is None for a in ins):
            continue
        try:
            local = reference.apply_chain(ref.chain, [a.actual for a in ins])
        except Exception:  # a Keras layer that cannot run on its own: no local view of it
            continue
        if local.shape == arrays[info.name].actual.shape:
            arrays[info.name].local = local
    return arrays


def _shape_like(raw: np.ndarray | None, kshape: tuple[int, ...]) -> np.ndarray | None:
    if raw is None:
        return None
    if int(np.prod(kshape)) == raw.shape[1]:
        return raw.reshape((raw.shape[0], *kshape))
    return raw
