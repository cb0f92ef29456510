"""The data model that flows between stages.

Every type converts to and from a plain row (`to_row` / `from_row`): strings, numbers, lists,
JSON-able dicts and numpy arrays. Engines move rows (Arrow-friendly), never live plugin objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .storage.names import escape_names, unescape_names

CATEGORIES = (
    "unlabelled_images",
    "annotated_images",
    "unlabelled_videos",
    "annotated_videos",
    "synthetic_3d",
)
IMAGE_SIZE = 256
TOKENS_PER_IMAGE = 256
MAX_IMAGES_PER_SEQUENCE = 16
SPLITS = ("train", "test")


@dataclass
class WorkUnit:
    """The unit of parallelism, retry, commit and resume. `payload` says what to read (JSON-able)."""

    id: str
    source: str
    index: int
    payload: dict[str, Any]

    def to_row(self) -> dict[str, Any]:
        """Every string of the payload escaped (storage/names.py): a file or tar member name that is
        not UTF-8 travels through coders that need UTF-8 (Beam's, Arrow) and comes back the same."""
        return {"id": self.id, "source": self.source, "index": self.index, "payload": escape_names(self.payload)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkUnit:
        return cls(row["id"], row["source"], int(row["index"]), dict(unescape_names(row["payload"])))


class Image:
    """Pixels with an id that names where they came from (see DESIGN.md, Identity).

    `pixels` is H x W x 3 uint8. A source that decoded the image with PIL hands over the RGB PIL
    image instead (`Image.of_decoded`): the array is then made only when a stage reads `pixels`,
    and the 256x256 conversion resizes the decoded image itself, so the common path (decode,
    resize) makes no full-resolution copy through numpy and back. Both give the same pixels.
    """

    __slots__ = ("id", "_pixels", "decoded")

    def __init__(self, id: str, pixels: np.ndarray) -> None:
        self.id = id
        self._pixels = pixels
        self.decoded: Any = None
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"image {id}: expected HxWx3 uint8 pixels, got {pixels.dtype} {pixels.shape}")

    @classmethod
    def of_decoded(cls, id: str, decoded: Any) -> Image:
        """An image whose pixels are those of `decoded`, a loaded PIL image in mode "RGB"."""
        if getattr(decoded, "mode", None) != "RGB" or min(decoded.size) < 1:
            raise ValueError(f"image {id}: expected a non-empty RGB PIL image, got {decoded!r}")
        image = cls.__new__(cls)
        image.id, image._pixels, image.decoded = id, None, decoded
        return image

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            self._pixels = np.asarray(self.decoded, dtype=np.uint8)
        return self._pixels

    def __repr__(self) -> str:
        shape = self._pixels.shape if self._pixels is not None else (*self.decoded.size[::-1], 3)
        return f"Image(id={self.id!r}, shape={shape})"


@dataclass
class Item:
    """One thing a source read: a record (file, tar member, annotation entry, frame) and its image.

    `record` names the input for accounting: every record read ends in a sequence or a reject.
    `meta` holds JSON-able labels (class, boxes, keypoints, frame index, ...), for renderers and
    sequencers. `views` holds images derived from this item (rendered annotations, corruptions),
    keyed by the producing plugin's view name.
    """

    record: str
    image: Image
    meta: dict[str, Any] = field(default_factory=dict)
    views: dict[str, Image] = field(default_factory=dict)


@dataclass
class Reject:
    """A record that could not be used, and why. Rows of the rejects table."""

    record: str
    reason: str
    detail: str = ""
    source: str = ""
    unit: str = ""

    def to_row(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "source": self.source,
            "record": self.record,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass
class VisualSequence:
    """1..16 images of 256x256x3 uint8 that the model reads as one visual sentence."""

    images: list[Image]
    task: str
    records: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)
    split_key: str = ""  # what decides the split; sequences sharing a key share a split
    id: str = ""
    index: int = -1
    split: str = "train"

    def __post_init__(self) -> None:
        n = len(self.images)
        if not 1 <= n <= MAX_IMAGES_PER_SEQUENCE:
            raise ValueError(f"a visual sequence holds 1..{MAX_IMAGES_PER_SEQUENCE} images, got {n}")
        for im in self.images:
            if im.pixels.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
                raise ValueError(f"image {im.id}: sequences take 256x256x3 images, got {im.pixels.shape}")

    @property
    def image_ids(self) -> list[str]:
        return [im.id for im in self.images]

    def pixels(self) -> np.ndarray:
        return np.stack([im.pixels for im in self.images])


@dataclass
class TokenSequence:
    """A visual sequence after tokenization: its metadata and n_images x 256 uint16 codes."""

    id: str
    index: int
    task: str
    image_ids: list[str]
    records: list[str]
    provenance: dict[str, Any]
    split: str
    tokens: np.ndarray  # uint16, shape [n_images * 256]

    @property
    def n_images(self) -> int:
        return len(self.image_ids)

    @classmethod
    def from_sequence(cls, seq: VisualSequence, codes: np.ndarray) -> TokenSequence:
        if codes.shape != (len(seq.images), TOKENS_PER_IMAGE):
            raise ValueError(f"sequence {seq.id}: codes of shape {codes.shape} for {len(seq.images)} images")
        return cls(
            id=seq.id,
            index=seq.index,
            task=seq.task,
            image_ids=seq.image_ids,
            records=list(seq.records),
            provenance=dict(seq.provenance),
            split=seq.split,
            tokens=np.ascontiguousarray(codes, dtype=np.uint16).reshape(-1),
        )
