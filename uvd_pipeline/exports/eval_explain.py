"""Why `uvd eval-prompts` wrote what it wrote: per evaluation task, the dataset tasks (or, for
video, the categories) that qualify, how many test and train sequences they hold, from which
sources, and, where a task gives no prompt, what to change."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class SplitCounts:
    """Sequences per (task, category, split), and the sources of each task, counted in passing."""

    def __init__(self) -> None:
        self.sequences: dict[tuple[str, str, str], int] = {}
        self.sources: dict[tuple[str, str], set[str]] = {}

    def seen(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for r in rows:
            key = (r["task"], r["category"], r["split"])
            self.sequences[key] = self.sequences.get(key, 0) + 1
            self.sources.setdefault((r["task"], r["category"]), set()).add(r["source"])
            yield r

    def count(self, split: str, tasks: tuple[str, ...] = (), categories: tuple[str, ...] = ()) -> int:
        return sum(n for (t, c, s), n in self.sequences.items() if s == split and (t in tasks or c in categories))

    def sources_of(self, tasks: tuple[str, ...] = (), categories: tuple[str, ...] = ()) -> list[str]:
        return sorted({src for (t, c), found in self.sources.items() if t in tasks or c in categories for src in found})

    def tasks_of(self, tasks: tuple[str, ...] = (), categories: tuple[str, ...] = ()) -> list[str]:
        return sorted({t for (t, c, _) in self.sequences if t in tasks or c in categories})


def _test_fraction_hint(sources: list[str]) -> str:
    return (f"set test_fraction (e.g. 0.1) on source(s) {', '.join(sources)} in the recipe and build it into a "
            "new --out (the split is part of the recipe)")


def explain(counts: SplitCounts, test: list[dict[str, Any]], by_task: dict[str, int], pairs: int, frames: int,
            pair_tasks: dict[str, tuple[str, ...]], video_categories: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per evaluation task: qualifying names, test/train sequences, usable test material, prompts,
    and `change` (empty when the task gave prompts)."""
    out: dict[str, dict[str, Any]] = {}
    need = pairs + 1
    for task, names in pair_tasks.items():
        rows = [r for r in test if r["task"] in names]
        usable = sum(r["n_images"] // 2 for r in rows if r["n_images"] % 2 == 0)
        info = {"qualifying_tasks": list(names), "found_tasks": counts.tasks_of(names),
                "sources": counts.sources_of(names), "test_sequences": counts.count("test", names),
                "train_sequences": counts.count("train", names), "test_pairs": usable, "needed": need,
                "prompts": by_task.get(task, 0)}
        if not info["found_tasks"]:
            info["change"] = (f"no sequence has task {' / '.join(names)}: give the source that holds {task} "
                              "(input, annotation) pairs one of these task names, with the pairs sequencer")
        elif not info["test_sequences"]:
            info["change"] = _test_fraction_hint(info["sources"])
        elif usable < need:
            info["change"] = (f"{usable} test pair(s), a prompt takes {need} (--pairs {pairs} + the query): lower "
                              f"--pairs{f' to {usable - 1}' if usable > 1 else ''}, or raise test_fraction on "
                              f"{', '.join(info['sources'])}")
        else:
            info["change"] = ""
        out[task] = info
    long_enough = sum(1 for r in test if r["category"] in video_categories and r["n_images"] >= frames + 1)
    longest = max((r["n_images"] for r in test if r["category"] in video_categories), default=0)
    info = {"qualifying_categories": list(video_categories), "sources": counts.sources_of(categories=video_categories),
            "test_sequences": counts.count("test", categories=video_categories),
            "train_sequences": counts.count("train", categories=video_categories),
            "test_clips_long_enough": long_enough, "needed_frames": frames + 1, "prompts": by_task.get("video", 0)}
    if not info["sources"]:
        info["change"] = f"no source of category {' / '.join(video_categories)}: add a video source to the recipe"
    elif not info["test_sequences"]:
        info["change"] = _test_fraction_hint(info["sources"])
    elif not long_enough:
        info["change"] = (f"test clips have at most {longest} frames, a prompt takes {frames + 1}: lower --frames "
                          f"to {max(longest - 1, 1)} or build longer clips (the source's `frames`)")
    else:
        info["change"] = ""
    out["video"] = info
    return out


def explanation_lines(tasks: dict[str, dict[str, Any]], only_empty: bool = True) -> list[str]:
    """One line per evaluation task (those without prompts when `only_empty`)."""
    lines = []
    for task, info in tasks.items():
        if only_empty and info["prompts"]:
            continue
        qualifies = ("tasks " + ", ".join(info["qualifying_tasks"]) if "qualifying_tasks" in info
                     else "category " + ", ".join(info["qualifying_categories"]))
        where = f" from {', '.join(info['sources'])}" if info["sources"] else ""
        line = (f"{task}: {info['prompts']} prompts; qualifying {qualifies}; {info['test_sequences']} test and "
                f"{info['train_sequences']} train sequences{where}")
        if info["change"]:
            line += f". To change: {info['change']}"
        lines.append(line)
    return lines
