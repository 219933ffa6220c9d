"""Dataset card ``configs`` -> data files per (config, split), as the ``datasets`` library resolves them.

Mirrors ``datasets`` 5.2 (``data_files.py``, ``load.py``) with fsspec >= 2023.12 glob rules:

- ``configs[].data_files`` may be a string, a list of strings (split ``train``) or a list of
  ``{split, path}`` with ``path`` a string or a list; patterns are relative to the repo root, or to
  ``data_dir`` when the config sets one. ``*`` matches within one path segment, ``**`` (a whole
  segment) any number of segments, ``?`` and ``[...]`` one character. Each pattern's matches are
  sorted; a split's files are the concatenation over its patterns (a file matched twice is kept
  once, where ``datasets`` would read it twice).
- Hidden files/folders (``.x``) and ``__x`` folders match only when the pattern names them;
  ``README.md``, ``config.json``, ``dataset_info.json``, ``dataset_infos.json``, ``dataset_dict.json``
  and ``dummy_data.zip`` never match unless the pattern names exactly that file.
- Without ``configs`` (or for a config without ``data_files``) splits are inferred from file names:
  first ``data/{split}-NNNNN-of-NNNNN*.*`` (any split name), else ``train``/``validation``/``test``
  keywords (and their synonyms ``training``, ``valid``/``dev``/``val``, ``testing``/``eval``/
  ``evaluation``) as a folder name, else in a file name, else every file is ``train``.
  Such a config is named ``default``.
- Only files with a known data extension are kept, and of those only the extensions of the
  config's dominant format (most files; ties prefer Parquet, then Arrow, JSON Lines, JSON, CSV).
  A config whose files are only archives (``.zip``, which ``datasets`` would open) or unknown
  types has no data files here, so the parquet branch is used for it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Iterable, Mapping, Sequence

import yaml
from fsspec.utils import glob_translate
from huggingface_hub.repocard import REGEX_YAML_BLOCK

from ..errors import SourceError

DEFAULT_CONFIG = "default"
FILES_TO_IGNORE = frozenset(
    {"README.md", "config.json", "dataset_info.json", "dataset_infos.json", "dummy_data.zip", "dataset_dict.json"}
)
SPLIT_NAME_RE = re.compile(r"^\w+(\.\w+)*$")

# The data file extensions of each ``datasets`` packaged module that may hold a dataset here.
MODULE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".geoparquet", ".gpq"),
    "arrow": (".arrow",),
    "json": (".json", ".jsonl", ".ndjson"),
    "csv": (".csv", ".tsv"),
    "text": (".txt",),
    "webdataset": (".tar",),
    "xml": (".xml",),
    "hdf5": (".hdf5", ".h5"),
    "lance": (".lance",),
    "vortex": (".vortex",),
    "imagefolder": (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"),
    "audiofolder": (".wav", ".mp3", ".flac", ".ogg", ".opus"),
    "videofolder": (".mp4", ".avi", ".mov", ".mkv", ".mpeg"),
    "pdffolder": (".pdf",),
}
EXTENSION_MODULE = {ext: module for module, exts in MODULE_EXTENSIONS.items() for ext in exts}
ALLOWED_EXTENSIONS = frozenset(EXTENSION_MODULE) | {".zip"}
_TIE_PREFERENCE = (".parquet", ".lance", ".vortex", ".arrow", ".jsonl", ".json", ".csv")

# --- default split inference (datasets.data_files) -------------------------------------------------

SPLIT_PATTERN_SHARDED = "data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*"
_SHARD_NAME = re.compile(r"(?P<split>.+)-[0-9]{5}-of-[0-9]{5}")
SPLIT_KEYWORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SEP = "-._ 0-9"
_IN_FILENAME = ("**/{keyword}[{sep}]*", "**/*[{sep}]{keyword}[{sep}]*")
_IN_DIR_NAME = (
    "**/{keyword}/**",
    "**/{keyword}[{sep}]*/**",
    "**/*[{sep}]{keyword}/**",
    "**/*[{sep}]{keyword}[{sep}]*/**",
)


def _keyword_patterns(bases: Sequence[str]) -> dict[str, list[str]]:
    return {
        split: [base.format(keyword=keyword, sep=_SEP) for keyword in keywords for base in bases]
        for split, keywords in SPLIT_KEYWORDS.items()
    }


DEFAULT_PATTERN_GROUPS: tuple[dict[str, list[str]], ...] = (
    {"logs": ["**/*.eval"]},
    {"test": ["**/task.toml", "**/instruction.md"]},
    _keyword_patterns(_IN_DIR_NAME),
    _keyword_patterns(_IN_FILENAME),
    {"train": ["**"]},
)


# --- the card --------------------------------------------------------------------------------------


def parse_card(text: str) -> dict[str, Any]:
    """The YAML front matter of a README.md (``{}`` when there is none)."""
    match = REGEX_YAML_BLOCK.search(text.lstrip("\ufeff"))
    if match is None:
        return {}
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        raise SourceError(f"the dataset card's YAML header is invalid: {exc}", file="README.md") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SourceError("the dataset card's YAML header is not a mapping", file="README.md")
    return data


@dataclass(frozen=True)
class CardConfig:
    """One entry of the card's ``configs``."""

    name: str
    patterns: Mapping[str, tuple[str, ...]] | None  # split -> patterns; None: infer from file names
    data_dir: str | None = None
    default: bool = False


