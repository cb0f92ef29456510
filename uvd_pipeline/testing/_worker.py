"""A stand-in worker process: load a shipped plugin and its inputs from stdin, run, print a fingerprint.

Only `uvd_pipeline.testing.shipping.run_in_fresh_process` starts it, with bytes it made itself a
moment before; it never reads anything else.
"""

from __future__ import annotations

import pickle
import sys

from .shipping import cloudpickle_module, fingerprint, invoke


def main() -> None:
    cp = cloudpickle_module() or pickle
    job = cp.loads(sys.stdin.buffer.read())
    plugin = job["plugin"]
    if job["name"]:
        type(plugin).name = job["name"]  # what registry.load does on a worker
    outputs = invoke(job["kind"], plugin, job["inputs"], job["seed"])
    print("fingerprint", fingerprint(outputs))


if __name__ == "__main__":
    main()
