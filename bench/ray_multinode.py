"""A real two-node Ray cluster on this machine: a node's raylet killed mid-run.

Starts a head node (`ray start --head`, 2 CPUs) and a second node (`ray start --address ...`,
1 CPU, a custom resource, its own temp dir), both on 127.0.0.1, each in a process group of its own
(tests/reliability/conftest.py's helpers stop them). A small recipe (the sample world's image
folder, 4 images a unit, the `tiny` random tokenizer) runs with `uvd run --engine ray --address`.
Once a few units are committed, the script SIGKILLs one node's raylet:

- `worker`: the second node's raylet;
- `none`: nothing killed (the time to compare with);
- `actor`: the raylet of a node that holds a tokenizer actor (`ray::_TokenizerActor` among its
  worker processes; the second node's if it holds one, else the head's).

Then the run either finishes on the remaining node, or fails and a rerun of the same command (on
what is left of the cluster) resumes it. Reported per scenario: which node died, what it ran at that
moment, time from the kill to the run's end, to the next commit and to the dataset complete, units
committed before the kill and rewritten after it, the units in flight on the dead node (its
`ray::_unit_task` workers: these are built again), the run's exit status, whether a rerun was
needed, whether the digest equals the single-node (local engine) run's, and the driver's line
if it re-planned for the nodes left (`driver_replanned`). Nothing is left
running: every node started here is stopped at the end, even on errors.

Run on demand (not in CI: it needs minutes and room for two raylets):
  python bench/ray_multinode.py [--scenarios worker,actor,none] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.reliability.conftest import RAY, _free_port, die_with_parent, stop_group  # noqa: E402

# `ray` next to this Python, else the same CLI as a module (a venv that reuses another's packages)
RAY_CLI = [str(RAY)] if RAY.exists() else [sys.executable, "-m", "ray.scripts.scripts"]

from uvd_pipeline.samples import make_samples  # noqa: E402


def recipe(samples: Path) -> dict:
    return {
        "name": "multinode", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [{"name": "web_images", "plugin": "image_folder", "category": "unlabelled_images",
                     "params": {"path": str(samples / "images"), "unit_size": 4}}],
    }


def uvd(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def digest(out: Path) -> str:
    return uvd("digest", str(out)).stdout.strip().splitlines()[-1]


class Node:
    """One `ray start --block` in its own process group; `raylet` is its raylet process."""

    def __init__(self, args: list[str], temp_dir: Path, env: dict[str, str], name: str) -> None:
        self.name, self.temp_dir = name, temp_dir
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = temp_dir / "ray-start.log"
        agent = [str(_free_port()) for _ in range(4)]
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [*RAY_CLI, "start", "--block", *args, "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
                 "--object-store-memory", str(150 * 2**20), "--temp-dir", str(temp_dir),
                 "--dashboard-agent-listen-port", agent[0], "--dashboard-agent-grpc-port", agent[1],
                 "--runtime-env-agent-port", agent[2], "--metrics-export-port", agent[3]],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env},
                preexec_fn=die_with_parent,
            )
        deadline = time.time() + 180
        while "Ray runtime started" not in self.log_path.read_text():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{name} did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.3)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def raylet(self) -> psutil.Process:
        return next(p for p in self.descendants() if p.name() == "raylet")

    def ray_workers(self) -> list[str]:
        """Titles of the Ray worker processes under this node's raylet (`ray::_unit_task`, ...)."""
        titles = []
        for p in self.raylet().children(recursive=True):
            try:
                cmd = " ".join(p.cmdline())
            except psutil.NoSuchProcess:
                continue
            if cmd.startswith("ray::"):
                titles.append(cmd.split()[0])
        return titles

    def stop(self) -> None:
        stop_group(self.proc)


def committed(out: Path) -> dict[str, float]:
    """Ledger entries and their modification times."""
    ledger = out / "ledger"
    got = {}
    for p in ledger.glob("*.json") if ledger.exists() else []:
        try:
            got[p.name] = p.stat().st_mtime
        except FileNotFoundError:
            pass
    return got


CPUS = {"head": 2, "second": 1}  # --cpus changes them