def _split_patterns(data_files: Any, config: str) -> dict[str, tuple[str, ...]]:
    """``data_files`` of a card config -> split -> patterns (``datasets.data_files.sanitize_patterns``)."""

    def as_tuple(value: Any) -> tuple[str, ...]:
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise SourceError(f"data_files patterns must be strings, got {value!r}", config=config, file="README.md")
        return tuple(values)

    if isinstance(data_files, str):
        return {"train": (data_files,)}
    if isinstance(data_files, Mapping):
        return {str(split): as_tuple(value) for split, value in data_files.items()}
    if isinstance(data_files, list):
        if not any(isinstance(item, Mapping) for item in data_files):
            return {"train": as_tuple(data_files)}
        out: dict[str, tuple[str, ...]] = {}
        for item in data_files:
            if not (isinstance(item, Mapping) and set(item) == {"split", "path"}):
                raise SourceError(
                    f"each data_files entry must be {{split, path}}, got {item!r}", config=config, file="README.md"
                )
            split = str(item["split"])
            if split in out:
                raise SourceError(f"split {split!r} is listed twice in data_files", config=config, file="README.md")
            out[split] = as_tuple(item["path"])
        return out
    raise SourceError(f"data_files must be a string or a list, got {data_files!r}", config=config, file="README.md")


def card_configs(card: Mapping[str, Any] | None) -> list[CardConfig]:
    """The card's ``configs`` in card order (empty when the card defines none)."""
    raw = (card or {}).get("configs")
    if not raw:
        return []
    if not isinstance(raw, list):
        raise SourceError(f"the card's configs must be a list, got {type(raw).__name__}", file="README.md")
    out = []
    for entry in raw:
        if not isinstance(entry, Mapping) or "config_name" not in entry:
            raise SourceError(f"each card config needs a config_name, got {entry!r}", file="README.md")
        name = str(entry["config_name"])
        data_files = entry.get("data_files")
        patterns = _split_patterns(data_files, name) if data_files is not None else None
        data_dir = entry.get("data_dir")
        data_dir = str(data_dir).strip("/") if data_dir else None
        out.append(CardConfig(name, patterns, data_dir, bool(entry.get("default"))))
    return out


def default_config_name(configs: Sequence[CardConfig]) -> str | None:
    """The card's default config: the only one, the one named ``default``, or the one marked ``default: true``."""
    for config in configs:
        if len(configs) == 1 or config.name == DEFAULT_CONFIG or config.default:
            return config.name
    return None


# --- glob matching ---------------------------------------------------------------------------------


def _hidden_parts(path: str) -> int:
    return sum(1 for part in PurePosixPath(path).parts if part.startswith(".") and set(part) != {"."})


def _special_dirs(path: str) -> int:
    return sum(1 for part in PurePosixPath(path).parent.parts if part.startswith("__"))


