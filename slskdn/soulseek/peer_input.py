"""What a peer may send us on a peer connection: a size cap on messages, and malformed ones
reported.

aioslsk reads a message by its 4-byte length header with ``readexactly(length)``: a peer that
announces 2 GiB makes it buffer up to 2 GiB, or hold the connection for its 60 s read timeout
waiting for bytes that never come. A guarded connection (``guard``) reads the header itself
and closes the connection when the announced length is over the cap. A message it cannot
decode (a known code with a broken body; unknown codes are a newer client's business and are
skipped as aioslsk does) is reported too. Both are *protocol violations*: logged with the
peer and the reason, and passed to the network's ``violation_listeners`` — the ranged
transfer manager fails the ranges still negotiating with that peer (its transfer request may
have been the broken message, and waiting for it would take until a timeout).

File connections carry raw bytes, not messages; they are not affected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aioslsk.exceptions import (
    ConnectionReadError,
    MessageDeserializationError,
    UnknownMessageError,
)
from aioslsk.network.connection import (
    HEADER_SIZE_OBFUSCATED,
    HEADER_SIZE_UNOBFUSCATED,
    PeerConnection,
    PeerConnectionType,
)
from aioslsk.protocol import obfuscation
from aioslsk.protocol.messages import (
    PeerDirectoryContentsReply,
    PeerSharesReply,
    PeerUserInfoReply,
)
from aioslsk.protocol.primitives import MessageDataclass, uint32

from slskdn.logs import get_logger

log = get_logger(__name__)

MiB = 1024 * 1024

# Ordinary peer messages (queue requests, transfer requests and replies, place in queue) are
# tens of bytes; a search reply is zlib-compressed, roughly a hundred bytes per file, so even a
# few thousand hits stay far below this. It bounds what one peer can make us buffer per
# connection (aioslsk would take up to 4 GiB).
PEER_MESSAGE_LIMIT = 4 * MiB
# The big ones: a whole share list or folder listing (compressed too, but a library of a few
# hundred thousand files runs to many MiB) and user info (it carries a picture). Browsing such
# a peer must still work, so these codes get a larger cap of their own.
LARGE_PEER_MESSAGE_LIMITS: dict[int, int] = {
    int(PeerSharesReply.Request.MESSAGE_ID): 64 * MiB,
    int(PeerDirectoryContentsReply.Request.MESSAGE_ID): 64 * MiB,
    int(PeerUserInfoReply.Request.MESSAGE_ID): 16 * MiB,
}

# Called with the peer's username (None before its PeerInit) and the reason, on the loop.
ViolationListener = Callable[[str | None, str], None]


class PeerProtocolError(Exception):
    """A peer broke the protocol; the message says how."""


class _Guard:
    """The cap and the malformed-message report for one aioslsk ``PeerConnection``.

    aioslsk creates ``PeerConnection`` objects itself in three places (accepting, connecting
    directly, answering a ConnectToPeer), and matches expected replies on the *exact* class of
    the connection, so neither a subclass nor a class swap will do: ``guard`` binds these two
    methods on the instance where each connection is handed to the network, before any message
    is read from it.
    """

    def __init__(self, connection: PeerConnection) -> None:
        self.connection = connection
        self._decode = connection.decode_message_data  # aioslsk's own, bound

    async def read_message(self) -> bytes:
        c = self.connection
        if not c._reader:
            raise ConnectionReadError(
                f"{c.hostname}:{c.port} : cannot read message, connection is not open")
        header = await c._reader.readexactly(
            HEADER_SIZE_OBFUSCATED if c.obfuscated else HEADER_SIZE_UNOBFUSCATED)
        _, length = uint32.deserialize(0, obfuscation.decode(header) if c.obfuscated else header)
        if length <= PEER_MESSAGE_LIMIT:
            return header + await c._reader.readexactly(length)
        # Over the ordinary cap: only a share list or user info may be that big.
        code_bytes = await c._reader.readexactly(4) if length >= 4 else b""
        code = self._code(header, code_bytes)
        limit = PEER_MESSAGE_LIMIT
        if c.connection_type == PeerConnectionType.PEER and code is not None:
            limit = LARGE_PEER_MESSAGE_LIMITS.get(code, PEER_MESSAGE_LIMIT)
        if length > limit:
            reason = (f"announced a {length}-byte message (code {code}), over the "
                      f"{limit}-byte limit")
            self._violation(reason, closing=True)
            raise PeerProtocolError(reason)  # aioslsk closes the connection on a read error
        return header + code_bytes + await c._reader.readexactly(length - len(code_bytes))

    def _code(self, header: bytes, code_bytes: bytes) -> int | None:
        if len(code_bytes) < 4:
            return None
        data = (obfuscation.decode(header + code_bytes)[4:8] if self.connection.obfuscated
                else code_bytes)
        return int(uint32.deserialize(0, data)[1])

    def decode_message_data(self, data: bytes) -> MessageDataclass:
        try:
            return self._decode(data)
        except MessageDeserializationError as exc:
            if not isinstance(exc.__cause__, UnknownMessageError):
                code = int.from_bytes(data[4:8], "little") if len(data) >= 8 else None
                self._violation(f"sent a malformed message (code {code}, {len(data)} bytes): "
                                f"{exc.__cause__!r}", closing=False)
            raise  # aioslsk logs it and skips the message

    def _violation(self, reason: str, *, closing: bool) -> None:
        c = self.connection
        log.warning("peer broke the protocol" + ("; connection closed" if closing else ""),
                    peer=c.username, address=f"{c.hostname}:{c.port}",
                    connection_type=c.connection_type, reason=reason)
        listeners: Iterable[ViolationListener] = getattr(c.network, "violation_listeners", ())
        for listener in list(listeners):
            try:
                listener(c.username, reason)
            except Exception:  # a listener's bug must not break the connection's reader
                log.exception("protocol violation listener failed", peer=c.username)


def guard(connection: PeerConnection) -> None:
    """Guard an aioslsk ``PeerConnection`` (once): see ``_Guard``."""
    if "_slskdn_guard" in vars(connection):
        return
    g = _Guard(connection)
    # Instance attributes shadow the class's methods; aioslsk calls both through ``self``.
    vars(connection).update(_slskdn_guard=g, _read_message=g.read_message,
                            decode_message_data=g.decode_message_data)
