"""Build the C-simulation library once, in parallel, and cache it by a hash of what goes in.

hls4ml's `compile()` runs `build_lib.sh` (g++ -O3, two translation units one after the
other) and `trace()` does it all again. Here the top unit is split in two so that both cores
work on it (build/split.py), the headers every project includes come precompiled
(build/pch.py), the optimisation level is chosen for the compare, and the library is kept in
a cache keyed by every source file, the flags and the compiler version: a second compare of
the same model and config does not compile at all.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hlsdiff.csim import processes as children
from hlsdiff.csim.explain import explain
from hlsdiff.csim.split import split_top
from hlsdiff.errors import BadInput, BuildFailed
from hlsdiff.project import Sources, writer
from hlsdiff.project.backend import backend_for

OPT_LEVELS = ('0', 'g', '1', '2', '3', 's')
DEFAULT_OPT_LEVEL = 'auto'
# Measured on the bundled #1472-shaped model (bench/opt_levels.py, 2 cores, g++ 12, split top
# unit and precompiled header): build s / ms per sample
#   io_stream:   -O0 6.5 / 120; -Og 6.8 / 14.3; -O1 8.9 / 11.6; -O2 9.0 / 11.2; -O3 9.7 / 12.0
#   io_parallel: -O0 27 / 94;   -Og 31 / 13.8;  -O1 67 / 13.7
# -Og minimises build + run for tens to hundreds of samples; a higher level pays off for
# io_stream past about 600 samples (-O2: it builds as fast as -O1 and runs a fifth faster, 1,000
# samples in one process, side by side), for io_parallel not within any usual compare.
AUTO_FASTER = {'io_stream': (600, '2'), 'io_parallel': (20000, '1')}  # past this many samples, this level
BY_SPEED = ('3', '2', '1', 'g', '0')  # the levels a cached build is taken from, fastest-running first
# Past this many samples a cached build at a slower level than the one chosen is not reused: the
# run time it loses is more than a new build takes (io_stream: -Og against -O2, 3 ms a sample, 9 s).
REUSE_SLOWER_SAMPLES = 5000


def choose_opt_level(requested: str, io_type: str, n_samples: int) -> str:
    """The level that minimises build + run time for this compare, unless one was asked for."""
    if requested != 'auto':
        return requested
    samples, level = AUTO_FASTER.get(io_type, AUTO_FASTER['io_stream'])
    return level if n_samples > samples else 'g'


# GCC starts collecting garbage at 128 MB of heap (on this machine); one of these units
# needs 300-400 MB, and the collections cost 5-10% of compiling it and of writing the
# precompiled header. Not collecting below 1 GB changes nothing in what is built (so it is
# not in the cache key), only when memory is given back; big io_parallel units still collect.
GC_PARAMS = ['--param', 'ggc-min-heapsize=1048576']

# io_parallel kernels are spread over more units than cores (build/split.py) only when they
# are big: hls4ml's generated im2col code (nnet_code_gen.h) this long or longer. The
# #1472-shaped model has 11,000 lines (65 s -> 42 s); a 12x12 conv model 700 (4-6 s in two
# units, 7 s in three).
SPREAD_LINES = 4000

DEFAULT_CACHE_BYTES = 2 * 1024**3
CXX = 'g++'  # the compiler a build runs
BUILD_STRATEGY = 'split-top+pch/2'  # part of every library's cache key


@dataclass(frozen=True)
class BuiltLibrary:
    path: Path
    key: str
    cached: bool
    seconds: float
    peak_rss_mb: float
    opt_level: str
    precompiled_header: bool = False
    parts: int = 1


def cached_library(sources: Sources, levels: tuple[str, ...], cache_dir: Path | None = None, cxx: str = 'g++',
                   plain: bool = False, notes: list[str] | None = None):
    """A library already built from these exact sources at one of `levels` (first wins), or None:
    with the level left to hlsdiff, an existing build at another level beats a new one."""
    cache_dir = Path(cache_dir or default_cache_dir())
    digest = content_digest(sources)  # read the project once, not once per level
    for level in levels:
        key = source_key(sources, _key_flags(compile_flags(level, cxx), plain), cxx, digest)
        target = cache_dir / f'{key}.so'
        if target.exists() and intact(target, notes):
            os.utime(target)
            return BuiltLibrary(target, key, True, 0.0, 0.0, level)
    return None


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/hlsdiff, else ~/.cache/hlsdiff; with no usable home (HOME='' or '/'),
    a folder of this user's in the temporary directory rather than /.cache."""
    base = os.environ.get('XDG_CACHE_HOME')
    if not base:
        home = os.path.expanduser('~')
        if home in ('', '~', '/') or not os.path.isabs(home):
            return Path(tempfile.gettempdir()) / f'hlsdiff-cache-{os.getuid()}'
        base = os.path.join(home, '.cache')
    return Path(base) / 'hlsdiff'


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + '.sha256')


