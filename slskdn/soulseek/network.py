"""aioslsk plumbing: the listening socket slskdn wants, the client factory, credential hygiene.

aioslsk always listens on 0.0.0.0 at a fixed port. The sandbox and the tests need 127.0.0.1
(never reachable from elsewhere) and an ephemeral port (port 0: the OS picks one, no clashes
between parallel test runs), so the ``Network`` here builds its listening connection with a
configurable host and reads back the port actually bound. Every peer connection is guarded
(``peer_input``: a cap on message sizes, malformed messages reported) before aioslsk reads
from it; protocol violations go to ``violation_listeners``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aioslsk.client import SoulSeekClient
from aioslsk.events import EventBus, SessionInitializedEvent
from aioslsk.network.connection import ListeningConnection, PeerConnection
from aioslsk.network.network import ListeningConnections, Network
from aioslsk.protocol.messages import Login
from aioslsk.settings import Settings
from aioslsk.transfer.cache import TransferCache

from .peer_input import ViolationListener, guard
from .ranged import RangedTransferManager

ManagerFactory = Callable[..., RangedTransferManager]


class _ListeningConnection(ListeningConnection):
    async def connect(self) -> None:
        await super().connect()
        if self._server is not None and self._server.sockets:
            self.port = self._server.sockets[0].getsockname()[1]  # the real port for port 0


class SlskdnNetwork(Network):
    """aioslsk's ``Network`` listening on ``listen_host`` (no obfuscated port)."""

    def __init__(self, settings: Settings, event_bus: EventBus, listen_host: str) -> None:
        self._listen_host = listen_host
        self.violation_listeners: list[ViolationListener] = []
        super().__init__(settings, event_bus)

    def create_listening_connections(self) -> ListeningConnections:
        port = self._settings.network.listening.port
        return (_ListeningConnection(self._listen_host, port, self, obfuscated=False), None)

    # Incoming connections arrive here before their first message is read; outgoing ones are
    # finalized (reader task started) here. Together: every peer connection, before any read.
    async def on_peer_accepted(self, connection: PeerConnection) -> None:
        guard(connection)
        await super().on_peer_accepted(connection)

    def _finalize_peer_connection(self, connection: PeerConnection) -> None:
        guard(connection)
        super()._finalize_peer_connection(connection)


class SlskdnClient(SoulSeekClient):
    """``SoulSeekClient`` with slskdn's network and ranged transfer manager."""

    def __init__(self, settings: Settings, *, listen_host: str,
                 manager_factory: ManagerFactory, **manager_options: Any) -> None:
        self._listen_host = listen_host
        self._manager_factory = manager_factory
        self._manager_options = manager_options
        super().__init__(settings)

    def create_network(self) -> Network:
        return SlskdnNetwork(self.settings, self.events, self._listen_host)

    def create_transfer_manager(self, cache: TransferCache) -> RangedTransferManager:
        manager = self._manager_factory(self.settings, self.events, self.users, self.shares,
                                        self.network, cache=cache, **self._manager_options)
        if isinstance(self.network, SlskdnNetwork):
            self.network.violation_listeners.append(manager.on_peer_violation)
        return manager

    @property
    def ranged(self) -> RangedTransferManager:
        assert isinstance(self.transfers, RangedTransferManager)
        return self.transfers


class HideCredentials(logging.Filter):
    """Hides the login messages in aioslsk's log lines: they carry the password (request) and
    its MD5 (response, and the ``SessionInitializedEvent`` that wraps it)."""

    _SECRET_TYPES = (Login.Request, Login.Response, SessionInitializedEvent)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
                isinstance(a, self._SECRET_TYPES) for a in record.args):
            record.args = tuple(f"<{type(a).__qualname__}: credentials hidden>"
                                if isinstance(a, self._SECRET_TYPES) else a
                                for a in record.args)
        return True


def install_credential_filter() -> None:
    """Idempotent. aioslsk logs the messages it sends and receives at DEBUG, and events
    (with the login response) when a listener fails, from several modules."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "aioslsk"]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideCredentials) for f in logger.filters):
            logger.addFilter(HideCredentials())
