"""The libraries whose versions decide the pixels, and so the tokens, of a build.

Same recipe => same bytes holds for one set of these versions: a Pillow release that changes its
resize or JPEG decoder (Pillow 13 moves some resized pixels by up to 3/255), another OpenCV or
FFmpeg for video frames, another numpy for random draws or torch for the tokenizer's arithmetic
can change tokens, and so the digest (FORMAT.md, "What the digest promises"). `run` records them
in recipe.resolved.yaml (the first run's) and dataset.json (the latest run's), and a resumed run
whose versions differ from the recorded ones warns: its units and the earlier ones may then not
be byte-identical to a build made in one environment. A warning, not a refusal: resuming is
often right (a security update), and the record says what happened.
"""

from __future__ import annotations

import logging
import platform
from importlib import metadata
from typing import Any

from ..console.logs import event, get_logger

log = get_logger("run")

#: name in the record -> the distributions that provide it (the first installed one counts)
DECODING_LIBRARIES: dict[str, tuple[str, ...]] = {
    "pillow": ("pillow",),
    "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python"),
    "numpy": ("numpy",),
    "torch": ("torch",),
    "av": ("av",),  # PyAV, where a video plugin uses it
    "pycocotools": ("pycocotools",),  # COCO masks
    "trimesh": ("trimesh",),  # mesh orbits
    "pyrender": ("pyrender",),
}


def decoding_versions() -> dict[str, str]:
    """{library: version} of the installed decoding libraries (absent ones are left out), plus
    Python's version. Read from package metadata: nothing is imported."""
    found: dict[str, str] = {"python": platform.python_version()}
    for name, dists in DECODING_LIBRARIES.items():
        for dist in dists:
            try:
                found[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def version_changes(recorded: dict[str, Any] | None, current: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    """{library: (recorded, current)} for every library whose version differs (None: absent)."""
    recorded = recorded or {}
    return {k: (recorded.get(k), current.get(k)) for k in sorted(set(recorded) | set(current))
            if recorded.get(k) != current.get(k)}


def warn_if_environment_changed(recorded_resolved: dict[str, Any], current: dict[str, str], where: str) -> None:
    """On a resume: warn when the decoding libraries differ from those recorded in `where`."""
    recorded = recorded_resolved.get("environment")
    if recorded is None:
        event(log, "environment_unrecorded",
              f"{where}: no library versions recorded (made before uvd recorded them); resuming with {current}",
              current=current)
        return
    changes = version_changes(recorded, current)
    if changes:
        listed = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changes.items())
        event(log, "environment_changed",
              f"{where}: resuming with other decoding library versions than the first run ({listed}); units "
              "built now may differ in pixels and tokens from the committed ones, so the digest may differ "
              "from a build made in one environment", level=logging.WARNING,
              changes={k: {"recorded": old, "current": new} for k, (old, new) in changes.items()})
