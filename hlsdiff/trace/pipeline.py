"""The stages the engine (hlsdiff/engine.py) runs: convert, build and run, assemble, stream, emulate."""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.csim import BuildSettings, HeaderJob, library
from hlsdiff.csim import compile as build_mod
from hlsdiff.csim import processes as children
from hlsdiff.fixedpoint import parse_type, quantize
from hlsdiff.layers import LayerArrays
from hlsdiff.project import Project, open_project, read_sources, traced_sources
from hlsdiff.trace.convert import ConvertOptions, write_project
from hlsdiff.trace.plan import LoadedInputs, Plan
from hlsdiff.trace.run import CsimSettings, CsimTarget, RunOptions, run_library
from hlsdiff.trace.stream import stream_library


@dataclass(frozen=True)
class Workspace:
    """Where a compare's stages work: the user's project (--project) or None, the scratch folder, the notes."""

    project: Project | None
    scratch: Path
    notes: list[str]


@dataclass(frozen=True)
class CsimJob:
    """What the build and run stages are given: the conversion, how to build and run, the progress callbacks
    (engine.Progress), the precompiled header's job, the notes a build adds (damaged cache entries)."""

    conv: ConvertOptions
    run: RunOptions
    progress: Any
    header: HeaderJob | None = None
    notes: list[str] | None = None


@dataclass(frozen=True)
class Chunk:
    """One chunk of samples: every compared layer's arrays, the C-simulation's traces, its first sample's index."""

    arrays: dict[str, LayerArrays]
    traces: dict | None
    offset: int = 0


@dataclass
class Gathered:
    """What the stages gathered of every layer: the arrays (all samples, or the first chunk and the wrong ones
    kept), the streamed statistics and outputs (None unstreamed), the emulation and its verdicts, the element
    checks, the samples kept (None: all) and the seconds the element check took."""

    arrays: dict[str, LayerArrays]
    stats: dict | None
    outputs: list | None
    emulator: Any
    emulation: dict
    checks: dict
    kept_rows: list[int] | None
    check_seconds: float


def stream_chunks(plan: Plan, reference, scales: dict, csim, loaded: LoadedInputs, run: RunOptions,
                  notes: list[str]) -> Gathered:
    """Chunk by chunk: statistics, model outputs, emulation and the per-element rounding check over every
    sample; the arrays of the first `run.chunk` samples kept for the diagnosis (patterns, causes, what-if), and
    beside them up to KEEP_WRONG samples that are wrong beyond rounding (the rare events are what counts);
    with `run.spill`, every sample's arrays to disk."""
    from hlsdiff.emulate import Emulator

    samples, input_names, spill = loaded.samples, loaded.input_names, run.spill
    program = _program(plan, notes)
    s = _Stream(plan, run.chunk)
    for i, (lo, hi, _) in enumerate(csim.chunks):
        traces = csim.read_chunk(i)
        chunk_inputs = tuple(a[lo:hi] for a in samples.arrays)
        data_by_name = laid_out(plan, input_names, chunk_inputs)
        expected = reference.forward(chunk_inputs)
        arrays = assemble(plan.infos, plan.refs, reference, expected, traces, data_by_name)
        _add_stats(s.accs, plan, arrays, scales, samples, input_names, lo)
        _add_outputs(s.outs, plan, arrays, lo)
        chunk_emulator = Emulator(program, traces, _by_hls_input(plan, data_by_name)) if program is not None else None
        verdicts = s.emulate(chunk_emulator, traces)
        started = time.perf_counter()
        wrong = check_elements(plan, Chunk(arrays, traces, lo), chunk_emulator, verdicts, s.checks, _scales_of(s.accs))
        s.check_seconds += time.perf_counter() - started
        if spill is not None:
            _spill(spill, arrays, lo, samples.count)
        s.keep_rows(arrays, traces, lo, hi, sorted(set(wrong) | set(_flipped_rows(s.outs, lo, hi))))
        del traces, expected, arrays
    first = s.kept_arrays()
    emulator = None
    if program is not None:
        rows = np.asarray(s.rows, dtype=np.int64)
        emulator = Emulator(program, {k: np.concatenate(v) for k, v in s.kept_traces.items()},
                            _by_hls_input(plan, laid_out(plan, input_names, [a[rows] for a in samples.arrays])))
    stats = {name: acc.stats() for name, acc in s.accs.items()}
    return Gathered(first, stats, [o.result() for o in s.outs.values()], emulator, s.emulation, s.checks, s.rows,
                    s.check_seconds)


