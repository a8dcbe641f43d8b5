"""Which Chromium the browser journeys drive: the one named by PORTAL_CHROMIUM,
else Debian's (``apt-get install chromium``), else one that Playwright
downloaded (``playwright install chromium``, where a download is possible).

Playwright keeps its browsers in PLAYWRIGHT_BROWSERS_PATH when that is set ("0"
meaning inside the playwright package), else in ``$XDG_CACHE_HOME/ms-playwright``
or ``~/.cache/ms-playwright``, one folder per build (``chromium-1255``); the
binary is ``chrome-linux64/chrome`` (``chrome-linux/chrome`` before Playwright
1.57). The newest build wins."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")
_PLAYWRIGHT_BINARIES = ("chrome-linux64/chrome", "chrome-linux/chrome")


def playwright_browsers(env: Mapping[str, str], home: Path) -> Path:
    """The folder Playwright installs its browsers into."""
    configured = env.get("PLAYWRIGHT_BROWSERS_PATH", "")
    if configured == "0":
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if configured:
        return Path(configured).expanduser()
    cache = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else home / ".cache"
    return cache / "ms-playwright"


def _build(folder: Path) -> int:
    revision = folder.name.removeprefix("chromium-")
    return int(revision) if revision.isdigit() else -1


def playwright_chromium(browsers: Path) -> Path | None:
    """The newest Chromium build under ``browsers`` that has its binary."""
    builds = sorted(
        (f for f in browsers.glob("chromium-*") if _build(f) >= 0), key=_build, reverse=True
    )
    for build in builds:
        for binary in _PLAYWRIGHT_BINARIES:
            if (build / binary).is_file():
                return build / binary
    return None


def find_chromium(
    env: Mapping[str, str], home: Path, debian: Path = DEBIAN_CHROMIUM
) -> tuple[Path | None, list[Path]]:
    """(the Chromium binary to use or None, the places looked at)."""
    if env.get("PORTAL_CHROMIUM"):
        chosen = Path(env["PORTAL_CHROMIUM"])
        return (chosen if chosen.is_file() else None), [chosen]
    if debian.is_file():
        return debian, [debian]
    browsers = playwright_browsers(env, home)
    looked_at = [debian, browsers / "chromium-*" / _PLAYWRIGHT_BINARIES[0]]
    return playwright_chromium(browsers), looked_at


def not_found_message(looked_at: list[Path]) -> str:
    """Why the journeys are skipped, and how to get them to run."""
    return (
        f"no Chromium for the browser journeys (looked at {', '.join(map(str, looked_at))}): "
        "install Debian's with `apt-get install chromium`, or, where a browser can be "
        "downloaded, Playwright's with `.venv/bin/playwright install chromium`; or set "
        "PORTAL_CHROMIUM to a Chromium binary"
    )
