"""uvd_pipeline: rebuild UVDv1, the vision-only dataset of the LVM paper, as tokenized visual sequences."""

__version__ = "0.1.0"

# The version that enters content-addressed ids and the ledger. Bump it when a change makes the
# same recipe produce different pixels or tokens, so that old outputs are not mixed with new ones.
CODE_VERSION = "1"
