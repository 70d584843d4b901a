"""Identifiers: ULIDs for things we create (jobs, transfers), uuid5 for natural keys (peers).

Aggregate ids are UUIDs because the event store keys on them; a ULID converts to a UUID
losslessly, so job ids keep their time order and print as ULIDs for people.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

from ulid import ULID

# Fixed namespace so that the same peer always gets the same aggregate id.
PEER_NAMESPACE = uuid.UUID("6f1c3c52-2f4e-4d0b-9a53-5a1d3b8e7c10")


def new_id(at: datetime) -> uuid.UUID:
    """A new ULID-based id whose time part is ``at``."""
    return ULID.from_datetime(at).to_uuid()


@lru_cache(maxsize=65536)
def peer_id(username: str, source_kind: str = "soulseek") -> uuid.UUID:
    return uuid.uuid5(PEER_NAMESPACE, f"{source_kind}:{username}")


def as_ulid(value: uuid.UUID) -> str:
    return str(ULID.from_uuid(value))


def parse_id(text: str) -> uuid.UUID:
    """Accept a ULID (26 chars) or a UUID; raise ValueError with the reason otherwise."""
    text = text.strip()
    if len(text) == 26:
        try:
            return ULID.from_str(text.upper()).to_uuid()
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid ULID: {exc}") from None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a ULID nor a UUID") from None