def _has_magic(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _join(base: str | None, pattern: str) -> str:
    pattern = pattern.removeprefix("./").lstrip("/")
    return f"{base}/{pattern}" if base else pattern


def match_pattern(pattern: str, files: Sequence[str], *, config: str | None = None) -> list[str]:
    """Repo files matched by one pattern, sorted, with ``datasets``' hidden / ignored-file rules."""
    if "://" in pattern:
        raise SourceError(
            f"data_files pattern {pattern!r} points outside the repo; only repo-relative patterns are supported",
            config=config,
            file="README.md",
        )
    if _has_magic(pattern):
        try:
            regex = re.compile(glob_translate(pattern))
        except ValueError as exc:
            raise SourceError(
                f"invalid data_files pattern {pattern!r}: {exc}", config=config, file="README.md"
            ) from None
        matched = sorted(f for f in files if regex.match(f))
    else:
        matched = [pattern] if pattern in files else []
    ignored = FILES_TO_IGNORE - {PurePosixPath(pattern).name}
    return [
        f
        for f in matched
        if PurePosixPath(f).name not in ignored
        and _special_dirs(f) == _special_dirs(pattern)
        and _hidden_parts(f) == _hidden_parts(pattern)
    ]


def _allowed(path: str) -> bool:
    return any("." + suffix in ALLOWED_EXTENSIONS for suffix in PurePosixPath(path).name.split(".")[1:])


def infer_module(files: Iterable[str]) -> str | None:
    """The ``datasets`` module for these files: the most common known extension (ties: Parquet first)."""
    counts = Counter("." + suffix.lower() for f in files for suffix in PurePosixPath(f).name.split(".")[1:])

    def key(item: tuple[str, int]) -> tuple:
        ext, count = item
        return (count, *(ext == preferred for preferred in _TIE_PREFERENCE), ext)

    for ext, _ in sorted(counts.items(), key=key, reverse=True):
        if ext in EXTENSION_MODULE:
            return EXTENSION_MODULE[ext]
    return None


def _module_filter(module: str) -> re.Pattern[str]:
    exts = "|".join(re.escape(ext) for ext in MODULE_EXTENSIONS[module])
    return re.compile(f".*({exts})(\\..+)?$")


def infer_split_patterns(files: Sequence[str], base: str | None = None) -> dict[str, tuple[str, ...]]:
    """Split -> patterns from file names alone (``datasets.data_files.get_data_patterns``); ``{}`` if no files."""
    sharded = _join(base, SPLIT_PATTERN_SHARDED.replace("{split}", "*"))
    matched = match_pattern(sharded, files)
    if matched:
        splits = {m.group("split") for f in matched if (m := _SHARD_NAME.match(PurePosixPath(f).name))}
        bad = sorted(s for s in splits if not SPLIT_NAME_RE.match(s))
        if bad:
            raise SourceError(f"split names in data file names must match {SPLIT_NAME_RE.pattern}, got {bad}")
        ordered = [s for s in SPLIT_KEYWORDS if s in splits] + sorted(splits - set(SPLIT_KEYWORDS))
        return {s: (_join(base, SPLIT_PATTERN_SHARDED.format(split=s)),) for s in ordered}
    for group in DEFAULT_PATTERN_GROUPS:
        found = {
            split: tuple(_join(base, p) for p in patterns)
            for split, patterns in group.items()
            if any(match_pattern(_join(base, p), files) for p in patterns)
        }
        if found:
            return found
    return {}


def resolve_config(config: CardConfig, files: Sequence[str]) -> dict[str, list[str]]:
    """Split -> data files of one config, in order; splits whose patterns match nothing are left out."""
    patterns = config.patterns
    if patterns is None:
        patterns = infer_split_patterns(files, config.data_dir)
    else:
        patterns = {split: tuple(_join(config.data_dir, p) for p in ps) for split, ps in patterns.items()}
    resolved: dict[str, list[str]] = {}
    for split, split_patterns in patterns.items():
        chosen: dict[str, None] = {}
        for pattern in split_patterns:
            matched = [f for f in match_pattern(pattern, files, config=config.name) if _allowed(f)]
            if not matched and not _has_magic(pattern):  # as in datasets: a named file must exist
                raise SourceError(
                    f"data file {pattern!r} named in the card is not in the repo (or not a data file)",
                    config=config.name,
                    split=split,
                    file="README.md",
                )
            chosen.update(dict.fromkeys(matched))
        resolved[split] = list(chosen)
    module = infer_module(f for paths in resolved.values() for f in paths)
    if module is None:  # only archives or unknown files: nothing this pipeline reads
        return {}
    keep = _module_filter(module)
    resolved = {split: [f for f in paths if keep.match(f)] for split, paths in resolved.items()}
    return {split: paths for split, paths in resolved.items() if paths}


def card_layout(card: Mapping[str, Any] | None, files: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """Config -> split -> data files, from the card's ``configs`` or, without them, a ``default`` config."""
    configs = card_configs(card) or [CardConfig(DEFAULT_CONFIG, None)]
    layout = {config.name: resolve_config(config, files) for config in configs}
    return {name: splits for name, splits in layout.items() if splits}


def ignored_for_extension(
    card: Mapping[str, Any] | None, files: Sequence[str], config: str, split: str
) -> list[tuple[str, str]]:
    """``(path, reason)`` of files the (config, split)'s patterns match but that are not read because of
    their extension (unknown type, or not the config's dominant format): what to name when the split
    then has no data files."""
    configs = card_configs(card) or [CardConfig(DEFAULT_CONFIG, None)]
    entry = next((c for c in configs if c.name == config), None)
    if entry is None:
        return []
    try:
        patterns = entry.patterns
        if patterns is None:
            patterns = infer_split_patterns(files, entry.data_dir)
        else:
            patterns = {s: tuple(_join(entry.data_dir, p) for p in ps) for s, ps in patterns.items()}
        kept = set(resolve_config(entry, files).get(split, ()))
        allowed_files = [f for ps in patterns.values() for p in ps for f in match_pattern(p, files) if _allowed(f)]
    except SourceError:
        return []
    module = infer_module(allowed_files)
    out: dict[str, str] = {}
    for pattern in patterns.get(split, ()):
        for path in match_pattern(pattern, files):
            if path in kept or path in out:
                continue
            if not _allowed(path):
                out[path] = "not a data file extension this pipeline reads"
            elif module is not None:
                out[path] = f"the config's files are {module}"
    return list(out.items())


def describe_ignored(ignored: Sequence[tuple[str, str]], limit: int = 5) -> str | None:
    """``"files ignored for their extension: a.xlsx (...), ..."`` for an error hint, or None."""
    if not ignored:
        return None
    shown = "; ".join(f"{path} ({reason})" for path, reason in ignored[:limit])
    more = f"; and {len(ignored) - limit} more" if len(ignored) > limit else ""
    return f"files matched for this split but ignored for their extension: {shown}{more}"
