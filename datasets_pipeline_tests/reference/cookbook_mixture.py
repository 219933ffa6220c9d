"""Reference rows of the cookbook's ``InterleavedChatDatasetBuilder`` for the mixture tests.

Run in a separate environment with tinker-cookbook 0.6.1 (``pip install --no-deps``), its
imports (``chz``, ``tinker``, ``blobfile``) and datasets 5.2.0 (the cookbook's dependencies
conflict with the project's pins); it rewrites ``cookbook_mixture.json``::

    python datasets_pipeline_tests/reference/cookbook_mixture.py

The sources are the chat rows of :func:`source_rows` (also used by the tests), saved as JSON
Lines folders that ``datasets.load_dataset`` reads; every case runs the real builder and
records the user message of each train and test row, in order.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).with_suffix(".json")
SIZES = {"alpha": 300, "beta": 170, "gamma": 55}
CASES = {
    "unweighted": {"weights": None, "test_size": 0, "seed": 0, "stopping_strategy": "all_exhausted"},
    "unweighted_test": {"weights": None, "test_size": 25, "seed": 3, "stopping_strategy": "all_exhausted"},
    "weighted_first": {"weights": [3.0, 1.0, 1.0], "test_size": 10, "seed": 7, "stopping_strategy": "first_exhausted"},
    "weighted_zero": {"weights": [2.0, 0.0, 1.0], "test_size": 12, "seed": 11, "stopping_strategy": "all_exhausted"},
    "unweighted_without": {"weights": None, "test_size": 0, "seed": 5, "stopping_strategy": "all_exhausted_without_replacement"},
}


def source_rows(name: str) -> list[dict]:
    """Rows of source ``name``: one user and one assistant message each."""
    return [
        {"messages": [{"role": "user", "content": f"{name} {i}"}, {"role": "assistant", "content": f"reply {i}"}]}
        for i in range(SIZES[name])
    ]


def main() -> None:
    import datasets  # noqa: F401 - the cookbook's environment
    from tinker_cookbook.supervised.data import HFDatasetSource, InterleavedChatDatasetBuilder
    from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HF_HOME"] = str(Path(tmp) / "hf")
        folders = {}
        for name in SIZES:
            folder = Path(tmp) / name
            folder.mkdir()
            with open(folder / "train.jsonl", "w") as fh:
                for row in source_rows(name):
                    fh.write(json.dumps(row) + "\n")
            folders[name] = str(folder)
        common = ChatDatasetBuilderCommonConfig(
            model_name_for_tokenizer="unused", renderer_name="role_colon", max_length=None, batch_size=1
        )
        results = {}
        for case, spec in CASES.items():
            weights = spec["weights"] or [None] * len(SIZES)
            sources = [HFDatasetSource(path=folders[n], split="train", weight=w) for n, w in zip(SIZES, weights)]
            builder = InterleavedChatDatasetBuilder(
                common_config=common,
                sources=sources,
                test_size=spec["test_size"],
                shuffle_seed=spec["seed"],
                stopping_strategy=spec["stopping_strategy"],
            )
            train, test = builder()
            results[case] = {
                **spec,
                "train": [m[0]["content"] for m in train.hf_dataset["messages"]],
                "test": [m[0]["content"] for m in test.hf_dataset["messages"]] if test is not None else [],
            }
    versions = {"tinker_cookbook": _version("tinker_cookbook"), "datasets": _version("datasets")}
    OUT.write_text(json.dumps({"versions": versions, "sizes": SIZES, "cases": results}, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
