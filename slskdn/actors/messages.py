"""Messages understood by aggregate actors.

Callers get a ``concurrent.futures.Future`` that resolves to the aggregate's version once
the events a command produced are committed (acknowledged = durable). Those futures can be
awaited on the asyncio loop with ``asyncio.wrap_future`` — never block the loop on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Command:
    """Run ``method(aggregate, at=now, **kwargs)`` on the actor's aggregate.

    ``method`` is an unbound aggregate method such as ``Transfer.receive_range``.
    ``create`` (optional) builds the aggregate first when it does not exist yet:
    it is called as ``create(id=..., at=now)``. ``reply`` None: nobody waits (see
    ``ActorSystem.tell``).
    """

    method: Callable[..., Any] | None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    create: Callable[..., Any] | None = None
    reply: Future[int] | None = field(default_factory=Future)


@dataclass(slots=True)
class Query:
    """Read from the live aggregate: ``reply`` gets ``read(aggregate)`` (None if absent)."""

    read: Callable[[Any], Any]
    reply: Future[Any] = field(default_factory=Future)


@dataclass(frozen=True)
class Flush:
    """Commit what is pending now; ``reply`` resolves once it is durable."""

    reply: Future[int] = field(default_factory=Future)


@dataclass(frozen=True)
class CommitFailed:
    """The writer could not commit this actor's events: its state is no longer the log's."""

    error: BaseException
