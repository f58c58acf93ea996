"""The published site in real headless Chromium, served by `bench serve` as a user would browse it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.reports.site import publish
from tests.sitefixtures import HOSTILE, VARIANTS, make_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra: pip install -e '.[dev]'")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason="no chromium here; .ci/run installs Debian's (apt-get install chromium)")
# Chromium on a machine with no network: no background connections, no sandbox as root.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    with make_store(root / "s.sqlite") as store:
        publish(store, root / "site")
    server = subprocess.Popen([sys.executable, "-m", "bench", "serve", str(root / "site"), "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, line
    yield match.group(0)
    server.terminate()
    server.wait(timeout=10)


def test_browse_from_the_index_to_a_run_with_its_plots(served: str, tmp_path: Path) -> None:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: problems.append(f"dialog opened: {d.message}"))
        page.goto(served)
        assert page.locator("#runs tbody tr").count() == 2
        # the hostile device name is shown as text, and ran nothing
        assert HOSTILE in page.locator("#runs").inner_text()
        page.get_by_role("link", name=re.compile("local")).first.click()
        page.wait_for_load_state()
        assert page.url.endswith("/index.html") and "/runs/" in page.url
        assert page.locator("table.comparison tbody tr").count() == len(VARIANTS) + 1  # + the failed job
        images = page.locator("img.plot")
        assert images.count() == 4
        widths = images.evaluate_all("images => images.map(i => i.complete ? i.naturalWidth : 0)")
        assert all(w > 0 for w in widths), widths
        # sorting by p50 puts the fastest variant first
        page.locator("table.comparison th", has_text="p50 ms").click()
        assert page.locator("table.comparison tbody tr td a").first.inner_text().startswith("res160")
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
        page.locator("table.comparison tbody tr td a").first.click()
        page.wait_for_load_state()
        assert "/jobs/" in page.url and page.locator("#numbers tbody tr").count() > 15
        assert page.locator("img.plot").evaluate("i => i.naturalWidth") > 0
        page.goto(served)
        page.get_by_role("link", name=HOSTILE).first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == HOSTILE
        browser.close()
    assert problems == []
