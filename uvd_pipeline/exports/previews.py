"""Contact sheets of sequences: raw (the 256x256 images the tokenizer saw) and decoded (tokens put
back through the dataset's VQGAN decoder), and the PSNR between them.

The raw sample is kept under `previews/` in the output directory: for every task, the
`per_task` sequences with the smallest hash of their id, so the choice depends on content only,
never on engine, unit order or worker count. `write_raw_previews(out_dir)` is a post-step after a
run: it rebuilds only the units holding those sequences (a unit's build is deterministic) and
writes one lossless PNG sheet per sequence plus `previews/index.json`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import yaml
from PIL import Image as PILImage

from ..ids import unit_fraction
from ..manifests.reader import Dataset
from ..manifests.schema import RECIPE_FILE
from ..types import IMAGE_SIZE, TOKENS_PER_IMAGE

PREVIEWS_DIR = "previews"
INDEX_FILE = f"{PREVIEWS_DIR}/index.json"
SHEET_COLUMNS = 8
PAD = 4
BACKGROUND = 255


def contact_sheet(images: np.ndarray, cols: int = SHEET_COLUMNS, pad: int = PAD) -> np.ndarray:
    """[N, H, W, 3] uint8 -> one grid image, `cols` tiles a row, `pad` white pixels between tiles."""
    n, h, w = images.shape[:3]
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    sheet = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, 3), BACKGROUND, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        sheet[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return sheet


def sheet_tiles(sheet: np.ndarray, n: int, cols: int = SHEET_COLUMNS, pad: int = PAD, size: int = IMAGE_SIZE) -> np.ndarray:
    """The inverse of contact_sheet for `n` square tiles of `size` pixels."""
    cols = max(1, min(cols, n))
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[i] = sheet[r * (size + pad) : r * (size + pad) + size, c * (size + pad) : c * (size + pad) + size]
    return out


def png_bytes(pixels: np.ndarray) -> bytes:
    """A lossless PNG at zlib level 1: runs write a unit's candidate sheets on the build path, where
    level 6 cost about 4x as long for files ~15 % smaller (BENCHMARKS.md, build path)."""
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 arrays (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def resolved_recipe(ds: Dataset) -> dict[str, Any]:
    """The dataset's recipe.resolved.yaml (fingerprint, tokenizer hash and the recipe itself)."""
    if not ds.store.exists(RECIPE_FILE):
        from ..errors import DatasetError

        raise DatasetError(f"{ds.store.path(RECIPE_FILE)}: missing; cannot tell which recipe built this dataset")
    return yaml.safe_load(ds.store.read_text(RECIPE_FILE)) or {}


def load_dataset_tokenizer(ds: Dataset, device: str | None = None):
    """The VQGAN named by the dataset's resolved recipe; refuses a checkpoint whose hash changed."""
    from ..errors import DatasetError
    from ..pipeline.tokenize import load_tokenizer, tokenizer_fingerprint
    from ..recipe import TokenizerSpec

    resolved = resolved_recipe(ds)
    spec = TokenizerSpec.model_validate(resolved["recipe"]["tokenizer"])
    want = resolved.get("tokenizer_sha256")
    if want and tokenizer_fingerprint(spec) != want:
        raise DatasetError(
            f"{ds.store.path(RECIPE_FILE)}: tokenizer {spec.checkpoint or spec.preset} no longer matches the hash the "
            f"dataset was built with ({want[:12]}...); decoding would show the wrong pixels"
        )
    return load_tokenizer(spec, device)


def random_weights_preset(ds: Dataset) -> str | None:
    """The preset name when the dataset's tokenizer is randomly initialised (decoded pixels are
    then noise, not reconstructions), else None."""
    from ..recipe import TokenizerSpec

    spec = TokenizerSpec.model_validate(resolved_recipe(ds)["recipe"]["tokenizer"])
    return spec.preset if spec.is_random else None


def decode_tokens(tokenizer: Any, tokens: np.ndarray) -> np.ndarray:
    return tokenizer.decode(np.asarray(tokens).reshape(-1, TOKENS_PER_IMAGE))


def choose_preview_rows(ds: Dataset, per_task: int = 4) -> list[dict[str, Any]]:
    """Per task, the `per_task` manifest rows with the smallest hash of their sequence id (trimmed
    after every unit: memory for one unit and the chosen rows, whatever the dataset's size)."""
    cols = ["sequence_id", "unit", "source", "category", "task", "split", "n_images"]
    best: dict[str, list[dict[str, Any]]] = {}
    for m in ds.iter_tables("manifest"):
        for row in m.select(cols).to_pylist():
            best.setdefault(row["task"], []).append(row)
        for rows in best.values():
            rows.sort(key=lambda r: (unit_fraction("preview", r["sequence_id"]), r["sequence_id"]))
            del rows[per_task:]
    return [row for task in sorted(best) for row in best[task]]


