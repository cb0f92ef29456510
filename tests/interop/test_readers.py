"""The manifests load in DuckDB, Hugging Face `datasets`, pandas and polars with no uvd code:
through the Parquet roll-ups (`rollup/manifest/*.parquet`, `rollup/rejects/*.parquet`) and, where
the tool reads Arrow IPC files, through the per-unit manifests the ledger names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.manifests import open_dataset
from uvd_pipeline.recipe import parse_recipe

from ..tiny_world import make_tiny_world

DEMO = Path(__file__).resolve().parents[2] / "recipes" / "demo.yaml"

# The README's "tokens per source" query, verbatim but for the output path.
README_QUERY = """SELECT source, count(*) AS sequences, sum(n_tokens) AS tokens
FROM '{out}/rollup/manifest/*.parquet'
GROUP BY source ORDER BY tokens DESC"""


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """The demo recipe's two still-image sources (web_images, laion_subset) over a small world."""
    world = make_tiny_world(tmp_path_factory.mktemp("world"))
    demo = yaml.safe_load(DEMO.read_text())
    keep = {"web_images": "images", "laion_subset": "webdataset"}
    demo["sources"] = [s for s in demo["sources"] if s["name"] in keep]
    for s in demo["sources"]:
        s["params"]["path"] = str(world / keep[s["name"]])
    out = tmp_path_factory.mktemp("out")
    summary = run_recipe(parse_recipe(demo), str(out), engine="local", quiet=True)
    assert summary.failures == [] and summary.dataset["totals"]["sequences"] == 16
    return out


def _expected_tokens(out: Path) -> dict[str, int]:
    summary = json.loads((out / "dataset.json").read_text())
    return {src: row["tokens"] for src, row in summary["by"]["source"].items()}


def _committed_manifests(out: Path) -> list[str]:
    return [str(out / json.loads(p.read_text())["files"]["manifest"]["path"]) for p in sorted((out / "ledger").glob("*.json"))]


