"""Where bytes come from: the Hugging Face Hub (``HubSource``) or a local folder laid out like it
(``LocalFolderSource``), each giving the verified files of one (config, split) at a pinned commit."""

from __future__ import annotations

from .hf_source import HubSource
from .local_source import LocalFolderSource
from .source import ORIGINS, Source, SourceFile, SplitFiles

__all__ = ["HubSource", "LocalFolderSource", "ORIGINS", "Source", "SourceFile", "SplitFiles"]