def seal(built: Path, target: Path) -> None:
    """Record the library's hash beside where it goes, before it goes there."""
    _sidecar(target).write_text(_file_digest(built))


def intact(target: Path, notes: list[str] | None = None) -> bool:
    """True if the cached library is byte for byte what was built; else it is removed, noted in `notes`."""
    try:
        ok = _sidecar(target).read_text().strip() == _file_digest(target)
    except OSError:
        ok = False
    if not ok and notes is not None:
        notes.append(f'the cached library {target.name} was damaged (its hash does not match the one '
                       'recorded when it was built): removed and built again')
    if not ok:
        for p in (target, _sidecar(target)):
            try:
                p.unlink()
            except OSError:
                pass
    return ok


def _file_digest(path: Path) -> str:
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


@functools.cache
def compiler_identity(cxx: str = 'g++') -> tuple[str, str]:
    """(version text, the -std flag hls4ml's build_lib.sh would pick)."""
    try:
        version = subprocess.run([cxx, '--version'], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildFailed(f'no working C++ compiler ({cxx}): {exc}') from None
    probe = subprocess.run(
        [cxx, '-Werror', '-fsyntax-only', '-std=c++23', '-xc++', '-', '-o', os.devnull],
        input='',
        capture_output=True,
        text=True,
    )
    return version.splitlines()[0], ('-std=c++23' if probe.returncode == 0 else '-std=c++11')


def compile_flags(opt_level: str, cxx: str = 'g++') -> list[str]:
    if opt_level not in OPT_LEVELS:
        raise BadInput(f'--opt-level must be one of {", ".join(OPT_LEVELS)}, got {opt_level!r}')
    _, std = compiler_identity(cxx)
    # WEIGHTS_DIR is relative: the library runs with the project's firmware/ as its working
    # directory, so one cached library serves any copy of the same project.
    return [f'-O{opt_level}', '-fPIC', std, '-fno-gnu-unique', '-DWEIGHTS_DIR="weights"']


def content_digest(sources: Sources) -> str:
    """A hash of both translation units and every file under firmware/ (weights included)."""
    h = hashlib.sha256()
    h.update(sources.top_cpp.encode())
    h.update(sources.bridge_cpp.encode())
    firmware = sources.project_dir / writer.FIRMWARE
    for path in sorted(firmware.rglob('*')):
        if path.is_file() and path.suffix not in ('.so', '.o'):
            h.update(str(path.relative_to(firmware)).encode() + b'\0')
            h.update(path.read_bytes())
    return h.hexdigest()


def _key_flags(flags: list[str], plain: bool) -> list[str]:
    """The flags as the cache key sees them: a plain build is cached apart."""
    return flags + ['plain'] if plain else flags


def source_key(sources: Sources, flags: list[str], cxx: str = 'g++', digest: str | None = None) -> str:
    """The cache key: the sources' digest, the flags, the compiler version and how hlsdiff
    builds (a change to the split or the header must not reuse a library built before it)."""
    h = hashlib.sha256()
    h.update(BUILD_STRATEGY.encode() + b'\0')
    h.update(compiler_identity(cxx)[0].encode())
    h.update('\0'.join(flags).encode())
    h.update((digest or content_digest(sources)).encode())
    return h.hexdigest()[:32]


def build(
    sources: Sources,
    opt_level: str = '1',
    cache_dir: Path | None = None,
    use_cache: bool = True,
    pch=None,
    plain: bool = False,
    notes: list[str] | None = None,
) -> BuiltLibrary:
    """Return a built library for `sources`: from the cache, or compiled now and cached.

    The top translation unit is compiled as two halves on two cores (build/split.py), with a
    precompiled header when `pch` (a Pch, or a callable giving one or None: build/pch.py) fits
    the project.
    Neither changes what is computed, only how fast it compiles; `plain` compiles the two
    translation units as hls4ml writes them (and is cached apart). g++ compiles (CXX); the cache keeps
    at most DEFAULT_CACHE_BYTES.
    """
    cxx = CXX
    flags = compile_flags(opt_level, cxx)
    key = source_key(sources, _key_flags(flags, plain), cxx)
    cache_dir = Path(cache_dir or default_cache_dir())
    target = cache_dir / f'{key}.so'
    if use_cache and target.exists() and intact(target, notes):
        os.utime(target)  # least recently used goes first when the cache is trimmed
        return BuiltLibrary(target, key, True, 0.0, 0.0, opt_level)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildFailed(f'cannot create the build cache {cache_dir}: {exc.strerror}') from None

    work = children.temp_dir(f'build-{key[:8]}-', cache_dir)
    try:
        started = time.perf_counter()
        prj = sources.project_dir
        parts = None if plain or _cores() < 2 or not _OBJCOPY else split_top(sources.top_cpp, sources.project_name,
                                                                              _units(sources))
        header = None if plain else pch() if callable(pch) else pch
        fits = header is not None and header.fits(prj / writer.FIRMWARE, sources.top_cpp, sources.bridge_cpp)
        extra = header.flags if header is not None and fits else []
        log = work / 'build.log'
        try:
            lib, peak, extra = _compile(sources, parts, flags, extra, cxx, work, log)
        except _SplitLinkFailed:  # a thunk GCC did not emit is no reason to fail: build it whole
            parts = None
            lib, peak, extra = _compile(sources, parts, flags, extra, cxx, work, log)
        seconds = time.perf_counter() - started
        final = _store(lib, target, cache_dir, key, use_cache, DEFAULT_CACHE_BYTES)
        return BuiltLibrary(final, key, False, seconds, peak, opt_level, bool(extra), len(parts or [None]))
    except BuildFailed as exc:
        if children.stopping():
            raise
        kept = cache_dir / 'logs' / f'{key}.log'
        kept.parent.mkdir(exist_ok=True)
        shutil.copyfile(work / 'build.log', kept)
        said = explain(kept.read_text(errors='replace'), work, sources, exc.message.split(': ', 1)[-1])
        # the layer is named in the message, not as `layer`: that marks a kernel's abort at run time (job.py)
        raise BuildFailed(said[0] if said else exc.message, detail=f'{exc.detail}\nfull compiler log: {kept}') from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _store(lib: Path, target: Path, cache_dir: Path, key: str, use_cache: bool, max_cache_bytes: int) -> Path:
    """The built library moved into the cache (sealed, atomically; the cache trimmed), or beside it
    under a name of this process when the cache is not used."""
    if not use_cache:
        final = cache_dir / f'nocache-{os.getpid()}-{key}.so'
        os.replace(lib, final)
        return final
    seal(lib, target)
    os.replace(lib, target)  # atomic: a concurrent compare sees the whole library or none
    _trim(cache_dir, max_cache_bytes, keep=target)
    return target


def _units(sources: Sources) -> int | None:
    """Two units, or None to let the split spread big io_parallel kernels (SPREAD_LINES)."""
    try:
        generated = (sources.project_dir / writer.FIRMWARE / writer.NNET_UTILS / writer.GENERATED_CODE).read_bytes().count(b'\n')
    except OSError:
        generated = 0
    return None if generated >= SPREAD_LINES else 2


class _SplitLinkFailed(Exception):
    pass


def _compile(sources: Sources, parts, flags, extra, cxx, work: Path, log: Path) -> tuple[Path, float, list]:
    """Compile the units (the split top unit, or the two as written) and link them."""
    if parts:  # the bridge joins the second part: one unit less to start, headers parsed once less
        texts = {f'{sources.project_name}.cpp': parts[0],
                 f'{sources.project_name}_part1.cpp': f'{parts[1]}\n// hlsdiff: the bridge\n{sources.bridge_cpp}',
                 **{f'{sources.project_name}_part{n}.cpp': text for n, text in enumerate(parts) if n > 1}}
    else:
        texts = {f'{sources.project_name}.cpp': sources.top_cpp, f'{sources.project_name}_bridge.cpp': sources.bridge_cpp}
    units = []
    for n, (name, text) in enumerate(texts.items()):
        (work / name).write_text(text)
        units.append((work / name, work / f'unit{n}.o'))
    prj = sources.project_dir
    includes = [f'-I{folder}' for folder in backend_for(sources.backend).include_dirs(prj)]
    peak = _run_jobs([[cxx, *flags, *GC_PARAMS, *extra, *includes, '-c', str(src), '-o', str(obj)]
                      for src, obj in units], log)
    if extra and '.gch: not used because' in log.read_text(errors='replace'):
        extra = []  # GCC rejected the header and parsed the headers instead: say so
    lib = work / 'lib.so'
    link = [cxx, *flags, '-shared', *(str(o) for _, o in units), '-o', str(lib)]
    if not parts:
        return lib, max(peak, _run_jobs([link], log)), extra
    # the copy of the top function in part 1 only instantiates its thunks: its symbols (the
    # weights arrays among them) give way to part 0's at link time; -z defs: every thunk the
    # top function calls must be defined in the library, not found missing when it is loaded
    peak = max(peak, _run_jobs([[str(_OBJCOPY), '--weaken', str(obj)] for _, obj in units[1:]], log))
    try:
        return lib, max(peak, _run_jobs([[*link, '-Wl,-z,defs']], log)), extra
    except BuildFailed:
        raise _SplitLinkFailed from None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_OBJCOPY = shutil.which('objcopy')


def reap(proc: subprocess.Popen, flags: int) -> tuple[int, int, int]:
    """wait4 on one child: (pid or 0 if still running, wait status, peak RSS in kB).

    If something else in the process reaped the child first (ECHILD), fall back to the exit
    code the subprocess module recorded; the peak RSS is then unknown (0).
    """
    try:
        pid, status, usage = os.wait4(proc.pid, flags)
    except ChildProcessError:
        code = proc.returncode if proc.returncode is not None else proc.poll()
        code = 0 if code is None else code
        proc.returncode = code
        return proc.pid, (code << 8) if code >= 0 else -code, 0
    if pid:
        proc.returncode = os.waitstatus_to_exitcode(status)
    return pid, status, usage.ru_maxrss


def _run_jobs(commands: list[list[str]], log: Path) -> float:
    """Run the commands, as many at once as there are cores, in order (longest first is the
    caller's business); return the peak RSS (MB) of the largest one, compiler processes
    included (sampled from /proc while they run: children.tree_peak_kb)."""
    if not commands:
        return 0.0
    slots = max(1, _cores())
    running: list[subprocess.Popen] = []
    pending, failed, peak_kb = list(commands), False, 0
    try:
        with open(log, 'ab') as out:
            while pending or running:
                while pending and len(running) < slots and not failed:
                    cmd = pending.pop(0)
                    out.write((' '.join(cmd) + '\n').encode())
                    out.flush()
                    # the compiler's temporary files (cc*.s) in the build's own folder, removed with it
                    running.append(children.popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                                  env=dict(os.environ, TMPDIR=str(log.parent))))
                if not running:
                    break
                # only our own children: other threads run theirs (the C-simulation, the header)
                for p in list(running):
                    peak_kb = max(peak_kb, children.tree_peak_kb(p.pid))
                    pid, _, _ = reap(p, os.WNOHANG)
                    if pid:
                        failed |= p.returncode != 0
                        running.remove(p)
                        children.forget(p)
                if children.stopping():
                    raise BuildFailed('the build was stopped')
                if running:
                    time.sleep(0.01)
    finally:
        for p in running:  # stopped or failed on the way: no compiler is left behind
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            reap(p, 0)
            children.forget(p)
    if failed:
        text = log.read_text(errors='replace')
        errors = [line for line in text.splitlines() if re.search(r'\berror\b', line)]
        first = errors[0] if errors else text.strip().splitlines()[-1]
        if 'No space left on device' in text:
            first = 'no space left on device'
        raise BuildFailed(f'g++ failed to build the C-simulation library: {first.strip()}', detail='\n'.join(errors[:10]))
    return peak_kb / 1024.0


