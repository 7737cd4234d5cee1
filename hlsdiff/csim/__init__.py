"""Build the C-simulation library: the one interface the pipeline uses.

`library()` returns a library for a project's sources: one already built (a cache keyed by the
sources, flags and compiler, verified on use), or compiled now with the split top unit
(split.py) and the precompiled header (pch.py, started early by HeaderJob). `processes.py`
runs and reaps every child (compilers, C-simulation) and handles SIGINT/SIGTERM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hlsdiff.csim import compile as _compile
from hlsdiff.csim.compile import (
    DEFAULT_OPT_LEVEL,
    BuiltLibrary,
    cache_usage,
    choose_opt_level,
    clear_cache,
    default_cache_dir,
)
from hlsdiff.csim.header_job import HeaderJob
from hlsdiff.project import Sources

__all__ = ['library', 'cached', 'BuildSettings', 'HeaderJob', 'BuiltLibrary', 'Sources', 'DEFAULT_OPT_LEVEL', 'choose_opt_level',
           'default_cache_dir', 'cache_usage', 'clear_cache']


@dataclass(frozen=True)
class BuildSettings:
    """What a build is asked for: the project's IOType and sample count (they choose the level when it is
    'auto'), the optimisation level, the cache (its folder; whether to use it), a plain build (as hls4ml
    writes it: no split top unit, no precompiled header)."""

    io_type: str
    n_samples: int
    opt_level: str
    cache_dir: Path | None
    use_cache: bool = True
    plain: bool = False


def cached(sources: Sources, build: BuildSettings, notes: list[str] | None = None) -> BuiltLibrary | None:
    """A library already built for these sources, or None. With the level left to hlsdiff
    ('auto'), the fastest-running build already made, at any level; past REUSE_SLOWER_SAMPLES
    samples, at a level that runs at least as fast as the one it would build."""
    if not build.use_cache:
        return None
    level = choose_opt_level(build.opt_level, build.io_type, build.n_samples)
    levels: tuple[str, ...] = (level,)
    if build.opt_level == 'auto':
        levels = _compile.BY_SPEED
        if build.n_samples > _compile.REUSE_SLOWER_SAMPLES:
            levels = levels[:levels.index(level) + 1]
    return _compile.cached_library(sources, levels, build.cache_dir, plain=build.plain, notes=notes)


def library(sources: Sources, build: BuildSettings, header: HeaderJob | None = None,
            notes: list[str] | None = None) -> BuiltLibrary:
    """The library for these sources: from the cache, or built now (and cached)."""
    found = cached(sources, build, notes)
    if found is not None:
        return found
    level = choose_opt_level(build.opt_level, build.io_type, build.n_samples)
    pch = (lambda: header.get(level)) if header is not None else None
    return _compile.build(sources, level, build.cache_dir, build.use_cache, pch=pch, plain=build.plain, notes=notes)
