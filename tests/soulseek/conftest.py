"""Helpers for the Soulseek tests: real aioslsk clients and sockets, on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

MiB = 1024 * 1024


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run a scenario on a fresh event loop, failing (not hanging) after ``timeout``."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` on the loop until it is true (for conditions with no event)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)
