"""preference datasets of the cookbook catalog."""

from .spec import DatasetSpec

SPECS: list[DatasetSpec] = []
