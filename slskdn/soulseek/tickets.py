"""Transfer tickets: the collision fix for aioslsk 1.7.1.

A Soulseek uploader picks a ticket, sends it in ``PeerTransferRequest``, then opens a file
connection to the downloader and writes the same ticket as its first four bytes. The downloader
links that connection to its transfer by the ticket. aioslsk keys its waiting file connections by
the ticket *alone*, and every aioslsk client's ticket generator starts at 2 — so two aioslsk
uploaders serving one downloader at the same time both announce ticket 2: the second waiter
replaces the first, the first uploader's bytes land in the second transfer and the first transfer
times out.

The fix has two halves:

- the downloader keys waiters by ``(username, ticket)`` (the username comes from the file
  connection's ``PeerInit`` or from the server's ``ConnectToPeer``), which is what makes it
  correct whatever the uploaders do; and
- our own uploads start their ticket sequence at a random value, so slskdn does not trigger
  the bug in peers that still key by ticket alone.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Generic, TypeVar

C = TypeVar("C")

_MAX_TICKET = 0xFFFFFFFF  # tickets are uint32 on the wire


def ticket_sequence(start: int | None = None) -> Iterator[int]:
    """Tickets ``start + 1, start + 2, ...`` wrapping within 1..2³²-1.

    ``start=None`` picks a random start (the fix); an explicit start reproduces aioslsk's
    fixed sequence, which tests use to force two uploaders onto the same tickets.
    """
    current = secrets.randbelow(_MAX_TICKET - 1) + 1 if start is None else start
    while True:
        current = current + 1 if current < _MAX_TICKET else 1
        yield current


class FileConnectionWaiters(Generic[C]):
    """Transfers waiting for their file connection, keyed by (peer username, ticket)."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, int], asyncio.Future[C]] = {}

    def expect(self, username: str, ticket: int) -> asyncio.Future[C]:
        """Register a waiter. If that peer reuses a ticket that is still pending (its own
        protocol error), the older waiter is cancelled rather than left to time out."""
        key = (username, ticket)
        if (older := self._waiting.get(key)) is not None and not older.done():
            older.cancel()
        future: asyncio.Future[C] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        return future

    def resolve(self, username: str, ticket: int, connection: C) -> bool:
        """Hand an arrived connection to its waiter; False when nobody waits for it."""
        future = self._waiting.pop((username, ticket), None)
        if future is None or future.done():
            return False
        future.set_result(connection)
        return True

    def discard(self, username: str, ticket: int, future: asyncio.Future[C]) -> None:
        """Forget a waiter (it timed out or was cancelled), unless it was already replaced."""
        if self._waiting.get((username, ticket)) is future:
            del self._waiting[(username, ticket)]

    def __len__(self) -> int:
        return len(self._waiting)
