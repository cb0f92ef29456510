"""The sheets a run writes while it builds (exports/run_previews.py): a process that remembers the
ranks of its committed units skips candidates they beat, yet every sequence of the final sample
still has its sheet; a new run starts from a clean memory. Real OutputStores and real runs."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.exports.run_previews import (
    PREVIEWS_PER_TASK,
    _rank,
    _raw_bytes,
    forget_committed,
    new_run_memory,
    remember_committed,
    write_unit_previews,
)
from uvd_pipeline.manifests.store import OutputStore
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.types import Image as Tile
from uvd_pipeline.types import VisualSequence


@pytest.fixture(autouse=True)
def clean_memory():
    forget_committed()
    yield
    forget_committed()


def _sequence(i: int, task: str) -> VisualSequence:
    tile = Tile(f"img{i}", np.full((256, 256, 3), i % 251, np.uint8))
    return VisualSequence(images=[tile], task=task, records=[f"r{i}"], id=f"seq{i:05d}")


def test_skipped_candidates_are_never_in_the_sample_and_most_are_skipped(tmp_path):
    rng = np.random.default_rng(7)
    units = [[_sequence(u * 40 + j, str(rng.choice(["a", "b", "c"]))) for j in range(40)] for u in range(60)]
    store, key = OutputStore(str(tmp_path)), new_run_memory()
    written = 0
    for unit in units:
        written += write_unit_previews(store, unit, memory=key)
        remember_committed(key, unit)
    names = {p.stem for p in (tmp_path / "previews").glob("*.npy")}  # raw candidates until the run ends
    assert written == len(names)
    for task in "abc":  # the global sample, by brute force over every sequence of the task
        ranked = sorted((s for unit in units for s in unit if s.task == task), key=lambda s: _rank(s.id))
        assert {s.id for s in ranked[:PREVIEWS_PER_TASK]} <= names, task
    every_candidate = 60 * 3 * PREVIEWS_PER_TASK
    assert written < every_candidate / 4, (written, every_candidate)  # ~4 (1 + ln 60) per task: ~61 of 720

    # without a memory, every unit writes all of its candidates
    other = OutputStore(str(tmp_path / "plain"))
    assert sum(write_unit_previews(other, unit) for unit in units) == every_candidate


def test_a_retried_unit_keeps_its_own_sheets(tmp_path):
    unit = [_sequence(i, "a") for i in range(10)]
    store, key = OutputStore(str(tmp_path)), new_run_memory()
    assert write_unit_previews(store, unit, memory=key) == PREVIEWS_PER_TASK
    remember_committed(key, unit)
    assert write_unit_previews(store, unit, memory=key) == PREVIEWS_PER_TASK  # the same unit built again


def _recipe(folder) -> dict:
    return {"name": "pv", "seed": 0, "tokenizer": {"preset": "tiny", "batch_size": 8},
            "sources": [{"name": "imgs", "plugin": "image_folder", "params": {"path": str(folder), "unit_size": 2},
                         "category": "unlabelled_images"}]}


def test_runs_in_one_process_keep_every_sheet_of_their_sample(tmp_path):
    """Two runs of one recipe into one output path, in one process, the second after the output and
    the images of the first run's sample were deleted: its sample is new, and each sheet is there
    (each run draws its own memory token: the first run's ranks do not carry over)."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(24):
        pixels = np.random.default_rng(i).integers(0, 255, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    out = tmp_path / "out"
    previews = out / "previews"

    run_recipe(parse_recipe(_recipe(folder)), str(out), engine="local", quiet=True)
    first = json.loads((previews / "index.json").read_text())["sequences"]
    assert len(first) == PREVIEWS_PER_TASK and all("file" in e for e in first), first

    manifest_records = _records_of(out, {e["sequence_id"] for e in first})
    shutil.rmtree(out)
    for record in manifest_records:
        (folder / record).unlink()
    run_recipe(parse_recipe(_recipe(folder)), str(out), engine="local", quiet=True)
    second = json.loads((previews / "index.json").read_text())["sequences"]
    assert {e["sequence_id"] for e in second}.isdisjoint(e["sequence_id"] for e in first)
    assert all("missing" not in e and (out / e["file"]).is_file() for e in second), second
    assert sorted(p.name for p in previews.iterdir()) == sorted([f"{e['sequence_id']}.png" for e in second] + ["index.json"])


def _records_of(out, sequence_ids: set[str]) -> list[str]:
    from uvd_pipeline.manifests import open_dataset

    rows = open_dataset(str(out)).manifest.to_pylist()
    return [r for row in rows if row["sequence_id"] in sequence_ids for r in row["records"]]


def test_a_candidate_that_is_not_a_sheet_is_reported_missing_and_removed(tmp_path, caplog):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    run_recipe(parse_recipe(_recipe(folder)), str(out), engine="local", quiet=True)
    entries = json.loads((out / "previews" / "index.json").read_text())["sequences"]
    from uvd_pipeline.exports.run_previews import finish_previews

    pickled = io.BytesIO()
    np.save(pickled, np.array([{"not": "a sheet"}], dtype=object), allow_pickle=True)
    for bad in (pickled.getvalue(), pickled.getvalue()[:40], b""):  # a pickle, a truncated header, empty
        victim = entries[0]["sequence_id"]
        (out / "previews" / f"{victim}.png").unlink()
        (out / "previews" / f"{victim}.npy").write_bytes(bad)
        caplog.clear()
        again = finish_previews(OutputStore(str(out)))
        assert [e["sequence_id"] for e in again if "missing" in e] == [victim]
        assert f"{victim}.npy" in caplog.text and "not a sheet" in caplog.text
        assert not list((out / "previews").glob("*.npy"))
        (out / "previews" / f"{victim}.npy").write_bytes(_raw_bytes(np.zeros((256, 256, 3), np.uint8)))
        entries = finish_previews(OutputStore(str(out)))  # a good candidate brings the sheet back
        assert not any("missing" in e for e in entries)


def test_commit_files_are_fsynced_and_preview_candidates_are_not(tmp_path, monkeypatch):
    """A unit's shard, manifest, rejects and ledger entry reach the disk before the entry is renamed
    into place; the preview candidates (derived, read back and checked by finish_previews) skip the
    fsync that would cost as much as the rest of the unit's commit."""
    import os

    import uvd_pipeline.manifests.store as store_module

    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).split(".tmp-")[0])
        real_fsync(fd)

    monkeypatch.setattr(store_module.os, "fsync", recording_fsync)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    run_recipe(parse_recipe(_recipe(folder)), str(out), engine="local", quiet=True)
    units = sorted(p.stem for p in (out / "ledger").glob("*.json"))
    assert len(units) == 2
    for unit in units:
        assert f"{unit}.json" in synced
        assert {n.split("-")[-1].split(".")[-1] for n in synced if n.startswith(unit + "-")} >= {"npy", "arrow"}
    assert not [n for n in synced if n.endswith(".npy") and not n.startswith(tuple(units))]  # no candidate
    assert list((out / "previews").glob("*.png"))  # the winners were written from the candidates