def test_readme_duckdb_query_runs_without_uvd(out):
    """The README snippet in a fresh interpreter where importing uvd_pipeline is impossible."""
    code = (
        "import sys; sys.modules['uvd_pipeline'] = None\n"
        "import duckdb, json\n"
        f"rows = duckdb.sql({README_QUERY.format(out=out)!r}).fetchall()\n"
        "print(json.dumps(rows))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout)
    assert {src: tokens for src, _n, tokens in rows} == _expected_tokens(out) == {"web_images": 8 * 256, "laion_subset": 8 * 256}
    assert [n for _src, n, _tok in rows] == [8, 8]


def test_duckdb_reads_rejects_and_ledger(out):
    import duckdb

    rejects = duckdb.sql(f"SELECT reason, count(*) FROM '{out}/rollup/rejects/*.parquet' GROUP BY reason ORDER BY reason").fetchall()
    assert sorted(rejects) == [("corrupt_image", 1), ("not_an_image", 1)]
    per_unit = duckdb.sql(
        f"SELECT unit, counts.records_read AS r, counts.records_used AS u, counts.records_rejected AS x "
        f"FROM read_json('{out}/ledger/*.json') ORDER BY unit"
    ).fetchall()
    assert len(per_unit) == 3 and all(r == u + x for _unit, r, u, x in per_unit)
    # the roll-up and the committed per-unit manifests (read through pyarrow) agree row for row
    import pyarrow as pa

    unit_tables = pa.concat_tables([pa.ipc.open_file(p).read_all() for p in _committed_manifests(out)])  # noqa: F841 (duckdb reads it by name)
    from_arrow = duckdb.sql("SELECT sequence_id FROM unit_tables ORDER BY sequence_id").fetchall()
    from_parquet = duckdb.sql(f"SELECT sequence_id FROM '{out}/rollup/manifest/*.parquet' ORDER BY sequence_id").fetchall()
    assert from_arrow == from_parquet and len(from_arrow) == 16


def test_huggingface_datasets_load_parquet_and_arrow(out, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    rollup = datasets.load_dataset("parquet", data_files=f"{out}/rollup/manifest/*.parquet", split="train")
    units = datasets.load_dataset("arrow", data_files=_committed_manifests(out), split="train")
    assert rollup.num_rows == units.num_rows == 16
    assert sorted(rollup["sequence_id"]) == sorted(units["sequence_id"])
    row = rollup[0]
    assert row["n_tokens"] == 256 * row["n_images"] and isinstance(row["image_ids"], list)
    by_source: dict[str, int] = {}
    for src, n in zip(rollup["source"], rollup["n_tokens"]):
        by_source[src] = by_source.get(src, 0) + n
    assert by_source == _expected_tokens(out)


def test_pandas_reads_manifests_and_tokens_with_numpy(out):
    import pandas as pd

    df = pd.read_parquet(out / "rollup" / "manifest")  # the folder of chunks
    assert df.groupby("source")["n_tokens"].sum().to_dict() == _expected_tokens(out)
    per_unit = pd.concat([pd.read_feather(p) for p in _committed_manifests(out)])
    assert sorted(per_unit["sequence_id"]) == sorted(df["sequence_id"])
    # tokens: the shard path and offset in each row, numpy alone
    ds = open_dataset(str(out))
    for row in df.itertuples():
        shard = np.load(out / row.shard, mmap_mode="r")
        tokens = shard[row.offset : row.offset + row.n_tokens]
        assert tokens.dtype == np.uint16 and np.array_equal(tokens, ds.tokens(row.sequence_id))


def test_polars_reads_parquet_and_ipc(out):
    pl = pytest.importorskip("polars")
    df = pl.read_parquet(f"{out}/rollup/manifest/*.parquet")
    totals = dict(df.group_by("source").agg(pl.col("n_tokens").sum()).iter_rows())
    assert totals == _expected_tokens(out)
    per_unit = pl.concat([pl.read_ipc(p) for p in _committed_manifests(out)])
    assert per_unit.height == df.height == 16 and per_unit.schema["image_ids"] == pl.List(pl.String)
    rejects = pl.read_parquet(f"{out}/rollup/rejects/*.parquet")
    assert sorted(rejects["reason"].to_list()) == ["corrupt_image", "not_an_image"]


def test_rollups_follow_the_ledger_after_a_resumed_run(out, tmp_path):
    """The roll-ups hold exactly the committed units: a unit whose ledger entry is missing (never
    committed) is left out, and enters once a rerun commits it; chunks whose units did not change
    are not rewritten."""
    import shutil

    import pyarrow.parquet as pq

    from uvd_pipeline.engines.base import write_dataset_summary
    from uvd_pipeline.manifests.store import OutputStore

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "ledger" / "laion_subset-000000.json").unlink()
    resolved = yaml.safe_load((copy / "recipe.resolved.yaml").read_text())
    recipe = parse_recipe(resolved["recipe"])
    summary = write_dataset_summary(OutputStore(str(copy)), recipe, resolved, planned=3)
    assert pq.read_table(copy / "rollup" / "manifest").num_rows == 12  # its data files are still there
    assert summary["rollups"]["manifest"] == {"rows": 12, "units": 2, "chunks": 2, "written": 1}  # laion chunk only
    web = copy / "rollup" / "manifest" / "web_images-000000.parquet"
    before = web.stat().st_mtime_ns

    run = run_recipe(recipe, str(copy), engine="local", quiet=True)
    assert run.committed == 1
    assert pq.read_table(copy / "rollup" / "manifest").num_rows == 16
    assert run.dataset["rollups"]["manifest"] == {"rows": 16, "units": 3, "chunks": 2, "written": 1}
    assert web.stat().st_mtime_ns == before  # the web_images chunk did not change: not rewritten
    assert sorted(p.name for p in (copy / "rollup" / "rejects").iterdir()) == ["laion_subset-000000.parquet", "web_images-000000.parquet"]
