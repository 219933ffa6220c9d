"""Errors that say which dataset, config, split, file and row went wrong, and what to do."""

from __future__ import annotations


class DatasetsPipelineError(Exception):
    """Base error. Carries where the problem is (dataset, config, split, file, row, column)."""

    def __init__(
        self,
        message: str,
        *,
        dataset: str | None = None,
        config: str | None = None,
        split: str | None = None,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.dataset, self.config, self.split = dataset, config, split
        self.file, self.row, self.column, self.hint = file, row, column, hint
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = [
            f"{label} {value!r}" if label != "row" else f"row {value}"
            for label, value in (
                ("dataset", self.dataset),
                ("config", self.config),
                ("split", self.split),
                ("file", self.file),
                ("row", self.row),
                ("column", self.column),
            )
            if value is not None
        ]
        text = self.reason
        if where:
            text = f"{text} [{', '.join(where)}]"
        if self.hint:
            text = f"{text}. {self.hint}"
        return text

    def with_context(self, **where: object) -> "DatasetsPipelineError":
        """Fill in location fields that are still unknown (never overwrites)."""
        for key, value in where.items():
            if value is not None and getattr(self, key, None) is None:
                setattr(self, key, value)
        self.args = (self._render(),)
        return self

    def __str__(self) -> str:
        return self._render()


class SourceError(DatasetsPipelineError):
    """The Hub (or a local mirror) could not provide the data."""


class RepoNotFound(SourceError):
    """The repository does not exist or is not visible with this token."""


class GatedRepo(SourceError):
    """The repository is gated or private: a token with access is needed."""


class RevisionNotFound(SourceError):
    """The branch, tag or commit does not exist in the repository."""


class SplitNotFound(SourceError):
    """No data files for the (config, split)."""


class ChecksumMismatch(SourceError):
    """A downloaded file's sha256 differs from the one the Hub lists."""


class TransientSourceError(SourceError):
    """The source kept failing with retryable errors (5xx, 429, dropped connections)."""


class RetryBudgetExceeded(TransientSourceError):
    """Waiting for the source once more would exceed the step's total retry wait."""


class FormatError(DatasetsPipelineError):
    """A data file could not be parsed (malformed line, wrong format)."""


class SchemaError(DatasetsPipelineError):
    """Columns are missing, or shards of one split disagree on their schema."""


class ConversionError(DatasetsPipelineError):
    """A converter could not turn raw rows into the family's columns."""


class StorageFullError(DatasetsPipelineError, OSError):
    """The disk (or quota) filled up while writing; the previous version of the file is kept."""


class UnsafePathError(DatasetsPipelineError, ValueError):
    """A name or partition key would escape the data folder."""


class NotMaterializedError(DatasetsPipelineError, FileNotFoundError):
    """The requested asset partition has not been materialized yet."""


class UnsupportedStorageError(DatasetsPipelineError):
    """The data root's storage is not supported by this layer (e.g. a remote root for a local-only layer)."""
