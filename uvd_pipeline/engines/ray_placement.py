"""Where the Ray engine puts work, and what it does when the cluster shrinks.

`placement` sizes the tokenizer actors and the unit tasks from the cluster's resources. A plan is
made for the cluster the run starts on; when a node leaves, Ray restarts the actors it held on the
nodes left and retries its unit tasks there, but with the shares of the old plan. On a small node
those can no longer fit beside each other (two actors restarted on a 1-CPU head took it all, and
the unit tasks, sized at 1 CPU each for the 3-CPU cluster, never ran: the run hung). So the driver
watches the alive nodes while it waits (`Nodes`), checks that its plan still `fits` them, and
`replan`s for what is left when it does not; when no plan can run the units the same way (no CPU
left, or no GPU left for a CUDA tokenizer or a GPU build stage), the run fails with one line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RunFailed

EPS = 1e-9
WATCH_SECONDS = 2.0  # how often the driver looks at the alive nodes while it waits on results
STALL_SECONDS = 120.0  # no plan fits what is left and no unit finished for this long: the run fails
OPTION_RESOURCE = {"num_cpus": "CPU", "num_gpus": "GPU"}


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


@dataclass(frozen=True)
class Nodes:
    """The alive nodes of a Ray cluster: node id -> its CPU and GPU count."""

    resources: dict[str, dict[str, float]]

    @classmethod
    def from_ray(cls, nodes: list[dict[str, Any]]) -> Nodes:
        """From `ray.nodes()`."""
        return cls({
            n["NodeID"]: {k: float(n.get("Resources", {}).get(k, 0)) for k in ("CPU", "GPU")}
            for n in nodes if n.get("Alive")
        })

    @property
    def cpus(self) -> float:
        return sum(r.get("CPU", 0.0) for r in self.resources.values())

    @property
    def gpus(self) -> float:
        return sum(r.get("GPU", 0.0) for r in self.resources.values())

    def describe(self) -> str:
        return f"{len(self.resources)} node(s), {self.cpus:g} CPUs, {self.gpus:g} GPUs"


def _how_many(free: dict[str, float], options: dict[str, Any], most: int) -> int:
    """How many of something asking for `options` fit in `free` (at most `most`)."""
    counts = [
        math.floor((free.get(res, 0.0) + EPS) / options[opt])
        for opt, res in OPTION_RESOURCE.items() if options.get(opt, 0) > 0
    ]
    return min([most, *counts])


def fits(place: Placement, nodes: Nodes) -> bool:
    """Can `place` make progress on `nodes` wherever Ray puts (or restarts) the actors: every actor
    finds room, and some node has room for a unit task even with as many actors packed on it as it
    can hold. Conservative: False can be wrong (Ray may spread the actors), True is not."""
    if sum(_how_many(r, place.actor_options, place.actors) for r in nodes.resources.values()) < place.actors:
        return False
    for free in nodes.resources.values():
        packed = _how_many(free, place.actor_options, place.actors)
        left = {res: free.get(res, 0.0) - packed * place.actor_options.get(opt, 0) for opt, res in OPTION_RESOURCE.items()}
        if _how_many(left, place.task_options, 1) >= 1:
            return True
    return False


def replan(
    current: Placement, nodes: Nodes, workers: int, in_flight: int, *, build_gpu: bool = False,
    tokenizer_actors: int | None = None,
) -> Placement | None:
    """The plan to run on `nodes`: `current` while it fits, else a plan made for them that keeps the
    tokenizer's device and the unit tasks' GPU (the same units, the same way), or None when there is
    none that fits (no CPU left, no GPU left where the run needs one)."""
    if fits(current, nodes):
        return current
    new = placement(
        nodes.cpus, int(nodes.gpus), workers, in_flight, tokenizer_device="auto" if current.device == "cuda" else "cpu",
        build_gpu=build_gpu, tokenizer_actors=tokenizer_actors,
    )
    same_way = new.device == current.device and ("num_gpus" in new.task_options) == ("num_gpus" in current.task_options)
    return new if same_way and fits(new, nodes) else None


class ShrinkWatch:
    """The driver's look at the cluster while it waits: every `every` seconds it reads the alive
    nodes; when they changed (or while nothing fits them) it asks `replan` for the plan to run on.
    `look` returns a plan to switch to, or None; it raises RunFailed when no plan fits what is left
    and no unit has finished for `stall` seconds (a node may still join: Ray would use it)."""

    def __init__(self, read: Callable[[], Nodes], replan: Callable[[Placement, Nodes], Placement | None],
                 every: float = WATCH_SECONDS, stall: float = STALL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.read, self.replan, self.every, self.stall, self.clock = read, replan, every, stall, clock
        self.nodes = self.first = read()
        self.next_look = clock() + every
        self.unfit_since: float | None = None  # when no plan was found to fit the nodes
        self.last_finish = clock()

    def finished(self) -> None:
        """A unit finished: the run is moving."""
        self.last_finish = self.clock()

    def look(self, place: Placement) -> Placement | None:
        now = self.clock()
        if now < self.next_look:
            return None
        self.next_look = now + self.every
        try:
            nodes = self.read()
        except Exception:  # the GCS unreachable (the head lost): ray.wait reports that, as before
            return None
        if nodes == self.nodes and self.unfit_since is None:
            return None
        self.nodes = nodes
        new = self.replan(place, nodes)
        if new is not None:
            self.unfit_since = None
            return None if new == place else new
        self.unfit_since = self.unfit_since if self.unfit_since is not None else now
        if now - max(self.unfit_since, self.last_finish) >= self.stall:
            raise RunFailed(
                f"the Ray cluster shrank from {self.first.describe()} to {nodes.describe()} and what is left cannot "
                f"hold the tokenizer actors and a unit task ({place.device} tokenizer); no unit finished in "
                f"{self.stall:g} s, so the run stops here: committed units stay, rerun the same command on a "
                "cluster with room to resume"
            )
        return None
