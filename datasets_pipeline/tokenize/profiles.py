"""Tokenizer profiles: which tokenizer, renderer, loss mask and length a tokenized cache uses.

Profiles are read from ``tokenizers.yaml`` (the current folder, else the project root) or from
the file named by ``DATASETS_PIPELINE_TOKENIZERS``, which replaces it::

    profiles:
      qwen3:
        tokenizer: {repo: Qwen/Qwen3-8B, revision: <sha>, file: tokenizer.json}
        renderer: qwen3
        train_on_what: all_assistant_messages   # the default
        max_length: 4096                        # or null
        source: cookbook                        # or sample: tokenize sample/<name> (see samples.py)

A ``tokenizer`` is one of ``{path: <tokenizer.json or .model>}`` (relative to the YAML file),
``{repo, revision, file}`` (a Hub model repo; optional ``sha256`` pins the bytes too) or
``{train: {...}}`` (trained by the pipeline, see :class:`TrainSpec`). Every field is checked at
load; an error names the file, the profile and the field.

A profile's artifact hash (:meth:`Profile.artifact_hash`) is the sha256 of the canonical JSON of
the tokenizer file's sha256 and every setting of the profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import DatasetsPipelineError

PROFILES_ENV = "DATASETS_PIPELINE_TOKENIZERS"
PROFILES_FILE = "tokenizers.yaml"

#: The cookbook's renderer names this package implements.
RENDERERS = ("role_colon", "llama3", "qwen3", "qwen3_instruct")
#: The cookbook's ``TrainOnWhat`` values.
TRAIN_ON_WHAT = (
    "last_assistant_message",
    "last_assistant_turn",
    "all_assistant_messages",
    "all_messages",
    "all_tokens",
    "all_user_and_system_messages",
    "customized",
)
DEFAULT_TRAIN_ON_WHAT = "all_assistant_messages"
#: What a profile tokenizes: whole cookbook splits, or their ``sample/<name>`` rows.
SOURCES = ("cookbook", "sample")
#: Algorithms a pipeline-trained tokenizer may use.
TRAIN_ALGORITHMS = ("bpe", "unigram", "sentencepiece_unigram")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class ProfileError(DatasetsPipelineError):
    """A tokenizer profile file or entry is invalid."""


@dataclass(frozen=True)
class TrainSpec:
    """A tokenizer the pipeline trains on cookbook rows.

    ``sources`` are ``"<name>@<config>/<split>"`` strings naming cookbook partitions whose text
    is the training corpus (at most ``max_texts`` texts, in row order). ``special_tokens``
    defaults to the renderer's special tokens (:func:`renderer_special_tokens`).
    """

    algorithm: str = "bpe"
    vocab_size: int = 4096
    min_frequency: int = 2
    special_tokens: tuple[str, ...] = ()
    byte_fallback: bool = True
    sources: tuple[str, ...] = ()
    max_texts: int | None = None
    character_coverage: float = 1.0  # sentencepiece_unigram only

    def settings(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TokenizerSpec:
    """Where a profile's tokenizer comes from: exactly one of ``path``, ``repo`` or ``train``."""

    kind: str  # "path" | "hub" | "train"
    path: Path | None = None
    repo: str | None = None
    revision: str | None = None
    file: str | None = None
    sha256: str | None = None
    train: TrainSpec | None = None

    @property
    def format(self) -> str:
        """``"sentencepiece"`` for a ``.model`` file (or a trained SentencePiece model), else ``"tokenizers"``."""
        if self.kind == "train":
            assert self.train is not None
            return "sentencepiece" if self.train.algorithm == "sentencepiece_unigram" else "tokenizers"
        name = str(self.path if self.kind == "path" else self.file)
        return "sentencepiece" if name.endswith(".model") else "tokenizers"

    def settings(self) -> dict[str, Any]:
        """What identifies this tokenizer besides its bytes (a local path's location does not)."""
        if self.kind == "path":
            return {"kind": "path", "format": self.format}
        if self.kind == "hub":
            return {"kind": "hub", "repo": self.repo, "revision": self.revision, "file": self.file}
        assert self.train is not None
        return {"kind": "train", **self.train.settings()}


