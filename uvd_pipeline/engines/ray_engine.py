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
from typing import Any

from ..manifests.store import OutputStore
from ..recipe import Recipe
from ..types import WorkUnit
from .machine import fit_workers, machine_cpus
from .progress import RunProgress
from .ray_placement import Nodes, Placement, ShrinkWatch, placement, replan
from .timeouts import Deadlines, StartClock, timeout_message

_BUILDERS: dict[str, Any] = {}  # per worker process: recipe fingerprint -> UnitBuilder
# Tests only: "task:<unit id>:<marker file>", "actor:<marker file>", "shrink:<cpus>:<marker file>",
# comma-separated.
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
    clock: Any = None, preview_memory: str | None = None,
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
    entry = commit_built(OutputStore(out_url), recipe, built, tokens, preview_memory)
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


class _Pool:
    """The tokenizer actors and the unit task options of one placement."""

    def __init__(self, place: Placement, recipe: Recipe, factory: Any, fault: str | None) -> None:
        import ray

        actor_cls = ray.remote(max_restarts=3, max_task_retries=3)(_TokenizerActor)
        spec = recipe.tokenizer.model_dump(mode="json")
        self.place = place
        self.actors = [actor_cls.options(**place.actor_options).remote(spec, place.device, place.threads, factory, fault)
                       for _ in range(place.actors)]
        self.loading = [a.ready.remote() for a in self.actors]  # the models load while the first units build
        self.task = ray.remote(max_retries=3)(_unit_task).options(**place.task_options)

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)  # no restart


class _Hog:
    """Tests only (`shrink` fault): holds CPUs of the cluster, as a node that left would take them."""

    def ready(self) -> bool:
        return True


