"""Running a coroutine to its end from synchronous code, whichever thread calls.

``asyncio.run`` refuses to start in a thread whose event loop is already
running: a caller inside an async framework, or a process that drives a
browser through Playwright's sync API (the test suite). The coroutine then runs
on a loop of its own in a short-lived thread, and the caller waits for it; the
Disconnect-Request sender and ``simulate_network --radius`` behave the same
wherever they are called from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, in a thread of its own when this thread's
    loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="radius-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()
