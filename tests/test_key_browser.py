"""The seed answer key in a real browser: Debian's headless Chromium, driven by Playwright.

The HTML file is opened from disk (file://, offline: no server, no script of ours); every
<math> element must have a non-zero rendered size (MathML Core laid out natively, not shown
as raw text of zero height), the SVG pictures too, and the page must not scroll sideways at a
desktop width. Skipped, saying why, where Chromium or Playwright is missing (CI installs both).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.test_web_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium; .ci/run does)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")


def test_the_key_renders_its_mathml(tmp_path: Path) -> None:
    from derive.assignment import publish_key

    publish_key(EXAMPLES / "hw_seed" / "assignment.toml", tmp_path, pdf=False, use_torch=False)
    page_file = tmp_path / "answer-key.html"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            sizes = page.evaluate(
                "[...document.querySelectorAll('math')].map(m => {"
                " const r = m.getBoundingClientRect(); return [r.width, r.height]; })"
            )
            assert len(sizes) > 50
            assert all(w > 0 and h > 0 for w, h in sizes), sizes
            # a fraction is taller than a line of text: MathML is laid out, not shown as text
            frac = page.evaluate("document.querySelector('mfrac').getBoundingClientRect().height")
            line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
            assert frac > 0.9 * line
            svgs = page.evaluate(
                "[...document.querySelectorAll('figure svg')]"
                ".map(s => s.getBoundingClientRect().width)"
            )
            assert len(svgs) == 6 and min(svgs) > 100
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1000
            assert requests == [page_file.as_uri()]  # nothing fetched: offline by construction
            page.screenshot(path=str(tmp_path / "key.png"), full_page=True)
        finally:
            browser.close()
