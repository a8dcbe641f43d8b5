"""How the benchmark's figures grow with the fleet: ``python -m bench.growth
SMALL.json LARGE.json [MORE.json …]`` prints a Markdown table of the rows the
result files share (median ms, or the value for throughput rows) and the ratio
of the last to the first (docs/scaling.md).

The files come from ``python -m bench.run --endpoints N --out FILE``; compare
runs made on the same machine under the same load, back to back.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

_NUMBER = re.compile(r"([\d,]+(?:\.\d+)?)\s*(events/s|req/s|s\b)")
# Job rows name their size ("suspend (14,072)"), which differs between runs.
_SIZE = re.compile(r"\s*\([\d,]+\)")
_CHANGED = re.compile(r"([\d,]+) changed")


def _figure(row: dict) -> float | None:
    portal = row.get("portal") or {}
    value = row.get("value") or ""
    match = _NUMBER.search(value)
    if match and match.group(2) in {"events/s", "req/s"}:
        return float(match.group(1).replace(",", ""))
    if portal.get("median_ms") is not None:
        return float(portal["median_ms"])
    if match:
        ms = float(match.group(1).replace(",", "")) * 1000  # seconds → ms
        changed = _CHANGED.search(value)
        # Jobs differ in size between runs: compare per 10,000 endpoints changed.
        return ms / int(changed.group(1).replace(",", "")) * 10_000 if changed else ms
    return None


def _key(row: dict) -> str:
    name = re.sub(r"\d[\d,]* rows in", "deep", row["name"])
    name = _SIZE.sub("", name)
    if _CHANGED.search(row.get("value") or ""):
        name += " (ms per 10,000 changed)"
    return f"{row['section']} | {name}"


def _figures(run: dict) -> dict[str, float | None]:
    """Each row's figure, and beside a page its SQL floor (its queries alone,
    less sensitive to a loaded machine than the whole request)."""
    figures = {}
    for row in run["rows"]:
        figures[_key(row)] = _figure(row)
        floor = (row.get("floor") or {}).get("median_ms")
        if floor is not None:
            figures[_key(row) + " (SQL floor)"] = float(floor)
    return figures


def table(paths: list[str]) -> str:
    runs = [json.loads(Path(path).read_text()) for path in paths]
    figures = [_figures(run) for run in runs]
    keys = [key for key in figures[0] if all(f.get(key) is not None for f in figures)]
    sizes = " | ".join(f"{run['endpoints']:,}" for run in runs)
    lines = [
        f"| section | figure (median ms; events/s, req/s) | {sizes} | ratio |",
        "| --- | --- |" + " ---: |" * (len(runs) + 1),
    ]
    for key in keys:
        values = [f[key] for f in figures]
        cells = " | ".join(f"{v:,.1f}" for v in values)
        lines.append(f"| {key} | {cells} | {values[-1] / values[0]:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1:]))
