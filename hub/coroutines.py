"""Running a brick's coroutine from the core's synchronous code paths.

Most of the core is synchronous (the CLI, the server's thread-pooled handlers, replays); brick
calls are coroutines. ``run_coroutine`` runs one to completion whether or not the calling
thread already runs an event loop (the server's handlers do): then it runs on a private loop
in a worker thread, since a loop cannot be re-entered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_coroutine"]

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, even when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