def _program(plan: Plan, notes: list[str]):
    from hlsdiff.emulate import read_program

    try:
        program = read_program(plan.firmware, plan.sources.project_name, plan.sources.top_cpp)
        program.preload()
    except (OSError, ValueError) as exc:
        notes.append(f'the project could not be read for the emulation ({exc}): no layer is emulated')
        return None
    return program


KEEP_WRONG = 32  # samples wrong beyond rounding kept for the diagnosis beside the first chunk (memory: every layer)


class _Stream:
    """What the chunks add up to: statistics, outputs, emulation verdicts, element checks, kept rows."""

    def __init__(self, plan: Plan, keep: int):
        self.plan, self.keep = plan, keep
        self.accs: dict = {}
        self.outs: dict = {}
        self.emulation: dict = {}
        self.checks: dict = {}
        self.kept: dict[str, list] = {}
        self.kept_traces: dict[str, list] = {}
        self.rows: list[int] = []  # the samples kept, in the order their arrays are kept
        self.extra = 0  # wrong samples kept beyond the first `keep`
        self.check_seconds = 0.0  # spent in the per-element rounding check

    def emulate(self, emulator, traces: dict) -> dict:
        """This chunk's emulation verdicts, merged into the whole run's."""
        from hlsdiff.emulate import merge

        if emulator is None:
            return {}
        verdicts = {info.name: emulator.verdict(info.name, traces.get(info.name)) for info in self.plan.infos}
        for name, verdict in verdicts.items():
            self.emulation[name] = merge(self.emulation[name], verdict) if name in self.emulation else verdict
        return verdicts

    def keep_rows(self, arrays: dict, traces: dict, lo: int, hi: int, wrong: list[int]) -> None:
        """Keep the chunk's wrong samples (up to `keep` in all) and those among the first `keep`."""
        first = set(range(0, max(0, min(hi, self.keep) - lo)))
        room = max(0, min(self.keep, KEEP_WRONG) - self.extra)
        extra = [r for r in wrong if r not in first][:room]
        self.extra += len(extra)
        rows = sorted(first | set(extra))
        if not rows:
            return
        self.rows.extend(lo + r for r in rows)
        _keep(self.kept, self.kept_traces, arrays, traces, np.asarray(rows, dtype=np.int64))

    def kept_arrays(self) -> dict[str, LayerArrays]:
        return {name: LayerArrays(*(None if any(p is None for p in col) else np.concatenate(col)
                                    for col in zip(*((p.expected, p.actual, p.local) for p in parts))))
                for name, parts in self.kept.items()}


def _flipped_rows(outs: dict, lo: int, hi: int) -> list[int]:
    """The rows of this chunk where a classifier output's top-1 flipped: kept like the rows wrong beyond
    rounding, so that fix's predictor and repro see the samples the top-1 rule counts."""
    return sorted({f - lo for acc in outs.values() if acc.classifier for f in acc.flipped if lo <= f < hi})


def _scales_of(accs: dict) -> dict[str, float]:
    return {name: acc.scale for name, acc in accs.items()}


def check_elements(plan: Plan, chunk: Chunk, emulator, verdicts: dict, checks: dict, scales: dict) -> list[int]:
    """The per-element rounding check (hlsdiff/rounding.py) of every layer on these samples, added to
    `checks`; returns the rows (of these samples) wrong beyond rounding in any layer. A layer hls4ml inserted
    with no framework tensor is checked from its trace against its range-free emulation."""
    from hlsdiff.rounding import ElementCheck, check_chunk, inserted

    traces, offset = chunk.traces, chunk.offset
    wrong: set[int] = set()
    for info in plan.infos:
        a = chunk.arrays.get(info.name)
        if (a is None or a.actual is None) and inserted(info) and (traces or {}).get(info.name) is not None:
            a = LayerArrays(None, np.asarray(traces[info.name], dtype=np.float64))  # type: ignore[index]
        if a is None or a.actual is None:
            continue
        verdict = verdicts.get(info.name)
        bit_exact = verdict is not None and verdict.status == 'bit-exact'
        found = check_chunk(info, a, emulator, bit_exact, scales.get(info.name, 1.0))
        if found is None:
            continue
        if info.name not in checks:
            t = parse_type(info.result_type)
            checks[info.name] = ElementCheck(found.method, t.lsb if t else None)
        wrong.update(checks[info.name].add(found, offset))
    return sorted(wrong)


