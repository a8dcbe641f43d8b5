"""Every file of the project that a docstring, comment or document names exists.

Docs and docstrings point readers at modules and documents by path
(``docs/product.md``, ``network/writes.py``); after a module moves or a
document is renamed, such a pointer would silently lead nowhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_TOP = "docs|inventory|network|demo|events|portal|config|jobs|tests|bench|templates|static|\\.ci"
#: A file inside the repository, as text names it: a top-level folder, then a
#: file with an extension. (A folder with a trailing slash is as often a URL.)
NAMED_PATH = re.compile(
    rf"(?<![\w./-])((?:{_TOP})/[\w./-]*?\.(?:py|md|html|css|js|json|toml|txt))(?![\w-])"
)
#: What the benchmark writes when it runs; not kept in the repository.
OUTPUTS = "bench/results/"
_TOP_FILES = re.compile(
    r"(?<![\w./-])(README\.md|Makefile|pyproject\.toml|manage\.py|gunicorn\.conf\.py)(?![\w.-])"
)


def _tracked(*patterns: str) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in names]


def named_paths(text: str) -> set[str]:
    """The repository paths ``text`` names."""
    found = {m.group(1) for m in NAMED_PATH.finditer(text)}
    found |= {m.group(1) for m in _TOP_FILES.finditer(text)}
    # Glob-like or placeholder paths ("tests/inventory/...") are not pointers.
    return {p for p in found if "..." not in p and "*" not in p}


def test_the_pattern_finds_paths_in_prose_and_ignores_other_text():
    text = (
        "see docs/product.md, ``network/writes.py`` and [x](docs/jobs.md); "
        "the /api/v1/docs page and https://example.com/docs/a.md are not files; "
        "nor is tests/inventory/... ; README.md counts."
    )
    assert named_paths(text) == {
        "docs/product.md",
        "network/writes.py",
        "docs/jobs.md",
        "README.md",
    }


def _exists(path: str) -> bool:
    """A file of the repository, a template by its template name, or an output."""
    if path.startswith(OUTPUTS):
        return True
    return (ROOT / path).exists() or (
        path.endswith(".html") and (ROOT / "templates" / path).exists()
    )


SOURCES = _tracked("*.py", "*.md", "*.html", "Makefile", ".ci/run")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_file_names_exists(source):
    text = source.read_text(encoding="utf-8")
    missing = sorted(p for p in named_paths(text) if not _exists(p))
    assert not missing, f"{source.relative_to(ROOT)} names files that do not exist: {missing}"


#: Documents that live outside the repository; the repository's own docs/ say it.
OUTSIDE = re.compile(r"\b(?:PRODUCT|PERF-NOTES|STYLE|BROWSER-TESTS)\.md\b|\.\./shared")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_points_outside_the_repository(source):
    if source == Path(__file__):
        return
    assert not OUTSIDE.search(source.read_text(encoding="utf-8"))
