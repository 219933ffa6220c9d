"""The ``recipes:`` section of ``mixtures.yaml``: DatasetDicts composed from catalog partitions.

Each entry becomes the asset ``dataset_dict/<name>`` (one config, ``default``)::

    recipes:
      math_rl:
        description: Hendrycks MATH minus MATH-500, shuffled; MATH-500 as test
        splits:
          train:                                       # a split of the DatasetDict
            sources:                                   # concatenated in this order
              - asset: cookbook/hendrycks_math         # cookbook/<name>
                partition: "*"                         # "<config>/<split>", "<config>" or "*"
            steps:                                     # applied in order
              - exclude:                               # drop rows whose field value is in
                  field: problem                       # another partition's column
                  in: {asset: raw/math500, partition: default/test}
              - shuffle: {seed: 0}
              - take: 1000                             # or skip: N
          test:
            sources: [{asset: cookbook/math500, partition: default/test}]

``partition: "<config>"`` reads that config's splits, ``"*"`` every partition of the dataset,
in catalog order (configs in order, each config's splits in order). Steps: ``concatenate``
(implicit, may be written first), ``exclude: {field, in: {asset, partition}}`` (``in.asset`` is
``cookbook/<name>`` or ``raw/<name>``), ``shuffle: {seed: N}`` (seed a non-negative integer),
``take: N`` and ``skip: N`` (non-negative integers).

Semantics (the cookbook builders' order of operations,
:func:`datasets_pipeline.steps.recipe.plan_recipe`): the steps run on the positions of the
sources' **raw** rows (``exclude`` tests the raw rows' field, ``shuffle`` permutes raw
positions); then the rows the cookbook converter dropped are removed, through each cookbook
row's ``source_row``.

Errors: a bad entry is a :class:`RecipeError` naming the entry and each field path
(``splits.train.steps[1].shuffle.seed``) with its line; the other entries load
(:class:`RecipesFile`). A ``recipes`` section that is not a mapping fails the file
(:class:`~.config.MixturesFileError`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Mapping

import xxhash

from datasets_pipeline.catalog import CATALOG

from .config import (
    AssetPartitions,
    _catalog_dataset,
    _NAME,
    Entry,
    EntryError,
    InvalidMixture,
    MixturesFileError,
    parse_entries,
    _Checker,
    _kind,
    _Map,
    _Seq,
    _suggest,
    _int,
    load_mixtures,
)

__all__ = [
    "CONFIG", "Exclude", "InvalidRecipe", "Recipe", "RecipeError", "RecipeSource", "RecipeSplit", "RecipesFile",
    "STEPS", "Step", "load_recipes", "parse_recipes",
]

CONFIG = "default"  # a recipe's DatasetDict has one config
ENTRY_FIELDS = ("description", "splits")
SPLIT_FIELDS = ("sources", "steps")
SOURCE_FIELDS = ("asset", "partition")
STEPS = ("concatenate", "exclude", "shuffle", "take", "skip")
EXCLUDE_FIELDS = ("field", "in")
SOURCE_LAYERS = ("cookbook",)
EXCLUDE_LAYERS = ("cookbook", "raw")
ALL_PARTITIONS = "*"


RecipeSource = AssetPartitions  # a recipe source: an asset and its concrete partitions


@dataclass(frozen=True)
class Exclude:
    """Drop rows whose ``field`` value appears in the ``field`` column of ``source``."""

    field: str
    source: RecipeSource


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` in :data:`STEPS`; ``value`` is the seed, the count or the :class:`Exclude`."""

    kind: str
    value: int | Exclude | None = None


