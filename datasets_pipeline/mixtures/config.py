"""The ``mixtures:`` section of ``mixtures.yaml``: parsed into frozen dataclasses, validated at load.

The file is ``mixtures.yaml`` at the project root, or the file named by
``DATASETS_PIPELINE_MIXTURES`` (which replaces it). Its top level is a mapping with the keys
``mixtures`` (name → entry) and ``recipes`` (kept as parsed here, validated by :mod:`.recipes`)::

    mixtures:
      chat_sft:                              # the asset mixture/chat_sft
        sources:
          - asset: cookbook/tulu3_sft        # cookbook/<name> or tokenized/<name>
            partition: default/train         # "<config>/<split>", or "<config>" = all its splits
            weight: 2                        # optional: all sources weighted, or none
          - asset: cookbook/no_robots
            partition: default/train
            weight: 1
            rename: {conversation: messages} # optional, per source, before the selection
        seed: 0                              # default 0
        stopping_strategy: all_exhausted     # first_exhausted | all_exhausted (default) |
                                             # all_exhausted_without_replacement
        test_size: 1024                      # optional held-out rows (split "test")
        max_rows: 100000                     # optional cap on the train rows
        columns: [messages]                  # optional selection (uid, source_row kept)

Instead of per-source ``weight`` an entry may give ``weights: [2, 1]`` (one per source). A
``tokenized/<name>`` source (a chat, preference, math or code dataset; all sources of one family) names its partition ``"<profile>|<config>/<split>"`` (or
``"<profile>|<config>"``). Without weights the sources are drawn with probabilities proportional
to their sizes, as the cookbook's ``InterleavedChatDatasetBuilder`` does.

Error isolation
---------------
Validation runs when the file is loaded, against the catalog
(:func:`datasets_pipeline.catalog.get_spec`): unknown or misspelled fields, an asset outside
``cookbook/``/``tokenized/``, an unknown dataset or partition, a source listed twice, weights
that are set for some sources only, of the wrong length, negative, not finite or summing to 0, a
zero weight that ``all_exhausted``/``all_exhausted_without_replacement`` could never exhaust, an
unknown stopping strategy, a bad seed, ``test_size``, ``max_rows`` or ``columns``.

- One bad entry fails **only that entry**: :func:`load_mixtures` returns a :class:`MixturesFile`
  whose ``mixtures`` hold the good entries and whose ``errors`` hold one :class:`MixtureError`
  per bad entry, listing every problem found in it (field path, line, message). The code
  location can then show ``mixture/<name>`` as broken with that message while the other
  mixtures load. A name defined twice is an error of that name (both definitions dropped).
- A file that cannot be read as this format fails **as a whole** with
  :class:`MixturesFileError` naming the file and line: not YAML, a top level that is not a
  mapping, ``mixtures`` not a mapping, an unknown top-level key or a top-level key given twice.
- Schemas that cannot be aligned are only known once the sources exist: they fail the build of
  that mixture (:mod:`.build`), naming the sources and the column.
- A missing default ``mixtures.yaml`` means no mixtures; a missing file named by
  ``DATASETS_PIPELINE_MIXTURES`` is a :class:`MixturesFileError`.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, TypeVar

import xxhash
import yaml

from datasets_pipeline.catalog import CATALOG
from datasets_pipeline.engine.interleave import STOPPING_STRATEGIES

__all__ = [
    "DEFAULT_STOPPING_STRATEGY", "EntryError", "InvalidMixture", "MIXTURES_ENV", "Mixture", "MixtureError", "MixtureSource", "MixturesFile",
    "MixturesFileError", "Problem", "SOURCE_COLUMN", "load_mixtures", "mixtures_path", "parse_entries", "parse_mixtures",
]

MIXTURES_ENV = "DATASETS_PIPELINE_MIXTURES"
DEFAULT_FILE = "mixtures.yaml"
DEFAULT_STOPPING_STRATEGY = "all_exhausted"  # the cookbook's InterleavedChatDatasetBuilder default
SOURCE_COLUMN = "source"
SOURCE_LAYERS = ("cookbook", "tokenized")
TOKENIZED_FAMILIES = ("chat", "preference", "math", "code")  # tokenized/<name> exists for these families
TOP_LEVEL_KEYS = ("mixtures", "recipes")
ENTRY_FIELDS = ("sources", "weights", "seed", "stopping_strategy", "test_size", "max_rows", "columns", "description")
SOURCE_FIELDS = ("asset", "partition", "weight", "rename")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # a Dagster asset key part


# ------------------------------------------------------------------------------------ errors


class MixturesFileError(ValueError):
    """The mixtures file as a whole cannot be used (not YAML, wrong top-level shape)."""

    def __init__(self, message: str, file: str | None, line: int | None = None) -> None:
        self.reason, self.file, self.line = message, file, line
        where = f"{file}:{line}" if file and line else (file or (f"line {line}" if line else ""))
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an entry: the field path (``sources[1].weight``), its line, what."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        at = f" (line {self.line})" if self.line else ""
        return f"{self.field}{at}: {self.message}"


@dataclass(frozen=True)
class EntryError:
    """Why the entry ``name`` of a section could not be loaded (its asset shows it as broken)."""

    KIND: ClassVar[str] = "entry"  # the word in the message
    LAYER: ClassVar[str] = "entry"  # the first part of the asset key
    RAISES: ClassVar[type[Exception]] = ValueError  # raised (with this error) when the entry is used

    name: str
    problems: tuple[Problem, ...]
    file: str | None = None
    line: int | None = None

    @property
    def asset_key(self) -> str:
        return f"{self.LAYER}/{self.name}"

    @property
    def message(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (f"{self.file}: " if self.file else "")
        head = f"{where}{self.KIND} {self.name!r} is invalid"
        if len(self.problems) == 1:
            return f"{head}: {self.problems[0]}"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)

    def __str__(self) -> str:
        return self.message

    def exception(self) -> Exception:
        """The error to raise when the broken entry is used (``RAISES`` of the subclass)."""
        return self.RAISES(self)


class InvalidMixture(ValueError):
    """Raised when a broken entry is used (built or looked up); carries the :class:`MixtureError`."""

    def __init__(self, error: EntryError) -> None:
        self.error = error
        super().__init__(error.message)


class MixtureError(EntryError):
    """Why the mixture ``name`` could not be loaded (``mixture/<name>`` shows it as broken)."""

    KIND = LAYER = "mixture"
    RAISES = InvalidMixture


# ------------------------------------------------------------------------------------ model


@dataclass(frozen=True)
class AssetPartitions:
    """A catalog asset (``<layer>/<dataset>``) and the concrete partitions it names, in catalog order."""

    asset: str
    partition: str
    partitions: tuple[str, ...]

    @property
    def layer(self) -> str:
        return self.asset.split("/", 1)[0]

    @property
    def dataset(self) -> str:
        return self.asset.split("/", 1)[1]


@dataclass(frozen=True)
class MixtureSource(AssetPartitions):
    """One source of a mixture: an asset and a partition (or every split of a config).

    ``partitions`` are the concrete partition keys read, in catalog order (one unless
    ``partition`` names a whole config). ``rename`` maps old column names to new ones.
    """

    weight: float | None = None
    rename: tuple[tuple[str, str], ...] = ()
    line: int | None = None

    @property
    def label(self) -> str:
        """``"<asset>@<partition>"`` as written (the key of this source in stats)."""
        return f"{self.asset}@{self.partition}"

    @property
    def partition_labels(self) -> tuple[str, ...]:
        """``"<asset>@<partition>"`` per concrete partition: the ``source`` column's values."""
        return tuple(f"{self.asset}@{p}" for p in self.partitions)


