"""What the browser journeys check on every page they visit: no CSP violation
in the console, no serious or critical axe finding at the journeys' 1366 px
window and at a phone's 390 px, and screenshots for reviewers (artifacts/ is
git-ignored)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_RESULTS = ARTIFACTS / "axe"
#: axe impacts that fail a page; "moderate" and "minor" are reported only.
BLOCKING_IMPACTS = {"serious", "critical"}
#: The journeys' window, and a phone's (an iPhone 14's CSS pixels).
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def assert_no_csp_violations(console_log: list[str]) -> None:
    violations = [m for m in console_log if "Content Security Policy" in m]
    assert not violations, violations
    errors = [m for m in console_log if m.startswith("pageerror")]
    assert not errors, errors


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for reviewers under artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextmanager
def viewport(page, size: dict[str, int]) -> Iterator[None]:
    """The page at another window size for a while (the layout follows at once)."""
    before = page.viewport_size
    page.set_viewport_size(size)
    try:
        yield
    finally:
        page.set_viewport_size(before)


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than its window (0: it fits, nothing
    runs off the right edge)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def assert_fits(page) -> None:
    overflow = horizontal_overflow(page)
    width = page.viewport_size["width"]
    assert overflow <= 0, f"{page.url} runs {overflow} px off the right of a {width} px window"


def assert_accessible(page, name: str) -> dict[str, int]:
    """Run axe-core on the page as it is now, then again at a phone's width (unless
    it is at one already); fail on any serious or critical violation at either.
    The summaries go to artifacts/axe/<name>.json and <name>-phone.json, with a
    phone screenshot."""
    summary = _axe(page, name)
    if page.viewport_size != PHONE:
        with viewport(page, PHONE):
            screenshot(page, f"{name}-phone")
            _axe(page, f"{name}-phone")
    return summary


def _axe(page, name: str) -> dict[str, int]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response["violations"]
    summary: dict[str, int] = {}
    for violation in violations:
        impact = violation["impact"] or "unknown"
        summary[impact] = summary.get(impact, 0) + 1
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    (AXE_RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "url": page.url,
                "viewport": page.viewport_size,
                "summary": summary,
                "violations": [
                    {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
                    for v in violations
                ],
            },
            indent=2,
        )
    )
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"at {page.viewport_size['width']} px: {results.generate_report()}"
    return summary