def start_cluster(nodes: list[Node], where: Path, env: dict[str, str]) -> str:
    """A head and a second node (CPUS), appended to `nodes` as they start; the address."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes.append(Node(["--head", "--port", str(port), "--num-cpus", str(CPUS["head"]), "--include-dashboard=false"],
                      where / "head", env, "head"))
    nodes.append(Node(["--address", address, "--num-cpus", str(CPUS["second"]), "--resources", json.dumps({"second_node": 1})],
                      where / "second", env, "second"))
    time.sleep(3)  # the second node registers with the GCS
    return address


def scenario(kind: str, work: Path, recipe_path: Path, n_units: int, reference: str, env: dict[str, str]) -> dict:
    nodes: list[Node] = []
    result: dict = {"scenario": kind}
    try:
        address = start_cluster(nodes, work / kind, env)
        head, second = nodes
        out = work / f"{kind}-out"
        cmd = [sys.executable, "-m", "uvd_pipeline", "run", str(recipe_path), "--out", str(out), "-q",
               "--engine", "ray", "--address", address, "--workers", "2"]
        start = time.time()
        driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**os.environ, **env}, start_new_session=True)
        if kind == "none":  # the same run on both nodes, nothing killed: the time to compare with
            log, _ = driver.communicate(timeout=420)
            result.update(run_exit_status=driver.returncode, run_seconds=round(time.time() - start, 1),
                          digest_equals_single_node=digest(out) == reference, driver_log_tail=log[-300:])
            return result
        victim = None
        while driver.poll() is None:
            if len(committed(out)) >= 3:
                if kind == "worker":
                    victim = second
                else:
                    holders = [n for n in (second, head) if any("_TokenizerActor" in t for t in n.ray_workers())]
                    if not holders:
                        time.sleep(0.1)
                        continue
                    victim = holders[0]
                break
            time.sleep(0.1)
        if victim is None:
            result["error"] = f"the run ended before the kill ({driver.returncode})"
            return result
        before = committed(out)
        result["killed_node"] = victim.name
        result["its_ray_workers_at_kill"] = sorted(victim.ray_workers())
        result["units_committed_at_kill"] = len(before)
        result["seconds_into_run_at_kill"] = round(time.time() - start, 1)
        raylet = victim.raylet()
        killed_at = time.time()
        raylet.send_signal(signal.SIGKILL)
        print(f"{kind}: killed the {victim.name} node's raylet {round(killed_at - start, 1)} s into the run", file=sys.stderr, flush=True)
        try:
            log, _ = driver.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            log, _ = driver.communicate()
            result["driver_timed_out_after_s"] = 300
        after = committed(out)
        result["run_exit_status"] = driver.returncode
        result["seconds_kill_to_run_end"] = round(time.time() - killed_at, 1)
        later = sorted(t for name, t in after.items() if name not in before or t > before[name])
        result["seconds_kill_to_next_commit"] = round(later[0] - killed_at, 1) if later else None
        result["units_rewritten"] = sum(1 for name, t in after.items() if name in before and t > before[name])
        result["units_committed_by_the_run"] = len(after)
        result["driver_log_tail"] = log[-600:]
        # the engine's line when it re-planned for the nodes left (engines/ray_placement.py)
        result["driver_replanned"] = next((line.strip() for line in log.splitlines() if "re-planned" in line), None)
        if len(after) < n_units:  # a rerun resumes the rest: on what is left of the cluster, or on a new one
            result["nodes_alive_after_run"] = [n.name for n in nodes if n.proc.poll() is None]
            if head.proc.poll() is not None:  # the head (and its GCS) went down with its raylet
                for node in reversed(nodes):
                    node.stop()
                nodes.clear()
                address = start_cluster(nodes, work / f"{kind[0]}2", env)
                result["cluster_restarted_for_rerun"] = True
                cmd[cmd.index("--address") + 1] = address
            rerun = uvd(*cmd[3:], env=env, timeout=300)
            result["rerun_exit_status"] = rerun.returncode
            result["rerun_log_tail"] = (rerun.stdout + rerun.stderr)[-600:]
            result["seconds_kill_to_complete"] = round(time.time() - killed_at, 1)
        else:
            result["seconds_kill_to_complete"] = result["seconds_kill_to_run_end"]
        final = committed(out)
        result["units_committed_final"] = len(final)
        result["units_rewritten_total"] = sum(1 for name, t in final.items() if name in before and t > before[name])
        result["digest"] = digest(out) if len(final) == n_units else None
        result["digest_equals_single_node"] = result["digest"] == reference
        result["verify"] = uvd("verify", str(out)).returncode == 0 if result["digest"] else False
        return result
    finally:
        for node in reversed(nodes):
            node.stop()
        result["left_running"] = [n.name for n in nodes if n.proc.poll() is None or any(p.is_running() for p in n.descendants())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="worker,actor,none")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cpus", default="2,1", help="head,second node CPUs (1,2 puts a tokenizer actor on the second)")
    args = ap.parse_args()
    CPUS["head"], CPUS["second"] = (int(x) for x in args.cpus.split(","))
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    with tempfile.TemporaryDirectory(prefix="uvd-multinode-") as tmp:
        work = Path(tmp)
        make_samples(work / "samples", seed=0, parts=["images"])
        recipe_path = work / "recipe.yaml"
        recipe_path.write_text(yaml.safe_dump(recipe(work / "samples")))
        t0 = time.time()
        local = uvd("run", str(recipe_path), "--out", str(work / "local"), "-q", "--engine", "local")
        assert local.returncode == 0, local.stderr
        n_units = len(committed(work / "local"))
        reference = digest(work / "local")
        report = {
            "machine": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?"),
            "load_average_before": [round(x, 1) for x in os.getloadavg()],
            "cpus": dict(CPUS), "units": n_units, "single_node_digest": reference, "single_node_seconds": round(time.time() - t0, 1),
            "scenarios": [],
        }
        for kind in args.scenarios.split(","):
            try:
                report["scenarios"].append(scenario(kind, work, recipe_path, n_units, reference, env))
            except Exception as exc:  # a node that would not start: say so, go on with the next scenario
                report["scenarios"].append({"scenario": kind, "error": f"{type(exc).__name__}: {str(exc)[-800:]}"})
            print(json.dumps(report["scenarios"][-1], indent=1), flush=True)
        report["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
