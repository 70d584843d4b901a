"""A loopback Soulseek server for tests, the sandbox and benchmarks.

It speaks the server half of the protocol with aioslsk's own message classes (so encoding is
exactly what a real aioslsk client expects) and implements what peers need to find and reach
each other: Login (unknown users are registered on first login), SetListenPort, GetPeerAddress,
ConnectToPeer and CannotConnect relays, FileSearch / UserSearch broadcast (delivered as
``FileSearch`` to the other users), AddUser / RemoveUser / GetUserStatus (status pushes to
watchers),
and SetStatus / SharedFoldersFiles / Ping / CheckPrivileges acknowledged. Peer traffic (search
replies, transfers) never crosses it: peers connect to each other directly.

It only listens on loopback addresses. A malformed frame is logged with the sender's address
and username, the connection is closed, and the server keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import struct
from dataclasses import dataclass, field

from aioslsk.exceptions import UnknownMessageError
from aioslsk.protocol.messages import (
    AddUser,
    CannotConnect,
    CheckPrivileges,
    ConnectToPeer,
    FileSearch,
    GetPeerAddress,
    GetUserStats,
    GetUserStatus,
    Kicked,
    Login,
    Ping,
    RemoveUser,
    ServerMessage,
    SetListenPort,
    SetStatus,
    SharedFoldersFiles,
    UserSearch,
)
from aioslsk.protocol.primitives import MessageDataclass, UserStats

from slskdn.logs import get_logger

log = get_logger(__name__)

ONLINE, AWAY, OFFLINE = 2, 1, 0
MAX_FRAME = 1 << 20  # server messages are small; a bigger length is garbage


class MalformedFrame(Exception):
    """A client sent bytes that are not a valid server message."""


@dataclass(frozen=True)
class MalformedReport:
    """One malformed frame: who sent it and why it was refused."""

    address: str
    username: str | None
    reason: str


@dataclass
class _Client:
    address: str
    ip: str
    writer: asyncio.StreamWriter
    username: str | None = None


@dataclass
class _User:
    name: str
    password: str
    client: _Client | None = None
    port: int = 0
    obfuscated_port: int = 0
    status: int = OFFLINE
    folders: int = 0
    files: int = 0
    watchers: set[str] = field(default_factory=set)

    @property
    def online(self) -> bool:
        return self.client is not None


class LoopbackServer:
    """Start with ``await server.start()``; ``server.port`` is then the bound port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the loopback server only listens on loopback, not {host}")
        self.host = host
        self.port = port
        self.malformed: list[MalformedReport] = []
        self._users: dict[str, _User] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("loopback server listening", address=f"{self.host}:{self.port}")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        log.info("loopback server stopped", address=f"{self.host}:{self.port}")

    def online_users(self) -> list[str]:
        return sorted(name for name, user in self._users.items() if user.online)

    # --- connections --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        host, port = writer.get_extra_info("peername")[:2]
        client = _Client(address=f"{host}:{port}", ip=host, writer=writer)
        try:
            while True:
                try:
                    frame = await self._read_frame(reader)
                except asyncio.IncompleteReadError:
                    break  # the client went away
                if frame is None:
                    continue  # a well-formed message this server does not handle
                await self._dispatch(client, frame)
        except MalformedFrame as exc:
            report = MalformedReport(client.address, client.username, str(exc))
            self.malformed.append(report)
            log.warning("malformed frame from client; closing its connection",
                        address=client.address, username=client.username, reason=str(exc))
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            # A bug here must not take the server down: this client is dropped, others stay.
            log.exception("error serving client; closing its connection",
                          address=client.address, username=client.username)
        finally:
            self._connections.discard(task)
            self._logout(client)
            writer.close()

    async def _read_frame(self, reader: asyncio.StreamReader) -> MessageDataclass | None:
        header = await reader.readexactly(4)
        (length,) = struct.unpack("<I", header)
        if not 4 <= length <= MAX_FRAME:
            raise MalformedFrame(f"frame length {length} outside 4..{MAX_FRAME}")
        body = await reader.readexactly(length)
        try:
            message: MessageDataclass = ServerMessage.deserialize_request(header + body)
        except UnknownMessageError as exc:
            log.debug("unhandled server message", code=exc.message_id)
            return None
        except Exception as exc:
            (code,) = struct.unpack_from("<I", body)
            raise MalformedFrame(f"message {code} does not decode: {exc!r}") from exc
        return message

    def _send(self, client: _Client | None, message: MessageDataclass) -> None:
        if client is not None and not client.writer.is_closing():
            client.writer.write(message.serialize())

    # --- messages -----------------------------------------------------------------------------

    async def _dispatch(self, client: _Client, message: MessageDataclass) -> None:
        if isinstance(message, Login.Request):
            self._login(client, message)
            return
        if client.username is None:
            raise MalformedFrame(f"{type(message).__qualname__} before login")
        user = self._users[client.username]
        match message:
            case SetListenPort.Request():
                user.port = message.port
                user.obfuscated_port = message.obfuscated_port or 0
            case GetPeerAddress.Request():
                self._send(client, self._address_of(message.username))
            case ConnectToPeer.Request():
                self._relay_connect(client, user, message)
            case CannotConnect.Request():
                if message.username and (target := self._online(message.username)):
                    self._send(target.client, CannotConnect.Response(ticket=message.ticket))
            case FileSearch.Request():
                for other in self._users.values():
                    if other.online and other.name != user.name:
                        self._send(other.client, FileSearch.Response(
                            username=user.name, ticket=message.ticket, query=message.query))
            case UserSearch.Request():
                if target := self._online(message.username):
                    self._send(target.client, FileSearch.Response(
                        username=user.name, ticket=message.ticket, query=message.query))
            case AddUser.Request():
                self._send(client, self._add_user(user, message.username))
            case RemoveUser.Request():
                if watched := self._users.get(message.username):
                    watched.watchers.discard(user.name)
            case GetUserStatus.Request():
                seen = self._online(message.username)
                status = seen.status if seen is not None else OFFLINE
                self._send(client, GetUserStatus.Response(message.username, status, False))
            case GetUserStats.Request():
                if known := self._users.get(message.username):
                    self._send(client, GetUserStats.Response(message.username, _stats(known)))
            case SetStatus.Request():
                user.status = message.status
                self._notify_watchers(user)
            case SharedFoldersFiles.Request():
                user.folders = message.shared_folder_count
                user.files = message.shared_file_count
            case CheckPrivileges.Request():
                self._send(client, CheckPrivileges.Response(time_left=0))
            case Ping.Request():
                pass
            case _:
                log.debug("ignored server message", message_type=type(message).__qualname__,
                          username=user.name)

    def _login(self, client: _Client, message: Login.Request) -> None:
        user = self._users.get(message.username)
        if user is not None and user.password != message.password:
            log.info("login refused: wrong password", username=message.username)
            self._send(client, Login.Response(success=False, reason="INVALIDPASS"))
            return
        if user is None:
            user = self._users[message.username] = _User(message.username, message.password)
            log.info("user registered", username=message.username)
        if user.client is not None and user.client is not client:
            # Same account logged in elsewhere: the real server kicks the older session.
            self._send(user.client, Kicked.Response())
            user.client.writer.close()
        user.client = client
        user.status = ONLINE
        client.username = user.name
        self._send(client, Login.Response(
            success=True, greeting="slskdn loopback server", ip=client.ip,
            md5hash=hashlib.md5(message.password.encode()).hexdigest(), privileged=False))
        log.info("user logged in", username=user.name, address=client.address)
        self._notify_watchers(user)

    def _logout(self, client: _Client) -> None:
        if client.username is None:
            return
        user = self._users[client.username]
        if user.client is client:
            user.client = None
            user.status = OFFLINE
            user.port = user.obfuscated_port = 0
            log.info("user logged out", username=user.name)
            self._notify_watchers(user)

    def _online(self, username: str) -> _User | None:
        user = self._users.get(username)
        return user if user is not None and user.online else None

    def _address_of(self, username: str) -> GetPeerAddress.Response:
        user = self._online(username)
        if user is None or user.client is None or not user.port:
            return GetPeerAddress.Response(username, "0.0.0.0", 0, 0, 0)
        return GetPeerAddress.Response(username, user.client.ip, user.port,
                                       1 if user.obfuscated_port else 0, user.obfuscated_port)

    def _relay_connect(self, client: _Client, user: _User,
                       message: ConnectToPeer.Request) -> None:
        target = self._online(message.username)
        if target is None or not user.port:
            self._send(client, CannotConnect.Response(ticket=message.ticket))
            return
        self._send(target.client, ConnectToPeer.Response(
            username=user.name, typ=message.typ, ip=client.ip, port=user.port,
            ticket=message.ticket, privileged=False,
            obfuscated_port_amount=1 if user.obfuscated_port else 0,
            obfuscated_port=user.obfuscated_port))

    def _add_user(self, watcher: _User, username: str) -> AddUser.Response:
        user = self._users.get(username)
        if user is None:
            return AddUser.Response(username, exists=False)
        user.watchers.add(watcher.name)
        status = user.status if user.online else OFFLINE
        return AddUser.Response(username, exists=True, status=status, user_stats=_stats(user))

    def _notify_watchers(self, user: _User) -> None:
        status = user.status if user.online else OFFLINE
        for name in user.watchers:
            if (watcher := self._online(name)) and name != user.name:
                self._send(watcher.client, GetUserStatus.Response(user.name, status, False))


def _stats(user: _User) -> UserStats:
    return UserStats(avg_speed=0, uploads=0, shared_file_count=user.files,
                     shared_folder_count=user.folders)
