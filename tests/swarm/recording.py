"""A transport that only records what a swarm session asks of it (no network, no bytes)."""

from __future__ import annotations

import itertools


class RecordingTransport:
    def __init__(self) -> None:
        self.requests: dict[int, tuple[str, int, int]] = {}
        self.released: list[str] = []
        self.cuts: dict[int, int] = {}  # request id -> where its stream was cut (credited_until)
        self._ids = itertools.count(1)

    def negotiate(self, source_id: str) -> None:
        pass

    def request(self, source_id: str, start: int, end: int) -> int:
        request_id = next(self._ids)
        self.requests[request_id] = (source_id, start, end)
        return request_id

    def set_end(self, request_id: int, end: int) -> None:
        pass

    def cancel(self, request_id: int, position: int) -> None:
        pass

    def credited_until(self, request_id: int) -> int | None:
        return self.cuts.get(request_id)

    def release(self, source_id: str) -> None:
        self.released.append(source_id)
