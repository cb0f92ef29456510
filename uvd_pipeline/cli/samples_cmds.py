"""`uvd samples make DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, console

samples_app = typer.Typer(help="The built-in sample world in real formats.", no_args_is_help=True)
app.add_typer(samples_app, name="samples")


@samples_app.command("make")
def samples_make(
    directory: Path = typer.Argument(..., help="where to write the sample world"),
    seed: int = typer.Option(0, help="the same seed writes the same files"),
) -> None:
    """Write sample images, webdataset tars and annotated data under DIRECTORY."""
    from ..samples import make_samples

    counts = make_samples(directory, seed=seed)
    console.print(f"wrote the sample world to [bold]{directory}[/]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
