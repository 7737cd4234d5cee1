"""Child processes (g++, the C-simulation), clean stops, and what a killed run left behind.

Every child hlsdiff starts is registered here and runs in a process group of its own, in the
compare's session: on SIGINT or SIGTERM the whole group of each (g++ and its cc1plus, a
C-simulation shard) is killed at once, the loops waiting for them see `stopping()` and stop,
the temporary folders are removed by the `finally` blocks on the way out, and the command
exits 130 (SIGINT) or 143 (SIGTERM).

Temporary folders carry the pid of the run that made them (`hlsdiff-<pid>-*`,
`hlsdiff-run-<pid>-*`, `build-<key>-<pid>-*`): those of a run that was SIGKILLed (nothing
could clean up) are found by the pid no longer running, counted by `hlsdiff cache` and
removed by the next run and by `hlsdiff cache --clear`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_live: set[subprocess.Popen] = set()
_lock = threading.Lock()
_stop = threading.Event()


class Interrupted(BaseException):
    """The run was stopped by a signal; its children are killed, its temporary files removed.

    A BaseException, like KeyboardInterrupt: the `except Exception` of libraries on the way
    (Keras wraps and re-raises what its layers raise) let it through."""

    kind = 'interrupted'

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)
        self.message = stopped_message(self.signum)
        self.exit_code = exit_code(self.signum)


_received: list[int] = []


def stopped_message(signum: int) -> str:
    return f'stopped by {signal.Signals(signum).name}; child processes killed, temporary files removed'


def exit_code(signum: int) -> int:
    return EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM


def received() -> int | None:
    """The signal that stopped this run, if one did."""
    return _received[-1] if _received else None


_owned: dict[subprocess.Popen, Path] = {}  # a folder only that child writes: removed when it is killed


def popen(cmd: list[str], owns: Path | None = None, **kwargs) -> subprocess.Popen:
    """Start a registered child in a process group of its own."""
    if _stop.is_set():
        raise Interrupted(signal.SIGTERM)
    kwargs.setdefault('process_group', 0)
    proc = subprocess.Popen(cmd, **kwargs)
    with _lock:
        _live.add(proc)
        if owns is not None:
            _owned[proc] = owns
    return proc


def forget(proc: subprocess.Popen) -> None:
    with _lock:
        _live.discard(proc)
        _owned.pop(proc, None)


def stopping() -> bool:
    return _stop.is_set()


def kill_all() -> None:
    """Kill every registered child's process group (g++ and the cc1plus under it)."""
    with _lock:
        procs = list(_live)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        folder = _owned.pop(proc, None)
        if folder is not None:
            proc.wait()
            shutil.rmtree(folder, ignore_errors=True)


def _on_signal(signum, frame):
    _received.append(int(signum))
    _stop.set()
    kill_all()
    raise Interrupted(signum)


def install_handlers() -> dict:
    """SIGINT and SIGTERM stop the run at once (main thread only); returns the handlers
    they replace, for `restore_handlers`."""
    _stop.clear()
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


def restore_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def temp_dir(prefix: str, parent: Path | None = None) -> Path:
    """A temporary folder named after this process, so that a killed run's is recognisable."""
    return Path(tempfile.mkdtemp(prefix=f'{prefix}{os.getpid()}-', dir=parent))


_LEFTOVER = re.compile(r'^(?:hlsdiff-(?:run-|keras-)?|build-[0-9a-f]{8}-|nocache-)(\d+)-')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers(cache_dir: Path | None = None) -> list[Path]:
    """Folders of runs that ended without cleaning up (their pid is gone)."""
    places = [Path(tempfile.gettempdir())]
    if cache_dir is not None:
        places += [Path(cache_dir), Path(cache_dir) / 'conversions']
    found = []
    for place in places:
        try:
            entries = list(place.iterdir())
        except OSError:
            continue
        for p in entries:
            m = _LEFTOVER.match(p.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                found.append(p)
    return found


def folder_size(path: Path) -> int:
    total = 0
    for p in path.rglob('*'):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def reclaim(cache_dir: Path | None = None) -> tuple[int, int]:
    """Remove what killed runs left behind: (folders, bytes)."""
    n = size = 0
    for p in leftovers(cache_dir):
        if p.is_dir():
            size += folder_size(p)
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:  # another run may remove it first
                size += p.stat().st_size
            except OSError:
                continue
            p.unlink(missing_ok=True)
        n += 1
    return n, size


def tree_peak_kb(pid: int) -> int:
    """The largest peak RSS (VmHWM, kB) in the process tree under `pid`, read now.

    wait4's ru_maxrss would not do: a child forked from hlsdiff counts hlsdiff's own pages
    (2 GB with TensorFlow loaded) until it execs the compiler. VmHWM belongs to the image
    the process runs now, so g++'s and cc1plus's own peaks are what is read.
    """
    peak = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f'/proc/{p}/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        peak = max(peak, int(line.split()[1]))
                        break
            with open(f'/proc/{p}/task/{p}/children') as f:
                stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return peak
