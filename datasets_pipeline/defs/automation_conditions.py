"""The declarative automation every derived layer uses: follow the upstream when its data changes.

``follow_upstream()`` is ``AutomationCondition.eager()`` with "a dependency updated" narrowed to "a
dependency's *data version* changed": a partition is requested when its upstream partition gets new
data (or it is missing once the upstream exists), never while an upstream partition is missing or in
progress; a re-materialization that produced the same data version (nothing changed at the Hub)
requests nothing. Evaluated only while ``datasets_automation_sensor`` runs (stopped by default).
"""

from __future__ import annotations

import dagster as dg


def deps_data_changed() -> dg.AutomationCondition:
    """True when a dependency got a new data version since the last tick (or will be requested with this one)."""
    return dg.AutomationCondition.any_deps_match(
        (dg.AutomationCondition.data_version_changed() & ~dg.AutomationCondition.executed_with_root_target()).with_label(
            "data_version_changed_without_root"
        )
        | dg.AutomationCondition.will_be_requested()
    ).with_label("any_deps_data_changed")


def follow_upstream() -> dg.AutomationCondition:
    """``eager()`` that reacts to changed upstream data, not to every upstream run."""
    return dg.AutomationCondition.eager().replace("any_deps_updated", deps_data_changed()).with_label(
        "follow_upstream (eager on upstream data changes)"
    )


def refresh_materialized() -> dg.AutomationCondition:
    """``follow_upstream()`` for partitions that were materialized before: caches and samples are kept
    fresh when their upstream data changes, but never built for the first time by automation (a
    profile × split grid of every dataset would otherwise be tokenized as soon as its cookbook exists)."""
    return (follow_upstream() & ~dg.AutomationCondition.missing()).with_label(
        "refresh_materialized (follow_upstream for partitions materialized before)"
    )
