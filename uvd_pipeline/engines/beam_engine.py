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

Locally the pipeline runs on Beam's Python FnApiRunner, chosen explicitly: the DirectRunner
would first try Prism, whose binary cannot be downloaded everywhere. Any other runner (Flink,
Spark, Dataflow) takes Beam pipeline options; `--tokenizer_resource_hint` puts a resource hint
(e.g. a GPU) on the tokenizer step alone.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from ..errors import UvdError
from ..manifests.schema import LEDGER_DIR
from ..manifests.store import OutputStore
from ..recipe import Recipe
from ..types import WorkUnit
from .progress import RunProgress


def _import_beam():
    """Import apache_beam without its import-time warning turning on root logging for the process."""
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard:
        root.addHandler(guard)  # a module-level logging.warning() would otherwise call basicConfig()
    try:
        import apache_beam as beam
    finally:
        if guard:
            root.removeHandler(guard)
    return beam


beam = _import_beam()
from apache_beam.options.pipeline_options import (  # noqa: E402
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    WorkerOptions,
)

log = logging.getLogger("uvd_pipeline.beam")
FAILED = "failed"
HEADER = "header"
TOKENS = "tokens"
LOCAL_RUNNERS = ("DirectRunner", "FnApiRunner", "SwitchingDirectRunner")
LOCAL_RUNNER_LOGGERS = (
    "apache_beam.runners.portability.fn_api_runner.fn_runner",
    "apache_beam.runners.portability.local_job_service",
)


