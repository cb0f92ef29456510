"""The Beam engine: the same stages as Beam transforms.

    Create(units) -> Reshuffle -> ParDo(BuildUnit)            one unit -> (unit, sequence) rows
                                       + (unit, header) rows: rejects and counts
                  -> BatchElements(images) -> ParDo(Tokenize)  tokenizer loaded once per worker
                  -> Flatten(tokens, headers) -> GroupByKey(unit) -> ParDo(CommitUnit)

A work unit is the element that is retried and committed: the commit step writes a unit only
when every sequence its header announces came back from the tokenizer, through the same
`commit_built` as every other engine. An exception in a stage fails that unit alone (it stays
uncommitted and is reported); a lost worker makes the runner retry its bundle, and a commit
written twice writes the same bytes.

With `--beam-option layout=per_unit` one step does all three for a unit (Create -> Reshuffle ->
ParDo(ProcessUnit)): no GroupByKey, so each unit commits as soon as it is done instead of when the
pipeline's tokenizing is over, at the cost of one resource shape for the whole step (the build and
tokenizer hints are merged onto it) and tokenizer batches of one unit's images.

Locally the pipeline runs on Beam's Python FnApiRunner, chosen explicitly: the DirectRunner
would first try Prism, whose binary cannot be downloaded everywhere. Any other runner (Flink,
Spark, Dataflow) takes Beam pipeline options; `--tokenizer_resource_hint` puts a resource hint
(e.g. a GPU) on the tokenizer step alone.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from ..errors import UvdError
from ..manifests.store import OutputStore
from ..recipe import Recipe
from ..types import WorkUnit
from .beam_runner import (
    LedgerWatch,
    UvdBeamOptions,
    beam,
    error_text,
    log_tail,
    make_pipeline,
    parse_hints,
    pipeline_args,
    quiet_local_runner,
    read_failures,
)
from .progress import RunProgress

log = logging.getLogger("uvd_pipeline.beam")
FAILED = "failed"
HEADER = "header"
TOKENS = "tokens"
LAYOUTS = ("staged", "per_unit")

__all__ = ["run_beam", "build_pipeline", "pipeline_args", "UvdBeamOptions", "LAYOUTS"]


class BuildUnit(beam.DoFn):
    """Read and build one unit; the UnitBuilder (and every plugin's setup) lives as long as the worker.

    Beam may run successive bundles of one DoFn on different threads of its worker; plugins may
    hold thread-bound resources (an EGL context), so every plugin call of this DoFn runs on one
    thread of its own, as it does in the other engines.
    """

    def __init__(self, recipe: dict[str, Any], unit_timeout: float = 0.0, out_url: str | None = None) -> None:
        self.recipe = recipe
        self.unit_timeout = unit_timeout
        self.out_url = out_url  # where the unit's raw preview sheets go (exports/run_previews.py)
        self.builder = None
        self.thread = None

    def setup(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from .timeouts import make_builder

        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uvd-build")
        # with a unit timeout the builder is a child process killed at the deadline (timeouts.py)
        self.builder = self.thread.submit(make_builder, self.recipe, self.unit_timeout).result()

    def teardown(self) -> None:
        if self.thread is not None:
            if self.builder is not None:
                self.thread.submit(self.builder.close).result()
            self.thread.shutdown()

    def process(self, row: dict[str, Any]) -> Iterator[Any]:
        unit = WorkUnit.from_row(row)
        try:
            built = self.thread.submit(self.builder.build, unit).result()
        except Exception as exc:  # one bad unit must not stop the others
            log.error("unit %s failed to build: %s", unit.id, error_text(exc))
            yield beam.pvalue.TaggedOutput(FAILED, (unit.id, error_text(exc)))
            return
        if self.out_url is not None:
            from ..exports.run_previews import write_unit_previews

            write_unit_previews(OutputStore(self.out_url), built.sequences)
        header = {
            "unit": unit.to_row(),
            "rejects": built.rejects,
            "records_read": built.records_read,
            "records_used": built.records_used,
            "n_sequences": len(built.sequences),
            "scores": built.scores,
        }
        yield beam.pvalue.TaggedOutput(HEADER, (unit.id, (HEADER, header)))
        for seq in built.sequences:
            yield unit.id, seq


class Tokenize(beam.DoFn):
    """Encode a batch of (unit, sequence) rows. The tokenizer is loaded once per worker process
    and shared by the process's bundle threads (one model per GPU, not one per thread).

    Codes do not depend on how sequences are batched: the VQGAN always runs fixed micro-batches.
    """

    def __init__(self, tokenizer: dict[str, Any], device: str | None) -> None:
        from apache_beam.utils.shared import Shared

        self.tokenizer = tokenizer
        self.device = device or None
        self.shared = Shared()
        self.stage = None

    def setup(self) -> None:
        from ..pipeline.tokenize import TokenizerStage

        tag = json.dumps([self.tokenizer, self.device], sort_keys=True)
        self.stage = self.shared.acquire(lambda: TokenizerStage(self.tokenizer, device=self.device), tag=tag)

    def process(self, batch: Sequence[tuple[str, Any]]) -> Iterator[Any]:
        from ..pipeline.tokenize import tokenize_with

        try:
            tokens = tokenize_with(self.stage.encode, [seq for _, seq in batch])
        except Exception as exc:  # the batch's units stay uncommitted
            for unit_id in dict.fromkeys(u for u, _ in batch):
                log.error("unit %s failed to tokenize: %s", unit_id, error_text(exc))
                yield beam.pvalue.TaggedOutput(FAILED, (unit_id, error_text(exc)))
            return
        for (unit_id, _), tok in zip(batch, tokens):
            yield unit_id, (TOKENS, tok)


class CommitUnit(beam.DoFn):
    """Write and commit a unit once all its sequences are tokenized; else leave it uncommitted."""

    def __init__(self, recipe: dict[str, Any], out_url: str) -> None:
        self.recipe_dict, self.out_url = recipe, out_url

    def setup(self) -> None:
        self.recipe = Recipe.model_validate(self.recipe_dict)
        self.store = OutputStore(self.out_url)

    def process(self, keyed: tuple[str, Iterable[tuple[str, Any]]]) -> Iterator[Any]:
        from ..pipeline.build import UnitBuild
        from .unit import commit_built

        unit_id, rows = keyed
        header, tokens = None, {}
        for kind, value in rows:
            if kind == HEADER:
                header = value
            else:
                tokens[value.index] = value  # a retried bundle may repeat a row: same content
        if header is None:  # the build failed and was reported
            return
        if len(tokens) != header["n_sequences"]:
            why = f"{len(tokens)} of {header['n_sequences']} sequences came back from the tokenizer"
            yield beam.pvalue.TaggedOutput(FAILED, (unit_id, why))
            return
        built = UnitBuild(
            unit=WorkUnit.from_row(header["unit"]),
            sequences=[],
            rejects=header["rejects"],
            records_read=header["records_read"],
            records_used=header["records_used"],
            scores=header.get("scores"),
        )
        try:
            commit_built(self.store, self.recipe, built, [tokens[i] for i in sorted(tokens)])
        except Exception as exc:
            log.error("unit %s failed to commit: %s", unit_id, error_text(exc))
            yield beam.pvalue.TaggedOutput(FAILED, (unit_id, error_text(exc)))
            return
        yield unit_id


class ProcessUnit(BuildUnit):
    """Build, tokenize and commit one unit in one step (`layout=per_unit`): the builder as in
    BuildUnit, the tokenizer shared by the worker's threads as in Tokenize."""

    def __init__(self, recipe: dict[str, Any], out_url: str, device: str | None, unit_timeout: float = 0.0) -> None:
        super().__init__(recipe, unit_timeout)
        self.out_url = out_url
        self.tokenize = Tokenize(recipe["tokenizer"], device)

    def setup(self) -> None:
        super().setup()
        self.tokenize.setup()
        self.recipe_model = Recipe.model_validate(self.recipe)
        self.store = OutputStore(self.out_url)

    def process(self, row: dict[str, Any]) -> Iterator[Any]:
        from ..pipeline.tokenize import tokenize_with
        from .unit import commit_built

        unit = WorkUnit.from_row(row)
        try:
            built = self.thread.submit(self.builder.build, unit).result()
            tokens = tokenize_with(self.tokenize.stage.encode, built.sequences)
            commit_built(self.store, self.recipe_model, built, tokens)
        except Exception as exc:  # one bad unit must not stop the others; it stays uncommitted
            log.error("unit %s failed: %s", unit.id, error_text(exc))
            yield beam.pvalue.TaggedOutput(FAILED, (unit.id, error_text(exc)))
            return
        yield unit.id


def build_per_unit(pipeline, recipe: Recipe, store: OutputStore, units: list[WorkUnit], options: UvdBeamOptions):
    """`layout=per_unit`: one step per unit, committed as soon as it is done."""
    step = beam.ParDo(ProcessUnit(recipe.model_dump(mode="json"), store.url, options.tokenizer_device, options.unit_timeout))
    hints = {**parse_hints(options.build_resource_hint, "build_resource_hint"), **parse_hints(options.tokenizer_resource_hint)}
    if hints:
        step = step.with_resource_hints(**hints)
    done = (
        pipeline
        | "Units" >> beam.Create([u.to_row() for u in units])
        | "Spread" >> beam.Reshuffle()
        | "Process" >> step.with_outputs(FAILED, main="committed")
    )
    return done.committed, [done[FAILED]]


def build_pipeline(
    pipeline,
    recipe: Recipe,
    store: OutputStore,
    units: list[WorkUnit],
    options: UvdBeamOptions,
    failures_prefix: str | None,
):
    """Add the uvd transforms to `pipeline` in the chosen layout; returns the PCollection of
    committed unit ids. Failed units are logged by the step that failed them, and written as JSON
    lines under `failures_prefix` when given (a place the driver can read back)."""
    layout = build_per_unit if options.layout == "per_unit" else build_staged
    committed, failed = layout(pipeline, recipe, store, units, options)
    if failures_prefix:
        (
            tuple(failed)
            | "Failures" >> beam.Flatten()
            | "AsJson" >> beam.Map(lambda f: json.dumps({"unit": f[0], "error": f[1]}))
            | "WriteFailures" >> beam.io.WriteToText(failures_prefix, shard_name_template="-SSSSS-of-NNNNN")
        )
    return committed


def build_staged(pipeline, recipe: Recipe, store: OutputStore, units: list[WorkUnit], options: UvdBeamOptions):
    """The default layout: build, batched tokenizer and commit as separate steps (module docstring)."""
    recipe_dict = recipe.model_dump(mode="json")
    batch_images = options.tokenizer_batch_images or 4 * recipe.tokenizer.batch_size
    built = (
        pipeline
        | "Units" >> beam.Create([u.to_row() for u in units])
        | "Spread" >> beam.Reshuffle()
        | "Build" >> with_hints(beam.ParDo(BuildUnit(recipe_dict, options.unit_timeout, store.url)),
                                options.build_resource_hint, "build_resource_hint")
        .with_outputs(HEADER, FAILED, main="sequences")
    )
    tokenize = beam.ParDo(Tokenize(recipe_dict["tokenizer"], options.tokenizer_device)).with_outputs(
        FAILED, main="tokens"
    )
    tokenize = with_hints(tokenize, options.tokenizer_resource_hint, "tokenizer_resource_hint")
    tokenized = (
        built.sequences
        | "Batch" >> beam.BatchElements(
            min_batch_size=batch_images, max_batch_size=batch_images, element_size_fn=lambda kv: len(kv[1].images)
        )
        | "Tokenize" >> tokenize
    )
    committed = (
        (tokenized.tokens, built[HEADER])
        | "Join" >> beam.Flatten()
        | "ByUnit" >> beam.GroupByKey()
        | "Commit" >> beam.ParDo(CommitUnit(recipe_dict, store.url)).with_outputs(FAILED, main="committed")
    )
    return committed.committed, [built[FAILED], tokenized[FAILED], committed[FAILED]]


def with_hints(transform: Any, hints: list[str], option: str) -> Any:
    """`transform` with the Beam resource hints of a uvd option (KEY=VALUE strings), if any."""
    parsed = parse_hints(hints, option)
    return transform.with_resource_hints(**parsed) if parsed else transform


def run_beam(
    recipe: Recipe,
    store: OutputStore,
    units: list[WorkUnit],
    progress: RunProgress,
    *,
    workers: int = 1,
    address: str | None = None,
    pipeline_options: Mapping[str, Any] | Sequence[str] | None = None,
    unit_timeout: float | None = None,
    oversubscribe: bool = False,
    **_: object,
) -> list[tuple[str, str]]:
    """Returns (unit id, error) for units that were not committed; the next run redoes them."""
    if address:
        raise UvdError("--address names a Ray cluster; for Beam pass runner options, e.g. --beam-option runner=FlinkRunner")
    if not units:
        return []
    args = pipeline_args(pipeline_options) + ([f"--unit_timeout={unit_timeout}"] if unit_timeout else [])
    watch = LedgerWatch(store, units, progress)
    errors: dict[str, str] = {}
    run_error = None
    with tempfile.TemporaryDirectory(prefix="uvd-beam-") as tmp:
        worker_log = f"{tmp}/workers.log"
        pipeline, local = make_pipeline(args, workers, worker_log, oversubscribe)
        options = pipeline.options.view_as(UvdBeamOptions)
        parse_hints(options.tokenizer_resource_hint)  # bad hints fail before anything runs
        parse_hints(options.build_resource_hint, "build_resource_hint")
        if options.layout not in LAYOUTS:
            raise UvdError(f"--layout {options.layout!r}: expected one of {', '.join(LAYOUTS)}")
        if not local and not options.build_resource_hint:
            from ..pipeline.plan import gpu_stages

            if stages := gpu_stages(recipe):
                log.warning("the recipe's %s need a GPU: pass --beam-option build_resource_hint=accelerator=... "
                            "to run the build step on GPU workers (it runs on CPU otherwise)", ", ".join(stages))
        temp_location = pipeline.options.get_all_options().get("temp_location")
        wave = options.units_per_pipeline or len(units)
        watch.start()
        for n, start in enumerate(range(0, len(units), wave)):
            if n:
                pipeline, _ = make_pipeline(args, workers, worker_log, oversubscribe)
            if local:
                prefix = f"{tmp}/failures-{n}"
            elif temp_location:  # a remote runner: its workers write where the driver can read
                prefix = f"{temp_location.rstrip('/')}/uvd-failures-{time.time_ns()}/failures"
            else:
                prefix = None
            build_pipeline(pipeline, recipe, store, units[start : start + wave], options, prefix)
            try:
                with quiet_local_runner() if local else nullcontext():
                    pipeline.run().wait_until_finish()
            except Exception as exc:  # the runner gave up: what was committed stays committed
                run_error = f"Beam pipeline failed: {error_text(exc)}"[:2000] + log_tail(worker_log)
                progress.log(f"[red]{run_error}")
                break
            finally:
                errors.update(read_failures(prefix) if prefix else {})
        missing = watch.stop()
    failures = []
    for unit in units:
        if unit.id in missing:
            why = errors.get(unit.id) or run_error or "not committed by the Beam pipeline (see the runner's logs)"
            failures.append((unit.id, why))
            progress.log(f"[red]unit {unit.id} failed: {why}")
    return failures
