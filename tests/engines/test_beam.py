"""The Beam engine (on Beam's Python runner) gives the local engine's dataset, skips committed
units on a rerun, and fails a bad unit alone."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

pytest.importorskip("apache_beam")

from uvd_pipeline.engines import run_recipe  # noqa: E402
from uvd_pipeline.engines.beam_engine import pipeline_args, run_beam  # noqa: E402
from uvd_pipeline.engines.progress import RunProgress  # noqa: E402
from uvd_pipeline.errors import UvdError  # noqa: E402
from uvd_pipeline.manifests import dataset_digest, open_dataset, verify_dataset  # noqa: E402
from uvd_pipeline.manifests.store import OutputStore  # noqa: E402
from uvd_pipeline.manifests.writer import prepare_output  # noqa: E402
from uvd_pipeline.pipeline import plan_units  # noqa: E402
from uvd_pipeline.recipe import parse_recipe  # noqa: E402
from uvd_pipeline.types import WorkUnit  # noqa: E402

from ..conftest import single_image_recipe  # noqa: E402
from .helpers import local_digest_of  # noqa: E402


@pytest.fixture(scope="module")
def local_digest(samples, tmp_path_factory) -> str:
    return local_digest_of(single_image_recipe(samples), tmp_path_factory.mktemp("local"), units=6)


@pytest.fixture(scope="module")
def beam_out(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("beam")
    summary = run_recipe(parse_recipe(single_image_recipe(samples)), str(out), engine="beam", quiet=True)
    return out, summary


def test_beam_matches_local(beam_out, local_digest):
    out, summary = beam_out
    assert summary.failures == [] and summary.committed == summary.planned == 6
    assert dataset_digest(open_dataset(str(out))) == local_digest
    assert verify_dataset(str(out)) == []
    totals = open_dataset(str(out)).summary()["totals"]
    # rejects and build counts travel with the unit to its commit
    assert totals["records_read"] == 98 and totals["records_rejected"] == 2 and totals["sequences"] == 96


def test_beam_rerun_skips_committed_units(beam_out, samples, local_digest):
    out, _ = beam_out
    before = {p.name: p.stat().st_mtime_ns for p in (out / "ledger").iterdir()}
    summary = run_recipe(parse_recipe(single_image_recipe(samples)), str(out), engine="beam", quiet=True)
    assert summary.skipped == summary.planned == 6 and summary.committed == 0 and summary.failures == []
    assert {p.name: p.stat().st_mtime_ns for p in (out / "ledger").iterdir()} == before
    assert dataset_digest(open_dataset(str(out))) == local_digest


def test_cli_beam_two_worker_processes_in_waves_matches_local(samples, tmp_path, local_digest):
    """Two SDK worker processes, other tokenizer batches, and the 6 units in pipelines of 4 + 2."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(single_image_recipe(samples)))
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "uvd_pipeline", "run", str(recipe), "--out", str(out), "--engine", "beam",
        "--workers", "2", "--beam-option", "runner=DirectRunner", "--beam-option", "tokenizer_batch_images=12",
        "--beam-option", "units_per_pipeline=4", "-q",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Prism" not in proc.stderr and "apitools" not in proc.stderr  # the local runner stays quiet
    assert dataset_digest(open_dataset(str(out))) == local_digest


def test_a_failing_unit_is_reported_and_left_uncommitted(samples, tmp_path):
    recipe = parse_recipe(single_image_recipe(samples))
    good = plan_units(recipe)[0]
    bad = WorkUnit("web_images-999999", "web_images", 999999, {"root": str(samples / "images")})  # no "files"
    store = OutputStore(str(tmp_path))
    prepare_output(store)
    with RunProgress(2, quiet=True) as progress:
        failures = run_beam(recipe, store, [good, bad], progress)
    assert [unit for unit, _ in failures] == [bad.id]
    assert "KeyError" in failures[0][1] and "files" in failures[0][1]
    assert sorted(p.name for p in (tmp_path / "ledger").iterdir()) == [f"{good.id}.json"]
    assert verify_dataset(str(tmp_path)) == []


