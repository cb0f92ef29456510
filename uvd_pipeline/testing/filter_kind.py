"""The filter half of the conformance suite: sample images, what scores must look like, degenerate
images, and the thresholds' contract (check() on stored scores, score identity).

A filter's output for one image is {"scores": {name: float}, "check": None | detail} (see
shipping.score_and_check); the curation pass stores the scores and applies check() to them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..errors import BadInput, UvdError
from ..ids import canonical_json
from ..stages import Filter, SignatureImage
from . import validate
from .samples import sample_signature_image
from .shipping import invoke, score_and_check

BOUNDS = ("min", "max")


def default_images() -> list[SignatureImage]:
    """Photo-like pictures at a reduced size (an original twice as large) and at their own size."""
    return [sample_signature_image(0, (96, 128)), sample_signature_image(1, (120, 80), original=(120, 80))]


def check_outputs(subject, outs: list[Any], example: dict[str, Any]) -> str:
    cls: type[Filter] = subject.cls
    keys: set[str] | None = None
    for image, out in zip(subject.inputs, outs):
        where = f"image {image.record!r}"
        check_scores(out["scores"], where)
        if keys is None:
            keys = set(out["scores"])
        assert set(out["scores"]) == keys, (
            f"{where}: score names {sorted(out['scores'])} differ from the first image's {sorted(keys)}; "
            "thresholds refer to scores by name, so every image gets the same ones"
        )
        check_verdict(out["check"], cls, where)
    plugin = subject.make()
    identity = plugin.score_identity()
    assert json.loads(canonical_json(identity)) == identity, (
        f"score_identity() {identity!r} must be plain JSON (a list, str keys) so it compares equal once stored"
    )
    leaked = set(identity[2]) & set(cls.threshold_fields) if isinstance(identity, list) and len(identity) == 3 else set()
    assert not leaked, f"score_identity() holds threshold fields {sorted(leaked)}: changing a threshold must not rescore"
    dropped = _check_drop_images(subject, example.get("drop_images", []))
    _check_missing_scores(plugin, active=dropped > 0 or any(o["check"] is not None for o in outs))
    kept = sum(o["check"] is None for o in outs)
    return f"{len(outs)} images scored ({', '.join(sorted(keys or ()))}), {kept} kept; {dropped} declared drops dropped"


def check_declarations(cls: type[Filter]) -> None:
    """threshold_fields and limits name Params fields; each limit is (score, 'min' | 'max')."""
    fields = set(cls.Params.model_fields)
    assert isinstance(cls.threshold_fields, tuple), "threshold_fields must be a tuple of Params field names"
    unknown = [f for f in cls.threshold_fields if f not in fields]
    assert not unknown, f"threshold_fields names {unknown}, which are not fields of {cls.Params.__name__}"
    for field, rule in cls.limits.items():
        assert field in cls.threshold_fields, f"limits names {field!r}, which is not in threshold_fields"
        assert isinstance(rule, tuple) and len(rule) == 2 and rule[1] in BOUNDS, (
            f"limits[{field!r}] must be (score name, 'min' | 'max'), got {rule!r}"
        )


def check_scores(scores: Any, where: str) -> None:
    """A dict of score name -> finite Python float, JSON-able."""
    assert isinstance(scores, dict) and scores, f"{where}: score() must return a non-empty dict of name -> float, got {scores!r}"
    for name, value in scores.items():
        assert isinstance(name, str) and validate.REASON.match(name), f"{where}: score name {name!r} must be snake_case"
        assert isinstance(value, float) and not isinstance(value, bool), (
            f"{where}: score {name!r} is {type(value).__name__} {value!r}; return a Python float (float(x))"
        )
        assert math.isfinite(value), f"{where}: score {name!r} is {value}; scores are stored and compared: finite only"
    assert json.loads(canonical_json(scores)) == scores, f"{where}: scores do not round-trip through JSON"


def check_verdict(verdict: Any, cls: type[Filter], where: str) -> None:
    assert verdict is None or (isinstance(verdict, str) and verdict.strip()), (
        f"{where}: check() must return None (keep) or a non-empty detail, got {verdict!r}"
    )
    if isinstance(verdict, str) and cls.name:
        assert cls.name in verdict, f"{where}: the drop detail {verdict!r} must name the filter {cls.name!r}"


def _check_drop_images(subject, images: list[SignatureImage]) -> int:
    if not images:
        return 0
    outs = invoke("filter", subject.make(), list(images))
    kept = [im.record for im, out in zip(images, outs) if out["check"] is None]
    assert not kept, f"the example's drop_images {kept} were kept by check(); their scores should fail a threshold"
    for image, out in zip(images, outs):
        check_scores(out["scores"], f"drop image {image.record!r}")
        check_verdict(out["check"], subject.cls, f"drop image {image.record!r}")
    return len(images)


def _check_missing_scores(plugin: Filter, active: bool) -> None:
    """check() on stored scores that lack what a threshold needs: a clear error, never a silent verdict."""
    try:
        verdict = plugin.check({})
    except (UvdError, ValueError, KeyError) as exc:
        assert str(exc).strip(), f"check({{}}) raised {type(exc).__name__} without a message; name the missing score"
        return
    except Exception as exc:
        raise AssertionError(
            f"check({{}}) raised {type(exc).__name__}: {exc}; a missing score must raise a clear error "
            "(stages.MissingScoreError or ValueError naming the score)"
        ) from None
    assert verdict is None and not active, (
        f"check({{}}) returned {verdict!r} although this filter's thresholds drop images: scores that are "
        "missing must raise an error naming them (stages.MissingScoreError), not keep or drop the image"
    )


def degenerate_images() -> dict[str, SignatureImage]:
    checker = (np.indices((256, 256)).sum(0) % 2 * 255).astype(np.uint8)
    return {
        "a 1x1 image": SignatureImage(np.zeros((1, 1, 3), np.uint8), 1, 1, "one_pixel.png"),
        "all black": SignatureImage(np.zeros((64, 64, 3), np.uint8), 64, 64, "black.png"),
        "all white": SignatureImage(np.full((64, 64, 3), 255, np.uint8), 640, 640, "white.jpg"),
        "flat grey": SignatureImage(np.full((48, 80, 3), 128, np.uint8), 80, 48, "grey.png"),
        "1-pixel checkerboard": SignatureImage(np.repeat(checker[:, :, None], 3, axis=2), 256, 256, "checker.png"),
        "a 1x300 strip": SignatureImage(np.full((1, 300, 3), 200, np.uint8), 300, 1, "strip.png"),
        "8x reduced": SignatureImage(sample_signature_image(3, (30, 40)).pixels, 320, 240, "reduced.jpg"),
    }


def check_bad_input(subject, problems: list[str], collect) -> int:
    """Degenerate images: finite scores of the same names (or BadInput with a reason), and check() answers."""
    plugin = subject.make()
    plugin.setup()
    cases = degenerate_images()
    try:
        names = set(score_and_check(plugin, subject.inputs[0])["scores"]) if subject.inputs else None
        for label, image in cases.items():
            try:
                out = score_and_check(plugin, image)
            except BadInput as exc:
                collect(problems, lambda exc=exc: validate.check_bad_input_reason(exc, label))
                continue
            except Exception as exc:
                problems.append(
                    f"{label}: {type(exc).__name__}: {exc} — score finite values, or raise errors.BadInput(reason, detail)"
                )
                continue
            collect(problems, lambda: check_scores(out["scores"], label))
            collect(problems, lambda: check_verdict(out["check"], subject.cls, label))
            names = names or set(out["scores"])
            if set(out["scores"]) != names:
                problems.append(f"{label}: score names {sorted(out['scores'])} differ from {sorted(names)}")
    finally:
        plugin.teardown()
    return len(cases)