@dataclass(frozen=True)
class RecipeSplit:
    name: str
    sources: tuple[RecipeSource, ...]
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Recipe(Entry):
    """A validated recipe; ``dataset_dict/<name>`` (config ``default``) is its asset."""

    LAYER: ClassVar[str] = "dataset_dict"

    name: str
    splits: tuple[RecipeSplit, ...]

    @property
    def upstream(self) -> tuple[tuple[str, str], ...]:
        """Every ``(asset, partition)`` read, cookbook and raw of each source and every ``exclude`` partition."""
        out: dict[tuple[str, str], None] = {}
        for split in self.splits:
            for source in split.sources:
                for layer in ("cookbook", "raw"):
                    out.update({(f"{layer}/{source.dataset}", p): None for p in source.partitions})
            for step in split.steps:
                if isinstance(step.value, Exclude):
                    out.update({(step.value.source.asset, p): None for p in step.value.source.partitions})
        return tuple(out)

    def canonical(self) -> str:
        """The entry's rows-deciding content (splits, sources, steps) as canonical JSON."""
        return json.dumps([asdict(s) for s in self.splits], sort_keys=True, separators=(",", ":"))

    def version(self) -> str:
        """A short hash of :meth:`canonical` (the description does not change it)."""
        return xxhash.xxh3_64_hexdigest(self.canonical().encode())[:12]


class InvalidRecipe(InvalidMixture):
    """Raised when a broken recipe is used; carries the :class:`RecipeError` as ``error``."""


class RecipeError(EntryError):
    """Why the recipe ``name`` could not be loaded (``dataset_dict/<name>`` shows and raises this message)."""

    KIND, LAYER, RAISES = "recipe", "dataset_dict", InvalidRecipe


@dataclass(frozen=True)
class RecipesFile:
    """Good recipes and one error per bad entry."""

    path: str | None
    recipes: Mapping[str, Recipe]
    errors: Mapping[str, RecipeError]
    names: tuple[str, ...] = ()

    def get(self, name: str) -> Recipe:
        """The recipe ``name``; :class:`InvalidRecipe` if its entry is broken, KeyError if absent."""
        if name in self.recipes:
            return self.recipes[name]
        if name in self.errors:
            raise self.errors[name].exception()
        raise KeyError(f"no recipe {name!r} in {self.path or 'the mixtures file'}; defined: {', '.join(self.names) or 'none'}")


def load_recipes(path: str | os.PathLike | None = None) -> RecipesFile:
    """The recipes of the mixtures file (default: ``mixtures.yaml`` or ``$DATASETS_PIPELINE_MIXTURES``)."""
    mf = load_mixtures(path)
    return parse_recipes(mf.recipes, file=mf.path, line=None)


def parse_recipes(section: Any, file: str | None = None, line: int | None = None) -> RecipesFile:
    """Validate the parsed ``recipes`` section (see the module docstring)."""
    if section is None:
        return RecipesFile(file, {}, {})
    if not isinstance(section, _Map):
        raise MixturesFileError(f"'recipes' must map names to entries, got {_kind(section)}", file, line)
    recipes, errors, names = parse_entries(section, file, RecipeError, lambda name, entry, at: _entry(name, entry, at, file))
    return RecipesFile(file, recipes, errors, names)


def _entry(name: Any, entry: Any, line: int, file: str | None) -> Recipe | RecipeError:
    key = str(name)
    check = _Checker()
    if not isinstance(name, str) or not _NAME.match(name):
        check.add("name", f"{name!r} is not a valid asset name (letters, digits and '_' only)", line)
    elif name in CATALOG:
        check.add("name", f"dataset_dict/{name} is the catalog dataset's own DatasetDict; choose another name", line)
    if not isinstance(entry, _Map):
        check.add("entry", f"must be a mapping with 'splits', got {_kind(entry)}", line)
        return RecipeError(key, tuple(check.problems), file, line)
    _fields(entry, "", ENTRY_FIELDS, check)
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        check.add("description", f"must be a string, got {_kind(description)}", entry.lines.get("description"))
    raw_splits = entry.get("splits")
    splits: list[RecipeSplit] = []
    if raw_splits is None:
        check.add("splits", "missing: map split names to {sources: [...], steps: [...]}", line)
    elif not isinstance(raw_splits, _Map) or not raw_splits:
        check.add("splits", f"must map split names to {{sources, steps}}, got {_kind(raw_splits)}", entry.lines.get("splits"))
    else:
        _fields(raw_splits, "splits.", (), check, check_unknown=False)
        for split_name, body in raw_splits.items():
            parsed = _split(str(split_name), body, raw_splits.lines[split_name], check)
            if parsed is not None:
                splits.append(parsed)
    if check.problems:
        return RecipeError(key, tuple(check.problems), file, line)
    return Recipe(key, tuple(splits), description=description, file=file, line=line)


