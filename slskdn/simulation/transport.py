"""The simulated network: implements ``RangeTransport`` over a fluid model of the sources.

Each active stream moves at its source's current rate, scaled down together when their sum
exceeds the downloader's bandwidth. Rates only change at events (a stream starts or stops, a
source's rate changes, stalls or fails), so positions are exact piecewise-linear functions of
time. Streams report progress at every ``piece_size`` boundary, like a socket read loop, writing
the bytes into the part file (the data path) and hashing whole integrity blocks.

Soulseek sources: ``negotiate`` → (queue, handshake) → ``on_ready`` → ``request`` streams from the
offset; one transfer at a time; closing it frees the peer, and the next range needs a new
negotiation. Overlay sources: requests queue at the source and are served one after another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from slskdn.domain.swarm.decisions import SOULSEEK
from slskdn.domain.swarm.ports import TransferListener

from .clock import EventLoop, Timer
from .content import MemoryPartFile, ServedCopy, block_digest
from .scenario import Scenario, SimSource


class TransportError(RuntimeError):
    """The session asked for something the protocol does not allow (a bug in the caller)."""


@dataclass
class _Stream:
    request_id: int
    source: SimSource
    start: int
    end: int
    requested_at: float
    ready_at: float  # when its first byte can arrive
    position: float = 0.0  # bytes delivered so far, as a real number
    reported: int = 0  # bytes already reported to the listener
    rate: float = 0.0
    started: bool = False
    timer: Timer | None = None

    def __post_init__(self) -> None:
        self.position = float(self.start)
        self.reported = self.start


@dataclass
class _Peer:
    source: SimSource
    copy: ServedCopy
    state: str = "idle"  # idle, negotiating, ready, busy, dead
    transfers: int = 0  # negotiations started (the first waits in the queue)
    timer: Timer | None = None
    streams: list[_Stream] = field(default_factory=list)  # overlay: FIFO; Soulseek: ≤ 1


class SimulatedTransport:
    def __init__(self, loop: EventLoop, scenario: Scenario, content: bytes,
                 part: MemoryPartFile, block_size: int) -> None:
        self.loop = loop
        self.scenario = scenario
        self.part = part
        self.block_size = block_size
        self.listener: TransferListener | None = None
        self.peers = {s.source_id: _Peer(s, ServedCopy(content, block_size, s.corrupt_blocks))
                      for s in scenario.sources}
        self.delivered = 0
        self.overshoot = 0  # bytes that arrived past a moved end before the close took effect
        self.useful: dict[str, int] = {}  # per source: bytes that were new to the part file
        self.duplicate: dict[str, int] = {}  # ... and bytes that were already there
        self.requests: list[tuple[str, int, int]] = []  # (source, start, end) as asked
        self._next_id = 1
        self._last = 0.0
        self._reflow_pending = False
        for s in scenario.sources:
            for t in s.change_times():
                loop.call_at(t, partial(self._source_changed, s, t))

    # --- RangeTransport ----------------------------------------------------------------------

    def negotiate(self, source_id: str) -> None:
        peer = self.peers[source_id]
        if peer.state not in ("idle", "dead"):
            raise TransportError(f"{source_id} is {peer.state}, cannot negotiate")
        src = peer.source
        if peer.state == "dead" or (src.fail_at is not None and src.fail_at <= self.loop.now):
            # An offline peer: the connection attempt times out.
            peer.timer = self.loop.call_later(
                max(src.negotiation, 2.0),
                lambda: self._notify_failed(source_id, None, "peer offline"))
            return
        first = peer.transfers == 0
        delay = src.first_byte_delay(first=first) - 2.0 * src.latency
        peer.transfers += 1
        peer.state = "negotiating"
        peer.timer = self.loop.call_later(delay, lambda: self._ready(source_id))
        if first and src.queue_delay > 0:
            # The peer answers our queue request with "queued" one round trip later (a later
            # transfer's short requeue wait is the uploader finishing up, not a queue).
            nth = peer.transfers
            self.loop.call_later(2.0 * src.latency, lambda: self._queued(source_id, nth))

    def request(self, source_id: str, start: int, end: int) -> int:
        peer = self.peers[source_id]
        src = peer.source
        if not 0 <= start < end <= self.scenario.file_size:
            raise TransportError(f"bad range [{start}, {end})")
        self.requests.append((source_id, start, end))
        if src.kind == SOULSEEK:
            if peer.state != "ready":
                raise TransportError(f"{source_id} is {peer.state}: negotiate first")
            peer.state = "busy"
        elif peer.state == "dead":
            # Overlay request to a dead peer: it fails after a timeout.
            rid = self._new_id()
            self.loop.call_later(2.0, lambda: self._notify_failed(source_id, rid, "peer offline"))
            return rid
        self._advance()
        rid = self._new_id()
        now = self.loop.now
        stream = _Stream(rid, src, start, end, now, now + 2.0 * src.latency)
        peer.streams.append(stream)
        self._schedule_reflow()
        return rid

    def set_end(self, request_id: int, end: int) -> None:
        stream, _ = self._find(request_id)
        if stream is None:
            return
        self._advance()
        stream.end = max(min(end, self.scenario.file_size), stream.start)
        if stream.position > stream.end:
            # The stream already ran past the new end: those bytes arrived and are thrown away.
            self.overshoot += int(stream.position) - stream.end
            stream.position = float(stream.end)
        self._schedule_reflow()

    def credited_until(self, request_id: int) -> int | None:
        return None  # every stream writes each byte it reports: none is skipped

    def cancel(self, request_id: int, position: int) -> None:
        # Every byte written was reported at once: nothing past ``position`` to forget.
        stream, peer = self._find(request_id)
        if stream is None or peer is None:
            return
        self._advance()
        self._remove(peer, stream)
        self._schedule_reflow()

    def release(self, source_id: str) -> None:
        peer = self.peers[source_id]
        if peer.state in ("negotiating", "ready"):
            if peer.timer is not None:
                peer.timer.cancel()
            peer.state = "idle"

    # --- events ------------------------------------------------------------------------------

    def _new_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    def _find(self, request_id: int) -> tuple[_Stream | None, _Peer | None]:
        for peer in self.peers.values():
            for s in peer.streams:
                if s.request_id == request_id:
                    return s, peer
        return None, None

    def _queued(self, source_id: str, nth: int) -> None:
        peer = self.peers[source_id]
        if peer.state == "negotiating" and peer.transfers == nth:
            assert self.listener is not None
            self.listener.on_queued(source_id, None, self.loop.now)

    def _ready(self, source_id: str) -> None:
        peer = self.peers[source_id]
        if peer.state != "negotiating":
            return
        src = peer.source
        if src.fail_at is not None and src.fail_at <= self.loop.now:
            self._notify_failed(source_id, None, "peer offline")
            return
        peer.state = "ready"
        assert self.listener is not None
        self.listener.on_ready(source_id, self.loop.now)

    def _notify_failed(self, source_id: str, request_id: int | None, reason: str) -> None:
        peer = self.peers[source_id]
        peer.state = "dead"
        assert self.listener is not None
        self.listener.on_failed(source_id, request_id, reason, True, self.loop.now)

    def _source_changed(self, src: SimSource, at: float) -> None:
        self._advance()
        peer = self.peers[src.source_id]
        if src.fail_at is not None and at >= src.fail_at and peer.state != "dead":
            streams = list(peer.streams)
            if peer.timer is not None:
                peer.timer.cancel()
            for s in streams:
                self._deliver(peer, s, int(s.position), final=True)  # arrived before the drop
                self._remove(peer, s)
            was_active = peer.state in ("negotiating", "ready", "busy") or streams
            peer.state = "dead"
            assert self.listener is not None
            if streams:
                for s in streams:
                    self.listener.on_failed(src.source_id, s.request_id, "connection lost", True,
                                            self.loop.now)
            elif was_active:
                self.listener.on_failed(src.source_id, None, "peer offline", True, self.loop.now)
        self._schedule_reflow()

    def _advance(self) -> None:
        """Move every active stream to the current time at its current rate."""
        now = self.loop.now
        dt = now - self._last
        if dt > 0:
            for peer in self.peers.values():
                for s in peer.streams:
                    if s.started and s.rate > 0:
                        s.position = min(float(s.end), s.position + s.rate * dt)
        self._last = now

    def _schedule_reflow(self) -> None:
        if not self._reflow_pending:
            self._reflow_pending = True
            self.loop.call_at(self.loop.now, self._reflow)

    def _active(self) -> list[tuple[_Peer, _Stream]]:
        out = []
        for peer in self.peers.values():
            if peer.streams and peer.state != "dead":
                head = peer.streams[0]  # Soulseek has one; overlay serves its queue in order
                out.append((peer, head))
        return out

    def _reflow(self) -> None:
        """Recompute rates (bandwidth shared under the downlink cap) and the next boundaries."""
        self._reflow_pending = False
        self._advance()
        now = self.loop.now
        active = self._active()
        for _, s in active:
            if not s.started and now >= s.ready_at:
                s.started = True
                self._first_byte(s)
        flowing = [(p, s) for p, s in active if s.started and p.streams and p.streams[0] is s]
        nominal = {s.request_id: p.source.rate_at(now) for p, s in flowing}
        total = sum(nominal.values())
        scale = min(1.0, self.scenario.downlink / total) if total > 0 else 1.0
        waiting = {x.request_id for _, x in active if not x.started}
        for peer in self.peers.values():
            for s in peer.streams:
                s.rate = nominal.get(s.request_id, 0.0) * scale
                if s.timer is not None:
                    s.timer.cancel()
                    s.timer = None
                if s.request_id in waiting:
                    s.timer = self.loop.call_at(s.ready_at, self._schedule_reflow)
                elif s.started and (s.rate > 0 or s.position >= s.end):
                    wait = (self._next_boundary(s) - s.position) / s.rate if s.rate > 0 else 0.0
                    s.timer = self.loop.call_at(now + max(0.0, wait),
                                                partial(self._boundary, peer, s))

    def _first_byte(self, s: _Stream) -> None:
        assert self.listener is not None
        self.listener.on_progress(s.request_id, s.start, (), self.loop.now)

    def _next_boundary(self, s: _Stream) -> int:
        piece = self.scenario.piece_size
        nxt = (int(s.position) // piece + 1) * piece
        return min(nxt, s.end)

    def _boundary(self, peer: _Peer, s: _Stream) -> None:
        self._advance()
        if s not in peer.streams:
            return
        target = self._next_boundary(s) if s.position < s.end - 1e-6 else s.end
        if s.position + 1e-6 >= target:
            s.position = float(target)
        position = int(s.position + 1e-6)
        self._deliver(peer, s, position)
        if position >= s.end and s in peer.streams:
            self._remove(peer, s)
            assert self.listener is not None
            self.listener.on_complete(s.request_id, self.loop.now)
        self._schedule_reflow()

    def _deliver(self, peer: _Peer, s: _Stream, position: int, final: bool = False) -> None:
        """Write what arrived into the part file and report it, with the digest of every block
        piece completed: whole blocks, and the partial pieces at the ends of the range
        (``final``: the stream stops here, so its last piece ends at ``position``)."""
        position = min(position, s.end)
        if position <= s.reported:
            return
        lo, hi = s.reported, position
        data = peer.copy.read(lo, hi)
        new = self.part.write(lo, data)
        sid = peer.source.source_id
        self.useful[sid] = self.useful.get(sid, 0) + new
        self.duplicate[sid] = self.duplicate.get(sid, 0) + (hi - lo - new)
        self.delivered += hi - lo
        s.reported = position
        pieces = []
        b = self.block_size
        end = hi if final else s.end
        for k in range(lo // b, -(-hi // b)):
            piece_start = max(k * b, s.start)
            piece_end = min((k + 1) * b, end, self.scenario.file_size)
            if lo < piece_end <= hi and piece_start < piece_end:
                pieces.append((piece_start, piece_end,
                               block_digest(peer.copy.read(piece_start, piece_end))))
        assert self.listener is not None
        self.listener.on_progress(s.request_id, position, pieces, self.loop.now)

    def _remove(self, peer: _Peer, s: _Stream) -> None:
        if s.timer is not None:
            s.timer.cancel()
        peer.streams.remove(s)
        if peer.source.kind == SOULSEEK and peer.state == "busy":
            peer.state = "idle"  # the transfer is closed; a new range needs a new negotiation
