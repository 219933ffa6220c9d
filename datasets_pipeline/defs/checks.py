"""Asset checks in Dagster terms: specs from :mod:`~datasets_pipeline.steps.checks`, results, and the gate.

Check specs carry the asset's partitions, so each evaluation belongs to the partition it checked.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Generator, Iterable, Sequence, TypeVar

import dagster as dg

from ..errors import DatasetsPipelineError
from ..steps.checks import BlockingCheckFailed, CheckDef, CheckOutcome
from .metadata import metadata_value

T = TypeVar("T")


def check_specs(
    key: dg.AssetKey, checks: Sequence[CheckDef], partitions_def: dg.PartitionsDefinition | None = None, **descriptions: str
) -> list[dg.AssetCheckSpec]:
    """One spec per check (``descriptions`` overrides a check's text by name)."""
    with warnings.catch_warnings():  # partitioned asset checks are a preview feature of Dagster 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                c.name,
                asset=key,
                blocking=c.blocking,
                description=descriptions.get(c.name, c.description),
                partitions_def=partitions_def,
            )
            for c in checks
        ]


def check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        metadata={k: metadata_value(v) for k, v in outcome.metadata.items()},
        description=outcome.description or None,
    )


def check_results(outcomes: Iterable[CheckOutcome]) -> list[dg.AssetCheckResult]:
    return [check_result(o) for o in outcomes]


def gated(
    run: Callable[[], T], asset: str, retry_only: Callable[[BaseException], bool] | None = None, **where: Any
) -> Generator[dg.AssetCheckResult, None, T]:
    """Run ``run`` (stage, check, publish); use as ``value = yield from gated(...)`` in an asset.

    A :class:`BlockingCheckFailed` records every check result (the failed ones show red for this
    partition) and fails the step with a message naming the asset, partition and checks; other
    pipeline errors get the dataset/config/split filled in. With ``retry_only``, only errors it accepts
    are left to the asset's ``RetryPolicy``: any other fails the step without a retry.
    """
    try:
        return run()
    except BlockingCheckFailed as exc:
        exc.with_context(**where)
        yield from check_results(exc.outcomes)
        raise dg.Failure(
            description=f"{asset}: {exc}",
            metadata={"failed_checks": dg.MetadataValue.json([o.name for o in exc.failed])},
            allow_retries=False,  # the same data would fail the same way
        ) from None
    except Exception as exc:
        if isinstance(exc, DatasetsPipelineError):
            exc.with_context(**where)
        if retry_only is not None and not retry_only(exc):
            raise dg.Failure(description=f"{asset}: {exc}", allow_retries=False) from exc
        raise
