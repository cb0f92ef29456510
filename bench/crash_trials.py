"""Crash-and-resume trials: kill `uvd run` (the driver's whole process group, or one Ray worker) with
SIGKILL at a seeded random moment, check that what was committed is intact (`uvd verify` finds
nothing), run the same command again, and compare `uvd digest` with an uninterrupted run.

Each trial, for an engine:
  1. draw (seeded) what to kill and when: the driver or (Ray) a random worker process (a unit task
     or the tokenizer actor), once k units are committed (k uniform in 0..units-1) plus a random
     0-1.5 s, so kills fall anywhere from start-up to the last unit;
  2. start `python -m uvd_pipeline run RECIPE --out OUT --engine E` in a session of its own and
     kill as drawn (SIGKILL to the process group; processes that left the group, such as Ray's
     workers, are killed by pid from a snapshot of the process tree taken just before);
  3. verify the partial output (committed units intact, nothing half-written visible);
  4. rerun without faults; it must exit 0, verify, and give the uninterrupted digest.
A trial whose run finished before its kill moment is not counted (recorded as "finished first")
and another is drawn, until `--trials` runs were really interrupted (or 3x attempts).

Engines: `local`; `ray`, each run starting its own local cluster (as `uvd run --engine ray` does
with no address, so a driver kill takes that cluster down with it); `ray-cluster`, every run
driving one head node that this harness starts (`--address`; the head outlives a killed driver, as
a real cluster does; workers are looked for under that head only).

Usage: python bench/crash_trials.py [--trials 10] [--engines local,ray,ray-cluster] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

WORKER_NAMES = ("ray::_unit_task", "ray::_TokenizerActor")


def uvd(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvd_pipeline", *args]


def make_workload(root: Path, images: int = 24, unit_size: int = 3, seed: int = 0) -> Path:
    """Small JPEGs in units of `unit_size` (plus two bad files, so rejects are committed too) and a
    recipe over them with the tiny random VQGAN; returns the recipe's path."""
    import numpy as np

    from uvd_pipeline.samples.pictures import picture

    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(images):
        picture(rng, 64, 48).save(folder / f"img_{i:04d}.jpg", quality=90)
    (folder / "zzz_truncated.jpg").write_bytes((folder / "img_0000.jpg").read_bytes()[:200])
    (folder / "zzz_empty.png").write_bytes(b"")
    recipe = {
        "name": "crash_trials",
        "seed": seed,
        "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [{"name": "images", "plugin": "image_folder", "params": {"path": str(folder), "unit_size": unit_size},
                     "category": "unlabelled_images"}],
    }
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run_args(recipe: Path, out: Path, engine: str, address: str | None, workers: int = 2) -> list[str]:
    args = uvd("run", str(recipe), "--out", str(out), "--engine", engine, "-q")
    if engine == "ray":
        args += ["--workers", str(workers)] + (["--address", address] if address else [])
    return args


def digest(out: Path) -> str:
    from uvd_pipeline.manifests import dataset_digest, open_dataset

    return dataset_digest(open_dataset(str(out)))


def verify(out: Path) -> list[str]:
    from uvd_pipeline.manifests import verify_dataset

    if not (out / "ledger").exists():
        return []  # killed before the output existed: nothing to check
    return verify_dataset(str(out))


def committed(out: Path) -> int:
    ledger = out / "ledger"
    return len([p for p in ledger.iterdir() if p.suffix == ".json"]) if ledger.exists() else 0


def uninterrupted(
    recipe: Path, out: Path, engine: str, address: str | None, env: dict[str, str], workers: int = 2
) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run(run_args(recipe, out, engine, address, workers), capture_output=True, text=True, env=env,
                          timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"the uninterrupted {engine} run failed:\n{proc.stderr[-3000:]}")
    return digest(out), time.perf_counter() - start


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _name(p: Any) -> str:
    try:
        return p.name() if p.name().startswith("ray::") else " ".join(p.cmdline()[:1])
    except Exception:
        return ""