class _NodeReader:
    """The alive nodes (`ray.nodes()`), or, once a `shrink:<cpus>:<marker>` fault fired, one node of
    <cpus> CPUs while a `_Hog` really takes the CPUs above that (tests only)."""

    def __init__(self, fault: str | None) -> None:
        self.shrink = next((f.split(":", 2)[1:] for f in (fault or "").split(",") if f.startswith("shrink:")), None)
        self.hog: Any = None
        self.armed = False  # a unit finished: the fault may fire

    def __call__(self) -> Nodes:
        import ray

        nodes = Nodes.from_ray(ray.nodes())
        if self.shrink is None or not self.armed:
            return nodes
        cpus = float(self.shrink[0])
        if self.hog is None:
            try:
                with open(self.shrink[1], "x"):
                    pass
            except FileExistsError:
                self.shrink = None
                return nodes
            self.hog = ray.remote(_Hog).options(num_cpus=nodes.cpus - cpus).remote()
            ray.get(self.hog.ready.remote(), timeout=120)  # the CPUs are gone before the driver goes on
        return Nodes({"shrunk": {"CPU": cpus, "GPU": 0.0}})


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
    preview_memory: str | None = None,
    **_: object,
) -> list[tuple[str, str]]:
    """`preview_memory`: the run's token for its workers' memory of committed preview ranks
    (exports/run_previews.py). `tokenizer_factory`: a picklable callable returning an object with encode(pixels) -> codes,
    used instead of the recipe's tokenizer (benchmarks use a stand-in of fixed cost)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    _init_ray(address, workers, oversubscribe)
    from ..pipeline.plan import gpu_stages

    resources = ray.cluster_resources()
    where = f"the Ray cluster at {address}" if address else "this Ray cluster"
    workers = fit_workers(workers, float(resources.get("CPU", 1)), where, oversubscribe=oversubscribe)
    in_flight = max(workers, units_in_flight or 2 * workers)
    build_gpu = bool(gpu_stages(recipe))
    place = placement(
        float(resources.get("CPU", 1)), int(resources.get("GPU", 0)), workers, in_flight,
        tokenizer_device=recipe.tokenizer.device, build_gpu=build_gpu, tokenizer_actors=tokenizer_actors,
    )
    fault = os.environ.get(FAULT_ENV)
    pool = _Pool(place, recipe, tokenizer_factory, fault)
    # A node that leaves can leave this plan unable to run on what is left: re-plan (ray_placement.py).
    reader = _NodeReader(fault)
    watch = ShrinkWatch(reader, lambda p, nodes: replan(p, nodes, workers, in_flight, build_gpu=build_gpu,
                                                         tokenizer_actors=tokenizer_actors))
    recipe_ref = ray.put(recipe.model_dump(mode="json"))

    failures: list[tuple[str, str]] = []
    pending: dict[Any, tuple[WorkUnit, int]] = {}  # ref -> (unit, its try)
    queue = deque((unit, 1) for unit in units)
    deadlines = Deadlines(unit_timeout)  # --unit-timeout: cancel, resubmit once, then fail (timeouts.py)
    # The clock lives on the driver's node (soft: anywhere if that has no room), which the run cannot outlive.
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    clock = ray.remote(StartClock).options(num_cpus=0, scheduling_strategy=here).remote() if unit_timeout else None
    submitted = 0
    try:
        while queue or pending:
            while queue and len(pending) < in_flight:
                unit, tries = queue.popleft()
                actor = pool.actors[submitted % len(pool.actors)]  # round robin over the tokenizer actors
                ref = pool.task.remote(recipe_ref, store.url, unit.to_row(), actor, fault, clock, preview_memory)
                pending[ref] = (unit, tries)
                deadlines.add(ref, unit.id, tries)
                submitted += 1
            wait = deadlines.wait_seconds()
            done, _ = ray.wait([*pool.loading, *pending], num_returns=1, timeout=min(wait if wait is not None else 1e9, watch.every))
            if clock is not None:
                deadlines.started(ray.get(clock.drain.remote()))
            for ref in done:
                deadlines.done(ref)
                if ref in pool.loading:  # a tokenizer that cannot load stops the run here, with its error
                    pool.loading.remove(ref)
                    ray.get(ref)
                    if not pool.loading:
                        deadlines.restart()  # unit clocks run from when the tokenizers are up
                    continue
                unit, _tries = pending.pop(ref)
                watch.finished()
                reader.armed = True
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
                unit, _tries = pending.pop(ref)
                ray.cancel(ref, force=True)  # kills the worker process running it
                if tries <= deadlines.retries:
                    progress.log(f"[yellow]unit {unit.id} passed --unit-timeout {unit_timeout:g} s; retrying it")
                    queue.appendleft((unit, tries + 1))
                else:
                    failures.append((unit.id, timeout_message(unit.id, unit_timeout, tries)))
                    progress.log(f"[red]unit {unit.id} failed: {failures[-1][1]}")
            new = watch.look(pool.place)
            if new is not None:
                moved = len(pending)
                pool = _switch(pool, new, pending, queue, deadlines, recipe, tokenizer_factory, fault)
                progress.log(
                    f"[yellow]the Ray cluster changed ({watch.first.describe()} -> {watch.nodes.describe()}): re-planned "
                    f"for what is left: {new.actors} tokenizer actor(s) of {new.actor_options}, unit tasks of "
                    f"{new.task_options}; {moved} units in flight resubmitted"
                )
    finally:
        pool.close()
        for a in [*([clock] if clock is not None else []), *([reader.hog] if reader.hog is not None else [])]:
            ray.kill(a)
    return failures


def _switch(pool: _Pool, new: Placement, pending: dict[Any, tuple[WorkUnit, int]], queue: deque,
            deadlines: Deadlines, recipe: Recipe, factory: Any, fault: str | None) -> _Pool:
    """Run on `new` from now: the units in flight are cancelled (their worker processes killed:
    a unit is only visible once its ledger entry lands, and a retry writes the same bytes) and go
    first in the queue, the old actors are ended and new ones started."""
    import ray

    for ref, (unit, tries) in reversed(list(pending.items())):
        try:
            ray.cancel(ref, force=True)
        except Exception:  # already finished or gone: its result is dropped either way
            pass
        deadlines.done(ref)
        queue.appendleft((unit, tries))
    pending.clear()
    pool.close()
    return _Pool(new, recipe, factory, fault)
