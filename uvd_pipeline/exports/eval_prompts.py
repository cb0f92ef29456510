"""`uvd eval-prompts`: the LVM paper's evaluation prompts, built from the held-out (test) split.

- Annotated-image tasks (segmentation, depth, surface normals, edges): 5 (input, annotation)
  pairs + one query input as the prompt; the query's annotation is the target. Pairs are read
  from test sequences laid out as input, annotation, input, annotation, ... (the pairs layout).
- Video: 7 frames as the prompt, the 8th frame as the target, from test sequences of the
  unlabelled-video category.

One JSON line per prompt: `{"prompt_id", "task", "kind", "tokens": base64(int32 LE) of the
prompt's images, "target": base64(int32 LE) of the target image, "context_images",
"sequence_ids", "image_ids"}` (image_ids: the prompt's, then the target's). Which pairs go
together is seeded, so the same dataset and seed give the same prompts.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np

from ..ids import rng_for
from ..manifests.reader import Dataset
from ..types import TOKENS_PER_IMAGE

#: evaluation task -> the dataset task names that hold its (input, annotation) pairs
PAIR_TASKS: dict[str, tuple[str, ...]] = {
    "segmentation": ("segmentation", "semantic_segmentation", "coco_segmentation", "seg"),
    "depth": ("depth", "depth_estimation"),
    "normals": ("normals", "surface_normals", "surface_normal", "normal"),
    "edges": ("edges", "edge_detection", "edge"),
}
VIDEO_CATEGORIES = ("unlabelled_videos",)


@dataclass
class PromptSummary:
    out: str
    by_task: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: per evaluation task: the dataset tasks that qualify, their test and train sequences, the
    #: sources that hold them, and what to change when it gives no prompt (eval_explain.py)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def prompts(self) -> int:
        return sum(self.by_task.values())


def _b64(tokens: np.ndarray) -> str:
    return base64.b64encode(np.asarray(tokens, "<i4").tobytes()).decode("ascii")


def _blocks(tokens: np.ndarray) -> list[np.ndarray]:
    return [tokens[i : i + TOKENS_PER_IMAGE] for i in range(0, tokens.size, TOKENS_PER_IMAGE)]


def _pairs(ds: Dataset, rows: list[dict[str, Any]], notes: list[str]) -> list[tuple[str, tuple[str, str], tuple[np.ndarray, np.ndarray]]]:
    """(sequence id, (input id, annotation id), (input tokens, annotation tokens)) from interleaved sequences."""
    out = []
    for r in rows:
        if r["n_images"] % 2:
            notes.append(f"sequence {r['sequence_id']} ({r['task']}) has {r['n_images']} images, not pairs; skipped")
            continue
        blocks = _blocks(np.asarray(ds.tokens(r["sequence_id"], r["unit"])))
        ids = r["image_ids"]
        for k in range(0, len(blocks), 2):
            out.append((r["sequence_id"], (ids[k], ids[k + 1]), (blocks[k], blocks[k + 1])))
    return out


def pair_prompts(ds: Dataset, rows: list[dict[str, Any]], task: str, pairs: int, seed: int, notes: list[str]) -> list[dict[str, Any]]:
    found = _pairs(ds, rows, notes)
    order = rng_for("eval-prompts", seed, task).permutation(len(found))
    group = pairs + 1
    prompts = []
    for start in range(0, len(order) - group + 1, group):
        chosen = [found[i] for i in order[start : start + group]]
        *context, query = chosen
        prompt_tokens = [t for _, _, (x, y) in context for t in (x, y)] + [query[2][0]]
        image_ids = [i for _, (a, b), _ in context for i in (a, b)] + [query[1][0], query[1][1]]
        prompts.append({
            "prompt_id": f"{task}-{len(prompts):05d}",
            "task": task,
            "kind": "pairs",
            "context_images": len(prompt_tokens),
            "tokens": _b64(np.concatenate(prompt_tokens)),
            "target": _b64(query[2][1]),
            "sequence_ids": list(dict.fromkeys(s for s, _, _ in chosen)),
            "image_ids": image_ids,
        })
    if len(found) % group:
        notes.append(f"{task}: {len(found) % group} test pair(s) left over (a prompt takes {group})")
    return prompts


def video_prompts(ds: Dataset, rows: list[dict[str, Any]], frames: int, notes: list[str]) -> list[dict[str, Any]]:
    prompts = []
    for r in sorted(rows, key=lambda r: r["sequence_id"]):
        if r["n_images"] < frames + 1:
            notes.append(f"video sequence {r['sequence_id']} has {r['n_images']} frames, fewer than {frames + 1}; skipped")
            continue
        blocks = _blocks(np.asarray(ds.tokens(r["sequence_id"], r["unit"])))
        prompts.append({
            "prompt_id": f"video-{len(prompts):05d}",
            "task": "video",
            "kind": "frames",
            "context_images": frames,
            "tokens": _b64(np.concatenate(blocks[:frames])),
            "target": _b64(blocks[frames]),
            "sequence_ids": [r["sequence_id"]],
            "image_ids": list(r["image_ids"][: frames + 1]),
        })
    return prompts


def build_eval_prompts(root: str, out: str, pairs: int = 5, frames: int = 7, seed: int = 0) -> PromptSummary:
    """Write the evaluation prompts of the test split of `root` to `out` (JSONL)."""
    if pairs < 1 or frames < 1:
        raise ValueError("pairs and frames must be >= 1")
    from .eval_explain import SplitCounts, explain

    ds = Dataset(root)
    cols = ["sequence_id", "unit", "source", "category", "task", "split", "n_images", "image_ids"]
    counts = SplitCounts()
    test = [r for m in ds.iter_tables("manifest") for r in counts.seen(m.select(cols).to_pylist()) if r["split"] == "test"]
    test.sort(key=lambda r: r["sequence_id"])
    summary = PromptSummary(out)
    prompts: list[dict[str, Any]] = []
    if not test:
        summary.notes.append("the dataset has no test split: set test_fraction on its sources")
    for task, names in PAIR_TASKS.items():
        rows = [r for r in test if r["task"] in names]
        if rows:
            got = pair_prompts(ds, rows, task, pairs, seed, summary.notes)
            summary.by_task[task] = len(got)
            prompts += got
    video = [r for r in test if r["category"] in VIDEO_CATEGORIES]
    if video:
        got = video_prompts(ds, video, frames, summary.notes)
        summary.by_task["video"] = len(got)
        prompts += got
    summary.tasks = explain(counts, test, summary.by_task, pairs, frames, PAIR_TASKS, VIDEO_CATEGORIES)
    with fsspec.open(out, "wt", compression="infer", encoding="utf-8") as f:
        for p in prompts:
            f.write(json.dumps(p) + "\n")
    return summary


def decode_prompt(line: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(record, prompt tokens, target tokens) of one JSONL line."""
    rec = json.loads(line)
    prompt = np.frombuffer(base64.b64decode(rec["tokens"]), "<i4")
    target = np.frombuffer(base64.b64decode(rec["target"]), "<i4")
    return rec, prompt, target