def _fields(item: _Map, prefix: str, known: tuple[str, ...], check: _Checker, check_unknown: bool = True) -> bool:
    ok = True
    for dup, first, again in item.duplicates:
        check.add(f"{prefix}{dup}", f"given twice (lines {first} and {again})", again)
        ok = False
    if check_unknown:
        for field_ in item:
            if field_ not in known:
                check.add(f"{prefix}{field_}", f"unknown field{_suggest(field_, known)}; expected one of {list(known)}", item.lines.get(field_))
                ok = False
    return ok


def _split(name: str, body: Any, line: int, check: _Checker) -> RecipeSplit | None:
    path = f"splits.{name}"
    before = len(check.problems)
    if not _NAME.match(name):
        check.add(path, f"{name!r} is not a valid split name (letters, digits and '_' only)", line)
    if not isinstance(body, _Map):
        check.add(path, f"must be a mapping with 'sources' (and optional 'steps'), got {_kind(body)}", line)
        return None
    _fields(body, f"{path}.", SPLIT_FIELDS, check)
    raw_sources = body.get("sources")
    sources: list[RecipeSource] = []
    if raw_sources is None:
        check.add(f"{path}.sources", "missing: list at least one source ({asset: cookbook/<name>, partition: <config>/<split>})", line)
    elif not isinstance(raw_sources, _Seq) or not raw_sources:
        check.add(f"{path}.sources", f"must be a non-empty list of sources, got {_kind(raw_sources)}", body.lines.get("sources"))
    else:
        seen: dict[tuple[str, str], int] = {}
        for i, item in enumerate(raw_sources):
            source = _source(f"{path}.sources[{i}]", item, raw_sources.lines[i], SOURCE_LAYERS, check)
            if source is None:
                continue
            for p in source.partitions:
                if (source.asset, p) in seen:
                    check.add(f"{path}.sources[{i}].partition", f"{source.asset}:{p} is already read by sources[{seen[(source.asset, p)]}]; list each partition once", raw_sources.lines[i])
                    break
                seen[(source.asset, p)] = i
            sources.append(source)
    steps = _steps(path, body.get("steps"), body.lines.get("steps", line), check)
    if len(check.problems) > before:
        return None
    return RecipeSplit(name, tuple(sources), tuple(steps))


def _source(path: str, item: Any, line: int, layers: tuple[str, ...], check: _Checker) -> RecipeSource | None:
    if not isinstance(item, _Map):
        check.add(path, f"must be a mapping with 'asset' and 'partition', got {_kind(item)}", line)
        return None
    at = lambda key: item.lines.get(key, line)  # noqa: E731
    if not _fields(item, f"{path}.", SOURCE_FIELDS, check):
        return None
    asset, partition = item.get("asset"), item.get("partition")
    if asset is None or partition is None:
        missing = [k for k in SOURCE_FIELDS if item.get(k) is None]
        check.add(path, f"missing {' and '.join(missing)}", line)
        return None
    expected = " or ".join(f"'{layer}/<name>'" for layer in layers)
    if not isinstance(asset, str):
        check.add(f"{path}.asset", f"must be a string like {expected}, got {_kind(asset)}", at("asset"))
        return None
    found = _catalog_dataset(path, asset, tuple(layers), "a recipe source", at, check)
    if found is None:
        return None
    spec = found[2]
    keys = spec.partition_keys
    if not isinstance(partition, str):
        check.add(f"{path}.partition", f"must be a string like '<config>/<split>', '<config>' or '*', got {_kind(partition)}", at("partition"))
        return None
    if partition == ALL_PARTITIONS:
        return RecipeSource(asset, partition, tuple(keys))
    if partition in keys:
        return RecipeSource(asset, partition, (partition,))
    if partition in spec.configs:
        return RecipeSource(asset, partition, tuple(k for k in keys if k.split("/", 1)[0] == partition))
    check.add(
        f"{path}.partition",
        f"unknown partition {partition!r} of {asset}{_suggest(partition, list(keys) + list(spec.configs))}; "
        f"known: {', '.join(keys)} (or a config: {', '.join(spec.configs)}, or '*')",
        at("partition"),
    )
    return None


