"""The upload handshake waits for the reply only while the connection carrying the request
lives (aioslsk would wait 30 s for a reply that died with it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aioslsk.network.connection import ConnectionState, PeerConnection
from aioslsk.network.network import ExpectedResponse
from aioslsk.protocol.messages import PeerTransferReply

from slskdn.soulseek.uploads import _reply_while_open
from tests.soulseek.conftest import run


@dataclass
class Carrier:
    """Stands in for the aioslsk connection: only its state is read."""

    state: ConnectionState = ConnectionState.CONNECTED


def expected_reply() -> ExpectedResponse:
    return ExpectedResponse(PeerConnection, PeerTransferReply.Request, peer="bob",
                            fields={"ticket": 7})


def test_a_reply_that_arrives_is_returned() -> None:
    async def scenario() -> None:
        reply, carrier = expected_reply(), Carrier()
        answer = PeerTransferReply.Request(ticket=7, allowed=True)
        asyncio.get_running_loop().call_later(0.02, reply.set_result, (carrier, answer))
        assert await _reply_while_open(reply, carrier) is answer  # type: ignore[arg-type]

    run(scenario())


def test_the_wait_ends_when_the_connection_carrying_the_request_closes() -> None:
    async def scenario() -> None:
        reply, carrier = expected_reply(), Carrier()

        def close() -> None:
            carrier.state = ConnectionState.CLOSED

        loop = asyncio.get_running_loop()
        loop.call_later(0.05, close)
        started = loop.time()
        assert await _reply_while_open(reply, carrier) is None  # type: ignore[arg-type]
        assert loop.time() - started < 1.0  # not aioslsk's 30 s

    run(scenario(), timeout=5)
