"""Timing: medians and 95th percentiles of repeated runs after warm-up."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Timing:
    """Milliseconds over ``runs`` timed runs."""

    median_ms: float
    p95_ms: float
    min_ms: float
    runs: int

    def as_dict(self) -> dict:
        return {key: round(value, 3) for key, value in asdict(self).items()}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: with 15 runs the 95th is the slowest but none."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarise(seconds: list[float]) -> Timing:
    ms = [s * 1000 for s in seconds]
    return Timing(
        median_ms=statistics.median(ms),
        p95_ms=percentile(ms, 0.95),
        min_ms=min(ms),
        runs=len(ms),
    )


def time_runs(fn: Callable[[], object], *, runs: int, warmup: int = 2) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times timed."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return summarise(seconds)
