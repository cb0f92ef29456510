"""Curation: signatures, the global cluster pass (dedup, decontamination) and filters (issue 13)."""

from .cluster import ClusterResult, InProcessRunner, SignatureRef, cluster_pass

__all__ = ["ClusterResult", "InProcessRunner", "SignatureRef", "cluster_pass"]
