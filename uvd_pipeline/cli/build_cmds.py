"""`uvd run`, `uvd digest`, `uvd verify`."""

from __future__ import annotations

import logging
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..console.tables import json_wanted, write_json
from .app import EXIT_FAILED, EXIT_INTERRUPTED, app, console, warn

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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or info logs (as `uvd -q run`)"),
    unit_timeout: Optional[float] = typer.Option(
        None, "--unit-timeout", min=0.001,
        help="seconds a unit may take (default: no limit); an overrun is retried once in a fresh process, "
             "then the unit fails and the run goes on with the others (exit 1)"),
    oversubscribe: bool = typer.Option(
        False, "--oversubscribe", help="start --workers processes even where there are fewer CPUs (ray, beam)"),
    beam_option: list[str] = typer.Option(
        [], "--beam-option", help="Beam pipeline option KEY=VALUE for --engine beam (repeatable), e.g. runner=FlinkRunner"
    ),
    json_out: Optional[str] = typer.Option(None, "--json", help="write the run's summary as JSON to this file; `-`: on stdout instead of the tables"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when a source gives no sequences or loses most of its records to one reason"),
) -> None:
    """Build the dataset a RECIPE describes into OUT; committed units are skipped on a rerun."""
    from ..engines import run_recipe
    from ..recipe import load_recipe
    from .app import fail

    if quiet:
        from ..console.logs import set_quiet

        set_quiet()
    r = load_recipe(recipe)
    target = out or r.output
    if not target:
        fail(f"{recipe}: no output: pass --out DIR or set `output:` in the recipe")
    if beam_option and engine != "beam":
        fail("--beam-option is for --engine beam")
    extra: dict = {"pipeline_options": beam_option} if beam_option else {}
    if unit_timeout:
        extra["unit_timeout"] = unit_timeout
    if oversubscribe:
        extra["oversubscribe"] = True
    from ..engines.interrupt import forget, interrupted_message

    forget()
    try:
        summary = run_recipe(r, target, engine=engine, workers=workers, address=address, quiet=quiet, **extra)
    except KeyboardInterrupt:
        warn(f"[yellow]{interrupted_message()}[/]", "interrupted", logging.WARNING)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    from ..engines.outcome import source_outcomes, warnings

    flagged = warnings(source_outcomes(target, r, [u for u, _ in summary.failures]))
    if not json_wanted(json_out):
        print_run_summary(summary, title=f"uvd run: {r.name} -> {target} ({engine}, {summary.seconds:.1f} s)")
    write_json({**run_summary_dict(summary, r.name, target, engine), "warnings": [o.to_dict() for o in flagged]}, json_out)
    for o in flagged:
        fields = {k: v for k, v in o.to_dict().items() if k != "message"}
        warn(f"[yellow]warning:[/] {escape(o.message)}", "source_warning", logging.WARNING, **fields)
    if r.tokenizer.is_random:
        warn(RANDOM_WEIGHTS_NOTE.format(preset=r.tokenizer.preset), "random_weights", preset=r.tokenizer.preset)
    if summary.failures:
        for unit, error in summary.failures:
            warn(f"[red]failed unit[/] {unit}: {error}", "unit_failed", logging.ERROR, unit=unit, error=error)
        warn("rerun the same command to retry the failed units; committed ones are kept.", "hint")
        raise typer.Exit(EXIT_FAILED)
    if strict and flagged:
        warn(f"[red]--strict:[/] {len(flagged)} source(s) above gave no or few sequences", "strict_failed", logging.ERROR,
             sources=[o.source for o in flagged])
        raise typer.Exit(EXIT_FAILED)


def run_summary_dict(summary, recipe: str, out: str, engine: str) -> dict:
    """What `uvd run --json` prints: the run's units and the dataset's totals and groups."""
    return {
        "recipe": recipe, "out": out, "engine": engine, "seconds": round(summary.seconds, 3),
        "units": {"planned": summary.planned, "skipped": summary.skipped, "committed": summary.committed,
                  "failed": len(summary.failures)},
        "failures": [{"unit": u, "error": e} for u, e in summary.failures],
        "totals": summary.dataset.get("totals", {}),
        "by": summary.dataset.get("by", {}),
    }


def print_run_summary(summary, title: str) -> None:
    """Two narrow tables (they fit 80 columns): the units of this run, then what the dataset holds
    by category with token shares, records read and rejected."""
    totals = summary.dataset["totals"]
    units = Table(title=title)
    for col in ("units planned", "skipped (done)", "committed", "failed", "seconds"):
        units.add_column(col, justify="right")
    units.add_row(str(summary.planned), str(summary.skipped), str(summary.committed), str(len(summary.failures)),
                  f"{summary.seconds:.1f}")
    console.print(units)
    data = Table(title="dataset (all committed units)")
    for col in ("category", "sequences", "images", "tokens", "share"):
        data.add_column(col, justify="left" if col == "category" else "right")
    for cat, row in sorted(summary.dataset["by"]["category"].items()):
        share = row["tokens"] / totals["tokens"] if totals["tokens"] else 0.0
        data.add_row(cat, f"{row['sequences']:,}", f"{row['images']:,}", f"{row['tokens']:,}", f"{share:.2%}")
    data.add_row("total", f"{totals['sequences']:,}", f"{totals['images']:,}", f"{totals['tokens']:,}", "100.00%", style="bold")
    data.caption = (f"records read {totals['records_read']:,}, used {totals['records_used']:,}, "
                    f"rejected {totals['records_rejected']:,}")
    console.print(data)


@app.command("digest")
def digest_cmd(
    directory: str = typer.Argument(..., help="output directory or URL"),
    check_hashes: bool = typer.Option(True, "--check-hashes/--no-check-hashes",
                                      help="check every file read against its ledger sha256 (off: faster, trusts storage)"),
) -> None:
    """One hex digest of the dataset's content (sequence ids + tokens), independent of layout."""
    from ..manifests import dataset_digest, open_dataset
    from ..console.walk_progress import WalkProgress

    with WalkProgress("digest") as progress:
        digest = dataset_digest(open_dataset(directory, check_hashes=check_hashes), on_unit=progress)
    console.print(digest, highlight=False)


@app.command("verify")
def verify_cmd(directory: str = typer.Argument(..., help="output directory or URL")) -> None:
    """Check every committed file against its checksum; exit 1 on any mismatch."""
    from ..manifests import open_dataset, verify_dataset
    from ..console.walk_progress import WalkProgress

    from ..curation.verify import verify_curation

    with WalkProgress("verify") as progress:
        problems = verify_dataset(directory, on_unit=progress)
    problems += verify_curation(directory)
    if problems:
        for p in problems:
            warn(f"[red]✗[/] {p}", "verify_problem", logging.ERROR, problem=p)
        warn(f"{len(problems)} problem(s) in {directory}", "verify_failed", logging.ERROR, problems=len(problems))
        raise typer.Exit(EXIT_FAILED)
    n_units = len(open_dataset(directory).store.names("ledger", ".json"))  # the entries just verified; no re-read
    console.print(f"[green]✓[/] {directory}: {n_units} committed units verified")