@dataclass(frozen=True)
class Entry:
    """What every entry of the file has besides its content: a description, where it was declared, its asset."""

    LAYER: ClassVar[str] = "entry"  # the first part of the asset key

    description: str | None = field(default=None, kw_only=True)
    file: str | None = field(default=None, kw_only=True)
    line: int | None = field(default=None, kw_only=True)

    @property
    def asset_key(self) -> str:
        return f"{self.LAYER}/{self.name}"  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Mixture(Entry):
    """A validated mixture entry; ``mixture/<name>`` is its asset."""

    LAYER: ClassVar[str] = "mixture"

    name: str
    sources: tuple[MixtureSource, ...]
    seed: int = 0
    stopping_strategy: str = DEFAULT_STOPPING_STRATEGY
    test_size: int | None = None
    max_rows: int | None = None
    columns: tuple[str, ...] | None = None

    @property
    def weighted(self) -> bool:
        return self.sources[0].weight is not None

    @property
    def weights(self) -> tuple[float, ...] | None:
        return tuple(s.weight for s in self.sources) if self.weighted else None  # type: ignore[misc]

    @property
    def upstream(self) -> tuple[tuple[str, str], ...]:
        """Every ``(asset, partition)`` the mixture reads: its lineage."""
        return tuple((s.asset, p) for s in self.sources for p in s.partitions)

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self.test_size else ("train",)

    def canonical(self) -> str:
        """The entry's rows-deciding content (sources, weights, seed, strategy, sizes, columns) as canonical JSON.

        The description and where the entry is written do not change it.
        """
        content = {
            "sources": [
                {"asset": s.asset, "partitions": list(s.partitions), "weight": s.weight, "rename": [list(r) for r in s.rename]}
                for s in self.sources
            ],
            "seed": self.seed,
            "stopping_strategy": self.stopping_strategy,
            "test_size": self.test_size,
            "max_rows": self.max_rows,
            "columns": list(self.columns) if self.columns is not None else None,
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"))

    def version(self) -> str:
        """A short hash of :meth:`canonical`: editing what decides the rows gives a new one."""
        return xxhash.xxh3_64_hexdigest(self.canonical().encode())[:12]


@dataclass(frozen=True)
class MixturesFile:
    """A loaded mixtures file: good entries, one error per bad entry, and the raw ``recipes``."""

    path: str | None
    mixtures: Mapping[str, Mixture]
    errors: Mapping[str, MixtureError]
    recipes: Any = None
    names: tuple[str, ...] = ()  # every entry name, in file order (good and bad)

    def get(self, name: str) -> Mixture:
        """The mixture ``name``; :class:`InvalidMixture` if the entry is broken, KeyError if absent."""
        if name in self.mixtures:
            return self.mixtures[name]
        if name in self.errors:
            raise self.errors[name].exception()
        known = ", ".join(self.names) or "none"
        raise KeyError(f"no mixture {name!r} in {self.path or 'the mixtures file'}; defined: {known}")


# ------------------------------------------------------------------------------------ YAML with lines


class _Map(dict):
    """A parsed mapping that remembers its line and each key's line (1-based)."""

    line: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int, int]] = []  # (key, first line, repeated line)