@dataclass(frozen=True)
class Profile:
    """One validated profile."""

    name: str
    tokenizer: TokenizerSpec
    renderer: str
    train_on_what: str = DEFAULT_TRAIN_ON_WHAT
    max_length: int | None = None
    bos_token: str | None = None  # role_colon only: the HF tokenizer's ``bos_token`` (none by default)
    source_file: Path | None = field(default=None, compare=False)
    source: str = "cookbook"  # rows tokenized: the whole cookbook split, or its ``sample/<name>`` rows

    def settings(self) -> dict[str, Any]:
        """Every setting of the profile, as plain JSON values."""
        return {
            "name": self.name,
            "tokenizer": self.tokenizer.settings(),
            "renderer": self.renderer,
            "train_on_what": self.train_on_what,
            "max_length": self.max_length,
            "bos_token": self.bos_token,
            # only when set, so the hashes of cookbook-source profiles stay what they were
            **({"source": self.source} if self.source != "cookbook" else {}),
        }

    def artifact_hash(self, tokenizer_sha256: str) -> str:
        """sha256 of the canonical JSON of the tokenizer file's sha256 and :meth:`settings`."""
        payload = {"tokenizer_sha256": tokenizer_sha256, "settings": self.settings()}
        return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def renderer_special_tokens(renderer: str) -> tuple[str, ...]:
    """The special tokens a renderer's strings contain (a trained tokenizer must keep them whole)."""
    if renderer == "llama3":
        return ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
    if renderer in ("qwen3", "qwen3_instruct"):
        return ("<|im_start|>", "<|im_end|>")
    return ()


def profiles_path() -> Path:
    """``$DATASETS_PIPELINE_TOKENIZERS``, else ``./tokenizers.yaml`` if present, else the project root's."""
    env = os.environ.get(PROFILES_ENV)
    if env:
        return Path(env).expanduser()
    here = Path.cwd() / PROFILES_FILE
    if here.is_file():
        return here
    return Path(__file__).resolve().parents[2] / PROFILES_FILE


def load_profiles(path: str | os.PathLike | None = None) -> dict[str, Profile]:
    """Read and validate every profile of a profiles file (default :func:`profiles_path`)."""
    file = Path(path) if path is not None else profiles_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(
            "tokenizer profiles file not found",
            file=str(file),
            hint=f"create it, or set {PROFILES_ENV} to the profiles file",
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"tokenizer profiles file is not valid YAML: {exc}", file=str(file)) from None
    return parse_profiles(document, file)


@dataclass(frozen=True)
class ProfilesFile:
    """A profiles file read entry by entry: good profiles, one error per bad profile, or one error
    for the whole file (``error``: it cannot be read, is not YAML, or its top level is wrong).

    ``names`` lists every profile name of the file in order (good and bad). ``samples`` holds the
    validated ``samples:`` settings (a :class:`~.samples.SampleSpec`), or ``samples_error`` why not.
    """

    file: Path
    names: tuple[str, ...] = ()
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    errors: Mapping[str, ProfileError] = field(default_factory=dict)
    error: ProfileError | None = None
    samples: Any = None
    samples_error: ProfileError | None = None