def _entries(cache_dir: Path) -> list[tuple[Path, int, float]]:
    """Every cached library and precompiled header: (path, bytes, last used)."""
    entries = [(p, p.stat().st_size, p.stat().st_mtime) for p in cache_dir.glob('*.so')]
    for d in (cache_dir / 'pch').glob('*'):
        if d.is_dir() and not d.name.startswith('tmp-'):
            entries.append((d, sum(f.stat().st_size for f in d.rglob('*') if f.is_file()), d.stat().st_mtime))
    return entries


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
        _sidecar(path).unlink(missing_ok=True)


def _trim(cache_dir: Path, max_bytes: int, keep: Path) -> None:
    """Drop the least recently used libraries and headers until the cache fits in max_bytes;
    also the folders of header builds left unfinished more than an hour ago."""
    for d in (cache_dir / 'pch').glob('tmp-*'):
        if d.stat().st_mtime < time.time() - 3600:
            shutil.rmtree(d, ignore_errors=True)
    entries = sorted(_entries(cache_dir), key=lambda e: e[2])
    total = sum(size for _, size, _ in entries)
    for path, size, _ in entries:
        if total <= max_bytes:
            break
        if path != keep:
            total -= size
            _remove(path)


def cache_usage(cache_dir: Path | None = None) -> tuple[int, int, int]:
    """(number of cached libraries, number of precompiled headers, total size in bytes: every
    file under the cache, unfinished header builds included)."""
    cache_dir = Path(cache_dir or default_cache_dir())
    entries = _entries(cache_dir) if cache_dir.is_dir() else []
    libs = sum(1 for p, _, _ in entries if p.suffix == '.so')
    return libs, len(entries) - libs, children.folder_size(cache_dir) if cache_dir.is_dir() else 0


def clear_cache(cache_dir: Path | None = None) -> int:
    """Remove every cached library, header, log and conversion, and what killed runs left
    behind; return how many libraries went. A compare running meanwhile keeps going: it runs
    a private copy of its library (trace/run.py)."""
    cache_dir = Path(cache_dir or default_cache_dir())
    n = 0
    for p in cache_dir.glob('*.so'):
        p.unlink(missing_ok=True)
        _sidecar(p).unlink(missing_ok=True)
        n += 1
    for sub in ('logs', 'conversions', 'pch'):
        shutil.rmtree(cache_dir / sub, ignore_errors=True)
    children.reclaim(cache_dir)
    return n
