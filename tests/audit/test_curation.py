"""The curation section of `uvd audit`: drops per source and reason from the rejects tables, the
cluster-size histogram, the tokens-saved estimate, in the console, --json and the HTML report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.audit.curated import curated_output, split_output
from uvd_pipeline.audit.report import build_report
from uvd_pipeline.curation.ledger import read_checked, read_decisions_summary
from uvd_pipeline.manifests import Dataset

pytest.importorskip("skimage")


def decided_rows(out) -> list[dict]:
    ds = Dataset(str(out))
    rows = []
    for unit, info in read_decisions_summary(ds.store)["units"].items():
        rows += [{"unit": unit, **r} for r in read_checked(ds.store, info).to_pylist()]
    return rows


def test_drops_by_source_and_reason_match_the_decision_files(tmp_path_factory):
    _, out = curated_output(tmp_path_factory)
    section = build_report(str(out)).curation
    assert section is not None and section.decided
    want: dict[tuple[str, str], int] = {}
    for r in decided_rows(out):
        key = (r["unit"].rsplit("-", 1)[0], r["reason"])
        want[key] = want.get(key, 0) + 1
    got = {(row["source"], reason): row[reason] for row in section.by_source for reason in
           ("duplicate", "near_duplicate", "eval_contamination", "filtered") if row[reason]}
    assert got == want == {("web", "duplicate"): 1, ("web", "near_duplicate"): 1, ("web", "eval_contamination"): 1,
                           ("web", "filtered"): 1, ("more", "near_duplicate"): 1}
    assert section.totals["dropped"] == 5
    # single images: every record used makes one 256-token sequence, so a dropped record saves 256
    web = next(r for r in section.by_source if r["source"] == "web")
    assert web["tokens_per_record"] == 256 and web["tokens_saved"] == 4 * 256
    assert web["saved_share"] == pytest.approx(4 / (4 + web["records_used"]))
    assert section.totals["tokens_saved"] == 5 * 256
    assert section.totals["saved_share"] == pytest.approx(5 / (5 + 6))  # 11 records, 6 built
    assert section.cluster_sizes == {"2": 4} and section.stats["clusters"] == 4
    assert section.settings == {"dedup": True, "threshold": 4, "eval_sets": ["val"], "filters": ["image_stats"],
                                "skip_sources": []}


def test_uvd_audit_prints_and_writes_the_curation_figures(tmp_path_factory, tmp_path):
    _, out = curated_output(tmp_path_factory)
    js = tmp_path / "audit.json"
    res = subprocess.run([sys.executable, "-m", "uvd_pipeline", "audit", str(out), "--json", str(js)],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "220"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "curation: records dropped before the build" in res.stdout
    assert "clusters by size (records): 2: 4" in res.stdout and "tokens saved = records dropped x" in res.stdout
    cur = json.loads(js.read_text())["curation"]
    assert cur["totals"]["dropped"] == 5 and cur["cluster_sizes"] == {"2": 4}
    assert cur["stats"]["dropped_by_reason"] == {"duplicate": 1, "eval_contamination": 1, "filtered": 1, "near_duplicate": 2}


def test_no_curation_files_no_section(tmp_path_factory, tmp_path):
    import shutil

    from uvd_pipeline.audit.html import render_html

    _, built = split_output(tmp_path_factory)
    out = tmp_path / "plain"
    shutil.copytree(built, out, ignore=shutil.ignore_patterns("curation"))
    report = build_report(str(out))
    assert report.curation is None and report.to_dict()["curation"] is None
    assert "<h2>Curation</h2>" not in render_html(report, Dataset(str(out)))


def test_the_section_streams(tmp_path_factory, monkeypatch):
    _, out = curated_output(tmp_path_factory)

    class Refuse:
        def __get__(self, obj, cls):
            raise AssertionError("loaded the whole manifest")

    monkeypatch.setattr(Dataset, "manifest", Refuse())
    monkeypatch.setattr(Dataset, "rejects", lambda self: (_ for _ in ()).throw(AssertionError("loaded all rejects")))
    assert build_report(str(out)).curation.totals["dropped"] == 5
