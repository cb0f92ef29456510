"""Pieces of the self-contained HTML report: embedded images, plots, tables, contact sheets."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

TILE = 96  # pixels per image in the page's contact sheets


def _rich_to_html(text: str) -> str:
    """A console line with [red]/[green]/[yellow] markup as escaped HTML."""
    out = html.escape(text)
    for tag, cls in (("red", "out"), ("green", "ok"), ("yellow", "note-inline")):
        out = out.replace(f"[{tag}]", f'<span class="{cls}">')
    return out.replace("[/]", "</span>")


def _b64(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        from ..errors import UvdError

        raise UvdError("the HTML report draws its plots with matplotlib: pip install 'uvd-pipeline[audit]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _figure_png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _table(headers: list[str], rows: list[list[str]], total_last: bool = False) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"]
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return "\n".join(out) + "</table>"


def _sheet_jpeg(images: np.ndarray) -> bytes:
    from PIL import Image as PILImage

    from ..exports.previews import contact_sheet

    small = np.stack([np.asarray(PILImage.fromarray(im).resize((TILE, TILE), PILImage.BILINEAR)) for im in images])
    buf = io.BytesIO()
    PILImage.fromarray(contact_sheet(small, pad=2)).save(buf, format="JPEG", quality=88)
    return buf.getvalue()
