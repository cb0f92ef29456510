"""The recipe: a YAML file, validated with pydantic; errors name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import fsspec
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import registry
from .errors import RecipeError, UnknownPluginError
from .ids import canonical_json, hash_hex
from .types import CATEGORIES

Category = Literal[
    "unlabelled_images", "annotated_images", "unlabelled_videos", "annotated_videos", "synthetic_3d"
]
assert set(Category.__args__) == set(CATEGORIES)  # type: ignore[attr-defined]


# The default near-duplicate threshold (bits of a 64-bit pHash), from bench/dedup_quality.py and the cluster
# pass's cost (docs/CURATION.md): at 4 bits no unrelated pair matched and re-encodes, resizes, brightness
# changes and blur are found; each bit more multiplies the exchanged band rows.
DEFAULT_DEDUP_THRESHOLD = 4


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginRef(_Strict):
    plugin: str
    params: dict[str, Any] = Field(default_factory=dict)


class SourceSpec(_Strict):
    """One input: a source plugin, what to derive from its items, and how to group them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", description="unique, snake_case")
    plugin: str
    params: dict[str, Any] = Field(default_factory=dict)
    category: Category
    task: str = Field(default="image", pattern=r"^[a-z0-9_]+$")
    renderers: list[PluginRef] = Field(default_factory=list)
    transforms: list[PluginRef] = Field(default_factory=list)
    sequencer: PluginRef = Field(default_factory=lambda: PluginRef(plugin="single"))
    test_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    # Composition control (uvd plan / uvd audit). Left at their defaults they are not written into
    # the resolved recipe, so recipes that do not use them keep their fingerprint.
    weight: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, exclude_if=lambda v: v == 1.0,
        description="this source's part of its category's target token budget, relative to the category's other sources",
    )
    max_sequences: int | None = Field(
        default=None, ge=0, exclude_if=lambda v: v is None,
        description="cap on this source's sequences, spread over its units by the plan",
    )
    repeat: int = Field(
        default=1, ge=1, exclude_if=lambda v: v == 1,
        description="times exports and the reader show each sequence per epoch; counts in audited shares",
    )


class TargetSpec(_Strict):
    """Per-category token shares the dataset should have: a named set, explicit shares, or both
    (explicit shares replace the set's for their categories). `targets: uvdv1` is short for
    `targets: {preset: uvdv1}`."""

    preset: str | None = Field(default=None, description="named target set, e.g. uvdv1")
    shares: dict[Category, float] = Field(default_factory=dict)
    enforce: bool = Field(default=True, description="cap sources (quotas from the plan) so built shares meet the targets")
    tolerance: float = Field(default=0.1, gt=0, allow_inf_nan=False, description="allowed |share - target| / target in `uvd audit --strict`")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"preset": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _valid_shares(self) -> TargetSpec:
        self.resolved()
        return self

    def resolved(self) -> dict[str, float]:
        """The target shares, normalised to sum to 1."""
        from .audit.targets import TARGET_SETS, normalise

        if self.preset is None and not self.shares:
            raise ValueError("give a preset (e.g. uvdv1) or shares")
        if self.preset is not None and self.preset not in TARGET_SETS:
            raise ValueError(f"preset: unknown target set {self.preset!r}; known: {', '.join(sorted(TARGET_SETS))}")
        merged = dict(TARGET_SETS[self.preset]) if self.preset else {}
        if self.preset and self.shares:  # explicit shares are fractions of the whole; rescale the set's rest
            rest = max(0.0, 1.0 - sum(self.shares.values()))
            kept = {c: v for c, v in merged.items() if c not in self.shares}
            total = sum(kept.values()) or 1.0
            merged = {c: v / total * rest for c, v in kept.items()}
        merged.update(self.shares)
        return normalise(merged, "targets.shares")


