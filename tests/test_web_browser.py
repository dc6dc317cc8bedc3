"""The practice page in a real browser: Debian's headless Chromium driven by Playwright.

`gradproof serve` runs on 127.0.0.1 (a free port); the test picks the notes' Example 2 and W2,
types the transposed answer, sees the preview and the transpose diagnosis, then the right answer
and "correct"; screenshots (wide and phone width) go to the test's folder, or to
$GRADPROOF_SCREENSHOTS when set. Skipped, saying why, where Chromium or Playwright is missing
(CI installs Chromium in .ci/run); Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium (apt-get install chromium; .ci/run does)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")
pytest.importorskip("uvicorn", reason="the web extra is not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    specs = [str(EXAMPLES / "seed_example1.toml"), str(EXAMPLES / "seed_example2.toml")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "derive.cli", "serve", *specs, "--port", "0", "--rate", "0"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
        assert m, f"the server did not start: {line!r}"
        url = m.group(1)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GRADPROOF_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("label", "width"), [("wide", 1200), ("phone", 390)])
def test_a_student_checks_a_wrong_then_a_right_answer(
    server: str, tmp_path: Path, label: str, width: int
) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server)
            page.select_option("#network", "seed_example2")
            page.wait_for_selector("#equations math")
            page.select_option("#wrt", "W2")
            expect = sync_api.expect
            expect(page.locator("#question math")).to_have_count(1)

            answer = page.locator("#answer")
            answer.fill("")
            answer.type(r"2 z (\hat{y}-y)^T")  # keystrokes: the debounced preview
            expect(page.locator("#preview-shape")).to_have_text("shape [h x m]", timeout=10_000)
            expect(page.locator("#preview-math math")).to_have_count(1)
            page.keyboard.press("Control+Enter")
            verdict = page.locator("#result .verdict")
            expect(verdict).to_contain_text("incorrect", timeout=15_000)
            expect(verdict).to_contain_text("transpose")
            expect(page.locator("#result .diagnosis")).to_contain_text("transpose your answer")
            page.click("#hint")
            expect(page.locator("#explain math")).to_have_count(1, timeout=10_000)
            page.screenshot(path=str(shots(tmp_path) / f"page-incorrect-{label}.png"),
                            full_page=True)  # fmt: skip

            answer.fill(r"2(\hat{y}-y)z^T")
            page.click("#check")
            expect(verdict).to_have_text("correct", timeout=15_000)
            expect(page.locator("#preview-shape")).to_have_text("shape [m x h]", timeout=10_000)
            path = shots(tmp_path) / f"page-correct-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 10_000

            # the answer box keeps the text on reload
            page.reload()
            page.wait_for_selector("#equations math")
            expect(page.locator("#answer")).to_have_value(r"2(\hat{y}-y)z^T")
            assert errors == []
        finally:
            browser.close()


def test_keyboard_only(server: str) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(server)
            page.wait_for_selector("#equations math")
            order = []
            for _ in range(6):
                page.keyboard.press("Tab")
                order.append(page.evaluate("document.activeElement.id"))
            assert order[:2] == ["network", "wrt"]
            assert "answer" in order and "check" in order
        finally:
            browser.close()
