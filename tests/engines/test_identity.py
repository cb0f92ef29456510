"""A resumed run keeps the identity pinned at its first run: the tokenizer checkpoint, the effective
tokenizer (device, dtype, TF32, torch) and the unit inventory; a resume that differs is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from uvd_pipeline.engines import run_recipe
from uvd_pipeline.engines.identity import INVENTORY_FILE, effective_tokenizer
from uvd_pipeline.errors import RecipeError
from uvd_pipeline.manifests import dataset_digest, open_dataset
from uvd_pipeline.manifests.verify import verify_dataset
from uvd_pipeline.pipeline.tokenize import TokenizerStage
from uvd_pipeline.recipe import parse_recipe
from uvd_pipeline.tokenizer import VQGAN

from .helpers import ray_cluster  # noqa: F401  (fixture)


def _folder(root: Path, n: int, seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def _recipe(images: Path, **tokenizer) -> dict:
    return {
        "name": "identity",
        "tokenizer": {"preset": "tiny", "batch_size": 2, **tokenizer},
        "sources": [{"name": "img", "plugin": "image_folder", "params": {"path": str(images), "unit_size": 2},
                     "category": "unlabelled_images"}],
    }


def _run(recipe: dict, out: Path, engine: str = "local"):
    return run_recipe(parse_recipe(recipe), str(out), engine=engine, quiet=True)


def _killed_after_first_units(out: Path, keep: int = 1) -> None:
    """What a kill leaves: some units committed, the rest not (their ledger entries absent)."""
    for entry in sorted((out / "ledger").iterdir())[keep:]:
        entry.unlink()


def _uvd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uvd_pipeline", *args], capture_output=True, text=True)


def test_identity_is_pinned_and_round_trips(tmp_path):
    images = _folder(tmp_path / "images", 2)
    recipe = _recipe(images, dtype="bfloat16")
    _run(recipe, tmp_path / "out")
    out = tmp_path / "out"
    expected = {"device": "cpu", "dtype": "bfloat16", "tf32": False, "torch": torch.__version__}
    resolved = yaml.safe_load((out / "recipe.resolved.yaml").read_text())
    assert resolved["tokenizer_identity"] == expected
    assert resolved["recipe"]["tokenizer"]["dtype"] == "bfloat16"
    assert json.loads((out / "dataset.json").read_text())["tokenizer"]["identity"] == expected
    entries = [json.loads(p.read_text()) for p in sorted((out / "ledger").iterdir())]
    assert len(entries) == 1 and all(e["tokenizer"] == expected for e in entries)
    assert verify_dataset(str(out)) == []
    # The stage the engines load runs what was recorded, and its codes are bf16's, not float32's.
    stage = TokenizerStage(parse_recipe(recipe).tokenizer)
    assert stage.identity == expected and stage.model.dtype == torch.bfloat16
    assert effective_tokenizer(parse_recipe(recipe), "local") == expected
    pixels = np.stack([np.asarray(Image.open(p).convert("RGB").resize((256, 256))) for p in sorted(images.iterdir())])
    assert not np.array_equal(stage.encode(pixels), TokenizerStage(parse_recipe(_recipe(images)).tokenizer).encode(pixels))
    inventory = json.loads((out / INVENTORY_FILE).read_text())
    assert sorted(inventory["units"]) == ["img-000000"] and len(inventory["root"]) == 32


def test_precision_defaults_keep_the_fingerprint(tmp_path):
    plain = parse_recipe(_recipe(tmp_path))
    explicit = parse_recipe(_recipe(tmp_path, dtype="float32", tf32=False))
    assert plain.fingerprint() == explicit.fingerprint()
    assert "dtype" not in plain.to_dict()["tokenizer"] and "tf32" not in plain.to_dict()["tokenizer"]
    assert parse_recipe(_recipe(tmp_path, dtype="float16")).fingerprint() != plain.fingerprint()
    with pytest.raises(RecipeError, match="tokenizer: tf32: applies to dtype float32 only"):
        parse_recipe(_recipe(tmp_path, dtype="bfloat16", tf32=True))


def test_resume_with_a_changed_dtype_is_refused_with_exit_2(tmp_path):
    images = _folder(tmp_path / "images", 4)
    out = tmp_path / "out"
    _run(_recipe(images), out)
    _killed_after_first_units(out)
    changed = tmp_path / "bf16.yaml"
    changed.write_text(yaml.safe_dump(_recipe(images, dtype="bfloat16")))
    res = _uvd("run", str(changed), "--out", str(out), "--engine", "local", "-q")
    assert res.returncode == 2, res.stderr
    said = " ".join(res.stderr.split())  # rich wraps long lines
    assert "different recipe" in said and "new --out" in said
    assert len(list((out / "ledger").iterdir())) == 1  # nothing was added to the output


def test_resume_on_another_effective_tokenizer_is_refused(tmp_path):
    """As if the first run had been on a GPU in bf16 (its pinned identity), resumed here on a CPU."""
    images = _folder(tmp_path / "images", 4)
    out = tmp_path / "out"
    _run(_recipe(images), out)
    _killed_after_first_units(out)
    resolved_file = out / "recipe.resolved.yaml"
    resolved = yaml.safe_load(resolved_file.read_text())
    resolved["tokenizer_identity"] = {**resolved["tokenizer_identity"], "device": "cuda", "torch": "2.99.0"}
    resolved_file.write_text(yaml.safe_dump(resolved, sort_keys=False))
    with pytest.raises(RecipeError) as info:
        _run(_recipe(images), out)
    message = str(info.value)
    assert "effective tokenizer changed" in message and "float32 on cuda, torch 2.99.0" in message
    assert f"float32 on cpu, torch {torch.__version__}" in message and "new --out" in message
    assert len(list((out / "ledger").iterdir())) == 1


def test_swapped_checkpoint_between_kill_and_resume_is_refused(tmp_path):
    images = _folder(tmp_path / "images", 4)
    ckpt = tmp_path / "vqgan"
    VQGAN.random("tiny", seed=0).save_pretrained(ckpt)
    recipe = _recipe(images, checkpoint=str(ckpt))
    out = tmp_path / "out"
    _run(recipe, out)
    first_sha = yaml.safe_load((out / "recipe.resolved.yaml").read_text())["tokenizer_sha256"]
    _killed_after_first_units(out)
    shutil.rmtree(ckpt)
    VQGAN.random("tiny", seed=1).save_pretrained(ckpt)  # same path, other weights
    with pytest.raises(RecipeError) as info:
        _run(recipe, out)
    message = str(info.value)
    assert "checkpoint changed" in message and first_sha in message and "new --out" in message
    assert len(list((out / "ledger").iterdir())) == 1
    assert json.loads((out / "dataset.json").read_text())["tokenizer"]["sha256"] == first_sha


@pytest.mark.parametrize("change", ["added", "removed"])
def test_inputs_changed_between_kill_and_resume_are_refused(tmp_path, change):
    images = _folder(tmp_path / "images", 5)
    out = tmp_path / "out"
    _run(_recipe(images), out)
    uninterrupted = dataset_digest(open_dataset(str(out)))
    _killed_after_first_units(out)
    if change == "added":  # sorts first: every unit's files shift by one
        Image.new("RGB", (8, 8), (200, 10, 10)).save(images / "000-new.png")
    else:
        (images / "002.png").unlink()
    with pytest.raises(RecipeError) as info:
        _run(_recipe(images), out)
    message = str(info.value)
    assert "inputs changed since the first run" in message and "new --out" in message
    if change == "added":
        assert "units that read other inputs: 3 (img-000000, img-000001, img-000002)" in message
    else:
        assert "units that read other inputs: 1 (img-000001), units gone: 1 (img-000002)" in message
    assert len(list((out / "ledger").iterdir())) == 1
    if change == "removed":  # put back as it was, the same resume finishes the uninterrupted dataset
        _folder(tmp_path / "again", 5)
        shutil.copy(tmp_path / "again" / "002.png", images / "002.png")
        summary = _run(_recipe(images), out)
        assert summary.failures == [] and summary.committed == 2 and summary.skipped == 1
        assert dataset_digest(open_dataset(str(out))) == uninterrupted


def test_ray_records_the_identity_and_refuses_a_changed_inventory(ray_cluster, tmp_path):  # noqa: F811
    images = _folder(tmp_path / "images", 4)
    out = tmp_path / "out"
    summary = _run(_recipe(images), out, engine="ray")
    assert summary.failures == []
    pinned = yaml.safe_load((out / "recipe.resolved.yaml").read_text())["tokenizer_identity"]
    assert pinned["device"] == "cpu" and pinned["dtype"] == "float32"
    assert all(json.loads(p.read_text())["tokenizer"] == pinned for p in (out / "ledger").iterdir())
    _killed_after_first_units(out)
    (images / "003.png").unlink()
    with pytest.raises(RecipeError, match=r"units that read other inputs: 1 \(img-000001\)"):
        _run(_recipe(images), out, engine="ray")


def test_device_kind_follows_the_engine_rules(tmp_path):
    """Where each engine puts the tokenizer decides the recorded device (no GPU needed to say so)."""
    auto = parse_recipe(_recipe(tmp_path))
    cuda = parse_recipe(_recipe(tmp_path, device="cuda"))
    here = "cuda" if torch.cuda.is_available() else "cpu"
    assert effective_tokenizer(auto, "local")["device"] == here
    assert effective_tokenizer(cuda, "local") == {"device": "cuda", "dtype": "float32", "tf32": False,
                                                  "torch": str(torch.__version__)}
    assert effective_tokenizer(parse_recipe(_recipe(tmp_path, device="cuda", tf32=True)), "local")["tf32"] is True
    assert effective_tokenizer(parse_recipe(_recipe(tmp_path, tf32=True)), "local")["tf32"] is (here == "cuda")
    # Beam: the tokenizer_device pipeline option overrides the recipe's device.
    assert effective_tokenizer(cuda, "beam", pipeline_options=["tokenizer_device=cpu"])["device"] == "cpu"
    assert effective_tokenizer(auto, "beam", pipeline_options=["--tokenizer_device=cuda"])["device"] == "cuda"


def test_an_output_begun_before_inventories_gets_one_and_resumes(tmp_path):
    images = _folder(tmp_path / "images", 4)
    out = tmp_path / "out"
    _run(_recipe(images), out)
    pinned = (out / INVENTORY_FILE).read_text()
    _killed_after_first_units(out)
    (out / INVENTORY_FILE).unlink()  # as an output written before inventory.json existed
    summary = _run(_recipe(images), out)
    assert summary.failures == [] and summary.committed == 1 and summary.skipped == 1
    assert (out / INVENTORY_FILE).read_text() == pinned


def test_the_inventory_check_and_the_pending_units_agree_with_the_pinned_files(tmp_path):
    """same_inventory is the unit-by-unit form of `pinned == unit_hashes(units)`; pending_units
    names the units without a ledger entry (temporary entries do not count), in plan order."""
    from uvd_pipeline.engines.identity import pending_units, same_inventory, unit_hashes
    from uvd_pipeline.manifests.store import OutputStore
    from uvd_pipeline.types import WorkUnit

    units = [WorkUnit(f"src-{i:03d}", "src", i, {"files": [f"{i}.jpg"]}) for i in range(6)]
    pinned = json.loads(json.dumps(unit_hashes(units)))  # as read back from inventory.json
    assert same_inventory(pinned, units)
    renamed = [*units[:5], WorkUnit("src-005", "src", 5, {"files": ["5b.jpg"]})]
    for planned, pin in ((renamed, pinned), (units[:5], pinned), (units, {**pinned, "src-009": "0" * 16}),
                         (units, list(pinned.values())), ([], {})):
        assert same_inventory(pin, planned) == (pin == unit_hashes(planned)), (planned, pin)
    store = OutputStore(str(tmp_path))
    store.makedirs("ledger")
    for name in ("src-001.json", "src-004.json", "src-002.json.tmp-1a2b", "src-003.txt"):
        (tmp_path / "ledger" / name).write_text("{}")
    assert [u.id for u in pending_units(store, units)] == ["src-000", "src-002", "src-003", "src-005"]
