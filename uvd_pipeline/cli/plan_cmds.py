"""`uvd plan`: a dry run of a recipe (nothing decoded, nothing tokenized)."""

from __future__ import annotations

from typing import Optional

import typer

from ..console.tables import json_wanted, write_json
from .app import app, console


@app.command("plan")
def plan_cmd(
    recipe: str = typer.Argument(..., help="recipe YAML (local path or fsspec URL)"),
    gpu_images_per_s: Optional[float] = typer.Option(
        None, "--gpu-images-per-s", help="tokenizer throughput per GPU (default: the LVM VQGAN estimate for the recipe's tokenizer.dtype)"
    ),
    units: bool = typer.Option(False, "--units", help="list every work unit"),
    json_out: Optional[str] = typer.Option(None, "--json", help="also write the plan as JSON to this file; `-`: JSON on stdout instead of the tables"),
    sizes: Optional[str] = typer.Option(
        None, "--sizes", help="YAML of declared record counts per source: plan at full scale without the data (audit/sizes.py)"
    ),
) -> None:
    """Predict, per source, category and task, the sequences, images and tokens RECIPE will build, the shares against its targets, and the GPU-hours of tokenization."""
    from ..audit.planner import make_plan, render_plan
    from ..recipe import load_recipe
    from .app import fail

    if gpu_images_per_s is not None and gpu_images_per_s <= 0:
        fail(f"--gpu-images-per-s must be > 0, got {gpu_images_per_s}")
    if sizes:
        from ..audit.sizes import load_sizes, plan_from_sizes

        plan = plan_from_sizes(load_recipe(recipe), load_sizes(sizes), gpu_images_per_s, origin=sizes)
    else:
        plan = make_plan(load_recipe(recipe), gpu_images_per_s)
    if not json_wanted(json_out):
        render_plan(plan, console, show_units=units)
    write_json(plan.to_dict(), json_out)
