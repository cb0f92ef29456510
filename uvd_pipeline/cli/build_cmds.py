"""`uvd run`, `uvd digest`, `uvd verify`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from .app import EXIT_FAILED, app, console, err_console

RANDOM_WEIGHTS_NOTE = (
    "[yellow]note:[/] this dataset was tokenized with a [bold]randomly initialised[/] VQGAN "
    "(preset {preset!r}): its tokens are meaningless for training. Point the recipe's "
    "tokenizer.checkpoint at the LVM VQGAN directory (config.json + pytorch_model.bin) for real tokens."
)


@app.command("run")
def run_cmd(
    recipe: str = typer.Argument(..., help="recipe YAML (local path or fsspec URL)"),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="output directory or URL (default: recipe's output)"),
    engine: str = typer.Option("ray", help="local | ray | beam"),
    workers: int = typer.Option(1, min=1, help="units processed at once"),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (default: start a local one)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
    beam_option: list[str] = typer.Option(
        [], "--beam-option", help="Beam pipeline option KEY=VALUE for --engine beam (repeatable), e.g. runner=FlinkRunner"
    ),
) -> None:
    """Build the dataset a RECIPE describes into OUT; committed units are skipped on a rerun."""
    from ..engines import run_recipe
    from ..recipe import load_recipe
    from .app import fail

    r = load_recipe(recipe)
    target = out or r.output
    if not target:
        fail(f"{recipe}: no output: pass --out DIR or set `output:` in the recipe")
    if beam_option and engine != "beam":
        fail("--beam-option is for --engine beam")
    extra = {"pipeline_options": beam_option} if beam_option else {}
    summary = run_recipe(r, target, engine=engine, workers=workers, address=address, quiet=quiet, **extra)
    totals = summary.dataset["totals"]
    table = Table(title=f"uvd run: {r.name} -> {target} ({engine}, {summary.seconds:.1f} s)")
    for col in ("units planned", "skipped (done)", "committed", "failed", "sequences", "images", "tokens", "rejected records"):
        table.add_column(col, justify="right")
    table.add_row(
        str(summary.planned), str(summary.skipped), str(summary.committed), str(len(summary.failures)),
        str(totals["sequences"]), str(totals["images"]), str(totals["tokens"]), str(totals["records_rejected"]),
    )
    console.print(table)
    if r.tokenizer.is_random:
        err_console.print(RANDOM_WEIGHTS_NOTE.format(preset=r.tokenizer.preset))
    if summary.failures:
        for unit, error in summary.failures:
            err_console.print(f"[red]failed unit[/] {unit}: {error}")
        err_console.print("rerun the same command to retry the failed units; committed ones are kept.")
        raise typer.Exit(EXIT_FAILED)


@app.command("digest")
def digest_cmd(directory: str = typer.Argument(..., help="output directory or URL")) -> None:
    """One hex digest of the dataset's content (sequence ids + tokens), independent of layout."""
    from ..manifests import dataset_digest, open_dataset

    console.print(dataset_digest(open_dataset(directory)), highlight=False)


@app.command("verify")
def verify_cmd(directory: str = typer.Argument(..., help="output directory or URL")) -> None:
    """Check every committed file against its checksum; exit 1 on any mismatch."""
    from ..manifests import open_dataset, verify_dataset

    problems = verify_dataset(directory)
    n_units = len(open_dataset(directory).ledger)
    if problems:
        for p in problems:
            err_console.print(f"[red]✗[/] {p}", highlight=False)
        err_console.print(f"{len(problems)} problem(s) in {directory}")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[green]✓[/] {directory}: {n_units} committed units verified")
