"""A loopback Hugging Face Hub for tests: real ``huggingface_hub`` clients talk to it over
HTTP on 127.0.0.1, with repos, refs, dataset-viewer listings and fault injection.

    with HubServer() as server:
        sha = server.add_repo("acme/tiny", {"README.md": b"...", "data/train.parquet": data})
        server.add_fault(Fault(path=r"/resolve/", method="GET", kind="truncate"))
"""

from .faults import Fault, RecordedRequest
from .server import HubServer

__all__ = ["Fault", "HubServer", "RecordedRequest"]
