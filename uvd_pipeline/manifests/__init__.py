"""The on-disk format: token shards, Arrow manifests, rejects, ledger (see FORMAT.md)."""

from .digest import dataset_digest
from .reader import Dataset, open_dataset
from .schema import MANIFEST_SCHEMA, REJECTS_SCHEMA
from .store import OutputStore
from .verify import verify_dataset
from .writer import commit_unit

__all__ = [
    "Dataset",
    "open_dataset",
    "dataset_digest",
    "verify_dataset",
    "commit_unit",
    "OutputStore",
    "MANIFEST_SCHEMA",
    "REJECTS_SCHEMA",
]
