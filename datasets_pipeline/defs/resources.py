"""Resources: where raw bytes come from (the Hub, or a local mirror folder)."""

from __future__ import annotations

import os

import dagster as dg

from ..hub import HubSource, LocalFolderSource, Source

MIRROR_ENV = "DATASETS_PIPELINE_HUB_MIRROR"


class HubResource(dg.ConfigurableResource):
    """The data source of the raw layer.

    By default the Hugging Face Hub, configured like ``huggingface_hub`` itself: ``HF_ENDPOINT``,
    ``HF_TOKEN`` and ``HF_HOME`` are read when a run starts. The token is never part of the run
    config, the logs or the metadata. Set ``mirror`` (or ``DATASETS_PIPELINE_HUB_MIRROR``) to a
    folder laid out like Hub repos to work offline.
    """

    endpoint: str | None = None
    cache_dir: str | None = None
    mirror: str | None = None
    max_attempts: int = 5
    max_total_wait: float | None = None  # seconds of retry waits per step; None: DATASETS_PIPELINE_HUB_MAX_WAIT or 600

    def source(self) -> Source:
        mirror = self.mirror or os.environ.get(MIRROR_ENV)
        if mirror:
            return LocalFolderSource(mirror)
        hub = HubSource.from_env()
        return HubSource(
            endpoint=self.endpoint or hub.endpoint,
            token=hub.token,
            cache_dir=self.cache_dir or hub.cache_dir,
            max_attempts=self.max_attempts,
            max_total_wait=hub.max_total_wait if self.max_total_wait is None else self.max_total_wait,
        )

    def describe(self) -> str:
        """Where data comes from, for logs (never includes the token)."""
        mirror = self.mirror or os.environ.get(MIRROR_ENV)
        if mirror:
            return f"local mirror {mirror}"
        return f"Hub {self.endpoint or os.environ.get('HF_ENDPOINT') or 'https://huggingface.co'}"
