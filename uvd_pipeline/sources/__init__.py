"""Sources: read raw formats into items. Each is a plugin (entry point group uvd_pipeline.sources)."""
