"""Content-addressed store of the tokenizers the pipeline trains (the ``tokenizer/<profile>`` layer).

A trained file lives at ``<root>/tokenizer/<profile>/<sha256>/tokenizer.json`` (or
``tokenizer.model``); ``<root>/tokenizer/<profile>/current.json`` names the current one
(``{"sha256": ..., "file": ...}``, replaced atomically). A retrained file with the same bytes
lands in the same folder; an older version stays on disk, so a cache built from it can still be
checked against it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable

from ..engine.ipc import atomic_local_file
from ..hub.checksum import sha256_of
from ..layout import DataLayout
from ..paths import tokenizer_relpath
from .profiles import Profile, ProfileError
from .resolve import ResolvedTokenizer, train_profile_tokenizer
from .training import trained_file_name

POINTER = "current.json"


def _folder(root: str, profile: Profile) -> Path:
    return Path(DataLayout(root).tokenizer(profile.name))


def publish_trained(profile: Profile, texts: Iterable[str], root: str) -> ResolvedTokenizer:
    """Train ``profile``'s tokenizer on ``texts``, store it by its sha256 and make it current."""
    folder = _folder(root, profile)
    staging = folder / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        trained = train_profile_tokenizer(profile, texts, staging)
        target = Path(DataLayout(root).location(tokenizer_relpath(profile.name, trained.sha256, trained.path.name)))
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or sha256_of(target) != trained.sha256:
            os.replace(trained.path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with atomic_local_file(folder / POINTER) as tmp:
        tmp.write_text(json.dumps({"sha256": trained.sha256, "file": target.name}) + "\n", encoding="utf-8")
    return ResolvedTokenizer(profile, target, trained.sha256)


def resolve_trained(profile: Profile, root: str) -> ResolvedTokenizer:
    """The current trained tokenizer of ``profile``, its bytes verified against the stored sha256."""
    assert profile.tokenizer.train is not None
    pointer = _folder(root, profile) / POINTER
    try:
        current = json.loads(pointer.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(
            f"profile {profile.name!r}: its tokenizer is trained by the pipeline and tokenizer/{profile.name} is not "
            f"materialized (no {pointer}); materialize it with: dagster asset materialize -m "
            f"datasets_pipeline.definitions --select tokenizer/{profile.name}"
        ) from None
    sha, name = str(current["sha256"]), str(current.get("file") or trained_file_name(profile.tokenizer.train))
    path = Path(DataLayout(root).location(tokenizer_relpath(profile.name, sha, name)))
    got = sha256_of(path)
    if got != sha:
        raise ProfileError(f"profile {profile.name!r}: the trained tokenizer {path} has sha256 {got}, its record says {sha}")
    return ResolvedTokenizer(profile, path, sha)


__all__ = ["POINTER", "publish_trained", "resolve_trained"]
