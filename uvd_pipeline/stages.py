"""The stage contract: what a plugin receives and returns. Stages know no engine.

A plugin is a class registered under an entry point (see registry.py). It declares its
parameters as a pydantic model `Params`; the recipe's `params` are validated against it before
any work starts. Each kind has one method to implement:

- Source.read(unit)        -> yields Item or Reject for every record of the unit
- Renderer.render(item)    -> the annotation drawn as an image at the item's resolution
- Transform.apply(pixels)  -> a derived 256x256 image (corruption), seeded per image
- Sequencer.build(items)   -> yields VisualSequence or Reject
- Filter.score(image)      -> named scores of one image (curation); Filter.check(scores) -> keep or why not

plus Source.units() to split the input into deterministic work units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from .errors import UvdError
from .types import Item, Reject, VisualSequence, WorkUnit


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Base of every stage. `name` is set from the entry point; `version` enters derived ids."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    Params: ClassVar[type[BaseModel]] = NoParams
    #: Set True in a plugin that wants a GPU (estimators); engines place it accordingly.
    needs_gpu: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)

    @property
    def params_dict(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")

    def setup(self) -> None:
        """Load models or open resources once per worker. Optional."""

    def teardown(self) -> None:
        """Release what setup took. Optional."""

    @classmethod
    def conformance_example(cls, tmp_dir: Path) -> dict[str, Any] | None:
        """Sample params and inputs for the conformance suite (`uvd plugins check`). Optional.

        Write any files the example needs under `tmp_dir` and return a dict with "params" (this
        plugin's params) and, by kind, "items" (renderers, sequencers: list of Item) or "images"
        (transforms: list of 256x256x3 uint8 arrays); "bad_params" / "bad_items" add cases that
        must end as rejects. None (the default): default params and generic sample inputs.
        See uvd_pipeline.testing and PLUGINS.md.
        """
        return None


class Source(Plugin):
    """Reads a raw format into items."""

    def units(self) -> list[dict[str, Any]]:
        """Deterministic work-unit payloads (JSON-able), e.g. lists of files or one tar each."""
        raise NotImplementedError

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        raise NotImplementedError

    def count_records(self, payload: dict[str, Any]) -> int | None:
        """Records a unit will read, from listings alone (for the planner). None if unknown."""
        return None

    def expected_records(self, payload: dict[str, Any]) -> int | None:
        """Records a unit holds when nothing fails at read time: what `uvd plan` counts. Defaults to
        count_records; a source whose records depend on what a read finds (COCO: the annotations of
        an image that fails to load become records of their own) returns the clean-data count here
        and None from count_records, which must be exact (the conformance suite checks it)."""
        return self.count_records(payload)


class Renderer(Plugin):
    """Draws an item's annotation (item.meta) as an RGB image at the item's resolution.

    Returns None when the item has no annotation of this kind: the view is simply absent.
    Raise errors.BadInput for a malformed annotation: the item becomes a reject.
    """

    #: resampling used to bring the rendering to 256x256: "default" (LVM's PIL default) or "nearest"
    resample: ClassVar[str] = "default"

    def render(self, item: Item) -> np.ndarray | None:
        raise NotImplementedError


class Transform(Plugin):
    """Derives a 256x256 image from a 256x256 image (colorization, inpainting, noise, ...)."""

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class Sequencer(Plugin):
    """Groups the items of one unit into visual sequences of up to 16 images.

    `rng` is seeded from (recipe seed, source, unit id). Items it cannot use should come back as
    Reject with a reason; the engine rejects any item neither used nor rejected as "unused".
    """

    def build(self, items: list[Item], rng: np.random.Generator) -> Iterable[VisualSequence | Reject]:
        raise NotImplementedError

    def predict(self, n_records: int, source_params: dict[str, Any] | None = None) -> tuple[int, int] | None:
        """(sequences, images) this sequencer will build from a unit of `n_records` good records.

        Used by `uvd plan` (no decoding, no tokenization) and to spread a source's quota over its
        units. `n_records` comes from Source.count_records(payload); `source_params` are the
        unit's source parameters with defaults filled in (e.g. a video source's `clip_length`).
        Return None when the count cannot be known without reading the data.

        The default is one single-image sequence per record, which is exact for `single`. A
        sequencer that groups must override it, e.g. groups of 8 (input, output) pairs:
        `k = n_records // 8; return k, 16 * k`; one clip per video of L frames: `n_records, n_records * L`.
        Predictions should be exact when no record is rejected: the planner's test checks it.
        """
        return n_records, n_records


@dataclass
class SignatureImage:
    """One image as the curation pass sees it: `pixels` H x W x 3 uint8 RGB, decoded at a reduced
    size where the format allows (JPEG draft mode); `width` and `height` the ORIGINAL size (before
    the reduced decode); `record` the record the image belongs to (for messages)."""

    pixels: np.ndarray
    width: int
    height: int
    record: str = ""


class MissingScoreError(UvdError, ValueError):
    """Filter.check() was given scores without one that an active threshold needs."""


class Filter(Plugin):
    """Scores an image (curation); the recipe sets thresholds on the scores.

    `score(image)` returns named scores: finite Python floats, JSON-able, the same for the same
    pixels and original size on every machine. They are stored, so a threshold can change without
    scoring again: `check(scores)` decides from the stored scores alone, None to keep the image,
    else a detail naming the filter, the score, its value and the threshold
    ("image_stats: laplacian_var 3.1 < min_sharpness 10.0").

    Thresholds are Params fields listed in `threshold_fields`; every other param changes what
    `score` returns and so enters `score_identity()`. The simplest filter declares `limits`, which
    maps each threshold field to (score name, "min" | "max"), and inherits `check`: a threshold set
    to None is not applied. `score` may raise errors.BadInput(reason, detail) for an image it
    cannot score (the record becomes a reject with that reason); never another exception.
    """

    #: Params fields that are thresholds on scores (not inputs to scoring).
    threshold_fields: ClassVar[tuple[str, ...]] = ()
    #: threshold field -> (score name, "min": keep when score >= threshold | "max": keep when <=)
    limits: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "limits" in cls.__dict__ and "threshold_fields" not in cls.__dict__:
            cls.threshold_fields = tuple(cls.limits)

    def score(self, image: SignatureImage) -> dict[str, float]:
        raise NotImplementedError

    def check(self, scores: dict[str, float]) -> str | None:
        """None keeps the image; else why it is dropped. The default applies `limits`."""
        for field, (score_name, bound) in self.limits.items():
            threshold = getattr(self.params, field)
            if threshold is None:
                continue
            if score_name not in scores:
                raise MissingScoreError(
                    f"{self.name or type(self).__name__}: no score {score_name!r} for threshold {field}; "
                    f"scores given: {sorted(scores) or 'none'} (stored by another filter or version? score again)"
                )
            value = float(scores[score_name])
            if bound == "min" and not value >= threshold:
                return self.detail(score_name, value, "<", field, threshold)
            if bound == "max" and not value <= threshold:
                return self.detail(score_name, value, ">", field, threshold)
        return None

    def detail(self, score_name: str, value: float, op: str, field: str, threshold: float) -> str:
        """The drop detail: "<filter>: <score> <value> <op> <threshold field> <threshold>"."""
        return f"{self.name or type(self).__name__}: {score_name} {format_score(value)} {op} {field} {format_score(threshold)}"

    def score_identity(self) -> list:
        """[name, version, params without threshold fields]: stored scores are reusable exactly
        when this is equal (a list, so that it compares equal after a JSON round trip)."""
        params = {k: v for k, v in self.params_dict.items() if k not in self.threshold_fields}
        return [self.name, self.version, params]


def format_score(value: float) -> str:
    """A score or threshold as a drop detail shows it: at most 4 decimals, "10.0" for ten."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return repr(round(value, 4) + 0.0)
