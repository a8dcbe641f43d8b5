"""Which Chromium the browser journeys find, on fake folder layouts (no browser
is started)."""

from pathlib import Path

import playwright

from tests.browser.chromium import find_chromium, not_found_message, playwright_browsers


def binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_debians_chromium_comes_first(tmp_path):
    debian = binary(tmp_path / "usr/lib/chromium/chromium")
    binary(tmp_path / "home/.cache/ms-playwright/chromium-1255/chrome-linux64/chrome")
    assert find_chromium({}, tmp_path / "home", debian=debian)[0] == debian


def test_portal_chromium_names_the_binary_and_only_it(tmp_path):
    debian = binary(tmp_path / "debian/chromium")
    chosen = binary(tmp_path / "opt/chrome")
    env = {"PORTAL_CHROMIUM": str(chosen)}
    assert find_chromium(env, tmp_path, debian=debian) == (chosen, [chosen])
    missing = tmp_path / "nowhere/chrome"
    env = {"PORTAL_CHROMIUM": str(missing)}
    assert find_chromium(env, tmp_path, debian=debian) == (None, [missing])


def test_without_debians_the_newest_playwright_build_in_the_home_cache(tmp_path):
    cache = tmp_path / "home/.cache/ms-playwright"
    binary(cache / "chromium-1187/chrome-linux/chrome")
    newest = binary(cache / "chromium-1255/chrome-linux64/chrome")
    (cache / "chromium-1300").mkdir()  # an interrupted download: no binary
    binary(cache / "chromium_headless_shell-1400/chrome-headless-shell-linux64/chrome")
    binary(cache / "chromium-tip-of-tree-1500/chrome-linux64/chrome")
    found, looked_at = find_chromium({}, tmp_path / "home", debian=tmp_path / "no-debian")
    assert found == newest
    assert looked_at == [tmp_path / "no-debian", cache / "chromium-*/chrome-linux64/chrome"]


def test_an_older_playwright_layout_is_found_too(tmp_path):
    old = binary(tmp_path / "home/.cache/ms-playwright/chromium-1097/chrome-linux/chrome")
    assert find_chromium({}, tmp_path / "home", debian=tmp_path / "no-debian")[0] == old


def test_playwright_browsers_path_and_xdg_cache_home(tmp_path):
    shared = binary(tmp_path / "shared/chromium-1255/chrome-linux64/chrome")
    binary(tmp_path / "home/.cache/ms-playwright/chromium-1300/chrome-linux64/chrome")
    env = {"PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "shared")}
    assert find_chromium(env, tmp_path / "home", debian=tmp_path / "no-debian")[0] == shared

    xdg = binary(tmp_path / "xdg/ms-playwright/chromium-1255/chrome-linux64/chrome")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert find_chromium(env, tmp_path / "home", debian=tmp_path / "no-debian")[0] == xdg


def test_playwright_browsers_path_zero_is_inside_the_package(tmp_path):
    inside = Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    assert playwright_browsers({"PLAYWRIGHT_BROWSERS_PATH": "0"}, tmp_path) == inside


def test_nothing_found_says_where_it_looked_and_how_to_get_one(tmp_path):
    found, looked_at = find_chromium({}, tmp_path / "home", debian=tmp_path / "no-debian")
    assert found is None
    message = not_found_message(looked_at)
    assert str(tmp_path / "no-debian") in message
    assert str(tmp_path / "home/.cache/ms-playwright/chromium-*/chrome-linux64/chrome") in message
    assert "apt-get install chromium" in message
    assert "playwright install chromium" in message
