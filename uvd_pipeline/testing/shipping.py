"""Run a plugin the way an engine does, fingerprint what it returns, and ship it to a fresh worker.

`invoke` is the one code path both this process and a shipped copy run, so their fingerprints
compare like for like. Shipping uses cloudpickle, as Ray and Beam do (Ray vendors it as
ray.cloudpickle, Beam as apache_beam.internal.cloudpickle); the standard pickle is the fallback.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from typing import Any

import numpy as np

from ..ids import canonical_json
from ..stages import Plugin, SignatureImage
from ..types import Image, Item, Reject, VisualSequence, WorkUnit

SHIP_TIMEOUT_S = 120


def cloudpickle_module() -> Any:
    """The cloudpickle that Ray or Beam would ship with, or None when neither is installed."""
    try:
        import cloudpickle

        return cloudpickle
    except ImportError:
        pass
    for name in ("ray.cloudpickle", "apache_beam.internal.cloudpickle.cloudpickle"):
        try:
            return __import__(name, fromlist=["dumps"])
        except ImportError:
            continue
    return None


def picklers() -> list[tuple[str, Any]]:
    found = [("pickle", pickle)]
    cp = cloudpickle_module()
    if cp is not None:
        found.append(("cloudpickle", cp))
    return found


def invoke(kind: str, plugin: Plugin, inputs: list[Any], seed: int = 0) -> list[Any]:
    """Call the plugin's one method on every input, set up and torn down as a worker does."""
    plugin.setup()
    try:
        if kind == "source":
            return [out for unit in inputs for out in plugin.read(unit)]  # type: ignore[attr-defined]
        if kind == "renderer":
            return [plugin.render(item) for item in inputs]  # type: ignore[attr-defined]
        if kind == "transform":
            return [
                plugin.apply(px, np.random.default_rng([seed, i]))  # type: ignore[attr-defined]
                for i, px in enumerate(inputs)
            ]
        if kind == "sequencer":
            return list(plugin.build(list(inputs), np.random.default_rng(seed)))  # type: ignore[attr-defined]
        if kind == "filter":
            return [score_and_check(plugin, image) for image in inputs]
    finally:
        plugin.teardown()
    raise ValueError(f"unknown plugin kind {kind!r}")


def score_and_check(plugin: Plugin, image: SignatureImage) -> dict[str, Any]:
    """A filter's scores for one image and what its thresholds decide on them."""
    scores = plugin.score(image)  # type: ignore[attr-defined]
    return {"scores": scores, "check": plugin.check(dict(scores))}  # type: ignore[attr-defined]


def fingerprint(value: Any) -> str:
    """A stable hash of plugin output: pixels by their bytes, everything else by canonical JSON."""
    return hashlib.sha256(canonical_json(_plain(value)).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"array": str(value.dtype), "shape": list(value.shape), "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
    if isinstance(value, Image):
        return {"image": value.id, "pixels": _plain(value.pixels)}
    if isinstance(value, Item):
        return {"item": value.record, "image": _plain(value.image), "meta": _plain(value.meta), "views": _plain(value.views)}
    if isinstance(value, Reject):
        return {"reject": value.record, "reason": value.reason, "detail": value.detail}
    if isinstance(value, VisualSequence):
        return {
            "sequence": [_plain(im) for im in value.images],
            "task": value.task,
            "records": list(value.records),
            "provenance": _plain(value.provenance),
            "split_key": value.split_key,
        }
    if isinstance(value, SignatureImage):
        return {"signature_image": value.record, "width": value.width, "height": value.height, "pixels": _plain(value.pixels)}
    if isinstance(value, WorkUnit):
        return value.to_row()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, float) and value != value:
        return "NaN"
    return value


def round_trip(plugin: Plugin, module: Any) -> Plugin:
    """Serialize and load back with `module` (pickle or cloudpickle), as an engine ships a stage."""
    return module.loads(module.dumps(plugin))


def run_in_fresh_process(kind: str, plugin: Plugin, inputs: list[Any], seed: int = 0) -> str:
    """Ship the plugin and its inputs to a new interpreter, run `invoke` there; its fingerprint.

    The child gets this process's sys.path (a worker has the same packages installed) and the
    registered name (a worker loads plugins through the registry, which sets it).
    """
    cp = cloudpickle_module() or pickle
    try:
        blob = cp.dumps({"kind": kind, "plugin": plugin, "name": type(plugin).name, "inputs": inputs, "seed": seed})
    except Exception as exc:
        raise AssertionError(f"cannot be shipped to a worker: {type(exc).__name__}: {exc}") from None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-m", "uvd_pipeline.testing._worker"],
        input=blob,
        capture_output=True,
        env=env,
        timeout=SHIP_TIMEOUT_S,
    )
    out = proc.stdout.decode(errors="replace").strip()
    # The worker's last line; libraries a plugin loads may print to stdout before it (mmpose does).
    found = [line for line in out.splitlines() if line.startswith("fingerprint ")]
    if proc.returncode != 0 or not found:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = "\n    ".join(err[-6:]) or out or f"exit status {proc.returncode}"
        raise AssertionError(f"the plugin did not run after shipping to a fresh worker process:\n    {tail}")
    return found[-1].split(" ", 1)[1]
