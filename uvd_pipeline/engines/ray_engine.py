"""The Ray engine (Ray Core): a task per work unit reads and builds its sequences, sends its
images to a tokenizer actor pool, and commits the unit. `workers` units build at once; at most
`units_in_flight` (default 2 x workers) are in flight, which bounds memory: a task waiting on the
tokenizer gives its CPU back to Ray, so another unit builds meanwhile and the tokenizer stays busy.
A failed task is retried by Ray, a dead actor is restarted, and an uncommitted unit is redone
next run.

Resources are fractional on purpose: on a small machine, actors that each take a whole CPU leave
none for the unit tasks and the job hangs.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..manifests.store import OutputStore
from ..recipe import Recipe
from ..types import WorkUnit
from .machine import fit_workers, machine_cpus
from .progress import RunProgress
from .timeouts import Deadlines, StartClock, timeout_message

_BUILDERS: dict[str, Any] = {}  # per worker process: recipe fingerprint -> UnitBuilder
# Tests only: "task:<unit id>:<marker file>" and/or "actor:<marker file>", comma-separated.
FAULT_ENV = "UVD_FAULT_INJECT"


def _fault_once(spec: str | None, where: str, unit_id: str = "") -> None:
    """Tests only: kill this worker process, as a crash or an OOM kill would, the first time a
    fault in `spec` matches (its marker file records that it fired)."""
    for fault in (spec or "").split(","):
        kind, _, rest = fault.partition(":")
        target, marker = rest.rsplit(":", 1) if kind == "task" and ":" in rest else ("", rest)
        if kind != where or target != unit_id or not marker:
            continue
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            continue
        os._exit(1)


def _unit_task(
    recipe_dict: dict[str, Any], out_url: str, unit_row: dict[str, Any], actor: Any, fault: str | None = None,
    clock: Any = None,
) -> dict[str, Any]:
    import ray

    from ..pipeline.build import UnitBuilder
    from ..pipeline.tokenize import tokenize_with
    from .unit import commit_built

    recipe = Recipe.model_validate(recipe_dict)
    key = recipe.fingerprint()
    if key not in _BUILDERS:
        _BUILDERS[key] = UnitBuilder(recipe)
    unit = WorkUnit.from_row(unit_row)
    if clock is not None:  # --unit-timeout: this unit's clock starts now (timeouts.py)
        clock.started.remote(unit.id)
    built = _BUILDERS[key].build(unit)
    _fault_once(fault, "task", built.unit.id)
    tokens = tokenize_with(lambda px: ray.get(actor.encode.remote(px)), built.sequences)
    entry = commit_built(OutputStore(out_url), recipe, built, tokens)
    return {"unit": entry["unit"], "images": entry["counts"]["images"]}


class _TokenizerActor:
    def __init__(self, spec: dict[str, Any], device: str, threads: int, factory: Any = None, fault: str | None = None) -> None:
        import torch

        from ..pipeline.tokenize import TokenizerStage

        torch.set_num_threads(threads)
        # `factory` builds a stand-in with the same encode() (benchmarks); else the recipe's VQGAN.
        self.stage = factory() if factory is not None else TokenizerStage(spec, device=device)
        self.fault = fault

    def encode(self, pixels):
        _fault_once(self.fault, "actor")
        return self.stage.encode(pixels)

    def ready(self) -> bool:
        return True


@dataclass(frozen=True)
class Placement:
    """Ray resources of the tokenizer actors and the unit tasks."""

    actors: int
    actor_options: dict[str, Any]
    device: str
    threads: int  # torch threads per tokenizer actor
    task_options: dict[str, Any]


def placement(
    cpus: float, gpus: int, workers: int, in_flight: int, *, tokenizer_device: str = "auto",
    build_gpu: bool = False, tokenizer_actors: int | None = None,
) -> Placement:
    """One tokenizer actor per GPU (unless the recipe pins the tokenizer to the CPU); without GPUs,
    one per worker (up to the CPUs): separate model replicas scale better across cores than one
    model's intra-op threads. Resources are fractional so that actors never starve the unit tasks.
    When a build stage needs a GPU (`build_gpu`) and the cluster has GPUs, the tokenizers share half
    of them and the unit tasks in flight share the other half, so both run on the GPU workers."""
    gpu_tokenizer = gpus > 0 and tokenizer_device != "cpu"
    n = tokenizer_actors or (gpus if gpu_tokenizer else max(1, min(workers, int(cpus))))
    if gpu_tokenizer:  # all the GPUs, or half of them when build stages need one, shared by the actors
        share = (0.5 if build_gpu else 1.0) * gpus / n
        actor: dict[str, Any] = {"num_gpus": min(1.0, share), "num_cpus": 0.5}
        device, threads = "cuda", 1
    else:
        actor = {"num_cpus": min(0.5, cpus / (2 * n))}
        device, threads = "cpu", max(1, int(cpus // n))
    task: dict[str, Any] = {"num_cpus": max(0.01, min(1.0, (cpus - actor["num_cpus"] * n) / max(1, workers)))}
    if build_gpu and gpus:
        free = gpus - actor.get("num_gpus", 0) * n
        task["num_gpus"] = max(0.01, min(1.0, free / max(1, in_flight)))
    return Placement(n, actor, device, threads, task)


def _init_ray(address: str | None, workers: int, oversubscribe: bool = False) -> None:
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # A local cluster: as many CPUs as the machine has (as many as --workers with --oversubscribe).
        ray.init(num_cpus=max(machine_cpus(), workers if oversubscribe else 1), **kwargs)


def run_ray(
    recipe: Recipe,
    store: OutputStore,
    units: list[WorkUnit],
    progress: RunProgress,
    *,
    workers: int = 1,
    address: str | None = None,
    tokenizer_actors: int | None = None,
    units_in_flight: int | None = None,
    tokenizer_factory: Any = None,
    unit_timeout: float | None = None,
    oversubscribe: bool = False,
    **_: object,
) -> list[tuple[str, str]]:
    """`tokenizer_factory`: a picklable callable returning an object with encode(pixels) -> codes,
    used instead of the recipe's tokenizer (benchmarks use a stand-in of fixed cost)."""
    import ray

    _init_ray(address, workers, oversubscribe)
    from ..pipeline.plan import gpu_stages

    resources = ray.cluster_resources()
    where = f"the Ray cluster at {address}" if address else "this Ray cluster"
    workers = fit_workers(workers, float(resources.get("CPU", 1)), where, oversubscribe=oversubscribe)
    in_flight = max(workers, units_in_flight or 2 * workers)
    place = placement(
        float(resources.get("CPU", 1)), int(resources.get("GPU", 0)), workers, in_flight,
        tokenizer_device=recipe.tokenizer.device, build_gpu=bool(gpu_stages(recipe)), tokenizer_actors=tokenizer_actors,
    )
    n_actors, device, threads = place.actors, place.device, place.threads

    actor_cls = ray.remote(max_restarts=3, max_task_retries=3)(_TokenizerActor)
    fault = os.environ.get(FAULT_ENV)
    actors = [
        actor_cls.options(**place.actor_options).remote(
            recipe.tokenizer.model_dump(mode="json"), device, threads, tokenizer_factory, fault
        )
        for _ in range(n_actors)
    ]
    loading = [a.ready.remote() for a in actors]  # the models load while the first units build
    task = ray.remote(max_retries=3)(_unit_task).options(**place.task_options)
    recipe_ref = ray.put(recipe.model_dump(mode="json"))

    failures: list[tuple[str, str]] = []
    pending: dict[Any, WorkUnit] = {}
    queue = deque((unit, 1) for unit in units)  # (unit, its try)
    deadlines = Deadlines(unit_timeout)  # --unit-timeout: cancel, resubmit once, then fail (timeouts.py)
    clock = ray.remote(StartClock).options(num_cpus=0).remote() if unit_timeout else None
    submitted = 0
    try:
        while queue or pending:
            while queue and len(pending) < in_flight:
                unit, tries = queue.popleft()
                actor = actors[submitted % n_actors]  # round robin over the tokenizer actors
                ref = task.remote(recipe_ref, store.url, unit.to_row(), actor, fault, clock)
                pending[ref] = unit
                deadlines.add(ref, unit.id, tries)
                submitted += 1
            done, _ = ray.wait([*loading, *pending], num_returns=1, timeout=deadlines.wait_seconds())
            if clock is not None:
                deadlines.started(ray.get(clock.drain.remote()))
            for ref in done:
                deadlines.done(ref)
                if ref in loading:  # a tokenizer that cannot load stops the run here, with its error
                    loading.remove(ref)
                    ray.get(ref)
                    if not loading:
                        deadlines.restart()  # unit clocks run from when the tokenizers are up
                    continue
                unit = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # the unit stays uncommitted; the next run redoes it
                    failures.append((unit.id, f"{type(exc).__name__}: {exc}"))
                    progress.log(f"[red]unit {unit.id} failed: {type(exc).__name__}: {str(exc)[:500]}")
                    continue
                progress.unit_built()
                progress.images_tokenized(result["images"])
                progress.unit_committed()
            for ref, tries in deadlines.expired():
                unit = pending.pop(ref)
                ray.cancel(ref, force=True)  # kills the worker process running it
                if tries <= deadlines.retries:
                    progress.log(f"[yellow]unit {unit.id} passed --unit-timeout {unit_timeout:g} s; retrying it")
                    queue.appendleft((unit, tries + 1))
                else:
                    failures.append((unit.id, timeout_message(unit.id, unit_timeout, tries)))
                    progress.log(f"[red]unit {unit.id} failed: {failures[-1][1]}")
    finally:
        for a in [*actors, *([clock] if clock is not None else [])]:
            ray.kill(a)
    return failures
