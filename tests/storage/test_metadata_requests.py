"""Object-store requests of the metadata commands grow by a fixed number per committed unit:
bench/metadata_scale.py at a tiny N on its own loopback S3 server (moto), counted at the HTTP level.

The bounds are what the code reads, not what was measured: a command that walks the dataset makes
one GET per file it needs per unit (a ledger entry, a manifest, a rejects table, a shard; no HEAD
before a GET), one LIST per 1,000 ledger entries, plus a fixed number of requests for the
output's own files (recipe, summary, seal, roll-ups, inventory). A HEAD or a second read of any
file per unit (N more requests) breaks them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

UNITS = 60
FIXED = 40  # the output's own files and listings, whatever N (31 at most when the bounds were set)
PER_UNIT = {  # GETs per unit, from what each command reads
    "plan": 0,  # the identity check (recipe, inventory) and one listing of the ledger: names only
    "verify": 4,  # ledger entry, manifest, rejects, shard
    "digest": 3,  # ledger entry, manifest, shard
    "audit": 5,  # ledger entry, manifest, rejects; then ledger entry and manifest for the split-leak check
    "jsonl": 3,  # ledger entry, manifest, shard
    "megatron": 3,
    "one": 0,  # one unit's entry, manifest and shard
    "summary": 3,  # ledger entry, manifest, rejects (roll-ups); PUTs per 1,000 units
}
BENCH = Path(__file__).resolve().parents[2] / "bench" / "metadata_scale.py"


def test_requests_per_unit_are_bounded(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--units", str(UNITS), "--root", str(tmp_path), "--s3"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(proc.stdout)["results"][0]
    assert row["units"] == UNITS
    for cmd, per_unit in PER_UNIT.items():
        result = row[cmd]
        assert "error" not in result, (cmd, result)
        requests = result["requests"]
        total = sum(requests.values())
        assert total <= per_unit * UNITS + FIXED, (cmd, requests)
        assert requests.get("HEAD", 0) <= FIXED // 2, (cmd, requests)  # no HEAD per unit file read
        if per_unit:  # it did walk the units: at least one GET per unit
            assert requests.get("GET", 0) >= UNITS, (cmd, requests)
