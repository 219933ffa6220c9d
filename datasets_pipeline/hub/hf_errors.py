"""``huggingface_hub`` exceptions -> this project's errors, naming the repo and what to do."""

from __future__ import annotations

from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..errors import (
    DatasetsPipelineError,
    GatedRepo,
    RepoNotFound,
    RevisionNotFound,
    SourceError,
    SplitNotFound,
)
from .retry import _status, describe, is_local_request_error


def hub_url(endpoint: str, repo_id: str) -> str:
    """The dataset's page on the Hub, where access is requested."""
    return f"{endpoint.rstrip('/')}/datasets/{repo_id}"


def translate(
    exc: BaseException,
    *,
    repo_id: str,
    endpoint: str,
    revision: str | None = None,
    file: str | None = None,
    config: str | None = None,
    split: str | None = None,
    token: str | None = None,
    refs_hint: str | None = None,
) -> DatasetsPipelineError:
    """The project error for a Hub client error (the token never appears in the text)."""
    if isinstance(exc, DatasetsPipelineError):
        return exc.with_context(file=file, config=config, split=split)
    where = dict(file=file, config=config, split=split)
    url = hub_url(endpoint, repo_id)
    status = _status(exc)
    detail = describe(exc, token)
    if is_local_request_error(exc):
        return SourceError(
            f"the request for dataset repo {repo_id!r} was not sent: the HTTP client refused it ({detail})",
            hint="HF_TOKEN must hold printable ASCII only: check it for control or non-ASCII characters",
            **where,
        )
    if isinstance(exc, GatedRepoError) or (
        isinstance(exc, HfHubHTTPError) and not isinstance(exc, RepositoryNotFoundError) and status in (401, 403)
    ):
        if token:
            hint = (
                "the token in HF_TOKEN was refused or its account has no access yet: "
                f"request access on {url} and check HF_TOKEN"
            )
        else:
            hint = f"request access on {url} and set HF_TOKEN to a token of an account that has it"
        return GatedRepo(f"dataset repo {repo_id!r} is gated or restricted (HTTP {status})", hint=hint, **where)
    if isinstance(exc, RepositoryNotFoundError):
        return RepoNotFound(
            f"dataset repo {repo_id!r} not found on {endpoint}",
            hint="check the repo id; if the repo is private or gated, set HF_TOKEN to a token with access",
            **where,
        )
    if isinstance(exc, RevisionNotFoundError):
        hint = "use an existing branch, tag or commit sha" + (f" ({refs_hint})" if refs_hint else "")
        return RevisionNotFound(f"revision {revision!r} not found in dataset repo {repo_id!r}", hint=hint, **where)
    if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
        return SplitNotFound(
            f"file listed in dataset repo {repo_id!r} at {revision} is missing on the server",
            hint="the repo may have been rewritten; retry, or pin another revision",
            **where,
        )
    if isinstance(exc, HfHubHTTPError) and status == 404:
        if file is None:
            return RepoNotFound(f"dataset repo {repo_id!r} not found on {endpoint} (HTTP 404)", **where)
        return SplitNotFound(f"file not found in dataset repo {repo_id!r} at {revision} (HTTP 404)", **where)
    if isinstance(exc, OfflineModeIsEnabled):
        return SourceError(
            f"cannot reach the Hub for {repo_id!r}: offline mode is on and no cached copy exists",
            hint="unset HF_HUB_OFFLINE or materialize once while online",
            **where,
        )
    if isinstance(exc, LocalEntryNotFoundError):
        return SourceError(
            f"cannot download from dataset repo {repo_id!r} and no cached copy exists: {detail}",
            hint=f"check that {endpoint} is reachable",
            **where,
        )
    return SourceError(f"request to dataset repo {repo_id!r} failed: {detail}", **where)