class _Seq(list):
    line: int | None = None
    lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if key in out:
            out.duplicates.append((key, out.lines[key], line))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _yaml(text: str, file: str | None) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        col = f", column {mark.column + 1}" if mark else ""
        raise MixturesFileError(f"not valid YAML{col}: {what}", file, line) from None
    except yaml.YAMLError as exc:
        raise MixturesFileError(f"not valid YAML: {exc}", file) from None


# ------------------------------------------------------------------------------------ loading


def mixtures_path() -> Path:
    """``$DATASETS_PIPELINE_MIXTURES``, else ``mixtures.yaml`` at the project root."""
    env = os.environ.get(MIXTURES_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / DEFAULT_FILE


def load_mixtures(path: str | os.PathLike | None = None, *, profiles: Iterable[str] | None = None) -> MixturesFile:
    """Load and validate the mixtures file (default: :func:`mixtures_path`).

    ``profiles``, when given, are the known tokenizer profile names (checked for tokenized sources).
    Raises :class:`MixturesFileError` only for a file-level problem; bad entries are in ``errors``.
    """
    explicit = path is not None or bool(os.environ.get(MIXTURES_ENV))
    target = Path(path) if path is not None else mixtures_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise MixturesFileError("the mixtures file does not exist", str(target)) from None
        return MixturesFile(str(target), {}, {})
    except (OSError, UnicodeDecodeError) as exc:
        raise MixturesFileError(f"cannot read the mixtures file: {exc}", str(target)) from None
    return parse_mixtures(text, file=str(target), profiles=profiles)


def parse_mixtures(text: str, file: str | None = None, *, profiles: Iterable[str] | None = None) -> MixturesFile:
    """Parse and validate the text of a mixtures file (see the module docstring)."""
    doc = _yaml(text, file)
    if doc is None:
        return MixturesFile(file, {}, {})
    if not isinstance(doc, _Map):
        raise MixturesFileError(
            f"the top level must be a mapping with keys {list(TOP_LEVEL_KEYS)}, got {_kind(doc)}", file, 1
        )
    for key, first, again in doc.duplicates:
        raise MixturesFileError(f"top-level key {key!r} is given twice (lines {first} and {again})", file, again)
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise MixturesFileError(
                f"unknown top-level key {key!r}{_suggest(key, TOP_LEVEL_KEYS)}; expected {list(TOP_LEVEL_KEYS)}",
                file,
                doc.lines[key],
            )
    section = doc.get("mixtures")
    if section is None:
        section = _Map()
    if not isinstance(section, _Map):
        raise MixturesFileError(f"'mixtures' must map names to entries, got {_kind(section)}", file, doc.lines["mixtures"])
    profile_names = None if profiles is None else tuple(profiles)
    mixtures, errors, names = parse_entries(
        section, file, MixtureError, lambda name, entry, line: _parse_entry(name, entry, line, file, profile_names)
    )
    return MixturesFile(file, mixtures, errors, doc.get("recipes"), names)


Good = TypeVar("Good")
Bad = TypeVar("Bad", bound=EntryError)


def parse_entries(
    section: "_Map", file: str | None, error: type[Bad], parse: Callable[[Any, Any, int], "Good | Bad"]
) -> tuple[dict[str, Good], dict[str, Bad], tuple[str, ...]]:
    """Parse each entry of a ``name → entry`` section: good ones, one ``error`` per bad one, every name.

    A name defined twice is an error of that name (both definitions dropped).
    """
    repeated = {key: (first, again) for key, first, again in section.duplicates}
    good: dict[str, Good] = {}
    bad: dict[str, Bad] = {}
    names: list[str] = []
    for name, entry in section.items():
        key = str(name)
        names.append(key)
        line = section.lines[name]
        if name in repeated:
            first, again = repeated[name]
            problem = Problem("name", f"the name is defined twice (lines {first} and {again}); rename one", again)
            bad[key] = error(key, (problem,), file, first)
            continue
        result = parse(name, entry, line)
        if isinstance(result, EntryError):
            bad[key] = result  # type: ignore[assignment]
        else:
            good[key] = result
    return good, bad, tuple(names)


# ------------------------------------------------------------------------------------ one entry


class _Checker:
    """Collects the problems of one entry."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field_: str, message: str, line: int | None) -> None:
        self.problems.append(Problem(field_, message, line))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"{type(value).__name__} ({value!r})"


def _suggest(word: Any, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_entry(name: Any, entry: Any, line: int, file: str | None, profiles: tuple[str, ...] | None) -> Mixture | MixtureError:
    key = str(name)
    check = _Checker()
    if not isinstance(name, str) or not _NAME.match(name):
        check.add("name", f"{name!r} is not a valid asset name (letters, digits and '_' only)", line)
    if not isinstance(entry, _Map):
        check.add("entry", f"must be a mapping with at least 'sources', got {_kind(entry)}", line)
        return MixtureError(key, tuple(check.problems), file, line)
    at = entry.lines.get
    for dup, first, again in entry.duplicates:
        check.add(str(dup), f"given twice (lines {first} and {again})", again)
    for field_ in entry:
        if field_ not in ENTRY_FIELDS:
            check.add(str(field_), f"unknown field{_suggest(field_, ENTRY_FIELDS)}; expected one of {list(ENTRY_FIELDS)}", at(field_))

    strategy = entry.get("stopping_strategy", DEFAULT_STOPPING_STRATEGY)
    if strategy not in STOPPING_STRATEGIES:
        check.add(
            "stopping_strategy",
            f"unknown stopping strategy {strategy!r}{_suggest(strategy, STOPPING_STRATEGIES)}; expected one of {list(STOPPING_STRATEGIES)}",
            at("stopping_strategy"),
        )
    seed = entry.get("seed", 0)
    if not _int(seed, 0):
        check.add("seed", f"must be a non-negative integer, got {_kind(seed)}", at("seed"))
    test_size = entry.get("test_size")
    if test_size is not None and not _int(test_size, 0):
        check.add("test_size", f"must be a non-negative integer (rows held out), got {_kind(test_size)}", at("test_size"))
    max_rows = entry.get("max_rows")
    if max_rows is not None and not _int(max_rows, 1):
        check.add("max_rows", f"must be a positive integer, got {_kind(max_rows)}", at("max_rows"))
    columns = _columns(entry, check)
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        check.add("description", f"must be a string, got {_kind(description)}", at("description"))

    sources = _sources(entry, check, profiles)
    if sources and columns is None:
        _tokenized_families(sources, check, at("sources"))
    weights = _weights(entry, sources, check)
    if sources and weights is not None and not test_size and strategy in ("all_exhausted", "all_exhausted_without_replacement"):
        listed = entry.get("weights") is not None
        for i, (source, weight) in enumerate(zip(sources, weights)):
            if weight == 0:
                check.add(
                    f"weights[{i}]" if listed else f"sources[{i}].weight",
                    f"weight 0 with stopping_strategy {strategy!r}: a source that is never drawn can never be "
                    "exhausted; remove the source or give it a positive weight",
                    entry.lines["weights"] if listed else source.line,
                )

    if check.problems:
        return MixtureError(key, tuple(check.problems), file, line)
    assert sources is not None
    if weights is not None:
        sources = [MixtureSource(s.asset, s.partition, s.partitions, float(w), s.rename, s.line) for s, w in zip(sources, weights)]
    return Mixture(
        name=key,
        sources=tuple(sources),
        seed=int(seed),
        stopping_strategy=str(strategy),
        test_size=int(test_size) if test_size else None,
        max_rows=int(max_rows) if max_rows is not None else None,
        columns=columns,
        description=description,
        file=file,
        line=line,
    )


def _columns(entry: _Map, check: _Checker) -> tuple[str, ...] | None:
    columns = entry.get("columns")
    line = entry.lines.get("columns")
    if columns is None:
        return None
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
        check.add("columns", f"must be a non-empty list of column names, got {_kind(columns)}", line)
        return None
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        check.add("columns", f"lists {repeated} more than once", line)
    if SOURCE_COLUMN in columns:
        check.add("columns", f"{SOURCE_COLUMN!r} is added to every row by the mixture; do not list it", line)
    return tuple(columns)


def _sources(entry: _Map, check: _Checker, profiles: tuple[str, ...] | None) -> list[MixtureSource] | None:
    raw = entry.get("sources")
    line = entry.lines.get("sources", entry.line)
    if raw is None:
        check.add("sources", "missing: list at least one source ({asset: cookbook/<name>, partition: <config>/<split>})", entry.line)
        return None
    if not isinstance(raw, _Seq) or not raw:
        check.add("sources", f"must be a non-empty list of sources, got {_kind(raw)}", line)
        return None
    out: list[MixtureSource] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        parsed = _source(f"sources[{i}]", item, raw.lines[i], check, profiles)
        if parsed is None:
            continue
        for key in parsed.partition_labels:
            if key in seen:
                check.add(
                    f"sources[{i}].partition",
                    f"{key} is already read by sources[{seen[key]}]; list each partition once",
                    parsed.line,
                )
                break
            seen[key] = i
        out.append(parsed)
    layers = sorted({s.layer for s in out})
    if len(layers) > 1:
        check.add("sources", f"mixes layers {layers}: all sources must be cookbook/ or all tokenized/", line)
    return out if len(out) == len(raw) else None


def _source(path: str, item: Any, line: int, check: _Checker, profiles: tuple[str, ...] | None) -> MixtureSource | None:
    if not isinstance(item, _Map):
        check.add(path, f"must be a mapping with 'asset' and 'partition', got {_kind(item)}", line)
        return None
    at = lambda key: item.lines.get(key, line)  # noqa: E731
    ok = True
    for dup, first, again in item.duplicates:
        check.add(f"{path}.{dup}", f"given twice (lines {first} and {again})", again)
        ok = False
    for key in item:
        if key not in SOURCE_FIELDS:
            check.add(f"{path}.{key}", f"unknown field{_suggest(key, SOURCE_FIELDS)}; expected one of {list(SOURCE_FIELDS)}", at(key))
            ok = False
    asset, partition = item.get("asset"), item.get("partition")
    if asset is None or partition is None:
        missing = [k for k in ("asset", "partition") if item.get(k) is None]
        check.add(path, f"missing {' and '.join(missing)}", line)
        return None
    if not isinstance(asset, str):
        check.add(f"{path}.asset", f"must be a string like 'cookbook/<name>', got {_kind(asset)}", at("asset"))
        return None
    if not isinstance(partition, str):
        check.add(f"{path}.partition", f"must be a string like '<config>/<split>', got {_kind(partition)}", at("partition"))
        return None
    partitions = _resolve(path, asset, partition, at, check, profiles)
    weight = item.get("weight")
    if weight is not None and not _number(weight):
        check.add(f"{path}.weight", f"must be a number, got {_kind(weight)}", at("weight"))
        ok = False
    rename = _rename(path, item.get("rename"), at("rename"), check)
    if partitions is None or rename is None or not ok:
        return None
    return MixtureSource(asset, partition, partitions, weight, rename, line)


def _catalog_dataset(path: str, asset: str, layers: tuple[str, ...], what: str, at: Any, check: _Checker) -> tuple[str, str, Any] | None:
    """``(layer, name, catalog spec)`` of ``asset`` (``<layer>/<name>``, a layer of ``layers``), or None
    with the error added to ``check``."""
    layer, _, name = asset.partition("/")
    if layer not in layers or not name or "/" in name:
        expected = " or ".join(f"'{layer}/<name>'" for layer in layers)
        check.add(f"{path}.asset", f"{asset!r} is not {what}; expected {expected}", at("asset"))
        return None
    spec = CATALOG.get(name)
    if spec is None:
        check.add(
            f"{path}.asset",
            f"unknown dataset {name!r} in {asset!r}{_suggest(name, CATALOG)}; the catalog has: {', '.join(sorted(CATALOG))}",
            at("asset"),
        )
        return None
    return layer, name, spec


def _resolve(path: str, asset: str, partition: str, at: Any, check: _Checker, profiles: tuple[str, ...] | None) -> tuple[str, ...] | None:
    found = _catalog_dataset(path, asset, SOURCE_LAYERS, "a source asset", at, check)
    if found is None:
        return None
    layer, name, spec = found
    if layer == "tokenized" and spec.family not in TOKENIZED_FAMILIES:
        families = "/".join(TOKENIZED_FAMILIES)
        check.add(f"{path}.asset", f"{asset!r}: only {families} datasets are tokenized ({name} is {spec.family})", at("asset"))
        return None
    prefix = ""
    key = partition
    if layer == "tokenized":
        profile, sep, key = partition.partition("|")
        if not sep or not profile:
            check.add(
                f"{path}.partition",
                f"{partition!r}: a tokenized partition is '<profile>|<config>/<split>' (or '<profile>|<config>')",
                at("partition"),
            )
            return None
        if profiles is not None and profile not in profiles:
            known = ", ".join(profiles) or "none"
            check.add(f"{path}.partition", f"unknown tokenizer profile {profile!r}{_suggest(profile, profiles)}; known: {known}", at("partition"))
            return None
        prefix = f"{profile}|"
    keys = spec.partition_keys
    if key in keys:
        return (prefix + key,)
    if key in spec.configs:
        return tuple(prefix + k for k in keys if k.split("/", 1)[0] == key)
    check.add(
        f"{path}.partition",
        f"unknown partition {key!r} of {asset}{_suggest(key, keys + list(spec.configs))}; "
        f"known: {', '.join(keys)} (or a config: {', '.join(spec.configs)})",
        at("partition"),
    )
    return None


def _tokenized_families(sources: list[MixtureSource], check: _Checker, line: int) -> None:
    """Tokenized sources of different families have different token columns (chat ``tokens``/``weights``,
    preference ``chosen_tokens``/…, math ``answer``, code ``tests``): aligning them would leave half of
    every column null, so such a mix is refused unless ``columns`` selects what they share."""
    families: dict[str, str] = {}
    for i, source in enumerate(sources):
        if source.layer == "tokenized":
            families.setdefault(CATALOG[source.dataset].family, f"sources[{i}] ({source.asset})")
    if len(families) > 1:
        from datasets_pipeline.steps.tokenized import TOKENIZED_COLUMNS

        cols = "; ".join(f"{f}: {', '.join(n for n, _, _ in TOKENIZED_COLUMNS[f] if n not in KEPT)}" for f in families)
        check.add(
            "sources",
            f"mixes tokenized families {list(families)} ({', '.join(families.values())}), whose token columns differ "
            f"({cols}); mix tokenized sources of one family, or select the columns they share with 'columns:'",
            line,
        )


KEPT = ("length", "uid", "source_row")


def _rename(path: str, rename: Any, line: int, check: _Checker) -> tuple[tuple[str, str], ...] | None:
    if rename is None:
        return ()
    if not isinstance(rename, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in rename.items()):
        check.add(f"{path}.rename", f"must map old column names to new ones, got {_kind(rename)}", line)
        return None
    targets = list(rename.values())
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        check.add(f"{path}.rename", f"renames several columns to {repeated}", line)
        return None
    if SOURCE_COLUMN in targets:
        check.add(f"{path}.rename", f"{SOURCE_COLUMN!r} is the mixture's own column; rename to another name", line)
        return None
    return tuple(rename.items())


def _weights(entry: _Map, sources: list[MixtureSource] | None, check: _Checker) -> list[float] | None:
    """The weights (one per source) or None when unweighted; problems are added to ``check``."""
    listed = entry.get("weights")
    at = entry.lines.get
    if sources is None:
        return None
    per_source = [s.weight for s in sources]
    if listed is not None:
        if any(w is not None for w in per_source):
            check.add("weights", "give the weights either as 'weights:' or per source 'weight:', not both", at("weights"))
            return None
        if not isinstance(listed, list):
            check.add("weights", f"must be a list of numbers, one per source, got {_kind(listed)}", at("weights"))
            return None
        if len(listed) != len(sources):
            check.add("weights", f"has {len(listed)} values for {len(sources)} sources; give exactly one per source", at("weights"))
            return None
        bad = [i for i, w in enumerate(listed) if not _number(w)]
        if bad:
            check.add(f"weights[{bad[0]}]", f"must be a number, got {_kind(listed[bad[0]])}", at("weights"))
            return None
        values, fields_ = [float(w) for w in listed], [f"weights[{i}]" for i in range(len(listed))]
        lines = [at("weights")] * len(listed)
    else:
        given = [w is not None for w in per_source]
        if not any(given):
            return None
        if not all(given):
            unset = [f"sources[{i}]" for i, g in enumerate(given) if not g]
            check.add(
                "sources",
                f"weights are set for some sources but not for {', '.join(unset)}: set a weight for every source, or for none "
                "(then sources are drawn in proportion to their sizes)",
                at("sources"),
            )
            return None
        values = [float(w) for w in per_source]  # type: ignore[arg-type]
        fields_ = [f"sources[{i}].weight" for i in range(len(values))]
        lines = [s.line for s in sources]
    ok = True
    for value, name, line in zip(values, fields_, lines):
        if not math.isfinite(value):
            check.add(name, f"must be a finite number, got {value}", line)
            ok = False
        elif value < 0:
            check.add(name, f"must not be negative, got {value:g}", line)
            ok = False
    if ok and math.fsum(values) <= 0:
        field_ = "weights" if listed is not None else "sources"
        check.add(field_, "the weights sum to 0: at least one source needs a positive weight", at(field_))
        ok = False
    return values if ok else None
