"""Task runners for passes made of independent tasks (the curation cluster pass): one method,
`map(fn, args_list) -> list`, runs fn(*args) for every args tuple and returns the results in
the order of args_list. `fn` is a top-level (picklable) function and args are small; the tasks
exchange their data through files, so the runner only carries arguments and small results.
Curation modules receive a runner and never import engines."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Args = Sequence[tuple[Any, ...]]


class LocalTaskRunner:
    """Every task in this process, one after another: the reference."""

    def map(self, fn: Callable[..., Any], args_list: Args, on_done: Callable[[int, int], None] | None = None) -> list[Any]:
        out = []
        for args in args_list:
            out.append(fn(*args))
            if on_done:
                on_done(len(out), len(args_list))
        return out


class RayTaskRunner:
    """Ray tasks, at most `workers` in flight; each asks for a fraction of a CPU (the cluster's
    CPUs / workers, at most 1), so tasks never wait for whole CPUs that a small machine lacks.
    Uses the Ray of this process when it is initialised, else joins `address` or starts a local
    one. A task whose worker dies is retried by Ray (`max_retries`): tasks must be idempotent."""

    def __init__(self, workers: int = 2, address: str | None = None, max_retries: int = 3) -> None:
        self.workers = max(1, workers)
        self.address = address
        self.max_retries = max_retries
        self._remote: dict[Callable[..., Any], Any] = {}

    def map(self, fn: Callable[..., Any], args_list: Args, on_done: Callable[[int, int], None] | None = None) -> list[Any]:
        import ray

        from .ray_engine import _init_ray

        _init_ray(self.address, self.workers)
        if fn not in self._remote:
            cpus = float(ray.cluster_resources().get("CPU", 1))
            share = max(0.01, min(1.0, cpus / self.workers))
            self._remote[fn] = ray.remote(max_retries=self.max_retries)(fn).options(num_cpus=share)
        remote = self._remote[fn]
        results: list[Any] = [None] * len(args_list)
        pending: dict[Any, int] = {}
        submitted = 0
        while submitted < len(args_list) or pending:
            while submitted < len(args_list) and len(pending) < self.workers:
                pending[remote.remote(*args_list[submitted])] = submitted
                submitted += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                results[pending.pop(ref)] = ray.get(ref)
                if on_done:
                    on_done(submitted - len(pending), len(args_list))
        return results


class BeamTaskRunner:
    """A Beam pipeline per map: Create(indices) | Reshuffle | Map(run task). Locally Beam's
    Python runner with `workers` worker processes (1: in this process); any runner through
    `options` (as `uvd run --beam-option` takes them). Results must be JSON-able: each task writes
    its result as JSON under `results_dir` (a temporary folder by default; give a shared fsspec
    URL for a distributed runner), read back in order after the pipeline ends."""

    def __init__(self, workers: int = 1, options: Mapping[str, Any] | Sequence[str] | None = None,
                 results_dir: str | None = None) -> None:
        self.workers = max(1, workers)
        self.options = options
        self.results_dir = results_dir

    def map(self, fn: Callable[..., Any], args_list: Args, on_done: Callable[[int, int], None] | None = None) -> list[Any]:
        from .beam_runner import beam, make_pipeline, pipeline_args, quiet_local_runner

        if not args_list:
            return []
        with tempfile.TemporaryDirectory(prefix="uvd-beam-tasks-") as tmp:
            folder = f"{(self.results_dir or tmp).rstrip('/')}/{uuid.uuid4().hex}"
            pipeline, _ = make_pipeline(pipeline_args(self.options), self.workers, os.path.join(tmp, "workers.log"))
            with quiet_local_runner():
                with pipeline as p:
                    _ = (
                        p
                        | "tasks" >> beam.Create([(i, tuple(a)) for i, a in enumerate(args_list)])
                        | "spread" >> beam.Reshuffle()
                        | "run" >> beam.Map(_run_and_keep, fn, folder)
                    )
            results = [_read_result(folder, i) for i in range(len(args_list))]
            if on_done:  # a pipeline reports once, when it has run
                on_done(len(results), len(args_list))
            return results


def _run_and_keep(indexed: tuple[int, tuple[Any, ...]], fn: Callable[..., Any], folder: str) -> None:
    import fsspec

    index, args = indexed
    text = json.dumps(fn(*args), sort_keys=True)
    fs, path = fsspec.core.url_to_fs(f"{folder}/{index:08d}.json")
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w") as f:
        f.write(text)


def _read_result(folder: str, index: int) -> Any:
    import fsspec

    with fsspec.open(f"{folder}/{index:08d}.json", "r") as f:
        return json.load(f)


RUNNERS: dict[str, Callable[..., Any]] = {"local": LocalTaskRunner, "ray": RayTaskRunner, "beam": BeamTaskRunner}


def task_runner(engine: str, workers: int = 1, **options: Any) -> Any:
    """The runner of an engine by name: local | ray | beam."""
    if engine == "local":
        return LocalTaskRunner()
    if engine not in RUNNERS:
        raise ValueError(f"engine {engine!r}: expected one of {', '.join(RUNNERS)}")
    return RUNNERS[engine](workers=workers, **options)
