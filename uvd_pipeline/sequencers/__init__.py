"""Sequencers: group a unit's items into visual sequences (entry point group uvd_pipeline.sequencers)."""
