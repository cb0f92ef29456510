"""Arrow schemas of the on-disk format (FORMAT.md documents them for readers without uvd)."""

import pyarrow as pa

FORMAT_VERSION = 1

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("sequence_id", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("index", pa.int32(), nullable=False),
        pa.field("shard", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("n_tokens", pa.int32(), nullable=False),
        pa.field("n_images", pa.int16(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("image_ids", pa.list_(pa.string()), nullable=False),
        pa.field("records", pa.list_(pa.string()), nullable=False),
        pa.field("provenance", pa.string(), nullable=False),
    ]
)

# With filters in the recipe's `curation:` block, every manifest of the output has one more column:
# the filter scores of the sequence's records, as the signature tables hold them (FORMAT.md,
# "Curation"). Without filters the manifest schema is MANIFEST_SCHEMA exactly.
SCORES_COLUMN = "curation_scores"
SCORED_MANIFEST_SCHEMA = MANIFEST_SCHEMA.append(pa.field(SCORES_COLUMN, pa.string(), nullable=False))


def manifest_schema(scored: bool) -> pa.Schema:
    """The manifest schema of an output whose recipe keeps filter scores (scored) or not."""
    return SCORED_MANIFEST_SCHEMA if scored else MANIFEST_SCHEMA


REJECTS_SCHEMA = pa.schema(
    [
        pa.field("unit", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
    ]
)

# Directory layout under the output root.
SHARDS_DIR = "shards"
MANIFESTS_DIR = "manifests"
REJECTS_DIR = "rejects"
LEDGER_DIR = "ledger"
RECIPE_FILE = "recipe.resolved.yaml"
DATASET_FILE = "dataset.json"
PALETTE_FILE = "palette.json"  # the fixed 256-colour segmentation palette (renderers/palette.py)
