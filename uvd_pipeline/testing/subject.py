"""One plugin class with the params and inputs the conformance suite checks it on."""

from __future__ import annotations

from typing import Any

from ..stages import Plugin
from .shipping import fingerprint, invoke


class Subject:
    """One plugin class with the params and inputs it is checked on."""

    def __init__(self, kind: str, cls: type[Plugin], params: dict[str, Any], inputs: list[Any], seed: int) -> None:
        self.kind, self.cls, self.params, self.inputs, self.seed = kind, cls, params, inputs, seed
        self.inputs_fingerprint = fingerprint(inputs)  # before any run, to catch in-place changes

    def make(self) -> Plugin:
        return self.cls(**self.params)

    def make_from(self, params: dict[str, Any]) -> Plugin:
        return self.cls(**params)

    def run(self, plugin: Plugin | None = None, inputs: list[Any] | None = None) -> list[Any]:
        return invoke(self.kind, plugin or self.make(), self.inputs if inputs is None else inputs, self.seed)
