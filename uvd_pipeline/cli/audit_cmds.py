"""`uvd audit` and `uvd preview`."""

from __future__ import annotations

from typing import Optional

import typer

from ..console.tables import json_wanted, write_json
from .app import EXIT_FAILED, app, console, err_console, fail


@app.command("audit")
def audit_cmd(
    directory: str = typer.Argument(..., help="output directory or URL"),
    targets: str = typer.Option("auto", help="uvdv1 | recipe | none | auto (the recipe's targets if it has any)"),
    tolerance: Optional[float] = typer.Option(None, min=0.0, help="allowed |share - target| / target (default: recipe's or 0.1)"),
    html_out: Optional[str] = typer.Option(None, "--html", help="write a self-contained HTML report here"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when a category's share is out of tolerance"),
    psnr: bool = typer.Option(False, "--psnr", help="decode the kept raw sample and report PSNR per task (loads the VQGAN)"),
    json_out: Optional[str] = typer.Option(None, "--json", help="also write the report as JSON to this file; `-`: JSON on stdout instead of the tables"),
) -> None:
    """Composition of a committed dataset: tokens, images and sequences by category, source, task and split; shares against targets; rejects by reason."""
    from ..audit.report import build_report, render_report
    from ..manifests.reader import Dataset

    ds = Dataset(directory)
    try:
        report = build_report(directory, targets=targets, tolerance=tolerance, dataset=ds)
    except ValueError as exc:
        fail(f"{directory}: {exc}")
    tokenizer = None
    if psnr:
        from ..exports.previews import load_dataset_tokenizer, preview_psnr

        tokenizer = load_dataset_tokenizer(ds)
        report.psnr = preview_psnr(ds, tokenizer)
        if not report.psnr:
            report.notes.append("no raw sample kept (previews/): run `uvd preview DIR --sample` for PSNR")
    if not json_wanted(json_out):
        render_report(report, console)
    write_json(report.to_dict(), json_out)
    if html_out:
        from ..audit.html import write_html

        write_html(report, html_out, ds, tokenizer)
        (err_console if json_wanted(json_out) else console).print(f"wrote {html_out}", highlight=False)
    bad = report.out_of_tolerance
    if strict and report.targets_name is None and not report.leaked_images:
        fail("--strict needs targets: pass --targets uvdv1 or give the recipe `targets:`")
    if strict and (bad or report.leaked_images):
        if report.leaked_images:
            err_console.print(f"[red]split leak:[/] {len(report.leaked_images)} image ids in both test and train sequences")
        for r in bad:
            err_console.print(
                f"[red]out of tolerance:[/] {r.key}: share {r.share:.4%} vs target {r.target:.4%} "
                f"(allowed ±{report.tolerance:.0%} of target)",
                highlight=False,
            )
        raise typer.Exit(EXIT_FAILED)


@app.command("preview")
def preview_cmd(
    directory: str = typer.Argument(..., help="output directory or URL"),
    sequence_id: Optional[str] = typer.Argument(None, help="sequence to decode (see the manifest)"),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="PNG to write the contact sheet to"),
    sample: bool = typer.Option(False, "--sample", help="(re)write the dataset's raw sample under previews/"),
    per_task: int = typer.Option(4, min=1, help="with --sample: sequences kept per task"),
) -> None:
    """Decode SEQUENCE_ID's tokens with the dataset's tokenizer into a contact sheet (raw above decoded where the raw sample has it), or with --sample keep a raw sample of every task."""
    from ..exports.previews import preview_sequence, write_raw_previews

    if sample:  # relative recipe paths resolve from where `uvd run` ran (previews/index.json), as in the run
        entries = write_raw_previews(directory, per_task=per_task)
        kept = [e for e in entries if "file" in e]
        console.print(f"kept {len(kept)} raw sequences under {directory}/previews ({len(entries) - len(kept)} missing)")
        if not sequence_id:
            return
    if not sequence_id or not out:
        fail("give SEQUENCE_ID and --out FILE.png (or --sample)")
    try:
        result = preview_sequence(directory, sequence_id, out)
    except KeyError as exc:
        fail(str(exc.args[0]))
    shown = f"; PSNR against raw {result['psnr']:.2f} dB" if result["psnr"] is not None else ""
    console.print(f"wrote {out}: {result['images']} decoded images{' under their raw images' if result['with_raw'] else ''}{shown}")
    from ..exports.previews import random_weights_preset
    from ..manifests.reader import Dataset

    preset = random_weights_preset(Dataset(directory))
    if preset:
        err_console.print(
            f"[yellow]note:[/] the decoded images come from a [bold]randomly initialised[/] VQGAN (preset {preset!r}): "
            "they are noise, not reconstructions of the raw images; build with tokenizer.checkpoint set to the LVM "
            "VQGAN for decoded pixels that mean something", highlight=False)
