"""The Dagster UI as a person uses it, in Debian's headless Chromium driven by Playwright.

Starts ``dagster dev`` on 127.0.0.1 (free port, temporary DAGSTER_HOME, the bundled offline mirror),
opens the catalog, the math group's lineage graph, ``raw/gsm8k``'s overview, partitions and checks,
launches the ``main/test`` partition by clicking through the Materialize dialog, and waits for the
run to succeed. Screenshots go to ``test-artifacts/browser/`` (ignored by git).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from datasets_pipeline_tests.dagster_runs import REPO_ROOT
from datasets_pipeline_tests.webserver import DagsterDev

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"


@pytest.fixture
def dagster_dev(tmp_path: Path):
    server = DagsterDev(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (bash scripts/setup.sh installs it as root)")
def test_a_person_materializes_a_partition_in_the_ui(dagster_dev: DagsterDev, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    base = dagster_dev.base

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

            # The catalog lists the assets of every layer.
            page.goto(f"{base}/assets")
            expect(page.get_by_text("gsm8k").first).to_be_visible()
            time.sleep(2)
            shot("01-catalog")
            (ARTIFACTS / "01-catalog.txt").write_text(page.inner_text("body"))

            # The math group's lineage graph: three nodes named gsm8k, each tagged with its layer.
            page.set_viewport_size({"width": 1600, "height": 1700})  # the whole graph in one picture
            page.goto(f"{base}/locations/datasets_pipeline/asset-groups/math")
            expect(page.get_by_text("gsm8k", exact=True).first).to_be_visible()
            deadline = time.monotonic() + 60  # let every node load its status
            while page.get_by_text(re.compile(r"^Loading")).count() and time.monotonic() < deadline:
                time.sleep(1)
            shot("02-math-lineage")
            nodes = page.locator("foreignObject").filter(has=page.locator("[data-tooltip='gsm8k']"))
            layers = {}
            for i in range(nodes.count()):
                node = nodes.nth(i).locator("xpath=./div")  # the node's HTML inside the SVG foreignObject
                key = node.locator("a[href^='/assets/']").first.get_attribute("href").split("?")[0]
                layers[key] = [k for k in ("raw", "cookbook", "dataset_dict") if k in node.inner_text().splitlines()]
            assert layers == {
                "/assets/raw/gsm8k": ["raw"], "/assets/cookbook/gsm8k": ["cookbook"], "/assets/dataset_dict/gsm8k": ["dataset_dict"],
            }
            page.set_viewport_size({"width": 1600, "height": 1000})

            # raw/gsm8k: the layer, its owner and the offline mirror's coverage are on the page.
            page.goto(f"{base}/assets/raw/gsm8k")
            expect(page.get_by_text("Kinds", exact=True)).to_be_visible()
            expect(page.get_by_text("raw layer:", exact=False).first).to_be_visible()
            shot("03-raw-gsm8k-overview")
            overview = page.inner_text("body")
            (ARTIFACTS / "03-raw-gsm8k-overview.txt").write_text(overview)
            assert "raw layer" in overview
            assert "it can serve partitions main/test, socratic/test" in overview
            assert re.search(r"^Kinds\n(.*\n){0,3}raw$", overview, re.M), "kind raw not in the definition panel"
            assert re.search(r"^Owners\ndatasets$", overview, re.M)

            # Materialize main/test by clicking through the dialog.
            page.get_by_role("button", name="Materialize…").first.click()
            page.get_by_text("Select a partition or create one").click()
            page.get_by_role("menuitem").filter(has_text="main/test").first.click()
            page.keyboard.press("Escape")  # close the partition menu, keep the dialog
            launch = page.get_by_role("button", name="Launch 1 run")
            expect(launch).to_be_enabled()
            time.sleep(1)  # the partition menu fades out
            shot("04-launch-dialog")
            launch.click()
            expect(page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))).to_be_visible()
            page.get_by_role("link", name="View").first.click()

            # The run page: wait until the run succeeds (the daemon of dagster dev dequeues it).
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=240_000)
            assert "RUN_FAILURE" not in page.inner_text("body")
            shot("05-run-succeeded")

            # The partition is green: materialized, with its row count.
            page.goto(f"{base}/assets/raw/gsm8k?view=partitions")
            page.get_by_text("main/test", exact=True).first.click()
            expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
            expect(page.get_by_text("Materialized (1)")).to_be_visible()
            expect(page.get_by_text("Missing (3)")).to_be_visible()
            details = page.inner_text("body")
            assert re.search(r"^dagster/row_count\s+1319$", details, re.M)
            assert re.search(r"^size\s+715\.2 kB$", details, re.M)
            shot("06-partition-materialized")

            # The checks of that partition passed.
            page.goto(f"{base}/assets/raw/gsm8k?view=checks")
            expect(page.get_by_text("Evaluation result")).to_be_visible()
            expect(page.get_by_text("Succeeded").first).to_be_visible()
            shot("07-partition-checks")
            checks = page.inner_text("body")
            (ARTIFACTS / "07-partition-checks.txt").write_text(checks)
            for name in ("has_rows", "row_count"):
                assert re.search(rf"^{name}\n({name}\n)?Succeeded$", checks, re.M), name
            assert re.search(r"^Evaluation result\nPassed$", checks, re.M)
            assert re.search(r"^Partition\nmain/test$", checks, re.M)
        finally:
            browser.close()

    assert (dagster_dev.data / "raw" / "gsm8k" / "main" / "test.arrow").exists()
    assert "will not be used to configure Dagster" not in dagster_dev.log()  # item: no unused dagster.yaml warning
