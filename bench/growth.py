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


def _figure(row: dict) -> float | None:
    portal = row.get("portal") or {}
    value = row.get("value") or ""
    match = _NUMBER.search(value)
    if match and match.group(2) in {"events/s", "req/s"}:
        return float(match.group(1).replace(",", ""))
    if portal.get("median_ms") is not None:
        return float(portal["median_ms"])
    if match:
        return float(match.group(1).replace(",", "")) * 1000  # seconds → ms
    return None


def _key(row: dict) -> str:
    name = re.sub(r"\d[\d,]* rows in", "deep", row["name"])
    return f"{row['section']} | {_SIZE.sub('', name)}"


def table(paths: list[str]) -> str:
    runs = [json.loads(Path(path).read_text()) for path in paths]
    figures = [{_key(row): _figure(row) for row in run["rows"]} for run in runs]
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
