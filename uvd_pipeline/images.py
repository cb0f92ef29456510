"""Safe image decoding and the 256x256 conversion every image goes through."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from .errors import BadInput
from .types import IMAGE_SIZE, Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


EXIF_POLICIES = ("ignore", "apply")
_exif_policy = "ignore"


def set_pixel_limit(max_pixels: int | None) -> None:
    """PIL's decompression-bomb limit. Kept by default; a recipe may lower or raise it."""
    PILImage.MAX_IMAGE_PIXELS = max_pixels


def set_exif_policy(policy: str) -> None:
    """The recipe's `preprocess.exif` for every decode in this process (like the pixel limit):
    "ignore" (the default, as LVM's `Image.open(path).convert('RGB')`) keeps the stored pixel
    layout; "apply" rotates/flips as the EXIF orientation tag says."""
    global _exif_policy
    if policy not in EXIF_POLICIES:
        raise ValueError(f"exif must be one of {EXIF_POLICIES}, got {policy!r}")
    _exif_policy = policy


_reduced = threading.local()


@contextmanager
def reduced_decoding(side: int) -> Iterator[list[tuple[tuple[int, int], tuple[int, int]]]]:
    """Within the block, `decode_image` in this thread decodes JPEGs at a reduced scale (PIL's
    draft mode: 1/2 to 1/8, keeping at least `side` pixels on each side) for the curation
    signatures. The yielded list collects ((width, height) decoded, (width, height) of the
    original) for each image decoded, so the caller can tell an image's original size."""
    log: list[tuple[tuple[int, int], tuple[int, int]]] = []
    _reduced.side, _reduced.log = side, log
    try:
        yield log
    finally:
        _reduced.side, _reduced.log = None, None


def decode_image(data: bytes, name: str = "", exif: str | None = None) -> PILImage.Image:
    """Decode bytes into a fully loaded PIL image; of a multipage file (TIFF, animated GIF/WebP)
    the first page, as PIL opens it. EXIF orientation is applied only when `exif` (default: the
    process's policy, see set_exif_policy; "ignore" unless a recipe says "apply") is "apply".

    Raises BadInput with a reason for empty, truncated, unknown or oversized (bomb) images.
    """
    if not data:
        raise BadInput("empty_file", name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            img = PILImage.open(io.BytesIO(data))
            original = img.size
            side = getattr(_reduced, "side", None)
            if side and img.format == "JPEG":
                img.draft("RGB", (side, side))
            img.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise BadInput("decompression_bomb", f"{name}: {exc}") from None
    except PILImage.UnidentifiedImageError:
        raise BadInput("not_an_image", name) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInput("corrupt_image", f"{name}: {exc}") from None
    if img.width < 1 or img.height < 1:
        raise BadInput("empty_image", name)
    log = getattr(_reduced, "log", None)
    if log is not None:
        log.append((img.size, original))
    if (exif or _exif_policy) == "apply":
        img = apply_exif_orientation(img, name)
    return img


def apply_exif_orientation(img: PILImage.Image, name: str = "") -> PILImage.Image:
    """The image as its EXIF orientation tag says to show it (unchanged without a tag)."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # a broken EXIF block must not lose the image
        warnings.warn(f"{name}: EXIF orientation ignored ({exc})", stacklevel=2)
        return img


def to_rgb_array(img: PILImage.Image) -> np.ndarray:
    return np.asarray(_to_rgb(img), dtype=np.uint8)


def decoded_image(image_id: str, img: PILImage.Image) -> Image:
    """The pipeline's Image of a decoded PIL image: its RGB version (the same rule as
    `to_rgb_array`), kept as PIL until a stage asks for the array (see types.Image)."""
    return Image.of_decoded(image_id, _to_rgb(img))


def _to_rgb(img: PILImage.Image) -> PILImage.Image:
    """`img.convert('RGB')` as the LVM code (16-bit grey clipped at 255, floats truncated and
    clipped to 0..255): the one rule that tokenizer.preprocess.to_rgb documents, so both paths give
    the same pixels. A float image with NaN or infinite pixels is refused first (PIL would write
    them as some colour the image never had)."""
    if img.mode == "F":
        finite = np.isfinite(np.asarray(img, dtype=np.float64))
        if not finite.all():
            bad = int(finite.size - finite.sum())
            raise BadInput("non_finite_pixels", f"{img.mode} image with {bad} NaN or infinite pixels of {finite.size}")
    from .tokenizer.preprocess import to_rgb

    return to_rgb(img)


def to_256(pixels_or_img: np.ndarray | PILImage.Image | Image, center_crop: bool = False, nearest: bool = False) -> np.ndarray:
    """LVM's protocol: RGB, optional centre crop, squash-resize to 256x256 with PIL's default filter.

    `nearest` is for label maps (segmentation palettes), where blending would invent colours.
    An `Image` a source decoded is resized from its PIL image (no numpy round trip).
    """
    img = pixels_or_img
    if isinstance(img, Image):
        img = img.decoded if img.decoded is not None else img.pixels
    if isinstance(img, np.ndarray):
        img = PILImage.fromarray(img)
    img = _to_rgb(img)
    if nearest:
        if center_crop:
            img = _center_crop(img)
        return np.asarray(img.resize((IMAGE_SIZE, IMAGE_SIZE), PILImage.NEAREST), dtype=np.uint8)
    from .tokenizer.preprocess import preprocess

    return preprocess(img, center_crop=center_crop)


def _center_crop(img: PILImage.Image) -> PILImage.Image:
    side = min(img.size)
    left = (img.width - side) // 2
    top = (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))
