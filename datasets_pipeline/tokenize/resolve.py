"""A profile's tokenizer file, found or made: a local path, a Hub download (pinned, verified),
or the file the pipeline trained; with its sha256 and the profile's artifact hash."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..errors import ChecksumMismatch
from ..hub.checksum import sha256_of
from .encoder import Encoder, open_encoder
from .profiles import Profile, ProfileError
from .training import train_tokenizer, trained_file_name

if TYPE_CHECKING:
    from ..hub.hf_source import HubSource


@dataclass(frozen=True)
class ResolvedTokenizer:
    """A profile with its tokenizer file on the local disk."""

    profile: Profile
    path: Path
    sha256: str
    revision: str | None = None  # the Hub commit sha the file was read at

    @property
    def artifact_hash(self) -> str:
        return self.profile.artifact_hash(self.sha256)

    def encoder(self) -> Encoder:
        return open_encoder(self.path, self.sha256)

    def lineage(self) -> dict[str, object]:
        """What to record with a tokenized materialization."""
        out: dict[str, object] = {
            "profile": self.profile.name,
            "tokenizer_sha256": self.sha256,
            "artifact_hash": self.artifact_hash,
            "renderer": self.profile.renderer,
            "train_on_what": self.profile.train_on_what,
            "max_length": self.profile.max_length,
        }
        if self.revision is not None:
            out["tokenizer_revision"] = self.revision
        return out


def trained_tokenizer_path(profile: Profile, folder: str | os.PathLike) -> Path:
    """Where a ``train:`` profile's tokenizer lives under ``folder``: ``<folder>/<profile>/tokenizer.json|.model``."""
    assert profile.tokenizer.train is not None
    return Path(folder) / profile.name / trained_file_name(profile.tokenizer.train)


def train_profile_tokenizer(profile: Profile, texts: Iterable[str], folder: str | os.PathLike) -> ResolvedTokenizer:
    """Train a ``train:`` profile's tokenizer on ``texts`` into ``folder`` (atomically)."""
    if profile.tokenizer.kind != "train" or profile.tokenizer.train is None:
        raise ProfileError(f"profile {profile.name!r}, field 'tokenizer': not a 'train:' tokenizer")
    path = trained_tokenizer_path(profile, folder)
    sha = train_tokenizer(profile.tokenizer.train, texts, path)
    return ResolvedTokenizer(profile, path, sha)


def resolve_tokenizer(
    profile: Profile,
    *,
    hub_source: "HubSource | None" = None,
    trained_folder: str | os.PathLike | None = None,
) -> ResolvedTokenizer:
    """The profile's tokenizer file on disk, verified.

    Hub files are pinned to the revision's commit sha and checked against the Hub's sha256 (and
    the profile's own ``sha256`` when it sets one). A ``train:`` profile needs ``trained_folder``
    holding the file :func:`train_profile_tokenizer` wrote.
    """
    spec = profile.tokenizer
    if spec.kind == "path":
        assert spec.path is not None
        if not spec.path.is_file():
            raise ProfileError(f"profile {profile.name!r}, field 'tokenizer.path': no such file: {spec.path}")
        return ResolvedTokenizer(profile, spec.path, sha256_of(spec.path))
    if spec.kind == "hub":
        from ..hub.hf_source import HubSource

        source = hub_source if hub_source is not None else HubSource.from_env()
        assert spec.repo and spec.file and spec.revision
        got = source.fetch_file(spec.repo, spec.file, spec.revision, repo_type="model")
        if spec.sha256 is not None and got.sha256 != spec.sha256:
            raise ChecksumMismatch(
                f"profile {profile.name!r}: {spec.repo}: {spec.file} at {spec.revision} has sha256 {got.sha256}, "
                f"the profile pins {spec.sha256}",
                file=spec.file,
            )
        return ResolvedTokenizer(profile, got.local_path, got.sha256, got.revision)
    if trained_folder is None:
        raise ProfileError(
            f"profile {profile.name!r}, field 'tokenizer.train': the tokenizer is trained by the pipeline; "
            f"materialize tokenizer/{profile.name} first (or pass trained_folder)"
        )
    path = trained_tokenizer_path(profile, trained_folder)
    if not path.is_file():
        raise ProfileError(
            f"profile {profile.name!r}, field 'tokenizer.train': no trained tokenizer at {path}; "
            f"materialize tokenizer/{profile.name} first"
        )
    return ResolvedTokenizer(profile, path, sha256_of(path))