def write_raw_previews(out_dir: str, per_task: int = 4, recipe: Any = None, units: list | None = None) -> list[dict[str, Any]]:
    """Write `previews/` for a committed dataset; returns the index entries. Call after a run
    (engines.base.run_recipe can pass its recipe and planned units to skip re-listing the inputs)."""
    from ..pipeline.build import UnitBuilder
    from ..pipeline.plan import plan_units
    from ..recipe import Recipe

    ds = Dataset(out_dir if "://" in out_dir else os.path.abspath(out_dir))  # the body may change directory
    if recipe is None:
        recipe = Recipe.model_validate(resolved_recipe(ds)["recipe"])
    chosen = choose_preview_rows(ds, per_task)
    wanted: dict[str, list[dict[str, Any]]] = {}
    for row in chosen:
        wanted.setdefault(row["unit"], []).append(row)
    # The recipe's relative paths mean what they meant to `uvd run`: resolve them from the directory
    # it was started in (kept in previews/index.json by the run), wherever this command runs.
    run_dir = run_directory(ds)
    builder = UnitBuilder(recipe)
    ds.store.makedirs(PREVIEWS_DIR)
    entries: list[dict[str, Any]] = []
    try:
        with working_directory(run_dir):
            planned = units if units is not None else plan_units(recipe, with_quotas=False)
            entries = _rebuild_sheets(ds, builder, {u.id: u for u in planned if u.id in wanted}, wanted)
    finally:
        builder.close()
    entries.sort(key=lambda e: (e["task"], unit_fraction("preview", e["sequence_id"])))
    index = {"per_task": per_task, "sequences": entries, **({"paths_relative_to": run_dir} if run_dir else {})}
    ds.store.write_text(INDEX_FILE, json.dumps(index, indent=1))
    return entries


def run_directory(ds: Dataset) -> str | None:
    """The directory `uvd run` was started in, as its previews/index.json records it."""
    if not ds.store.exists(INDEX_FILE):
        return None
    return json.loads(ds.store.read_text(INDEX_FILE)).get("paths_relative_to")


@contextlib.contextmanager
def working_directory(path: str | None) -> Iterator[None]:
    """Run the body from `path` (None, or a folder that is gone: stay where we are)."""
    if not path or not os.path.isdir(path):
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _rebuild_sheets(ds: Dataset, builder: Any, by_id: dict[str, Any], wanted: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for unit_id in sorted(wanted):
        built = builder.build(by_id[unit_id]) if unit_id in by_id else None
        sequences = {s.id: s for s in built.sequences} if built else {}
        for row in wanted[unit_id]:
            seq = sequences.get(row["sequence_id"])
            entry = {k: row[k] for k in ("sequence_id", "unit", "source", "category", "task", "split", "n_images")}
            if seq is None:
                entry["missing"] = "the unit no longer builds this sequence (inputs changed?)"
            else:
                rel = f"{PREVIEWS_DIR}/{row['sequence_id']}.png"
                ds.store.write_bytes(rel, png_bytes(contact_sheet(seq.pixels())))
                entry.update(file=rel, columns=SHEET_COLUMNS, pad=PAD)
            entries.append(entry)
    return entries


def preview_index(ds: Dataset) -> list[dict[str, Any]]:
    if not ds.store.exists(INDEX_FILE):
        return []
    return [e for e in json.loads(ds.store.read_text(INDEX_FILE))["sequences"] if "file" in e]


def raw_images(ds: Dataset, entry: dict[str, Any]) -> np.ndarray:
    sheet = np.asarray(PILImage.open(io.BytesIO(ds.store.read_bytes(entry["file"]))).convert("RGB"))
    return sheet_tiles(sheet, entry["n_images"], entry.get("columns", SHEET_COLUMNS), entry.get("pad", PAD))


def preview_sequence(out_dir: str, sequence_id: str, out_png: str, tokenizer: Any = None) -> dict[str, Any]:
    """Decode one sequence's tokens into a contact sheet at `out_png`. Where the build kept the
    raw sequence, the raw sheet is drawn above the decoded one and the PSNR is returned."""
    ds = Dataset(out_dir)
    raw = next((e for e in preview_index(ds) if e["sequence_id"] == sequence_id), None)
    tokens = ds.tokens(sequence_id, raw["unit"] if raw else None)  # a kept sample names its unit
    tokenizer = tokenizer or load_dataset_tokenizer(ds)
    decoded = decode_tokens(tokenizer, tokens)
    result: dict[str, Any] = {"sequence_id": sequence_id, "images": len(decoded), "psnr": None}
    sheet = contact_sheet(decoded)
    if raw is not None:
        raw_px = raw_images(ds, raw)
        result["psnr"] = psnr(raw_px, decoded)
        raw_sheet = contact_sheet(raw_px)
        gap = np.full((PAD * 4, sheet.shape[1], 3), BACKGROUND, np.uint8)
        sheet = np.concatenate([raw_sheet, gap, sheet])
    with open(out_png, "wb") as f:
        f.write(png_bytes(sheet))
    result["out"] = out_png
    result["with_raw"] = raw is not None
    return result


def preview_psnr(ds: Dataset, tokenizer: Any = None) -> dict[str, dict[str, float]]:
    """Per task: mean PSNR (dB) of decoded against raw over the kept raw sample."""
    entries = preview_index(ds)
    if not entries:
        return {}
    tokenizer = tokenizer or load_dataset_tokenizer(ds)
    per_task: dict[str, list[float]] = {}
    for e in entries:
        decoded = decode_tokens(tokenizer, ds.tokens(e["sequence_id"], e.get("unit")))
        per_task.setdefault(e["task"], []).append(psnr(raw_images(ds, e), decoded))
    return {t: {"sequences": len(v), "psnr_db": float(np.mean(v))} for t, v in sorted(per_task.items())}
