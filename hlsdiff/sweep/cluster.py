"""Points as Dask tasks: a LocalCluster of worker processes (one thread each) by default, or an existing
cluster by its scheduler's address, or a client the caller holds.

The model and the samples are shipped to the workers (scattered once to every worker), never read from a
path: a worker of a batch cluster may not see the files. A task whose worker dies is run again by Dask.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hlsdiff.errors import BadInput
from hlsdiff.sweep.point import Payload, PointResult, PointTask, predict_point

# a point whose worker died (or failed) is run again this many times before the sweep fails
RETRIES = 3


@dataclass(frozen=True)
class ClusterSpec:
    """Where the points run: `workers` local processes (None: the cores), or an existing cluster."""

    workers: int | None = None
    scheduler: str | None = None
    client: Any = None  # a dask.distributed.Client the caller holds (not closed here)

    def describe(self) -> str:
        if self.client is not None:
            return 'the given Dask client'
        if self.scheduler:
            return f'the Dask scheduler at {self.scheduler}'
        return f'a local Dask cluster of {self.local_workers()} worker process(es)'

    def local_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


@contextlib.contextmanager
def client_for(spec: ClusterSpec) -> Iterator[Any]:
    """A Dask client for the spec, closed (with the cluster it started) on the way out."""
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


def run_points(client: Any, payload: Payload, tasks: list[PointTask], done: Callable[[PointResult], None]) -> None:
    """Every task predicted on the cluster; `done` called with each result as it finishes."""
    from dask.distributed import as_completed

    if not tasks:
        return
    shipped = client.scatter(payload, broadcast=True, hash=False)
    futures = [client.submit(predict_point, shipped, task, pure=False, retries=RETRIES) for task in tasks]
    for _, result in as_completed(futures, with_results=True):
        done(result)
