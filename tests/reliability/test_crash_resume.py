"""Crash and resume: a few of bench/crash_trials.py's seeded SIGKILL trials per engine (the harness
runs 10+ on demand; RELIABILITY.md has the figures), and writes that fail (a full disk, a read-only
disk, an object store out of space) leave units uncommitted with a clear error, then a rerun with
the fault removed completes to the uninterrupted digest."""

from __future__ import annotations

import errno
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.engines.base import RunFailed
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset
from uvd_pipeline.pipeline.plan import plan_units
from uvd_pipeline.recipe import load_recipe

CI_TRIALS = 3  # per engine; `python bench/crash_trials.py` runs 10+

_spec = importlib.util.spec_from_file_location("uvd_bench_crash_trials", Path(__file__).parents[2] / "bench" / "crash_trials.py")
crash_trials = sys.modules.setdefault("uvd_bench_crash_trials", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(crash_trials)


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    """(recipe path, uninterrupted digest, units): 12 images + 2 bad files in units of 2."""
    root = tmp_path_factory.mktemp("crash")
    recipe = crash_trials.make_workload(root, images=12, unit_size=2)
    out = root / "reference"
    summary = run_recipe(load_recipe(recipe), str(out), engine="local", quiet=True)
    assert summary.failures == [] and summary.committed == summary.planned == 7
    return recipe, dataset_digest(open_dataset(str(out))), summary.planned


def _check(trials, finished_first, engine):
    assert len(trials) == CI_TRIALS, f"{engine}: only {len(trials)} runs interrupted ({finished_first} finished first)"
    for t in trials:
        assert t.verify_after_kill == [], (t, "the killed run left something half-written")
        assert t.passed, t


def test_sigkill_local_driver_then_rerun_gives_the_uninterrupted_digest(workload, tmp_path):
    recipe, digest, units = workload
    trials, finished_first = crash_trials.run_trials(recipe, tmp_path, "local", CI_TRIALS, 0, digest, units)
    _check(trials, finished_first, "local")


def test_sigkill_ray_driver_or_worker_then_rerun_gives_the_uninterrupted_digest(workload, tmp_path, ray_head):
    recipe, digest, units = workload
    address, env, head_pid = ray_head
    trials, finished_first = crash_trials.run_trials(
        recipe, tmp_path, "ray", CI_TRIALS, 0, digest, units, address, {**os.environ, **env}, head_pid, workers=1)
    _check(trials, finished_first, "ray")


def test_kill_points_are_seeded_and_spread():
    draws = [crash_trials.draw("ray", i, 0, 7) for i in range(40)]
    assert draws == [crash_trials.draw("ray", i, 0, 7) for i in range(40)]
    assert [d[0] for d in draws[:4]] == ["driver", "worker", "driver", "worker"] and {d[1] for d in draws} == set(range(7))
    assert draws != [crash_trials.draw("ray", i, 1, 7) for i in range(40)]


# -- writes that fail --------------------------------------------------------------------------


class FullMemoryFS(MemoryFileSystem):
    """An in-memory object store that runs out of space: every write past `budget` bytes fails with
    ENOSPC, before anything of it is stored (as a PUT to a full store fails)."""

    protocol = ("fullmem",)
    store: dict = {}
    pseudo_dirs = [""]
    budget: int | None = None

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).removeprefix("fullmem://"))

    @classmethod
    def spend(cls, n: int, path: str) -> None:
        if cls.budget is not None:
            if n > cls.budget:
                raise OSError(errno.ENOSPC, "No space left on device", path)
            cls.budget -= n

    def _open(self, path, mode="rb", *args, **kwargs):
        if any(c in mode for c in "wxa"):
            if kwargs.get("data") is not None:
                self.spend(len(kwargs["data"]), path)
            else:
                f = super()._open(path, mode, *args, **kwargs)
                plain_write = f.write
                f.write = lambda b: (self.spend(len(b), path), plain_write(b))[1]
                return f
        return super()._open(path, mode, *args, **kwargs)


def _unit_bytes(out: Path) -> list[int]:
    return [sum(f["bytes"] for f in e["files"].values()) + 1200 for e in open_dataset(str(out)).ledger]


def test_object_store_out_of_space_leaves_units_uncommitted_then_rerun_completes(workload):
    recipe_path, digest, units = workload
    recipe = load_recipe(recipe_path)
    fsspec.register_implementation("fullmem", FullMemoryFS, clobber=True)
    reference = recipe_path.parent / "reference"
    FullMemoryFS.budget = 2000 + sum(_unit_bytes(reference)[:3])  # the recipe file and about 3 units
    out = "fullmem://out"
    try:
        with pytest.raises(RunFailed, match=r"units committed, \d+ failed.*No space left on device") as failed:
            run_recipe(recipe, out, engine="local", quiet=True)
        ds = open_dataset(out)
        assert 0 < len(ds.ledger) < units, failed.value
        assert verify_dataset(out) == []  # the committed units are whole; the failed ones are absent
        assert {e["unit"] for e in ds.ledger} < {u.id for u in plan_units(recipe)}
        FullMemoryFS.budget = None  # space freed
        summary = run_recipe(recipe, out, engine="local", quiet=True)
        assert summary.failures == [] and summary.skipped == len(ds.ledger)
        assert verify_dataset(out) == [] and dataset_digest(open_dataset(out)) == digest
    finally:
        FullMemoryFS.budget = None
        FullMemoryFS.store.clear()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 96 KiB tmpfs: a real full disk (room for the run's metadata and a few units: the 7-unit run takes
    ~156 KiB, 5 units fit). Needs root (mount); skipped elsewhere."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _uvd_run(recipe: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "uvd_pipeline", "run", str(recipe), "--out", str(out), "--engine", "local", "-q"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "400"})


def test_full_then_read_only_disk_leave_units_uncommitted_with_a_clear_error(workload, small_tmpfs):
    recipe, digest, units = workload
    out = small_tmpfs / "out"
    full = _uvd_run(recipe, out)
    assert full.returncode == 1, full.stderr
    assert "No space left on device" in full.stderr and "Traceback" not in full.stderr, full.stderr
    assert "failed" in full.stderr and "rerun the same command" in full.stderr
    committed = len(list((out / "ledger").glob("*.json")))
    assert 0 < committed < units
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # no partial temporary file left
    assert verify_dataset(str(out)) == []

    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    ro = _uvd_run(recipe, out)
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr and "Traceback" not in ro.stderr, ro.stderr
    assert len(list((out / "ledger").glob("*.json"))) == committed

    subprocess.run(["mount", "-o", "remount,rw,size=4m", str(small_tmpfs)], check=True)
    again = _uvd_run(recipe, out)
    assert again.returncode == 0, again.stderr
    assert verify_dataset(str(out)) == [] and dataset_digest(open_dataset(str(out))) == digest