class TokenizerSpec(_Strict):
    checkpoint: str | None = Field(default=None, description="directory with config.json + weights")
    preset: Literal["tiny", "lvm"] = "tiny"
    seed: int = 0
    batch_size: int = Field(default=16, ge=1, le=4096)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # The compute precision is part of the dataset's identity (codes differ between precisions).
    # Left at their defaults they are not written into the resolved recipe, so recipes that do not
    # set them keep their fingerprint (float32 is what every CPU run has always used).
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", exclude_if=lambda v: v == "float32",
        description="compute precision: float32 (as the LVM tokenize scripts) or bf16/fp16 autocast",
    )
    tf32: bool = Field(
        default=False, exclude_if=lambda v: v is False,
        description="on CUDA, let float32 convolutions and matmuls use TF32 (faster; codes differ)",
    )

    @model_validator(mode="after")
    def _tf32_needs_float32(self) -> TokenizerSpec:
        if self.tf32 and self.dtype != "float32":
            raise ValueError(f"tf32: applies to dtype float32 only (dtype is {self.dtype})")
        return self

    @property
    def is_random(self) -> bool:
        return self.checkpoint is None


class PreprocessSpec(_Strict):
    center_crop: bool = False
    exif: Literal["ignore", "apply"] = Field(
        default="ignore", exclude_if=lambda v: v == "ignore",
        description="EXIF orientation: ignore (as LVM's Image.open(path).convert('RGB')) or apply (rotate as tagged)",
    )
    max_image_pixels: int | None = Field(
        default=89_478_485, gt=0, description="PIL's decompression-bomb limit; null lifts it (not advised)"
    )
    # Input safety (storage/input_files.py). At their defaults they are not written into the
    # resolved recipe, so recipes that do not set them keep their fingerprint.
    max_record_bytes: int | None = Field(
        default=256 * 2**20, gt=0, exclude_if=lambda v: v == 256 * 2**20,
        description="bytes a record's file or tar member may have; over it: a too_large reject, "
        "before reading or decompressing it; null lifts the cap (not advised)",
    )
    follow_links_outside_input: bool = Field(
        default=False, exclude_if=lambda v: v is False,
        description="read files (and enter folders) that symlinks inside an input folder lead to outside it",
    )


