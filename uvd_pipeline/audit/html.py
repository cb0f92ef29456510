"""The audit as one self-contained HTML page: matplotlib plots and contact sheets embedded as
base64 images, the report's tables, no external file or script.

A few lines of inline script count the page's images once it has loaded and write the counts
into `<body data-images-loaded data-images-broken>`, so a headless browser can check the page
really shows its plots.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from ..manifests.reader import Dataset
from .page import TILE, _b64, _figure_png, _matplotlib, _rich_to_html, _sheet_jpeg, _table  # noqa: F401 (TILE: kept importable)
from .report import GROUPS, AuditReport, fmt_int, fmt_share, near_leak_line

MAX_SHEETS_PER_TASK = 4

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
tr.total td{font-weight:bold}.ok{color:#137333}.out{color:#c5221f;font-weight:bold}
.plots img{max-width:520px;margin:.4em}.sheet{margin:.6em 0}.sheet img{display:block;image-rendering:pixelated}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.4em .8em}
"""

COUNT_IMAGES = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", String(ok));
  document.body.setAttribute("data-images-broken", String(imgs.length - ok));
});
"""










def make_plots(report: AuditReport) -> list[tuple[str, bytes]]:
    """(title, PNG bytes) for each plot the report has data for."""
    plt = _matplotlib()
    plots: list[tuple[str, bytes]] = []
    cats = report.groups["category"]
    if cats:
        fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.55 * len(cats)))
        y = np.arange(len(cats))
        ax.barh(y + 0.2, [r.share * 100 for r in cats], 0.4, label="share", color="#1a73e8")
        if report.targets_name:
            ax.barh(y - 0.2, [(r.target or 0) * 100 for r in cats], 0.4, label=f"target ({report.targets_name})", color="#9aa0a6")
        ax.set_yticks(y, [r.key for r in cats])
        ax.set_xlabel("% of tokens (x repeat)")
        if max((r.share for r in cats), default=0) > 0 and min((max(r.share, r.target or 0) for r in cats), default=1) < 0.01:
            ax.set_xscale("symlog", linthresh=0.01)
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title("token share by category")
        plots.append(("token share by category", _figure_png(fig)))
    sources = report.groups["source"]
    if sources:
        fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(sources)))
        y = np.arange(len(sources))
        train = [r.tokens * (1 - r.test_sequences / r.sequences) if r.sequences else 0 for r in sources]
        test = [r.tokens - t for r, t in zip(sources, train)]
        ax.barh(y, train, color="#1a73e8", label="train (approx. by sequences)")
        ax.barh(y, test, left=train, color="#f9ab00", label="test")
        ax.set_yticks(y, [r.key for r in sources])
        ax.invert_yaxis()
        ax.set_xlabel("tokens")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        ax.set_title("tokens by source")
        plots.append(("tokens by source", _figure_png(fig)))
    if report.lengths:
        tasks = sorted({r["task"] for r in report.lengths})
        fig, ax = plt.subplots(figsize=(6.5, 3))
        width = 0.8 / len(tasks)
        for i, task in enumerate(tasks):
            rows = [r for r in report.lengths if r["task"] == task]
            ax.bar([r["n_images"] + (i - (len(tasks) - 1) / 2) * width for r in rows], [r["sequences"] for r in rows], width, label=task)
        ax.set_xlabel("images per sequence")
        ax.set_ylabel("sequences")
        ax.set_xticks(range(1, 17))
        ax.legend(fontsize=8)
        ax.set_title("sequence lengths by task")
        plots.append(("sequence lengths by task", _figure_png(fig)))
    reasons = report.rejects_by_reason()
    if reasons:
        fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.4 * len(reasons)))
        ax.barh(range(len(reasons)), [n for _, n in reasons], color="#c5221f")
        ax.set_yticks(range(len(reasons)), [r for r, _ in reasons])
        ax.invert_yaxis()
        ax.set_xlabel("records")
        ax.set_title("rejects by reason")
        plots.append(("rejects by reason", _figure_png(fig)))
    return plots




def _group_table(report: AuditReport, g: str) -> str:
    has_target = g == "category" and report.targets_name is not None
    headers = [g, "sequences", "test", "images", "tokens", "tokens x repeat", "share"]
    if has_target:
        headers += ["target", "deviation", "status"]
    rows = []
    for r in report.groups[g] + [report.totals]:
        cells = [html.escape(r.key), fmt_int(r.sequences), fmt_int(r.test_sequences), fmt_int(r.images), fmt_int(r.tokens),
                 fmt_int(r.effective_tokens), fmt_share(r.share)]
        if has_target:
            status = "" if r.within is None else ('<span class="ok">ok</span>' if r.within else '<span class="out">OUT</span>')
            cells += [fmt_share(r.target), fmt_share(r.deviation, signed=True), status]
        rows.append(cells)
    return _table(headers, rows, total_last=True)




def contact_sheets(ds: Dataset, tokenizer: Any = None) -> str:
    """Per task, the kept raw sample (and, given a tokenizer, the decoded tokens beneath it)."""
    from ..exports.previews import decode_tokens, preview_index, psnr, raw_images

    entries = preview_index(ds)
    if not entries:
        return ('<p class="note">No raw sample was kept with this dataset: run '
                "<code>uvd preview DIR --sample</code> to write one.</p>")
    parts = []
    by_task: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_task.setdefault(e["task"], []).append(e)
    for task, items in by_task.items():
        parts.append(f"<h3>{html.escape(task)}</h3>")
        for e in items[:MAX_SHEETS_PER_TASK]:
            raw = raw_images(ds, e)
            caption = f"{html.escape(e['source'])} · {e['split']} · {e['n_images']} images · <code>{e['sequence_id']}</code>"
            imgs = f'<img alt="raw {e["sequence_id"]}" src="{_b64(_sheet_jpeg(raw), "image/jpeg")}">'
            if tokenizer is not None:
                decoded = decode_tokens(tokenizer, ds.tokens(e["sequence_id"], e.get("unit")))
                caption += f" · decoded PSNR {psnr(raw, decoded):.2f} dB"
                imgs += f'<img alt="decoded {e["sequence_id"]}" src="{_b64(_sheet_jpeg(decoded), "image/jpeg")}">'
            parts.append(f'<div class="sheet"><div>{caption}</div>{imgs}</div>')
    return "\n".join(parts)


def render_html(report: AuditReport, ds: Dataset, tokenizer: Any = None) -> str:
    title = f"uvd audit — {report.root}"
    body = [f"<h1>{html.escape(title)}</h1>"]
    for note in report.notes:
        body.append(f'<p class="note">{html.escape(note)}</p>')
    bad = report.out_of_tolerance
    if report.targets_name:
        verdict = (f'<span class="out">{len(bad)} categor{"y" if len(bad) == 1 else "ies"} out of tolerance: '
                   f'{html.escape(", ".join(r.key for r in bad))}</span>' if bad else '<span class="ok">every category within tolerance</span>')
        body.append(f"<p>Targets <b>{html.escape(report.targets_name)}</b>, tolerance ±{report.tolerance:.0%} of each target: {verdict}.</p>")
    n_test = sum(r.sequences for r in report.groups["split"] if r.key == "test")
    if report.leaked_images:
        body.append(f'<p class="out">Held-out split leaks: {len(report.leaked_images):,} image ids are in both test and '
                    f'train sequences, e.g. <code>{html.escape(report.leaked_images[0])}</code>.</p>')
    elif n_test:
        body.append(f'<p>Held-out split: {n_test:,} test sequences, <span class="ok">no image id shared with train</span>.</p>')
    if n_test and report.near_leaks is not None:
        body.append(f"<p>{_rich_to_html(near_leak_line(report.near_leaks))}</p>")
    body.append('<h2>Plots</h2><div class="plots">')
    for name, png in make_plots(report):
        body.append(f'<img alt="{html.escape(name)}" class="plot" src="{_b64(png, "image/png")}">')
    body.append("</div>")
    for g in GROUPS:
        body.append(f"<h2>By {g}</h2>{_group_table(report, g)}")
    body.append("<h2>Rejects</h2>")
    body.append(_table(["source", "reason", "records"], [[html.escape(r["source"]), html.escape(r["reason"]), fmt_int(r["records"])] for r in report.rejects])
                if report.rejects else "<p>No rejects.</p>")
    if report.curation is not None:
        from ..exports.previews import resolved_recipe
        from .curation_html import curation_html

        body.append(curation_html(report.curation, ds, resolved_recipe(ds).get("recipe", {})))
    if report.psnr:
        body.append("<h2>Decoded vs raw</h2>" + _table(["task", "sequences", "PSNR dB"],
                    [[html.escape(t), str(v["sequences"]), f"{v['psnr_db']:.2f}"] for t, v in report.psnr.items()]))
    body.append("<h2>Sample sequences</h2>")
    body.append(contact_sheets(ds, tokenizer))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style><script>{COUNT_IMAGES}</script></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html(report: AuditReport, path: str, ds: Dataset | None = None, tokenizer: Any = None) -> str:
    import fsspec

    ds = ds or Dataset(report.root)
    page = render_html(report, ds, tokenizer)
    with fsspec.open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