def _add_stats(accs: dict, plan: Plan, arrays, scales: dict, samples, input_names, lo: int) -> None:
    """One chunk into the per-layer statistics (an accumulator per layer, made on its first chunk)."""
    from hlsdiff.diff import StatsAccumulator

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


def _add_outputs(outs: dict, plan: Plan, arrays, offset: int = 0) -> None:
    """One chunk into the model outputs' agreement."""
    from hlsdiff.diagnosis import new_output

    for info in output_layers_of(plan, arrays):
        a = arrays[info.name]
        if info.name not in outs:
            outs[info.name] = new_output(info, plan.infos, a.expected)
        outs[info.name].add(a.expected, a.actual, offset)


def output_layers_of(plan: Plan, arrays) -> list:
    from hlsdiff.diagnosis import output_layers

    return [info for info in output_layers(plan.infos, arrays)
            if arrays[info.name].expected is not None and arrays[info.name].actual is not None]


def _keep(kept: dict, kept_traces: dict, arrays, traces, rows: np.ndarray) -> None:
    """These rows of a chunk kept for the diagnosis."""
    for name, a in arrays.items():
        kept.setdefault(name, []).append(LayerArrays(*(None if v is None else v[rows] for v in
                                                        (a.expected, a.actual, a.local))))
    for name, v in traces.items():
        kept_traces.setdefault(name, []).append(v[rows])


def sets_precision(config: dict | None) -> bool:
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


def laid_out(plan: Plan, names, arrays) -> dict:
    """The data by input name, each array in the layout the C-simulation takes it (PyTorch's NCHW data
    goes channels-last into an io_stream project; `Plan.csim_layout`)."""
    layout = plan.csim_layout or {}
    return {name: np.ascontiguousarray(arr.transpose(layout[name])) if name in layout else arr
            for name, arr in zip(names, arrays)}


def _by_hls_input(plan: Plan, data_by_name: dict) -> dict:
    """The data by hls4ml input name (the Keras input of the same name, else the same position)."""
    return {name: data_by_name.get(name, arr) for name, arr in zip(plan.hls_inputs, data_by_name.values())}


def _input_scale(samples, input_names, ref) -> float:
    arrays = dict(zip(input_names, samples.arrays))
    data = arrays.get(ref.tensor[1], samples.arrays[0])
    return float(np.max(np.abs(data))) if data.size else 1.0


def emulate_layers(plan: Plan, traces: dict, data_by_name: dict, notes: list[str]):
    """Every layer emulated from the C-simulation's own inputs (hlsdiff/emulate)."""
    from hlsdiff.emulate import Emulator

    program = _program(plan, notes)
    if program is None:
        return None, {}
    emulator = Emulator(program, traces, _by_hls_input(plan, data_by_name))
    return emulator, {info.name: emulator.verdict(info.name, traces.get(info.name)) for info in plan.infos}


def layer_scales(plan: Plan, arrays: dict[str, LayerArrays]) -> dict[str, float]:
    """Each compared layer's range (diff.scale_of), for the stated bounds of the element check."""
    from hlsdiff.diff import scale_of

    return {info.name: scale_of(a.expected, a.actual) for info in plan.infos
            if (a := arrays.get(info.name)) is not None and a.expected is not None and a.actual is not None
            and a.expected.shape == a.actual.shape}


def usable_cache(run: RunOptions, scratch: Path, notes: list[str]) -> RunOptions:
    """The cache folder if it can be written; else a compare without the cache, and a note."""
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


