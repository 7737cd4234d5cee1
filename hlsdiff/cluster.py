"""Where work runs on Dask: a LocalCluster of worker processes (one thread each), or an existing cluster by
its scheduler's address, or a client the caller holds. `hlsdiff sweep` runs its points there, and
`compare --workers N` / `--scheduler ADDRESS` its C-simulation's samples (docs/sweep.md).

What the workers need is shipped to them (scattered), never read from a path: a worker of a batch cluster
may not see the files. Dask is imported only when a cluster is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hlsdiff.errors import BadInput

# a task whose worker died (or failed) is run again this many times before the run fails
RETRIES = 3


@dataclass(frozen=True)
class ClusterSpec:
    """Where the work runs: `workers` local processes, or an existing cluster (`scheduler`, or a `client` the
    caller holds). Nothing given: a compare runs in this process alone; a sweep starts a local cluster of
    as many workers as there are cores."""

    workers: int | None = None
    scheduler: str | None = None
    client: Any = None  # a dask.distributed.Client the caller holds (not closed here)

    @property
    def given(self) -> bool:
        """A cluster was asked for (by --workers, --scheduler or a client)."""
        return self.workers is not None or bool(self.scheduler) or self.client is not None

    def describe(self) -> str:
        if self.client is not None:
            return 'the given Dask client'
        if self.scheduler:
            return f'the Dask scheduler at {self.scheduler}'
        return f'a local Dask cluster of {self.local_workers()} worker process(es)'

    def local_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def cluster_spec(workers: int | None, scheduler: str | None, client: Any = None) -> ClusterSpec:
    """The spec the options describe; --workers and --scheduler together are bad input."""
    if workers and scheduler:
        raise BadInput('--workers starts a local cluster, --scheduler uses an existing one: give one of them')
    return ClusterSpec(int(workers) if workers else None, scheduler or None, client)


@contextlib.contextmanager
def client_for(spec: ClusterSpec) -> Iterator[Any]:
    """A Dask client for the spec, closed (with the cluster it started) on the way out; Dask's own log lines
    (a local cluster's workers stopped at its close among them) are not the user's."""
    quiet = logging.getLogger('distributed')
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with _client(spec) as client:
            yield client
    finally:
        quiet.setLevel(level)


@contextlib.contextmanager
def _client(spec: ClusterSpec) -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    if spec.client is not None:
        yield spec.client
        return
    if spec.scheduler:
        try:
            client = Client(spec.scheduler, timeout='20s')
        except (OSError, TimeoutError, ValueError) as exc:
            raise BadInput(f'--scheduler {spec.scheduler}: cannot reach it ({exc})') from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=spec.local_workers(), threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client


def workers_of(client: Any) -> int:
    """How many workers the client's cluster has now (at least 1)."""
    return max(1, len(client.scheduler_info(n_workers=-1).get('workers', {})))
