"""Points as Dask tasks, on the cluster hlsdiff/cluster.py gives (a LocalCluster of worker processes by
default, an existing cluster by its scheduler's address, or a client the caller holds).

The model and the samples are shipped to the workers (scattered once to every worker), never read from a
path: a worker of a batch cluster may not see the files. A task whose worker dies is run again by Dask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hlsdiff.cluster import RETRIES, ClusterSpec, client_for
from hlsdiff.sweep.point import Payload, PointResult, PointTask, predict_point

__all__ = ['ClusterSpec', 'client_for', 'run_points']


def run_points(client: Any, payload: Payload, tasks: list[PointTask], done: Callable[[PointResult], None]) -> None:
    """Every task predicted on the cluster; `done` called with each result as it finishes."""
    from dask.distributed import as_completed

    if not tasks:
        return
    shipped = client.scatter(payload, broadcast=True, hash=False)
    futures = [client.submit(predict_point, shipped, task, pure=False, retries=RETRIES) for task in tasks]
    for _, result in as_completed(futures, with_results=True):
        done(result)
