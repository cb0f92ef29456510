"""Exports for trainers: LVM's JSONL, Megatron's indexed dataset, and a PyTorch IterableDataset
that packs sequences into fixed windows. All read only what was committed."""

from .common import DEFAULT_BOS, DEFAULT_EOS, DEFAULT_VOCAB_SIZE, ExportSummary
from .lvm_jsonl import export_lvm_jsonl, read_lvm_jsonl
from .megatron import export_megatron, read_megatron

__all__ = [
    "DEFAULT_BOS",
    "DEFAULT_EOS",
    "DEFAULT_VOCAB_SIZE",
    "ExportSummary",
    "export_lvm_jsonl",
    "read_lvm_jsonl",
    "export_megatron",
    "read_megatron",
]