def convert_model(frontend, loaded: LoadedInputs, conv: ConvertOptions, run: RunOptions, where: Workspace) -> Plan:
    """Convert with hls4ml (or take the user's project) and map the layers, through the model's frontend."""
    model, project, scratch, notes = loaded.model, where.project, where.scratch, where.notes
    if project is not None:
        conv = _options_from_project(project, conv)
        converted = frontend.convert(model, conv, scratch / 'graph-only')
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
        converted = frontend.convert(model, conv, out)
        write_project(converted, model_in_yml=run.output_dir is not None)
        if run.prepare_project is not None:
            run.prepare_project(out)
        sources = read_sources(out, conv.project_name, conv.backend)
        firmware = out / 'firmware'
    hls_model = converted.hls_model
    layers = list(hls_model.get_layers())
    infos, refs, unmatched = frontend.map_layers(hls_model, model)
    return Plan(
        firmware=firmware,
        sources=sources,
        input_names=list(loaded.input_names),
        input_shapes=[tuple(s) for s in loaded.input_shapes],
        hls_inputs=list(hls_model.inputs),
        output_sizes=[int(v.size()) for v in hls_model.get_output_variables()],
        traced={layer.name: int(layer.get_output_variable().size()) for layer in layers
                if layer.get_attr('function_cpp', None) and layer.get_attr('trace', False)},
        layer_by_index={layer.index: layer.name for layer in layers},
        infos=infos,
        refs=refs,
        unmatched=unmatched,
        warnings=list(converted.warnings),
        csim_layout=frontend.csim_layout(hls_model),
    )


def build_settings(conv: ConvertOptions, run: RunOptions, n_samples: int) -> BuildSettings:
    """The build a compare asks for: its IOType and sample count, the level, the cache, a plain build."""
    return BuildSettings(settings_of(conv)['io_type'], n_samples, run.opt_level, run.cache_dir, run.use_cache,
                         run.plain_build)


def build_and_run(plan: Plan, samples, job: CsimJob, shards: int | None = None, stream_dir: Path | None = None):
    """Build (or find) the library, then run it on every sample."""
    run, progress, notes = job.run, job.progress, job.notes
    progress.step('build')
    lib = library(plan.sources, build_settings(job.conv, run, samples.count), job.header, notes)
    progress.step('csim')
    by_name = laid_out(plan, plan.input_names, samples.arrays)
    target = CsimTarget(lib.path, plan.firmware, f'{plan.sources.project_name}_double', plan.output_sizes,
                        plan.traced, plan.layer_by_index)
    # streamed, one process per core whatever `shards` says: the run outlasts the framework's import that
    # `shards` leaves a core to, and the chunks are read beside it
    how = CsimSettings(timeout=run.timeout, progress=progress.csim, shards=shards if stream_dir is None else None,
                       chunk=run.chunk if stream_dir is not None else None)
    inputs = tuple(by_name[name] for name in plan.hls_inputs)
    if run.cluster.given:  # --workers / --scheduler: the samples spread over a Dask cluster
        from hlsdiff.trace.cluster_run import run_on_cluster

        csim = run_on_cluster(target, inputs, how, run.cluster, stream_dir)
        if notes is not None:
            notes.append(f'the C-simulation ran on {run.cluster.describe()}, {samples.count} samples')
        return lib, csim
    if stream_dir is not None:  # the chunks read while the C-simulation runs on
        return lib, stream_library(target, inputs, how, stream_dir)
    return lib, run_library(target, inputs, how)


def start_header(header, conv, run, project, data, cache_dir) -> None:
    """The precompiled header, on the core TensorFlow's import leaves idle (never for a plain build)."""
    if run.plain_build or not run.use_cache:
        return
    io_type = project.config.get('IOType', conv.io_type) if project is not None else settings_of(conv)['io_type']
    first = data if isinstance(data, np.ndarray) else next(iter(data.values()))
    count = min(len(first), run.samples or len(first))
    header.start(io_type, settings_of(conv)['backend'], project.firmware if project is not None else None,
                 run.opt_level, count, cache_dir)


def settings_of(conv: ConvertOptions) -> dict:
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


