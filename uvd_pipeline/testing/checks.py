"""The conformance suite: what every plugin must do to run on any engine.

`check_source`, `check_renderer`, `check_transform`, `check_sequencer` and `check_filter` run the suite against a
plugin class and raise AssertionError listing every failed check; `conformance` returns the report
without raising (the CLI prints it); `check_plugin` finds an installed plugin through the registry.

Checks shared by every kind:
  example       the optional `conformance_example(tmp_dir)` hook returns a well-formed dict
  params        Params forbids unknown keys; params_dict is JSON and round-trips; version is set
  outputs       the right types, shapes (H x W x 3 / 256 x 256 x 3) and dtype (uint8); a filter's
                scores are finite floats with the same names for every image, check() keeps or
                names the filter, misses no score silently, score_identity() leaves thresholds out
  inputs kept   the plugin does not modify what it was given (build.py reuses it)
  determinism   fresh instances give identical output for the same inputs and seed, whatever
                the global RNG state
  bad input     broken inputs become Reject / BadInput with a reason, never another exception
  pickling      a pickle and a cloudpickle round trip gives the same output
  fresh worker  shipped to a new Python process (as Ray/Beam do), it gives the same output
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .. import registry
from ..errors import UnknownPluginError
from ..ids import canonical_json
from ..stages import Filter, Plugin
from . import filter_kind, kinds
from .examples import example_for
from .report import SKIP, ConformanceReport, Skip
from .shipping import fingerprint, picklers, round_trip, run_in_fresh_process
from .subject import Subject

EXAMPLE_KEYS = {"params", "items", "images", "bad_params", "bad_items", "drop_images"}


def conformance(
    kind: str,
    cls: type[Plugin],
    params: dict[str, Any] | None = None,
    *,
    inputs: list[Any] | None = None,
    tmp_dir: str | Path | None = None,
    seed: int = 0,
    fresh_process: bool = True,
    max_units: int = 3,
) -> ConformanceReport:
    """Run every check on `cls` and return the report (no exception for failures)."""
    base = registry.KINDS[kind][1]
    report = ConformanceReport(kind, cls.name or getattr(cls, "__name__", str(cls)))
    if not (isinstance(cls, type) and issubclass(cls, base)):
        report.fail("kind", f"{cls!r} is not a uvd_pipeline.stages.{base.__name__} subclass")
        return report
    with tempfile.TemporaryDirectory(prefix="uvd-conformance-") as own_tmp:
        tmp = Path(tmp_dir) if tmp_dir is not None else Path(own_tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        example: dict[str, Any] = {}
        report.run("example", lambda: _load_example(kind, cls, tmp / "example", example))
        later = ("params", "outputs", "inputs kept", "determinism", "bad input", "pickling") + (
            ("fresh worker",) if fresh_process else ()
        )
        if report.results[-1].status == SKIP:  # the example says it cannot run here (a missing extra)
            for name in later:
                report.run(name, _skip(report.results[-1].message))
            return report
        if params is None:
            params = example.get("params")
        if params is None and kind == "source":
            report.fail(
                "params",
                f"source {report.plugin!r} declares no conformance_example(tmp_dir) and no params were given: "
                "a source needs sample data to read (write it under tmp_dir and return {'params': {...}})",
            )
            return report
        params = dict(params or {})
        later = later[1:]
        if not report.run("params", lambda: _check_params(cls, params)):
            for name in later:
                report.run(name, _skip("needs params that validate (see 'params')"))
            return report
        found: list[Subject] = []
        baseline: list[str] = []

        def outputs() -> str | None:
            found.append(kinds.make_subject(kind, cls, params, example, inputs, seed, max_units))  # sources plan here
            outs = found[0].run()
            note = kinds.check_outputs(found[0], outs, example)
            baseline.append(fingerprint(outs))
            return note

        if not report.run("outputs", outputs):
            for name in later[1:]:
                report.run(name, _skip("needs a clean run on the sample inputs (see 'outputs')"))
            return report
        subject = found[0]
        report.run("inputs kept", lambda: kinds.check_inputs_kept(subject))
        report.run("determinism", lambda: _check_determinism(subject, baseline[0]))
        report.run("bad input", lambda: kinds.check_bad_input(subject, example, tmp / "bad"))
        report.run("pickling", lambda: _check_pickling(subject, baseline[0]))
        if fresh_process:
            report.run("fresh worker", lambda: _check_fresh_worker(subject, baseline[0]))
    return report


def _skip(reason: str) -> Callable[[], None]:
    def skip() -> None:
        raise Skip(reason)

    return skip


def _load_example(kind: str, cls: type[Plugin], folder: Path, into: dict[str, Any]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    got = example_for(kind, cls, folder)
    if got is None:
        return "no conformance_example: default params and generic sample inputs"
    assert isinstance(got, dict), f"conformance_example must return a dict or None, got {type(got).__name__}"
    unknown = set(got) - EXAMPLE_KEYS
    assert not unknown, f"conformance_example returned unknown keys {sorted(unknown)}; known: {sorted(EXAMPLE_KEYS)}"
    for key in ("params", "bad_params"):
        assert key not in got or isinstance(got[key], dict), f"conformance_example()[{key!r}] must be a dict of params"
    into.update(got)
    return f"conformance_example gave {', '.join(sorted(got))}"


def _check_params(cls: type[Plugin], params: dict[str, Any]) -> str:
    assert cls.Params.model_config.get("extra") == "forbid", (
        f"{cls.__name__}.Params must set model_config = ConfigDict(extra='forbid'), "
        "so that a misspelt recipe key is an error rather than silently ignored"
    )
    try:
        plugin = cls(**params)
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise AssertionError(
            f"params {params} do not validate ({wrong}); declare conformance_example(tmp_dir) "
            "returning {'params': {...}}, or pass params (uvd plugins check --params JSON)"
        ) from None
    as_dict = plugin.params_dict
    canonical_json(as_dict)
    again = cls(**as_dict).params_dict
    assert again == as_dict, f"params_dict does not round-trip (it enters derived ids): {as_dict} -> {again}"
    assert isinstance(cls.version, str) and cls.version, f"{cls.__name__}.version must be a non-empty str (it enters ids)"
    assert isinstance(cls.needs_gpu, bool), f"{cls.__name__}.needs_gpu must be True or False"
    if issubclass(cls, Filter):
        filter_kind.check_declarations(cls)
    return "needs_gpu=True; these checks ran on CPU" if cls.needs_gpu else ""


def _check_determinism(subject: Subject, expected: str) -> None:
    for state in (1, 2):
        np.random.seed(state)  # a plugin must draw from the rng it is given, never the global one
        random.seed(state)
        got = fingerprint(subject.run())
        assert got == expected, (
            "two fresh instances gave different output for the same inputs and seed; derive all "
            "randomness from the rng argument (sources and renderers: none at all)"
        )
    kinds.check_order_independence(subject)


def _check_pickling(subject: Subject, expected: str) -> str:
    used = []
    for label, module in picklers():
        try:
            copy = round_trip(subject.make(), module)
        except Exception as exc:
            raise AssertionError(
                f"{label} round trip failed ({type(exc).__name__}: {exc}); keep unpicklable resources "
                "(models, open files, locks, lambdas) out of __init__ and create them in setup()"
            ) from None
        got = fingerprint(subject.run(copy))
        assert got == expected, f"after a {label} round trip the plugin gives different output"
        used.append(label)
    return "round trips: " + ", ".join(used)


def _check_fresh_worker(subject: Subject, expected: str) -> None:
    got = run_in_fresh_process(subject.kind, subject.make(), subject.inputs, subject.seed)
    assert got == expected, "in a fresh worker process the plugin gives different output than here"


def _run(kind: str, cls: type[Plugin], params: dict[str, Any] | None, kwargs: dict[str, Any]) -> ConformanceReport:
    return conformance(kind, cls, params, **kwargs).raise_for_failures()


def check_source(cls: type[Plugin], params: dict[str, Any] | None = None, **kwargs: Any) -> ConformanceReport:
    """The suite for a Source; params default to its conformance_example. Raises AssertionError."""
    return _run("source", cls, params, kwargs)


def check_renderer(
    cls: type[Plugin], params: dict[str, Any] | None = None, *, items: list | None = None, **kwargs: Any
) -> ConformanceReport:
    """The suite for a Renderer on `items` (default: the example's, else generic samples)."""
    return _run("renderer", cls, params, {"inputs": items, **kwargs})


def check_transform(
    cls: type[Plugin], params: dict[str, Any] | None = None, *, images: list | None = None, **kwargs: Any
) -> ConformanceReport:
    """The suite for a Transform on 256x256x3 uint8 `images` (default: sample pictures)."""
    return _run("transform", cls, params, {"inputs": images, **kwargs})


def check_sequencer(
    cls: type[Plugin], params: dict[str, Any] | None = None, *, items: list | None = None, **kwargs: Any
) -> ConformanceReport:
    """The suite for a Sequencer on 256x256 `items` (default: the example's, else sample_items())."""
    return _run("sequencer", cls, params, {"inputs": items, **kwargs})


def check_filter(
    cls: type[Plugin], params: dict[str, Any] | None = None, *, images: list | None = None, **kwargs: Any
) -> ConformanceReport:
    """The suite for a Filter on SignatureImages `images` (default: the example's, else sample pictures)."""
    return _run("filter", cls, params, {"inputs": images, **kwargs})


def find_plugin(name: str, kind: str | None = None) -> tuple[str, type[Plugin]]:
    """(kind, class) of an installed plugin; `kind` is needed only when two kinds share the name."""
    kinds_with = [k for k in registry.KINDS if name in registry.names(k)] if kind is None else [kind]
    if not kinds_with:
        every = {n for k in registry.KINDS for n in registry.names(k)}
        raise UnknownPluginError(f"no installed plugin is named {name!r}{registry.did_you_mean(name, every)}; "
                                 "`uvd plugins list` shows what is installed")
    if len(kinds_with) > 1:
        raise UnknownPluginError(f"{name!r} names a plugin of several kinds ({', '.join(kinds_with)}); pass --kind")
    return kinds_with[0], registry.load(kinds_with[0], name)


def check_plugin(name: str, kind: str | None = None, params: dict[str, Any] | None = None, **kwargs: Any) -> ConformanceReport:
    """The suite for an installed plugin, found by its registered name. Raises AssertionError."""
    found_kind, cls = find_plugin(name, kind)
    return _run(found_kind, cls, params, kwargs)
