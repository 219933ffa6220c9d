"""A recipe's DatasetDict splits, as the cookbook's builders make them (no Dagster imports).

The steps of a :class:`~datasets_pipeline.mixtures.recipes.RecipeSplit` run on the positions of
its sources' raw rows, concatenated in source order: ``exclude`` tests the raw rows' field,
``shuffle`` permutes raw positions, ``take``/``skip`` cut them. Then each raw position is mapped
to its cookbook row through the cookbook rows' ``source_row``; the rows the converter dropped
are simply missing. This is the cookbook's order (filter and shuffle the Hub rows, convert
afterwards), e.g. its math RL builder.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine.shuffle import permutation
from ..mixtures.recipes import Exclude, Recipe, RecipeSplit
from .cookbook import raw_rows
from .dataset_dict import PlannedSplit, _planned, _source_rows

Tables = Mapping[tuple[str, str], pa.Table]  # (asset, partition) -> table, e.g. ("cookbook/math500", "default/test")


def plan_recipe(recipe: Recipe, tables: Tables) -> dict[str, PlannedSplit]:
    """Every split of ``recipe`` from its upstream ``tables`` (keys: :attr:`Recipe.upstream`)."""
    return {split.name: plan_recipe_split(split, tables, recipe.name) for split in recipe.splits}


def _table(tables: Tables, asset: str, partition: str, what: str) -> pa.Table:
    table = tables.get((asset, partition))
    if table is None:
        raise ValueError(f"{what}: {asset}:{partition} is not materialized")
    return table


def _value_set(step: Exclude, tables: Tables, what: str) -> pa.Array:
    """The ``step.field`` values of the excluded partitions, as one array."""
    values = []
    for p in step.source.partitions:
        other = _table(tables, step.source.asset, p, what)
        if step.field not in other.column_names:
            raise ValueError(f"{what}: field {step.field!r} is not a column of {step.source.asset}:{p}")
        values.append(other.column(step.field))
    return pa.chunked_array([c for v in values for c in v.chunks], type=values[0].type).combine_chunks()


def _excluded(field: str, value_set: pa.Array, raw: pa.Table) -> np.ndarray:
    """True for the rows of ``raw`` whose ``field`` value is in ``value_set`` (nulls are kept)."""
    column = raw.column(field)
    if value_set.type != column.type:
        value_set = value_set.cast(column.type)
    hit = pc.fill_null(pc.is_in(column, value_set=value_set), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def plan_recipe_split(split: RecipeSplit, tables: Tables, recipe: str = "recipe") -> PlannedSplit:
    """One split: steps on raw positions, then the cookbook rows of the kept positions in their order."""
    parts = [(s.dataset, p) for s in split.sources for p in s.partitions]
    cooked: list[pa.Table] = []
    raws: list[pa.Table | None] = []
    lookups: list[np.ndarray] = []
    base = 0
    for dataset, p in parts:
        what = f"recipe {recipe} split {split.name} source cookbook/{dataset}:{p}"
        table = _table(tables, f"cookbook/{dataset}", p, what)
        raw = tables.get((f"raw/{dataset}", p))
        recorded = raw_rows(table.schema)
        if raw is not None and recorded is not None and recorded != raw.num_rows:
            raise ValueError(f"{what}: cookbook rows come from {recorded} raw rows, the raw split has {raw.num_rows}")
        n_raw = recorded if recorded is not None else (raw.num_rows if raw is not None else None)
        if n_raw is None:
            raise ValueError(f"{what} does not record its raw row count: re-materialize its cookbook partition")
        lookup = np.full(n_raw, -1, dtype=np.int64)
        lookup[_source_rows(table, what)] = np.arange(table.num_rows, dtype=np.int64) + base
        cooked.append(table)
        raws.append(raw)
        lookups.append(lookup)
        base += table.num_rows
    lookup = np.concatenate(lookups)
    positions = np.arange(len(lookup), dtype=np.int64)
    for step in split.steps:
        if step.kind == "exclude":
            assert isinstance(step.value, Exclude)
            what = f"recipe {recipe} split {split.name} step exclude"
            value_set = _value_set(step.value, tables, what)
            masks = []
            for (dataset, p), raw in zip(parts, raws):
                if raw is None:
                    raise ValueError(f"{what}: raw/{dataset}:{p} is not materialized")
                if step.value.field not in raw.column_names:
                    raise ValueError(f"{what}: field {step.value.field!r} is not a column of raw/{dataset}:{p}")
                masks.append(_excluded(step.value.field, value_set, raw))
            excluded = np.concatenate(masks)
            positions = positions[~excluded[positions]]
        elif step.kind == "shuffle":
            positions = positions[permutation(len(positions), seed=int(step.value))]  # type: ignore[arg-type]
        elif step.kind == "take":
            positions = positions[: int(step.value)]  # type: ignore[arg-type]
        elif step.kind == "skip":
            positions = positions[int(step.value) :]  # type: ignore[arg-type]
    picked = lookup[positions]
    indices = picked[picked >= 0]
    try:
        combined = pa.concat_tables([t.replace_schema_metadata(cooked[0].schema.metadata) for t in cooked])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        sources = ", ".join(f"cookbook/{d}:{p}" for d, p in parts)
        raise ValueError(f"recipe {recipe} split {split.name}: the schemas of {sources} cannot be concatenated: {exc}") from None
    return _planned(combined, indices)
