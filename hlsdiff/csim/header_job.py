"""The precompiled header (pch.py), built on a thread while TensorFlow imports, waited for briefly."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from hlsdiff.csim import compile as build_mod
from hlsdiff.csim import pch as pch_mod


class HeaderJob:
    """The precompiled header (build/pch.py), built on a thread while TensorFlow imports."""

    # Seconds to build it on this kind of machine (2 cores, one busy importing TensorFlow);
    # it is ready about when the conversion is, both slow down together when the machine does.
    EXPECTED_S = 5.5
    # It saves a split build about 2 s: wait for it at most that long, and not at all if it
    # is not expected by then (e.g. a cached conversion lets the build start at once).
    MAX_WAIT_S = 2.0
    # Its Python part (probe the compiler, hash the headers) done before TensorFlow's import
    # holds the GIL: otherwise the compiler starts anywhere from 0.1 s to 0.6 s later.
    LAUNCH_WAIT_S = 0.5

    def __init__(self):
        self.future = None
        self.level: str | None = None  # set by start()
        self.idle_core_ahead = False
        self.started = 0.0
        self.stop = threading.Event()
        self.looked_up = threading.Event()  # set once the cache has been looked in
        self.launched = threading.Event()  # set once the compiler runs, or there is none to run
        self.cached = None
        self.notes: list[str] = []  # a damaged cached header, removed: said in the compare's notes

    def start(self, io_type: str, backend: str, firmware: Path | None, opt_level: str, n_samples: int,
              cache_dir: Path) -> None:
        """Start on the headers of `firmware` (a user's project) or of hls4ml's templates for `backend`."""
        headers: Callable[[], dict[str, Path] | None]
        if firmware is not None:
            headers = lambda: pch_mod.project_headers(firmware)  # noqa: E731
        else:
            headers = lambda: pch_mod.template_headers(backend)  # noqa: E731
        self.level = build_mod.choose_opt_level(opt_level, io_type, n_samples)
        # compiled only if TensorFlow is still to be imported, which leaves a core idle for it;
        # otherwise the library build would start before it is done and it would only compete
        self.idle_core_ahead = 'tensorflow' not in sys.modules
        self.started = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix='hlsdiff-pch')
        self.future = pool.submit(self._build, headers, cache_dir)
        pool.shutdown(wait=False)
        if self.idle_core_ahead:
            self.launched.wait(self.LAUNCH_WAIT_S)

    def _build(self, headers, cache_dir):
        try:
            try:
                level = self.level
                assert level is not None  # start() sets it before submitting this
                found = headers()
                if not found or self.stop.is_set():
                    return None
                args = (found, pch_mod.Compiler(build_mod.compile_flags(level), 'g++', build_mod.compiler_identity()[0]),
                        cache_dir)
                self.cached = pch_mod.ensure(*args, build=False, notes=self.notes)
            finally:
                self.looked_up.set()
            if self.cached is not None or not self.idle_core_ahead:
                return self.cached
            return pch_mod.ensure(*args, self.stop, launched=self.launched, notes=self.notes)
        finally:
            self.launched.set()

    def get(self, level: str):
        """The header for this level if it is ready or nearly so, else None."""
        if self.future is None or level != self.level:
            return None
        self.looked_up.wait(10.0)
        if self.cached is not None:
            return self.cached
        if not self.future.done():
            remaining = self.started + self.EXPECTED_S - time.monotonic()
            try:
                if remaining > self.MAX_WAIT_S:
                    raise FutureTimeout
                self.future.result(timeout=self.MAX_WAIT_S)
            except FutureTimeout:  # build without it; it goes on at low priority for the next build
                self.stop.set()
                return None
        try:
            return self.future.result()
        except Exception:  # the header is only ever a speed-up
            return None

    def cancel(self) -> None:
        """Stop waiting for the header: an unfinished one is left to finish at low priority."""
        self.stop.set()
        if self.future is not None:
            try:
                self.future.result()  # returns at once when stop is set
            except Exception:  # the header is only ever a speed-up
                pass