def test_per_unit_layout_matches_local_and_leaves_a_failing_unit_uncommitted(samples, tmp_path, local_digest):
    """layout=per_unit: one step builds, tokenizes and commits each unit (no GroupByKey)."""
    recipe = parse_recipe(single_image_recipe(samples))
    units = plan_units(recipe)
    bad = WorkUnit("web_images-999999", "web_images", 999999, {"root": str(samples / "images")})  # no "files"
    store = OutputStore(str(tmp_path))
    prepare_output(store)
    with RunProgress(len(units) + 1, quiet=True) as progress:
        failures = run_beam(recipe, store, [*units, bad], progress, workers=2, pipeline_options=["layout=per_unit"])
    assert [unit for unit, _ in failures] == [bad.id] and "KeyError" in failures[0][1]
    assert sorted(p.name for p in (tmp_path / "ledger").iterdir()) == sorted(f"{u.id}.json" for u in units)
    assert dataset_digest(open_dataset(str(tmp_path))) == local_digest
    assert verify_dataset(str(tmp_path)) == []


def test_bad_options_fail_before_running(recipe, tmp_path):
    store = OutputStore(str(tmp_path))
    units = plan_units(recipe)[:1]
    with RunProgress(1, quiet=True) as progress:
        with pytest.raises(UvdError, match="KEY=VALUE"):
            run_beam(recipe, store, units, progress, pipeline_options=["tokenizer_resource_hint=accelerator"])
        with pytest.raises(UvdError, match="build_resource_hint"):
            run_beam(recipe, store, units, progress, pipeline_options=["build_resource_hint=gpu"])
        with pytest.raises(UvdError, match="--layout 'fused'"):
            run_beam(recipe, store, units, progress, pipeline_options=["layout=fused"])
        with pytest.raises(UvdError, match="Ray cluster"):
            run_beam(recipe, store, units, progress, address="127.0.0.1:6379")
    assert not (tmp_path / "ledger").exists()


def test_resource_hints_land_on_their_own_step_only(recipe, tmp_path):
    """--build_resource_hint (for needs_gpu build stages) and --tokenizer_resource_hint reach the
    runner through the pipeline proto, each on its own step."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from uvd_pipeline.engines.beam_engine import build_pipeline
    from uvd_pipeline.engines.beam_runner import UvdBeamOptions

    opts = PipelineOptions(["--build_resource_hint=accelerator=type:nvidia-l4;count:1",
                            "--tokenizer_resource_hint=min_ram=8GB"])
    pipeline = beam.Pipeline(options=opts)
    build_pipeline(pipeline, recipe, OutputStore(str(tmp_path)), plan_units(recipe)[:1], opts.view_as(UvdBeamOptions), None)
    proto = pipeline.to_runner_api()
    hints = {
        t.unique_name: dict(proto.components.environments[t.environment_id].resource_hints)
        for t in proto.components.transforms.values()
        if t.environment_id and t.unique_name in ("Build/ParDo(BuildUnit)", "Tokenize/ParDo(Tokenize)", "Commit/ParDo(CommitUnit)")
    }
    assert hints["Build/ParDo(BuildUnit)"] == {"beam:resources:accelerator:v1": b"type:nvidia-l4;count:1"}
    assert hints["Tokenize/ParDo(Tokenize)"] == {"beam:resources:min_ram_bytes:v1": b"8000000000"}
    assert hints["Commit/ParDo(CommitUnit)"] == {}


def test_pipeline_args_from_the_command_line_and_from_python():
    assert pipeline_args(["runner=FlinkRunner", "save_main_session", "--flink_master=h:8081"]) == [
        "--runner=FlinkRunner", "--save_main_session", "--flink_master=h:8081"
    ]
    assert pipeline_args({"runner": "DataflowRunner", "save_main_session": True, "region": "eu"}) == [
        "--runner=DataflowRunner", "--save_main_session", "--region=eu"
    ]


def test_beam_options_are_refused_for_other_engines(recipe_file, tmp_path):
    cmd = [sys.executable, "-m", "uvd_pipeline", "run", str(recipe_file), "--out", str(tmp_path / "out"),
           "--engine", "local", "--beam-option", "runner=FlinkRunner", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--beam-option is for --engine beam" in proc.stderr
    assert not (tmp_path / "out").exists()
