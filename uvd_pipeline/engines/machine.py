"""Keep the processes a run starts within the machine (or cluster) unless asked: `--workers 16`
on 2 cores used to start 16 tokenizer actors and 16 unit tasks (each a process holding a model or
decoders) where 2 of each do the same work with less memory and no switching. Now the worker
count is capped at the CPUs, with a warning naming both numbers and the override
(`uvd run --oversubscribe`). The dataset does not depend on the worker count (`uvd digest`)."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("uvd_pipeline.engines")


def machine_cpus() -> int:
    """CPUs this process may run on (its affinity mask: what a container or taskset allows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def fit_workers(workers: int, cpus: float, where: str, *, oversubscribe: bool = False) -> int:
    """`workers`, or the CPUs of `where` when there are fewer (with a warning), unless `oversubscribe`."""
    limit = max(1, int(cpus))
    if workers <= limit or oversubscribe:
        return workers
    log.warning(
        "--workers %d is more than the %d CPUs of %s: running %d worker processes (and at most %d tokenizer "
        "actors) instead; pass --oversubscribe to start %d anyway", workers, limit, where, limit, limit, workers,
    )
    return limit
