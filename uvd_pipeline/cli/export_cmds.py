"""`uvd export` (LVM JSONL, Megatron) and `uvd eval-prompts`."""

from __future__ import annotations

from typing import Optional

import typer

from .app import app, console, fail

FORMATS = ("lvm-jsonl", "megatron")


@app.command("export")
def export_cmd(
    directory: str = typer.Argument(..., help="output directory or URL"),
    fmt: str = typer.Option(..., "--format", help="lvm-jsonl | megatron"),
    out: str = typer.Option(..., "--out", "-o", help="JSONL file, or the Megatron prefix (writes PREFIX.bin + PREFIX.idx)"),
    split: str = typer.Option("train", help="train | test | all"),
    bos: Optional[int] = typer.Option(None, help="BOS id written before each sequence (LVM: 8192)"),
    eos: Optional[int] = typer.Option(None, help="EOS id written after each sequence (LVM: 8193)"),
    repeat: bool = typer.Option(True, "--repeat/--no-repeat", help="write each sequence `repeat` times, as the recipe says"),
    shuffle: bool = typer.Option(False, "--shuffle", help="lvm-jsonl: one seeded global order of all lines (bounded memory)"),
    seed: int = typer.Option(0, "--seed", help="--shuffle: the order's seed"),
    shuffle_memory_mb: int = typer.Option(1024, "--shuffle-memory-mb", min=1, help="--shuffle: most MiB of lines held in memory"),
    tmp_dir: Optional[str] = typer.Option(None, "--tmp-dir", help="--shuffle: scratch folder (needs about the export's size)"),
    check_hashes: bool = typer.Option(True, "--check-hashes/--no-check-hashes",
                                      help="check every file read against its ledger sha256 (off: faster, trusts storage)"),
) -> None:
    """Export committed sequences for a trainer."""
    from ..exports import export_lvm_jsonl, export_megatron

    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    run = export_lvm_jsonl if fmt == "lvm-jsonl" else export_megatron
    if shuffle:
        if fmt != "lvm-jsonl":
            fail("--shuffle is for --format lvm-jsonl (Megatron's loader shuffles documents itself)")
        from functools import partial

        from ..exports.shuffle import export_lvm_jsonl_shuffled

        run = partial(export_lvm_jsonl_shuffled, seed=seed, max_bucket_bytes=shuffle_memory_mb << 20, tmp_dir=tmp_dir)
    from ..console.walk_progress import WalkProgress

    try:
        with WalkProgress("export") as progress:
            summary = run(directory, out, split=split, bos=bos, eos=eos, repeat=repeat, on_unit=progress,
                          check_hashes=check_hashes)
    except ValueError as exc:
        fail(str(exc))
    console.print(
        f"{fmt}: {summary.sequences:,} sequences, {summary.tokens:,} tokens ({split}) -> {', '.join(summary.files)}",
        highlight=False,
    )


@app.command("eval-prompts")
def eval_prompts_cmd(
    directory: str = typer.Argument(..., help="output directory or URL"),
    out: str = typer.Option(..., "--out", "-o", help="JSONL file of prompts"),
    pairs: int = typer.Option(5, min=1, help="(input, annotation) pairs before the query"),
    frames: int = typer.Option(7, min=1, help="video frames before the predicted one"),
    seed: int = typer.Option(0, help="which pairs go together"),
) -> None:
    """Build the LVM paper's evaluation prompts from the held-out (test) split."""
    from ..exports.eval_prompts import build_eval_prompts

    from rich.markup import escape

    from ..exports.eval_explain import explanation_lines

    summary = build_eval_prompts(directory, out, pairs=pairs, frames=frames, seed=seed)
    shown = ", ".join(f"{t} {n}" for t, n in summary.by_task.items()) or "none"
    console.print(f"wrote {summary.prompts} prompts to {out}: {shown}", highlight=False)
    for note in summary.notes[:20]:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    # Why a task has no prompt: every task when there are none at all, else the empty ones.
    for line in explanation_lines(summary.tasks, only_empty=True):
        console.print(f"[yellow]{'why' if not summary.prompts else 'no prompts'}:[/] {escape(line)}", highlight=False)
