"""Sample settings: the ``samples:`` section of the tokenizer profiles file (``tokenizers.yaml``).

::

    samples:
      k: 120                                    # rows per cookbook split (all rows if fewer)
      seed: 0                                   # the reservoir's and the split assignment's seed
      splits: {train: 0.8, val: 0.1, test: 0.1} # fractions (sum 1) or row counts (sum k)
      min_chars: 1                              # pre-filters on the row's text (characters, trimmed)
      max_chars: null

Every field is optional (the defaults are shown). ``sample/<name>`` assets use these settings for
every partition; a profile with ``source: sample`` tokenizes the sample instead of the whole split.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .profiles import ProfileError, canonical_json, profiles_path

DEFAULT_SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}


@dataclass(frozen=True)
class SampleSpec:
    """Validated sample settings."""

    k: int = 120
    seed: int = 0
    splits: Mapping[str, float | int] = field(default_factory=lambda: dict(DEFAULT_SPLITS))
    min_chars: int = 1
    max_chars: int | None = None

    def settings(self) -> dict[str, Any]:
        return {"k": self.k, "seed": self.seed, "splits": dict(self.splits), "min_chars": self.min_chars, "max_chars": self.max_chars}

    def canonical(self) -> str:
        return canonical_json(self.settings())

    def sizes(self, rows: int) -> dict[str, float | int]:
        """Split sizes for a sample of ``rows`` rows: counts when they add up to it, else fractions."""
        values = list(self.splits.values())
        if all(isinstance(v, int) for v in values):
            if sum(values) == rows:
                return dict(self.splits)
            total = sum(values)
            return {name: v / total for name, v in self.splits.items()}
        return {name: float(v) for name, v in self.splits.items()}


def _fail(file: Path, fieldname: str, message: str) -> ProfileError:
    return ProfileError(f"samples, field {fieldname!r}: {message}", file=str(file))


def parse_samples(entry: Any, file: Path) -> SampleSpec:
    """Validate a ``samples:`` mapping (None: the defaults)."""
    if entry is None:
        return SampleSpec()
    if not isinstance(entry, Mapping):
        raise _fail(file, "samples", f"must be a mapping, got {type(entry).__name__}")
    allowed = {"k", "seed", "splits", "min_chars", "max_chars"}
    unknown = set(entry) - allowed
    if unknown:
        raise _fail(file, sorted(unknown)[0], f"unknown field; fields are {sorted(allowed)}")
    defaults = SampleSpec()
    values: dict[str, Any] = {}
    for key, low in (("k", 1), ("seed", 0), ("min_chars", 0)):
        value = entry.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _fail(file, key, f"must be an integer >= {low}, got {value!r}")
        values[key] = value
    max_chars = entry.get("max_chars")
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < values["min_chars"]):
        raise _fail(file, "max_chars", f"must be an integer >= min_chars ({values['min_chars']}) or null, got {max_chars!r}")
    splits = entry.get("splits", dict(DEFAULT_SPLITS))
    if not isinstance(splits, Mapping) or not splits or not all(isinstance(n, str) and n for n in splits):
        raise _fail(file, "splits", "must map split names to fractions or row counts")
    numbers = list(splits.values())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in numbers):
        if any(v < 0 for v in numbers) or sum(numbers) != values["k"]:
            raise _fail(file, "splits", f"row counts must be >= 0 and add up to k ({values['k']}), got {dict(splits)}")
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        if any(not 0 <= v <= 1 for v in numbers) or abs(math.fsum(numbers) - 1.0) > 1e-9:
            raise _fail(file, "splits", f"fractions must lie in [0, 1] and sum to 1, got {dict(splits)}")
        splits = {n: float(v) for n, v in splits.items()}
    else:
        raise _fail(file, "splits", f"must be all row counts or all fractions, got {dict(splits)}")
    return SampleSpec(values["k"], values["seed"], dict(splits), values["min_chars"], max_chars)


def load_samples(path: str | os.PathLike | None = None) -> SampleSpec:
    """The ``samples:`` settings of the profiles file (default :func:`profiles_path`)."""
    file = Path(path) if path is not None else profiles_path()
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SampleSpec()
    except yaml.YAMLError as exc:
        raise ProfileError(f"tokenizer profiles file is not valid YAML: {exc}", file=str(file)) from None
    return parse_samples(document.get("samples") if isinstance(document, Mapping) else None, file)


__all__ = ["SampleSpec", "load_samples", "parse_samples"]
