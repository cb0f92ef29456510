"""Build one work unit: read items, render annotations, bring images to 256x256, apply
transforms, and group into visual sequences. Pure CPU work; no engine, no tokenizer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import CODE_VERSION, registry
from ..errors import BadInput
from ..ids import derived_id, rng_for, seed_for, sequence_id, unit_fraction
from ..images import set_exif_policy, set_pixel_limit, to_256
from .drops import unit_drops
from .quota import QUOTA_KEY
from .scores import unit_scores
from ..recipe import Recipe, SourceSpec
from ..stages import Renderer, Sequencer, Source, Transform
from ..storage import escape_name, escape_strings, escape_text, set_input_policy
from ..types import Image, Item, Reject, VisualSequence, WorkUnit


@dataclass
class UnitBuild:
    unit: WorkUnit
    sequences: list[VisualSequence]
    rejects: list[Reject]
    records_read: int
    records_used: int
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, dict[str, Any]] | None = None  # record -> image id -> filter scores (pipeline/scores.py)

    @property
    def n_images(self) -> int:
        return sum(len(s.images) for s in self.sequences)


class _SourceStages:
    """The plugin objects of one source, created once per worker."""

    def __init__(self, spec: SourceSpec, seed: int) -> None:
        self.spec = spec
        self.source: Source = registry.create_source(spec.plugin, spec.params, seed)  # type: ignore[assignment]
        self.renderers: list[Renderer] = [
            registry.create("renderer", r.plugin, r.params) for r in spec.renderers  # type: ignore[misc]
        ]
        self.transforms: list[Transform] = [
            registry.create("transform", t.plugin, t.params) for t in spec.transforms  # type: ignore[misc]
        ]
        self.sequencer: Sequencer = registry.create(
            "sequencer", spec.sequencer.plugin, spec.sequencer.params
        )  # type: ignore[assignment]
        for stage in self.all():
            stage.setup()

    def all(self) -> list:
        return [self.source, *self.renderers, *self.transforms, self.sequencer]


class UnitBuilder:
    """Turns work units into visual sequences. Holds no engine state; safe to create per worker."""

    def __init__(self, recipe: Recipe | dict[str, Any]) -> None:
        self.recipe = recipe if isinstance(recipe, Recipe) else Recipe.model_validate(recipe)
        pre = self.recipe.preprocess
        set_pixel_limit(pre.max_image_pixels)
        set_input_policy(pre.max_record_bytes, pre.follow_links_outside_input)
        set_exif_policy(pre.exif)
        self._stages: dict[str, _SourceStages] = {}

    def stages(self, source: str) -> _SourceStages:
        if source not in self._stages:
            self._stages[source] = _SourceStages(self.recipe.source(source), self.recipe.seed)
        return self._stages[source]

    def close(self) -> None:
        for st in self._stages.values():
            for stage in st.all():
                stage.teardown()

    def build(self, unit: WorkUnit) -> UnitBuild:
        start = time.perf_counter()
        quota = unit.payload.get(QUOTA_KEY)
        if quota == 0:  # the plan gave this unit none of its source's quota: nothing to read
            return UnitBuild(unit=unit, sequences=[], rejects=[], records_read=0, records_used=0)
        st = self.stages(unit.source)
        rejects: list[Reject] = []
        items: list[Item] = []
        records: list[str] = []
        drops = unit_drops(unit.payload)  # curation's decisions: these records never reach a sequence
        scores = unit_scores(unit.payload)  # the filters' stored scores, for the manifest (read before any work)
        rejects_of_drops: set[str] = set()
        for got in st.source.read(unit):
            got.record = escape_name(got.record)  # names from disks, tars, JSON may not be UTF-8
            records.append(got.record)
            if got.record in drops:
                if got.record not in rejects_of_drops:
                    rejects_of_drops.add(got.record)
                    rejects.append(Reject(got.record, *drops[got.record]))
                continue
            if isinstance(got, Reject):
                rejects.append(got)
                continue
            prepared = self._prepare(st, got)
            got = None  # the full-resolution image goes before the next decode: one in memory, reused while cache-hot
            (rejects if isinstance(prepared, Reject) else items).append(prepared)
        rng = rng_for(self.recipe.seed, unit.source, unit.id, "sequencer")
        sequences: list[VisualSequence] = []
        try:
            built = list(st.sequencer.build(items, rng))
        except BadInput as exc:
            built = [Reject(it.record, exc.reason, exc.detail) for it in items]
        for out in built:
            if isinstance(out, Reject):
                rejects.append(out)
            else:
                sequences.append(out)
        self._finish_sequences(st, sequences)
        if quota is not None and len(sequences) > quota:
            sequences, over = keep_quota(sequences, quota)
            kept = {r for s in sequences for r in s.records}
            for rec in dict.fromkeys(r for s in over for r in s.records):
                if rec not in kept:
                    rejects.append(Reject(rec, "over_quota", f"the plan allots this unit {quota} sequences"))
        used = {r for s in sequences for r in s.records}
        rejected = {r.record for r in rejects}
        for rec in dict.fromkeys(records):
            if rec not in used and rec not in rejected:
                rejects.append(Reject(rec, "unused", f"sequencer {st.sequencer.name!r} used no image of it"))
        for r in rejects:
            r.unit, r.source = unit.id, unit.source
            r.detail = escape_text(r.detail)
        unique = set(records)
        return UnitBuild(
            unit=unit,
            sequences=sequences,
            rejects=rejects,
            records_read=len(unique),
            records_used=len(unique & used),
            seconds=time.perf_counter() - start,
            scores=scores,
        )

    def _prepare(self, st: _SourceStages, item: Item) -> Item | Reject:
        """Render annotations at full resolution, resize everything to 256, derive corruptions."""
        crop = self.recipe.preprocess.center_crop
        try:
            views: dict[str, Image] = {}
            for r in st.renderers:
                drawn = r.render(item)
                if drawn is not None:
                    vid = derived_id(item.image.id, r.name, r.version, r.params_dict)
                    views[r.name] = Image(vid, to_256(drawn, crop, nearest=r.resample == "nearest"))
            for name, view in item.views.items():  # views a source provided (e.g. paired outputs)
                views.setdefault(name, Image(view.id, to_256(view, crop)))
            base = Image(item.image.id, to_256(item.image, crop))
            for t in st.transforms:
                seed = seed_for(self.recipe.seed, st.spec.name, item.image.id, t.name)
                out = t.apply(base.pixels, np.random.default_rng(seed))
                tid = derived_id(item.image.id, t.name, t.version, {"params": t.params_dict, "seed": seed})
                views[t.name] = Image(tid, np.ascontiguousarray(out, dtype=np.uint8))
        except BadInput as exc:
            return Reject(item.record, exc.reason, exc.detail)
        except ValueError as exc:
            return Reject(item.record, "bad_annotation", f"{type(exc).__name__}: {exc}")
        return Item(record=item.record, image=base, meta=item.meta, views=views)

    def _finish_sequences(self, st: _SourceStages, sequences: list[VisualSequence]) -> None:
        seq = st.sequencer
        seen: dict[str, int] = {}  # plain id -> sequences with it so far: a recurring group gets its own id
        for index, s in enumerate(sequences):
            s.index = index
            s.provenance = escape_strings(s.provenance)
            s.task = s.task or st.spec.task
            s.id = sequence_id(seq.name, seq.version + "/" + CODE_VERSION, seq.params_dict, s.image_ids)
            repeat = seen.get(s.id, 0)
            seen[s.id] = repeat + 1
            if repeat:
                s.id = sequence_id(seq.name, seq.version + "/" + CODE_VERSION, seq.params_dict, s.image_ids, repeat)
        frac = st.spec.test_fraction
        for group_key, members in leak_free_groups(sequences).items():
            split = "test" if frac > 0 and unit_fraction("split", st.spec.name, group_key) < frac else "train"
            for s in members:
                s.split = split


def leak_free_groups(sequences: list[VisualSequence]) -> dict[str, list[VisualSequence]]:
    """Sequences of one unit that share an image id, a record or a split key, joined (union-find)
    so that one split decision covers them all: within a unit, no image of a test sequence appears
    in a training one (`uvd audit` checks the whole dataset).

    A group is keyed by the smallest split key of its members (a sequence's split key defaults to
    its first image id), so a sequence that shares nothing keeps the split it always had, and the
    decision depends on the group's content only, never on build order."""
    parent = list(range(len(sequences)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, s in enumerate(sequences):
        keys = [("key", s.split_key or s.image_ids[0])]
        keys += [("image", x) for x in s.image_ids] + [("record", r) for r in s.records]
        for k in keys:
            j = owner.setdefault(k, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[VisualSequence]] = {}
    for i, s in enumerate(sequences):
        groups.setdefault(find(i), []).append(s)
    return {min(m.split_key or m.image_ids[0] for m in members): members for members in groups.values()}


def keep_quota(sequences: list[VisualSequence], quota: int) -> tuple[list[VisualSequence], list[VisualSequence]]:
    """(kept, dropped): the `quota` sequences with the smallest hash of their id, kept in build order
    and renumbered. The choice depends on sequence content only, never on engine or worker count."""
    ranked = sorted(sequences, key=lambda s: (unit_fraction("quota", s.id), s.id))
    chosen = {id(s) for s in ranked[:quota]}
    kept = [s for s in sequences if id(s) in chosen]
    for index, s in enumerate(kept):
        s.index = index
    return kept, [s for s in sequences if id(s) not in chosen]
