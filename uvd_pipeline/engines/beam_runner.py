"""How the Beam engine talks to Beam: importing it quietly, uvd's pipeline options, the choice of
runner (Beam's Python FnApiRunner locally, any runner through options), the failure report and the
progress seen through the ledger. The transforms themselves are in beam_engine.py."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import UvdError
from ..manifests.schema import LEDGER_DIR
from ..manifests.store import OutputStore
from ..types import WorkUnit
from .machine import fit_workers, machine_cpus
from .progress import RunProgress


def _import_beam():
    """Import apache_beam without its import-time warnings (e.g. "apitools not found", about GCP
    clients a local run never uses) reaching the log or turning on root logging for the process."""
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard:
        root.addHandler(guard)  # a module-level logging.warning() would otherwise call basicConfig()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        import apache_beam as beam
        import apache_beam.io.gcp.internal.clients.bigquery  # noqa: F401  (its notice, said here and silenced)
    except ImportError:
        import apache_beam as beam
    finally:
        root.setLevel(level)
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
        parser.add_argument(
            "--build_resource_hint", action="append", default=[],
            help="KEY=VALUE resource hint for the build step only, for recipes with needs_gpu stages "
                 "(e.g. a pose estimator): accelerator=type:nvidia-l4;count:1;install-nvidia-driver (repeatable)")
        parser.add_argument("--tokenizer_batch_images", type=int, default=0,
                            help="images per tokenizer call (default: 4 x the recipe's tokenizer.batch_size)")
        parser.add_argument("--tokenizer_device", default="",
                            help="override the recipe's tokenizer.device (auto | cpu | cuda)")
        parser.add_argument("--layout", default="staged",
                            help="staged (default): build, batched tokenizer and commit as separate steps, units "
                                 "commit when the pipeline's tokenizing is done; per_unit: one step builds, "
                                 "tokenizes and commits each unit, so units commit as they finish")
        parser.add_argument("--unit_timeout", type=float, default=0.0,
                            help="seconds a unit's build may take (0: no limit; `uvd run --unit-timeout` sets it): "
                                 "it runs in a child process killed at the deadline, retried once, then the unit fails")
        parser.add_argument("--units_per_pipeline", type=int, default=0,
                            help="run the units in successive pipelines of N (0: one pipeline). In batch "
                                 "mode a GroupByKey waits for all its input, so units commit at the end of "
                                 "their pipeline; waves make them commit, and a crash lose, at most N at a time")


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def parse_hints(hints: list[str], option: str = "tokenizer_resource_hint") -> dict[str, str]:
    out = {}
    for hint in hints:
        key, sep, value = hint.partition("=")
        if not sep or not key:
            raise UvdError(f"--{option} {hint!r}: expected KEY=VALUE, e.g. accelerator=type:nvidia-l4;count:1")
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


def make_pipeline(args: list[str], workers: int, worker_log: str, oversubscribe: bool = False):
    """(pipeline, whether it runs on this machine's Python runner). Locally, at most one worker
    process per CPU unless `oversubscribe` (machine.py)."""
    options = PipelineOptions(args)
    standard = options.view_as(StandardOptions)
    runner = None
    if (standard.runner or "DirectRunner") in LOCAL_RUNNERS:
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.transforms.environments import SubprocessSDKEnvironment

        given = " ".join(args)
        workers = fit_workers(workers, machine_cpus(), "this machine", oversubscribe=oversubscribe)
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
        raise UvdError(f"Beam pipeline options {args}: {error_text(exc)}") from None


@contextmanager
def quiet_local_runner():
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


def read_failures(prefix: str) -> dict[str, str]:
    from apache_beam.io.filesystems import FileSystems

    found: dict[str, str] = {}
    try:
        for match in FileSystems.match([prefix + "*"])[0].metadata_list:
            with FileSystems.open(match.path) as f:
                for line in f.read().decode("utf-8").splitlines():
                    row = json.loads(line)
                    found.setdefault(row["unit"], row["error"])
    except Exception as exc:  # the messages are a courtesy; the ledger says what was committed
        log.warning("could not read the failure report %s*: %s", prefix, error_text(exc))
    return found


def log_tail(path: str, chars: int = 2000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    return f"\nworker log (last lines):\n{text[-chars:]}" if text.strip() else ""


class LedgerWatch(threading.Thread):
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
