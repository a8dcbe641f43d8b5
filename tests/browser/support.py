"""What the browser journeys check on every page they visit: no CSP violation
in the console, no serious or critical axe finding, and a screenshot for
reviewers (artifacts/ is git-ignored)."""

import json
from pathlib import Path

from django.conf import settings

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_RESULTS = ARTIFACTS / "axe"
#: axe impacts that fail a page; "moderate" and "minor" are reported only.
BLOCKING_IMPACTS = {"serious", "critical"}


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


def assert_accessible(page, name: str) -> dict[str, int]:
    """Run axe-core on the page as it is now; fail on any serious or critical
    violation. The per-page summary goes to artifacts/axe/<name>.json."""
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
    assert not blocking, results.generate_report()
    return summary