def _kill_leftovers(processes: list[Any], grace: float = 3.0) -> None:
    """SIGKILL, by pid, the processes of a killed run (all started by it) still alive after grace."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)


def _workers(root: int, exclude: set[int]) -> list[Any]:
    """Ray worker processes (a unit task or the tokenizer actor) under `root`, a process this harness
    started (the driver, whose fresh cluster lives under it, or the shared cluster's head), leaving
    out those in `exclude` (there before the run)."""
    found = [p for p in _tree(root) if p.pid not in exclude and _name(p).startswith(WORKER_NAMES)]
    return sorted(found, key=lambda p: p.pid)


@dataclasses.dataclass
class Trial:
    engine: str
    index: int
    target: str  # "driver" or "worker"
    after_units: int  # the kill comes once this many units are committed ...
    jitter_s: float  # ... and this many seconds more
    interrupted: bool = False
    killed: str = ""
    kill_at_s: float = 0.0  # seconds after the run started
    units_at_kill: int = 0
    units_total: int = 0
    exit_code: int | None = None
    verify_after_kill: list[str] = dataclasses.field(default_factory=list)
    rerun_exit: int | None = None
    rerun_error: str = ""  # the end of the rerun's stderr when it failed
    digest_ok: bool = False
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.interrupted and not self.verify_after_kill and self.rerun_exit == 0 and self.digest_ok


def draw(engine: str, index: int, seed: int, units_total: int) -> tuple[str, int, float]:
    """The seeded kill point of a trial: (target, units committed before the kill, extra seconds).
    A point in units and seconds, not seconds alone, so kills spread over the whole run on a fast
    or a loaded machine alike; 0 units means during start-up and planning. Ray trials alternate
    driver and worker kills."""
    rng = random.Random(f"{seed}/{engine}/{index}")
    target = "worker" if engine == "ray" and index % 2 else "driver"
    return target, rng.randrange(units_total), round(rng.uniform(0.0, 1.5), 2)


def run_trial(
    recipe: Path, work: Path, engine: str, index: int, seed: int, ref_digest: str, units_total: int,
    address: str | None = None, env: dict[str, str] | None = None, head_pid: int | None = None, workers: int = 2,
) -> Trial:
    """One kill-and-resume trial. With a shared cluster (`address`), `head_pid` is its head process,
    started by the caller: workers are looked for under it."""
    import psutil

    env = env or dict(os.environ)
    target, after_units, jitter = draw(engine, index, seed, units_total)
    trial = Trial(engine, index, target, after_units, jitter, units_total=units_total)
    out = work / f"{engine}-{index:03d}"
    shutil.rmtree(out, ignore_errors=True)
    existing = {p.pid for p in _tree(head_pid)} if head_pid else set()
    start = time.perf_counter()
    proc = subprocess.Popen(run_args(recipe, out, engine, address, workers), start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and committed(out) < after_units:
            time.sleep(0.02)
        moment = time.perf_counter()
        while proc.poll() is None and time.perf_counter() - moment < jitter:
            time.sleep(0.02)
        if target == "driver" and proc.poll() is None:
            snapshot = _tree(proc.pid)
            trial.units_at_kill = committed(out)
            os.killpg(proc.pid, signal.SIGKILL)
            trial.kill_at_s = round(time.perf_counter() - start, 2)
            trial.interrupted, trial.killed = True, f"driver process group ({len(snapshot) + 1} processes)"
            proc.wait()
            _kill_leftovers(snapshot)
        elif target == "worker":
            busy: list[Any] = []
            while proc.poll() is None and not busy:  # early points: wait for the first worker
                busy = _workers(head_pid or proc.pid, existing)
                time.sleep(0.02)
            if busy and proc.poll() is None:
                victim = random.Random(f"{seed}/{engine}/{index}/victim").choice(busy)
                try:
                    name = _name(victim)
                    trial.units_at_kill = committed(out)
                    victim.send_signal(signal.SIGKILL)
                    trial.kill_at_s = round(time.perf_counter() - start, 2)
                    trial.interrupted, trial.killed = True, f"worker {name} (pid {victim.pid})"
                except psutil.NoSuchProcess:
                    pass
            proc.wait(timeout=1200)  # Ray retries the task / restarts the actor; the run goes on
        trial.exit_code = proc.wait()
    finally:
        if proc.poll() is None:
            snapshot = _tree(proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            _kill_leftovers(snapshot)
    trial.verify_after_kill = verify(out)
    rerun = subprocess.run(run_args(recipe, out, engine, address, workers), capture_output=True, text=True, env=env,
                           timeout=1200)
    trial.rerun_exit = rerun.returncode
    if rerun.returncode != 0:
        trial.rerun_error = rerun.stderr[-2000:]
    trial.digest_ok = rerun.returncode == 0 and not verify(out) and digest(out) == ref_digest
    trial.seconds = round(time.perf_counter() - start, 1)
    return trial


def run_trials(
    recipe: Path, work: Path, engine: str, trials: int, seed: int, ref_digest: str, units_total: int,
    address: str | None = None, env: dict[str, str] | None = None, head_pid: int | None = None, log: Any = None,
    workers: int = 2,
) -> tuple[list[Trial], int]:
    """Trials until `trials` were interrupted (at most 3x attempts); returns (interrupted trials,
    attempts whose run finished before the kill)."""
    done: list[Trial] = []
    finished_first = 0
    index = 0
    while len(done) < trials and index < 3 * trials:
        t = run_trial(recipe, work, engine, index, seed, ref_digest, units_total, address, env, head_pid, workers)
        index += 1
        if not t.interrupted:
            finished_first += 1
            continue
        done.append(t)
        if log:
            log(f"  {engine} #{t.index}: kill {t.killed} at {t.kill_at_s} s with {t.units_at_kill}/{t.units_total} units "
                f"committed -> verify {'ok' if not t.verify_after_kill else t.verify_after_kill}, rerun exit {t.rerun_exit}, "
                f"digest {'==' if t.digest_ok else '!='} uninterrupted  [{'PASS' if t.passed else 'FAIL'}]")
    return done, finished_first


def _die_with_parent() -> None:
    """Linux: SIGTERM this child when the harness dies, even by SIGKILL (no orphaned Ray head)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def ray_head(temp: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    """A Ray head node of this harness's own (own process group, own auth token, own temp dir);
    yields (address, environment for drivers, head pid). Ended by process group, then by pid."""
    import secrets
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    temp.mkdir(parents=True, exist_ok=True)
    log_path = temp / "ray-start.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus", "2",
             "--port", str(port), "--node-ip-address", "127.0.0.1", "--include-dashboard=false",
             "--disable-usage-stats", "--object-store-memory", str(200 * 2**20), "--temp-dir", str(temp)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env},
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.time() + 120
        while "Ray runtime started" not in log_path.read_text():
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(log_path.read_text())
            time.sleep(0.3)
        yield f"127.0.0.1:{port}", env, proc.pid
    finally:
        snapshot = _tree(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        _kill_leftovers(snapshot)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="interrupted trials per engine")
    parser.add_argument("--engines", default="local,ray,ray-cluster",
                        help="local | ray (a fresh local cluster per run) | ray-cluster (one shared head node)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--unit-size", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="--workers of the Ray runs")
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import load_average, machine

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="uvd-crash-"))
    recipe = make_workload(work, args.images, args.unit_size, args.seed)
    report: dict[str, Any] = {"date": datetime.date.today().isoformat(), "machine": machine(), "seed": args.seed,
                              "load_average_start": load_average(), "engines": {}}
    print(f"crash trials on {report['machine']} (load {report['load_average_start']}), work {work}")
    ok = True
    ref_digest = None
    for label in args.engines.split(","):
        engine = "ray" if label.startswith("ray") else label
        with contextlib.ExitStack() as stack:
            address, env, head = None, dict(os.environ), None
            if label == "ray-cluster":
                address, extra, head = stack.enter_context(ray_head(work / "ray-head"))
                env.update(extra)
            out_ref = work / f"{label}-reference"
            d, seconds = uninterrupted(recipe, out_ref, engine, address, env, args.workers)
            units_total = committed(out_ref)
            ref_digest = ref_digest or d
            same = d == ref_digest
            print(f"{label}: uninterrupted run {seconds:.1f} s, {units_total} units, digest {d[:16]} "
                  f"({'same as' if same else 'DIFFERS from'} the first engine's)")
            trials, finished_first = run_trials(recipe, work / label, engine, args.trials, args.seed, ref_digest,
                                                units_total, address, env, head, log=print, workers=args.workers)
        passed = sum(t.passed for t in trials)
        ok &= same and passed == args.trials
        report["engines"][label] = {
            "uninterrupted_seconds": round(seconds, 1), "units": units_total, "digest": d, "same_digest_as_first": same,
            "passed": passed, "interrupted": len(trials), "finished_before_kill": finished_first,
            "driver_kills": sum(t.target == "driver" for t in trials), "worker_kills": sum(t.target == "worker" for t in trials),
            "trials": [dataclasses.asdict(t) | {"passed": t.passed} for t in trials],
        }
        print(f"{label}: {passed}/{len(trials)} interrupted trials resumed to the uninterrupted digest "
              f"({finished_first} runs finished before their kill moment, not counted)")
    report["load_average_end"] = load_average()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