class EvalSetSpec(_Strict):
    """An evaluation set: read for signatures only, never built. Training records that match one
    of its images are dropped as `eval_contamination`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", description="unique, snake_case")
    plugin: str = Field(description="any source plugin, e.g. image_folder, coco, imagenet")
    params: dict[str, Any] = Field(default_factory=dict)


class CurationSpec(_Strict):
    """The one global pass between planning and building (docs/CURATION.md). The smallest form is
    `curation: {dedup: true}`; every other key has a default."""

    dedup: bool = Field(default=False, description="drop exact and near duplicates across all sources")
    threshold: int = Field(
        default=DEFAULT_DEDUP_THRESHOLD, ge=0, le=16,
        description="near duplicates: at most this many differing bits of the 64-bit perceptual hash",
    )
    priority: list[str] = Field(
        default_factory=list, description="sources whose records are kept first within a cluster; the rest follow in recipe order",
    )
    skip_sources: list[str] = Field(default_factory=list, description="sources left out of curation (no signatures, nothing dropped)")
    eval_sets: list[EvalSetSpec] = Field(default_factory=list)
    filters: list[PluginRef] = Field(default_factory=list, description="filter plugins; thresholds in their params")
    signatures_from: str | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="an earlier output whose committed signatures are reused where their identity matches",
    )

    @property
    def enabled(self) -> bool:
        return self.dedup or bool(self.eval_sets) or bool(self.filters)


class Recipe(_Strict):
    name: str = "uvd"
    seed: int = 0
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    sources: list[SourceSpec] = Field(min_length=1)
    output: str | None = None
    targets: TargetSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    curation: CurationSpec | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceSpec]) -> list[SourceSpec]:
        seen: set[str] = set()
        for s in sources:
            if s.name in seen:
                raise ValueError(f"source name {s.name!r} is used twice")
            seen.add(s.name)
        return sources

    @model_validator(mode="after")
    def _plugins_exist(self) -> Recipe:
        for i, s in enumerate(self.sources):
            _check_plugin("source", s.plugin, s.params, f"sources[{i}]")
            _check_plugin("sequencer", s.sequencer.plugin, s.sequencer.params, f"sources[{i}].sequencer")
            for j, r in enumerate(s.renderers):
                _check_plugin("renderer", r.plugin, r.params, f"sources[{i}].renderers[{j}]")
            for j, t in enumerate(s.transforms):
                _check_plugin("transform", t.plugin, t.params, f"sources[{i}].transforms[{j}]")
        if self.curation is not None:
            self._check_curation(self.curation)
        return self

    def _check_curation(self, cur: CurationSpec) -> None:
        names = [s.name for s in self.sources]
        for key in ("priority", "skip_sources"):
            for j, name in enumerate(getattr(cur, key)):
                if name not in names:
                    raise _PluginParamError(f"curation.{key}[{j}]: no source named {name!r}; sources: {', '.join(names)}")
        seen: set[str] = set()
        for j, ev in enumerate(cur.eval_sets):
            if ev.name in seen or ev.name in names:
                raise _PluginParamError(f"curation.eval_sets[{j}].name: {ev.name!r} is already the name of a source or eval set")
            seen.add(ev.name)
            _check_plugin("source", ev.plugin, ev.params, f"curation.eval_sets[{j}]")
        for j, f in enumerate(cur.filters):
            _check_plugin("filter", f.plugin, f.params, f"curation.filters[{j}]")

    def source(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """What decides the output: everything but where it is written."""
        data = self.to_dict()
        data.pop("output", None)
        return hash_hex("recipe", data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


class _PluginParamError(ValueError):
    pass


def _check_plugin(kind: str, name: str, params: dict[str, Any], where: str) -> None:
    try:
        cls = registry.load(kind, name)
    except UnknownPluginError as exc:
        raise _PluginParamError(f"{where}.plugin: {exc}") from None
    try:
        cls.Params(**params)
    except ValidationError as exc:
        details = "; ".join(_param_error(e, cls, kind, name, where) for e in exc.errors())
        raise _PluginParamError(details) from None


def _param_error(err: Any, cls: Any, kind: str, name: str, where: str) -> str:
    """One validation error of a plugin's params; an unknown param lists the valid ones and the closest."""
    line = f"{where}.params.{_loc(err['loc'])}: {err['msg']}"
    if err["type"] != "extra_forbidden" or len(err["loc"]) != 1:
        return line
    valid = list(cls.Params.model_fields)
    shown = ", ".join(valid) or "none"
    return (f"{where}.params.{err['loc'][0]}: unknown parameter of {kind} {name!r}"
            f"{registry.did_you_mean(str(err['loc'][0]), valid)} (valid: {shown}; `uvd plugins show {name} --kind {kind}`)")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _fields_at(loc: tuple) -> list[str]:
    """The fields a recipe allows where an unknown one was found (top level or a source entry)."""
    if len(loc) == 1:
        return list(Recipe.model_fields)
    if len(loc) == 3 and loc[0] == "sources":
        return list(SourceSpec.model_fields)
    return []


def parse_recipe(data: Any, origin: str = "<recipe>") -> Recipe:
    if not isinstance(data, dict):
        raise RecipeError(f"{origin}: a recipe is a mapping at the top level, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            field = _loc(err["loc"])
            if err["type"] == "value_error" and (".plugin:" in msg or ".params." in msg or msg.startswith("curation.")):
                lines.append(msg)
            elif err["type"] == "extra_forbidden" and _fields_at(err["loc"]):
                valid = _fields_at(err["loc"])
                lines.append(f"{field}: unknown field{registry.did_you_mean(str(err['loc'][-1]), valid)} "
                             f"(valid: {', '.join(valid)})")
            else:
                got = err.get("input")
                shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
                lines.append(f"{field}: {msg}{shown}")
        raise RecipeError(f"{origin}: invalid recipe\n  " + "\n  ".join(lines)) from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe (local path or fsspec URL); relative data paths stay as written."""
    path = str(path)
    try:
        with fsspec.open(path, "r") as f:
            text = f.read()
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipe file not found") from None
    try:
        data = safe_load_unique(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    return parse_recipe(data, origin=path)


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping naming a key twice (plain safe_load keeps the last one,
    so a recipe's earlier value would be dropped without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`; its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def safe_load_unique(text: str) -> Any:
    """yaml.safe_load, refusing duplicate keys in any mapping."""
    loader = _UniqueKeySafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def same_recipe(a: Recipe, b: Recipe) -> bool:
    return canonical_json(a.fingerprint()) == canonical_json(b.fingerprint())