class UvdBeamOptions(PipelineOptions):
    """uvd's own pipeline options (pass them like any Beam option)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--tokenizer_resource_hint", action="append", default=[],
            help="KEY=VALUE resource hint for the tokenizer step only, e.g. "
                 "accelerator=type:nvidia-l4;count:1;install-nvidia-driver (repeatable)")
        parser.add_argument("--tokenizer_batch_images", type=int, default=0,
                            help="images per tokenizer call (default: 4 x the recipe's tokenizer.batch_size)")
        parser.add_argument("--tokenizer_device", default="",
                            help="override the recipe's tokenizer.device (auto | cpu | cuda)")


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class BuildUnit(beam.DoFn):
    """Read and build one unit; the UnitBuilder (and every plugin's setup) lives as long as the worker.

    Beam may run successive bundles of one DoFn on different threads of its worker; plugins may
    hold thread-bound resources (an EGL context), so every plugin call of this DoFn runs on one
    thread of its own, as it does in the other engines.
    """

    def __init__(self, recipe: dict[str, Any]) -> None:
        self.recipe = recipe
        self.builder = None
        self.thread = None

    def setup(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from ..pipeline.build import UnitBuilder

        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uvd-build")
        self.builder = self.thread.submit(UnitBuilder, self.recipe).result()

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
            log.error("unit %s failed to build: %s", unit.id, _error(exc))
            yield beam.pvalue.TaggedOutput(FAILED, (unit.id, _error(exc)))
            return
        header = {
            "unit": unit.to_row(),
            "rejects": built.rejects,
            "records_read": built.records_read,
            "records_used": built.records_used,
            "n_sequences": len(built.sequences),
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
                log.error("unit %s failed to tokenize: %s", unit_id, _error(exc))
                yield beam.pvalue.TaggedOutput(FAILED, (unit_id, _error(exc)))
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
        )
        try:
            commit_built(self.store, self.recipe, built, [tokens[i] for i in sorted(tokens)])
        except Exception as exc:
            log.error("unit %s failed to commit: %s", unit_id, _error(exc))
            yield beam.pvalue.TaggedOutput(FAILED, (unit_id, _error(exc)))
            return
        yield unit_id


def build_pipeline(
    pipeline,
    recipe: Recipe,
    store: OutputStore,
    units: list[WorkUnit],
    options: UvdBeamOptions,
    failures_prefix: str | None,
):
    """Add the uvd transforms to `pipeline`; returns the PCollection of committed unit ids.
    Failed units are logged by the step that failed them, and written as JSON lines under
    `failures_prefix` when given (a place the driver can read back)."""
    recipe_dict = recipe.model_dump(mode="json")
    batch_images = options.tokenizer_batch_images or 4 * recipe.tokenizer.batch_size
    built = (
        pipeline
        | "Units" >> beam.Create([u.to_row() for u in units])
        | "Spread" >> beam.Reshuffle()
        | "Build" >> beam.ParDo(BuildUnit(recipe_dict)).with_outputs(HEADER, FAILED, main="sequences")
    )
    tokenize = beam.ParDo(Tokenize(recipe_dict["tokenizer"], options.tokenizer_device)).with_outputs(
        FAILED, main="tokens"
    )
    hints = _parse_hints(options.tokenizer_resource_hint)
    if hints:
        tokenize = tokenize.with_resource_hints(**hints)
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
    if failures_prefix:
        (
            (built[FAILED], tokenized[FAILED], committed[FAILED])
            | "Failures" >> beam.Flatten()
            | "AsJson" >> beam.Map(lambda f: json.dumps({"unit": f[0], "error": f[1]}))
            | "WriteFailures" >> beam.io.WriteToText(failures_prefix, shard_name_template="-SSSSS-of-NNNNN")
        )
    return committed.committed


def _parse_hints(hints: list[str]) -> dict[str, str]:
    out = {}
    for hint in hints:
        key, sep, value = hint.partition("=")
        if not sep or not key:
            raise UvdError(f"--tokenizer_resource_hint {hint!r}: expected KEY=VALUE, e.g. accelerator=type:nvidia-l4;count:1")
        out[key.strip()] = value
    return out


def pipeline_args(options: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """Beam flags from {'runner': 'FlinkRunner', 'save_main_session': None} or a list of
    'KEY=VALUE' / 'KEY' / '--KEY=VALUE' strings (as `uvd run --beam-option` passes them)."""
    if options is None:
        return []
    if isinstance(options, Mapping):
        return [f"--{k}" if v is None or v is True else f"--{k}={v}" for k, v in options.items()]
    return [a if a.startswith("--") else f"--{a}" for a in options]


def _provision_info(options: PipelineOptions):
    """What the DirectRunner hands its SDK workers: the pipeline options (log level included)."""
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))


def _make_pipeline(args: list[str], workers: int, worker_log: str):
    """(pipeline, whether it runs on this machine's Python runner)."""
    options = PipelineOptions(args)
    standard = options.view_as(StandardOptions)
    runner = None
    if (standard.runner or "DirectRunner") in LOCAL_RUNNERS:
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.transforms.environments import SubprocessSDKEnvironment

        given = " ".join(args)
        direct = options.view_as(DirectOptions)
        environment = None
        if workers > 1 and "--direct_num_workers" not in given and "--direct_running_mode" not in given:
            # N worker processes (real parallelism, and a thread-bound plugin resource such as an
            # EGL context stays in its process); their own start-up chatter goes to a log file.
            direct.direct_num_workers = workers
            command = f"exec {shlex.quote(sys.executable)} -m apache_beam.runners.worker.sdk_worker_main"
            environment = SubprocessSDKEnvironment.from_command_string(f"{command} 2>>{shlex.quote(worker_log)}")
        if "--default_sdk_harness_log_level" not in given:
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
        runner = fn_runner.FnApiRunner(default_environment=environment, provision_info=_provision_info(options))
        standard.runner = None
    try:
        return beam.Pipeline(runner=runner, options=options), runner is not None
    except Exception as exc:  # an unknown runner name or bad option
        raise UvdError(f"Beam pipeline options {args}: {_error(exc)}") from None


@contextmanager
def _quiet_local_runner():
    """The Python runner warns about its own set-up (worker count vs running mode, the workers'
    relayed start-up logs); uvd chose that set-up, so those loggers say only errors meanwhile."""
    loggers = [logging.getLogger(name) for name in LOCAL_RUNNER_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _read_failures(prefix: str) -> dict[str, str]:
    from apache_beam.io.filesystems import FileSystems

    found: dict[str, str] = {}
    try:
        for match in FileSystems.match([prefix + "*"])[0].metadata_list:
            with FileSystems.open(match.path) as f:
                for line in f.read().decode("utf-8").splitlines():
                    row = json.loads(line)
                    found.setdefault(row["unit"], row["error"])
    except Exception as exc:  # the messages are a courtesy; the ledger says what was committed
        log.warning("could not read the failure report %s*: %s", prefix, _error(exc))
    return found


def _tail(path: str, chars: int = 2000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    return f"\nworker log (last lines):\n{text[-chars:]}" if text.strip() else ""


class _LedgerWatch(threading.Thread):
    """Advances the progress bars as ledger entries (commits) appear: works with any runner."""

    def __init__(self, store: OutputStore, units: list[WorkUnit], progress: RunProgress, every: float = 0.5) -> None:
        super().__init__(daemon=True, name="uvd-beam-progress")
        self.store, self.progress, self.every = store, progress, every
        self.waiting = {u.id for u in units}
        self.stopped = threading.Event()

    def poll(self) -> None:
        for name in self.store.list(LEDGER_DIR, ".json"):
            unit_id = name.removesuffix(".json")
            if unit_id not in self.waiting:
                continue
            self.waiting.discard(unit_id)
            try:
                images = json.loads(self.store.read_text(f"{LEDGER_DIR}/{name}"))["counts"]["images"]
            except (OSError, ValueError, KeyError):
                images = 0
            self.progress.unit_built()
            self.progress.images_tokenized(images)
            self.progress.unit_committed()

    def run(self) -> None:
        wait = self.every
        while not self.stopped.wait(wait):
            start = time.perf_counter()
            self.poll()
            wait = max(self.every, 20 * (time.perf_counter() - start))  # big ledgers on object stores: list less often

    def stop(self) -> set[str]:
        """Stop watching; returns the ids of units that were not committed."""
        self.stopped.set()
        self.join()
        self.poll()
        return self.waiting


def run_beam(
    recipe: Recipe,
    store: OutputStore,
    units: list[WorkUnit],
    progress: RunProgress,
    *,
    workers: int = 1,
    address: str | None = None,
    pipeline_options: Mapping[str, Any] | Sequence[str] | None = None,
    **_: object,
) -> list[tuple[str, str]]:
    """Returns (unit id, error) for units that were not committed; the next run redoes them."""
    if address:
        raise UvdError("--address names a Ray cluster; for Beam pass runner options, e.g. --beam-option runner=FlinkRunner")
    if not units:
        return []
    args = pipeline_args(pipeline_options)
    with tempfile.TemporaryDirectory(prefix="uvd-beam-") as tmp:
        worker_log = f"{tmp}/workers.log"
        pipeline, local = _make_pipeline(args, workers, worker_log)
        options = pipeline.options.view_as(UvdBeamOptions)
        _parse_hints(options.tokenizer_resource_hint)  # bad hints fail before anything runs
        temp_location = pipeline.options.get_all_options().get("temp_location")
        if local:
            prefix = f"{tmp}/failures"
        elif temp_location:  # a remote runner: its workers write where the driver can read
            prefix = f"{temp_location.rstrip('/')}/uvd-failures-{time.time_ns()}/failures"
        else:
            prefix = None
        build_pipeline(pipeline, recipe, store, units, options, prefix)
        watch = _LedgerWatch(store, units, progress)
        watch.start()
        run_error = None
        try:
            with _quiet_local_runner() if local else nullcontext():
                pipeline.run().wait_until_finish()
        except Exception as exc:  # the runner gave up: what was committed stays committed
            run_error = f"Beam pipeline failed: {_error(exc)}"[:2000] + _tail(worker_log)
            progress.log(f"[red]{run_error}")
        missing = watch.stop()
        errors = _read_failures(prefix) if prefix else {}
    failures = []
    for unit in units:
        if unit.id in missing:
            why = errors.get(unit.id) or run_error or "not committed by the Beam pipeline (see the runner's logs)"
            failures.append((unit.id, why))
            progress.log(f"[red]unit {unit.id} failed: {why}")
    return failures