def assemble(infos, refs, reference, expected, traces, data_by_name) -> dict[str, LayerArrays]:
    """Line up Keras, the C-simulation and the local re-run for every compared layer."""
    arrays: dict[str, LayerArrays] = {}
    for info in infos:
        ref = refs.get(info.name)
        if ref is None:
            continue
        if ref.tensor[0] == 'input' or info.class_name == 'Input':
            name = ref.tensor[1] if ref.tensor[0] == 'input' else info.name
            data = data_by_name.get(name)
            if data is None:  # hls4ml named the input differently: the inputs in order
                inputs = [i.name for i in infos if i.class_name == 'Input']
                data = list(data_by_name.values())[inputs.index(name)] if name in inputs else None
            if data is None:
                continue
            if info.class_name == 'Input':  # not traced: the data as the C-simulation stores it
                ftype = parse_type(info.result_type)
                actual = quantize(data, ftype) if ftype else data.copy()
            else:  # a copy of the input (io_stream's Clone): its trace
                actual = _shape_like(traces.get(info.name), data.shape[1:])
            # an input quantizer hls4ml absorbed into the input type: Keras's value after it
            keras_value = expected[ref.tensor] if ref.tensor[0] == 'out' else data
            arrays[info.name] = LayerArrays(keras_value, actual, None)
            continue
        exp = expected[ref.tensor]
        raw = traces.get(info.name)
        act = _shape_like(raw, exp.shape[1:])
        arrays[info.name] = LayerArrays(exp, act, None)
    for info in infos:
        ref = refs.get(info.name)
        own = arrays.get(info.name)
        if ref is None or info.class_name == 'Input' or own is None or own.actual is None:
            continue
        ins = [_through_reshape(p, infos, refs, arrays, reference) for p in ref.inputs]
        if not ref.inputs or any(a is None for a in ins):
            continue
        try:
            local = reference.apply_chain(ref.chain, ins)
        except Exception:  # a Keras layer that cannot run on its own: no local view of it
            continue
        if local.shape == own.actual.shape:
            own.local = local
    return arrays


def _through_reshape(name: str, infos, refs, arrays, reference) -> np.ndarray | None:
    """The C-simulation's values of `name`; for a reshape hls4ml made a no-op (never traced), the values of
    the layer before it in the reshape's framework shape: the same data."""
    a = arrays.get(name)
    if a is not None and a.actual is not None:
        return a.actual
    info = next((i for i in infos if i.name == name), None)
    ref = refs.get(name)
    if info is None or ref is None or info.class_name != 'Reshape' or len(ref.inputs) != 1 or ref.tensor[0] != 'out':
        return None
    before = _through_reshape(ref.inputs[0], infos, refs, arrays, reference)
    if before is None or not hasattr(reference, 'tensor_shape'):
        return None
    shape = reference.tensor_shape(ref.tensor)
    return before.reshape((before.shape[0], *shape)) if int(np.prod(shape)) == before[0].size else None


def measure_links(frontend, model, plan: Plan, emulator, arrays: dict[str, LayerArrays], notes: list[str]) -> dict:
    """Every layer's three links (hlsdiff/emulate/links.py): the framework's own layer emulated at the
    project's types against the project emulation and the C-simulation. Never fails a compare."""
    from hlsdiff.diff import element_tolerance, scale_of
    from hlsdiff.emulate.links import measure

    if emulator is None:
        return {}
    try:
        specs = frontend.layer_specs(model, plan.refs)
    except Exception as exc:  # noqa: BLE001 - the reference is extra evidence, never a reason to fail
        notes.append(f'the framework\'s effective weights could not be read ({type(exc).__name__}: {exc}): '
                     'no reference emulation')
        return {}
    out = {}
    for info in plan.infos:
        a = arrays.get(info.name)
        if a is None or a.actual is None or info.name not in emulator.calls:
            continue
        t = parse_type(info.result_type)
        tol = element_tolerance(t.lsb if t else None, scale_of(a.expected, a.actual) if a.expected is not None
                                and a.expected.shape == a.actual.shape else 1.0)
        out[info.name] = measure(emulator, info.name, specs.get(info.name), a.actual, a.local, tol)
    return out


def _shape_like(raw: np.ndarray | None, kshape: tuple[int, ...]) -> np.ndarray | None:
    if raw is None:
        return None
    if int(np.prod(kshape)) == raw.shape[1]:
        return raw.reshape((raw.shape[0], *kshape))
    return raw