def _key_lines(node: Any) -> dict[str, tuple[int, Any]]:
    """``{key: (line, value node)}`` of a YAML mapping node (1-based lines)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k.start_mark.line + 1, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _field_line(entry_node: Any, line: int, reason: str) -> int:
    """The line of the field an error names (``field 'tokenizer.train.vocab_size'``), else ``line``."""
    match = re.search(r"field '([^']+)'", reason)
    node = entry_node
    for part in (match.group(1).split(".") if match else ()):
        found = _key_lines(node).get(part)
        if found is None:
            break
        line, node = found
    return line


def located(exc: ProfileError, file: Path, line: int | None) -> ProfileError:
    """``exc`` with its message led by ``<file>:<line>:`` (the file once, not repeated in brackets)."""
    where = f"{file}:{line}" if line else str(file)
    return ProfileError(f"{where}: {exc.reason}", hint=exc.hint)


def read_profiles_file(path: str | os.PathLike | None = None) -> ProfilesFile:
    """Read a profiles file (default :func:`profiles_path`) without failing on a bad entry:
    each bad profile is an error of its own (file, line, profile, field), the others load."""
    file = Path(path) if path is not None else profiles_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ProfilesFile(file, error=ProfileError(
            f"{file}: tokenizer profiles file not found", hint=f"create it, or set {PROFILES_ENV} to the profiles file"))
    try:
        root = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = " ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) or str(exc)
        col = f", column {mark.column + 1}" if mark is not None else ""
        return ProfilesFile(file, error=located(
            ProfileError(f"tokenizer profiles file is not valid YAML{col}: {what}"), file, mark.line + 1 if mark is not None else None))
    top = _key_lines(root)
    if not isinstance(document, Mapping) or "profiles" not in document:
        return ProfilesFile(file, error=located(
            ProfileError("a tokenizer profiles file must be a mapping with a 'profiles:' key"), file, None))
    unknown = set(document) - {"profiles", "samples"}
    if unknown:
        key = sorted(map(str, unknown))[0]
        return ProfilesFile(file, error=located(ProfileError(
            f"unknown top-level key(s) {sorted(map(str, unknown))}; the keys are 'profiles' and 'samples'"), file, top.get(key, (None,))[0]))
    entries = document["profiles"]
    if not isinstance(entries, Mapping) or not entries:
        return ProfilesFile(file, error=located(ProfileError(
            "'profiles' must map profile names to entries (and not be empty)"), file, top["profiles"][0]))
    nodes = _key_lines(top["profiles"][1])
    profiles: dict[str, Profile] = {}
    errors: dict[str, ProfileError] = {}
    for name, entry in entries.items():
        try:
            profiles[str(name)] = _parse_profile(str(name), entry, file)
        except ProfileError as exc:
            line, node = nodes.get(str(name), (None, None))
            errors[str(name)] = located(exc, file, _field_line(node, line, exc.reason) if line else None)
    from .samples import parse_samples

    samples, samples_error = None, None
    try:
        samples = parse_samples(document.get("samples"), file)
    except ProfileError as exc:
        line, node = top.get("samples", (None, None))
        samples_error = located(exc, file, _field_line(node, line, exc.reason) if line else None)
    return ProfilesFile(file, tuple(str(n) for n in entries), profiles, errors, None, samples, samples_error)


def load_profile(name: str, path: str | os.PathLike | None = None) -> Profile:
    """One profile by name (other profiles of the file may be invalid); the error lists the names there are."""
    read = read_profiles_file(path)
    if read.error is not None:
        raise read.error
    if name in read.errors:
        raise read.errors[name]
    profiles = read.profiles
    if name not in profiles:
        source = next(iter(profiles.values())).source_file if profiles else path
        raise ProfileError(
            f"no tokenizer profile {name!r}",
            file=str(source) if source else None,
            hint=f"profiles: {', '.join(sorted(profiles)) or 'none'}",
        )
    return profiles[name]


def parse_profiles(document: Any, file: Path) -> dict[str, Profile]:
    """Validate a parsed profiles document (``file`` anchors relative paths and names errors)."""
    if not isinstance(document, Mapping) or "profiles" not in document:
        raise ProfileError("a tokenizer profiles file must be a mapping with a 'profiles:' key", file=str(file))
    unknown = set(document) - {"profiles", "samples"}
    if unknown:
        raise ProfileError(f"unknown top-level key(s) {sorted(unknown)}; the keys are 'profiles' and 'samples'", file=str(file))
    entries = document["profiles"]
    if not isinstance(entries, Mapping) or not entries:
        raise ProfileError("'profiles' must map profile names to entries (and not be empty)", file=str(file))
    return {str(name): _parse_profile(str(name), entry, file) for name, entry in entries.items()}


def _fail(file: Path, profile: str, fieldname: str, message: str) -> ProfileError:
    return ProfileError(f"profile {profile!r}, field {fieldname!r}: {message}", file=str(file))


def _parse_profile(name: str, entry: Any, file: Path) -> Profile:
    if not _NAME_RE.match(name):
        raise _fail(file, name, "name", "a profile name is letters, digits, '_', '-', '.' (no '/' or '|')")
    if not isinstance(entry, Mapping):
        raise _fail(file, name, "entry", f"must be a mapping, got {type(entry).__name__}")
    allowed = {"tokenizer", "renderer", "train_on_what", "max_length", "bos_token", "source"}
    unknown = set(entry) - allowed
    if unknown:
        raise _fail(file, name, sorted(unknown)[0], f"unknown field; fields are {sorted(allowed)}")
    renderer = entry.get("renderer")
    if renderer not in RENDERERS:
        raise _fail(file, name, "renderer", f"{renderer!r} is not one of {list(RENDERERS)}")
    train_on_what = entry.get("train_on_what", DEFAULT_TRAIN_ON_WHAT)
    if train_on_what not in TRAIN_ON_WHAT:
        raise _fail(file, name, "train_on_what", f"{train_on_what!r} is not one of {list(TRAIN_ON_WHAT)}")
    max_length = entry.get("max_length")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2):
        raise _fail(file, name, "max_length", f"must be an integer >= 2 or null, got {max_length!r}")
    bos_token = entry.get("bos_token")
    if bos_token is not None and (not isinstance(bos_token, str) or not bos_token):
        raise _fail(file, name, "bos_token", f"must be a non-empty string or null, got {bos_token!r}")
    source = entry.get("source", "cookbook")
    if source not in SOURCES:
        raise _fail(file, name, "source", f"{source!r} is not one of {list(SOURCES)}")
    if "tokenizer" not in entry:
        raise _fail(file, name, "tokenizer", "missing; one of {path: ...}, {repo, revision, file} or {train: {...}}")
    tokenizer = _parse_tokenizer(name, entry["tokenizer"], renderer, file)
    return Profile(name, tokenizer, renderer, train_on_what, max_length, bos_token, file, source)


def _parse_tokenizer(name: str, spec: Any, renderer: str, file: Path) -> TokenizerSpec:
    if not isinstance(spec, Mapping):
        raise _fail(file, name, "tokenizer", f"must be a mapping, got {type(spec).__name__}")
    kinds = [k for k in ("path", "repo", "train") if k in spec]
    if len(kinds) != 1:
        raise _fail(file, name, "tokenizer", "needs exactly one of 'path', 'repo' or 'train'")
    kind = kinds[0]
    if kind == "path":
        _only(spec, {"path"}, file, name)
        value = spec["path"]
        if not isinstance(value, str) or not value:
            raise _fail(file, name, "tokenizer.path", f"must be a file path, got {value!r}")
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = file.parent / path
        if not path.is_file():
            raise _fail(file, name, "tokenizer.path", f"no such file: {path}")
        if not (path.name.endswith(".json") or path.name.endswith(".model")):
            raise _fail(file, name, "tokenizer.path", "must be a tokenizer.json (.json) or a SentencePiece .model")
        return TokenizerSpec("path", path=path)
    if kind == "repo":
        _only(spec, {"repo", "revision", "file", "sha256"}, file, name)
        for key in ("repo", "revision", "file"):
            if not isinstance(spec.get(key), str) or not spec.get(key):
                raise _fail(file, name, f"tokenizer.{key}", f"required with 'repo' (a string), got {spec.get(key)!r}")
        sha = spec.get("sha256")
        if sha is not None and (not isinstance(sha, str) or not _SHA256_RE.match(sha)):
            raise _fail(file, name, "tokenizer.sha256", "must be 64 lowercase hex digits, quoted in YAML")
        if not (spec["file"].endswith(".json") or spec["file"].endswith(".model")):
            raise _fail(file, name, "tokenizer.file", "must be a tokenizer.json (.json) or a SentencePiece .model")
        return TokenizerSpec("hub", repo=spec["repo"], revision=spec["revision"], file=spec["file"], sha256=sha)
    _only(spec, {"train"}, file, name)
    return TokenizerSpec("train", train=_parse_train(name, spec["train"], renderer, file))


def _only(spec: Mapping[str, Any], allowed: set[str], file: Path, name: str) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise _fail(file, name, f"tokenizer.{sorted(unknown)[0]}", f"unknown field here; allowed: {sorted(allowed)}")


def _parse_train(name: str, spec: Any, renderer: str, file: Path) -> TrainSpec:
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise _fail(file, name, "tokenizer.train", f"must be a mapping, got {type(spec).__name__}")
    defaults = TrainSpec()
    allowed = set(asdict(defaults))
    unknown = set(spec) - allowed
    if unknown:
        raise _fail(file, name, f"tokenizer.train.{sorted(unknown)[0]}", f"unknown field; fields are {sorted(allowed)}")

    def field_(key: str) -> str:
        return f"tokenizer.train.{key}"

    algorithm = spec.get("algorithm", defaults.algorithm)
    if algorithm not in TRAIN_ALGORITHMS:
        raise _fail(file, name, field_("algorithm"), f"{algorithm!r} is not one of {list(TRAIN_ALGORITHMS)}")
    ints = {}
    for key, low in (("vocab_size", 64), ("min_frequency", 1)):
        value = spec.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _fail(file, name, field_(key), f"must be an integer >= {low}, got {value!r}")
        ints[key] = value
    max_texts = spec.get("max_texts")
    if max_texts is not None and (isinstance(max_texts, bool) or not isinstance(max_texts, int) or max_texts < 1):
        raise _fail(file, name, field_("max_texts"), f"must be a positive integer or null, got {max_texts!r}")
    byte_fallback = spec.get("byte_fallback", defaults.byte_fallback)
    if not isinstance(byte_fallback, bool):
        raise _fail(file, name, field_("byte_fallback"), f"must be true or false, got {byte_fallback!r}")
    coverage = spec.get("character_coverage", defaults.character_coverage)
    if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not 0.9 <= coverage <= 1.0:
        raise _fail(file, name, field_("character_coverage"), f"must be a number in [0.9, 1], got {coverage!r}")
    specials = spec.get("special_tokens")
    if specials is None:
        specials = renderer_special_tokens(renderer)
    if not isinstance(specials, (list, tuple)) or not all(isinstance(s, str) and s for s in specials):
        raise _fail(file, name, field_("special_tokens"), "must be a list of non-empty strings")
    if len(set(specials)) != len(specials):
        raise _fail(file, name, field_("special_tokens"), "lists a token twice")
    sources = spec.get("sources", [])
    if not isinstance(sources, (list, tuple)) or not all(
        isinstance(s, str) and re.match(r"^[a-z0-9_]+@[^/@]+/[^/@]+$", s) for s in sources
    ):
        raise _fail(file, name, field_("sources"), "must be a list of '<name>@<config>/<split>' strings")
    return TrainSpec(
        algorithm=algorithm,
        vocab_size=ints["vocab_size"],
        min_frequency=ints["min_frequency"],
        special_tokens=tuple(specials),
        byte_fallback=byte_fallback,
        sources=tuple(sources),
        max_texts=max_texts,
        character_coverage=float(coverage),
    )
