"""Roll-ups stream the ledger one chunk at a time when unit ids visit chunks in order, and group
in memory when they do not (issue 17.2)."""

import pyarrow.parquet as pq
import pytest

from uvd_pipeline.manifests import OutputStore, open_dataset
from uvd_pipeline.manifests.rollup import chunks_in_order, write_rollups

from .test_format import token_seq, write_unit


def test_chunk_order_of_unit_ids():
    assert chunks_in_order(["a-000001", "a-000999", "a-001000", "b-000000"])
    assert not chunks_in_order(["a-000001", "a-1000000", "a-5"])  # unpadded ids revisit chunk a-000000


def test_streamed_and_listed_ledgers_give_the_same_rollups(tmp_path):
    for i, uid in enumerate(["a-000001", "a-1000000", "a-5"]):
        write_unit(tmp_path, uid=uid, seqs=[token_seq(0, 1, 10 + i)])
    store = OutputStore(str(tmp_path))
    ds = open_dataset(str(tmp_path))
    assert [e["unit"] for e in ds.iter_entries()] == ["a-000001", "a-1000000", "a-5"]
    with pytest.raises(ValueError, match="visited twice"):
        write_rollups(store, open_dataset(str(tmp_path)).iter_entries())
    stats = write_rollups(store, ds.ledger)
    assert stats["manifest"] == {"rows": 3, "units": 3, "chunks": 2, "written": 2}
    first = pq.read_table(tmp_path / "rollup" / "manifest" / "a-000000.parquet")
    assert sorted(first.column("unit").to_pylist()) == ["a-000001", "a-5"]
    in_order = ["a-000001", "a-000002", "a-001000"]
    other = tmp_path / "other"
    for i, uid in enumerate(in_order):
        write_unit(other, uid=uid, seqs=[token_seq(0, 1, 20 + i)])
    streamed = write_rollups(OutputStore(str(other)), open_dataset(str(other)).iter_entries())
    assert streamed["manifest"] == {"rows": 3, "units": 3, "chunks": 2, "written": 2}
    again = write_rollups(OutputStore(str(other)), open_dataset(str(other)).ledger)  # same signatures: nothing rewritten
    assert again["manifest"]["written"] == 0 and again["rejects"]["written"] == 0
