"""`uvd tokenizer check`: what a compute precision does to a checkpoint's codes, before GPU-hours
are spent on it."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app import app, console

tokenizer_app = typer.Typer(help="The VQGAN tokenizer: fidelity checks of a checkpoint.", no_args_is_help=True)
app.add_typer(tokenizer_app, name="tokenizer")

DTYPES = ("bfloat16", "float16", "float32")


@tokenizer_app.command("check")
def check_cmd(
    checkpoint: Optional[str] = typer.Argument(None, help="checkpoint folder (config.json + weights) or URL"),
    dtype: str = typer.Option("bfloat16", help="precision to compare with float32: bfloat16 | float16 | float32"),
    preset: Optional[str] = typer.Option(None, help="instead of a checkpoint: random weights of a preset (tiny | lvm)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    tf32: bool = typer.Option(False, "--tf32", help="with --dtype float32 on CUDA: compare TF32 with IEEE float32"),
    images: int = typer.Option(8, min=1, max=64, help="photographs to encode"),
    batch_size: Optional[int] = typer.Option(None, min=1, max=256, help="images per forward (default: all of them)"),
    json_out: bool = typer.Option(False, "--json", help="print the figures as JSON instead of a table"),
) -> None:
    """Encode bundled photographs in float32 and in --dtype; print the share of equal codes, the
    codebook use and the reconstruction PSNR of the decoded codes, per precision."""
    from ..tokenizer import VQGAN
    from ..tokenizer.checkpoint import CheckpointError
    from ..tokenizer.fidelity import compare_precisions, photographs
    from .app import fail

    if dtype not in DTYPES:
        fail(f"--dtype: one of {', '.join(DTYPES)}, not {dtype!r}")
    if (checkpoint is None) == (preset is None):
        fail("give a CHECKPOINT folder, or --preset tiny|lvm for random weights (one of the two)")
    if tf32 and dtype != "float32":
        fail("--tf32 compares TF32 with IEEE float32: use it with --dtype float32")
    try:
        if checkpoint is not None:
            model = VQGAN.from_pretrained(checkpoint, device=device, dtype="float32")
        else:
            model = VQGAN.random(preset, seed=0, device=device, dtype="float32")
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        fail(f"{checkpoint or preset}: cannot load the tokenizer: {str(exc).splitlines()[0]}")
    origin, named = photographs(images, fallback=_sample_pictures)
    import numpy as np

    pixels = np.stack([p for _, p in named])
    model.batch_size = batch_size or len(pixels)  # no padded images in the timing
    reports = compare_precisions(model, pixels, ["float32+tf32" if tf32 else dtype])
    rows = [r.as_dict() for r in reports]
    if json_out:
        console.print_json(json.dumps({"checkpoint": checkpoint, "preset": preset, "device": str(model.device),
                                       "photographs": origin, "names": [n for n, _ in named], "results": rows}))
        return
    from rich.table import Table

    table = Table(title=f"{checkpoint or 'random ' + preset} on {model.device}: {len(named)} images ({origin})")
    for col in ("precision", "codes equal to float32", "images all equal", "codes used", "PSNR (dB)", "s/image"):
        table.add_column(col, justify="left" if col == "precision" else "right")
    for r in rows:
        table.add_row(r["dtype"], f"{r['agreement']:.2%}", f"{r['images_identical']}/{r['images']}",
                      f"{r['codes_used']} of {r['codebook_size']}", f"{r['psnr_db']:.2f}", f"{r['seconds_per_image']:.3f}")
    console.print(table)
    if checkpoint is None:
        console.print("random weights: the PSNR says nothing about a trained tokenizer; the agreement shows "
                      "what the precision does to the arithmetic")


def _sample_pictures(n: int):
    """The sample world's synthetic pictures, when scikit-image's photographs are not installed."""
    import numpy as np

    from ..samples.pictures import picture

    rng = np.random.default_rng(0)
    return [(f"picture{i:02d}", picture(rng, 320, 240)) for i in range(n)]