def _steps(path: str, raw: Any, line: int, check: _Checker) -> list[Step]:
    if raw is None:
        return []
    if not isinstance(raw, _Seq):
        check.add(f"{path}.steps", f"must be a list of steps, got {_kind(raw)}", line)
        return []
    out: list[Step] = []
    for i, item in enumerate(raw):
        where, at = f"{path}.steps[{i}]", raw.lines[i]
        if isinstance(item, str):
            kind, value, has_value = item, None, False
        elif isinstance(item, _Map) and len(item) == 1:
            kind, value = next(iter(item.items()))
            has_value = True
        else:
            check.add(where, f"must be a step name or a mapping with one step, e.g. {{take: 100}}, got {_kind(item)}", at)
            continue
        if kind not in STEPS:
            check.add(where, f"unknown step {kind!r}{_suggest(kind, STEPS)}; expected one of {list(STEPS)}", at)
            continue
        step = _step(f"{where}.{kind}", kind, value, has_value, i, at, check)
        if step is not None:
            out.append(step)
    return out


def _step(where: str, kind: str, value: Any, has_value: bool, index: int, line: int, check: _Checker) -> Step | None:
    if kind == "concatenate":
        if has_value and value is not None:
            check.add(where, f"takes no value, got {_kind(value)}", line)
            return None
        if index != 0:
            check.add(where, "concatenate is implicit and may only be the first step", line)
            return None
        return Step(kind)
    if kind in ("take", "skip"):
        if not _int(value, 0):
            check.add(where, f"must be a non-negative integer (rows), got {_kind(value)}", line)
            return None
        return Step(kind, int(value))
    if kind == "shuffle":
        if value is None:
            value = _Map()
        if not isinstance(value, _Map):
            check.add(where, f"must be a mapping {{seed: N}}, got {_kind(value)}", line)
            return None
        if not _fields(value, f"{where}.", ("seed",), check):
            return None
        seed = value.get("seed", 0)
        if not _int(seed, 0):
            check.add(f"{where}.seed", f"must be a non-negative integer, got {_kind(seed)}", value.lines.get("seed", line))
            return None
        return Step(kind, int(seed))
    # exclude
    if not isinstance(value, _Map):
        check.add(where, f"must be a mapping {{field: <column>, in: {{asset, partition}}}}, got {_kind(value)}", line)
        return None
    if not _fields(value, f"{where}.", EXCLUDE_FIELDS, check):
        return None
    field_, other = value.get("field"), value.get("in")
    ok = True
    if field_ is None:
        check.add(f"{where}.field", "missing: the column whose values are compared", line)
        ok = False
    elif not isinstance(field_, str) or not field_:
        check.add(f"{where}.field", f"must be a column name, got {_kind(field_)}", value.lines.get("field", line))
        ok = False
    if other is None:
        check.add(f"{where}.in", "missing: the partition whose values are excluded ({asset, partition})", line)
        return None
    source = _source(f"{where}.in", other, value.lines.get("in", line), EXCLUDE_LAYERS, check)
    if source is None or not ok:
        return None
    return Step(kind, Exclude(str(field_), source))

