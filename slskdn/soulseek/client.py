"""``SoulseekSession``: one logged-in Soulseek identity on aioslsk, in slskdn's terms.

It logs in from plain settings, searches (results collected for a time window into plain
records), browses, serves the configured share directories (uploads honour the downloader's
offset), fetches byte ranges (``RangedTransferManager``) and bridges aioslsk's events to plain
``SessionEvent`` records. aioslsk's event bus holds listeners by weak reference, so the session
keeps a strong reference to every listener it registers — a subscriber's lambda does not
silently stop firing after the next garbage collection.

Everything here runs on the asyncio loop thread (see docs/architecture.md for crossing from
actors).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aioslsk.commands import PeerGetSharesCommand
from aioslsk.events import (
    Event,
    KickedEvent,
    SearchResultEvent,
    SessionDestroyedEvent,
    SessionInitializedEvent,
    UserStatusUpdateEvent,
    UserTrackingStateChangedEvent,
)
from aioslsk.exceptions import AuthenticationError, NetworkError
from aioslsk.network.network import PeerConnectMode
from aioslsk.settings import (
    CredentialsSettings,
    DebugSettings,
    ListeningSettings,
    NetworkLimitSettings,
    NetworkSettings,
    PeerSettings,
    RoomsSettings,
    ServerSettings,
    Settings,
    SharedDirectorySettingEntry,
    SharesSettings,
    TransferLimitSettings,
    TransfersSettings,
    UpnpSettings,
)
from aioslsk.user.model import TrackingFlag, TrackingState, UserStatus

from slskdn.logs import get_logger

from .network import ManagerFactory, SlskdnClient, install_credential_filter
from .paths import safe_local_path
from .ranged import RangedTransferManager
from .ranges import RangeOutcome
from .records import (
    LoggedIn,
    LoggedOut,
    PeerStatusChanged,
    SearchResult,
    SearchResultsReceived,
    SessionEvent,
    SharedFile,
    search_results,
    shared_files,
)
from .transfer import PeerTransfer, ProgressCallback
from .uploads import ReplyFirstUploads

log = get_logger(__name__)

Subscriber = Callable[[SessionEvent], None]


class SessionError(Exception):
    """The session could not start: server unreachable, login refused, ..."""


@dataclass(frozen=True)
class SessionConfig:
    """Plain settings of one session. The password never appears in logs or reprs."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    download_dir: Path = Path("downloads")
    share_dirs: Sequence[Path] = ()
    listen_host: str = "0.0.0.0"
    listen_port: int = 0  # 0: any free port
    upload_slots: int = 2
    upload_speed_kbps: int = 0  # KiB/s, 0 = unlimited (aioslsk's unit)
    download_speed_kbps: int = 0
    connect_mode: str = "race"  # aioslsk PeerConnectMode: "race" or "fallback"
    login_timeout: float = 30.0
    requeue_interval: float = 30.0  # re-send a queue request a peer seems to have dropped
    ticket_start: int | None = None  # None: random (the ticket fix); tests pin it

    def aioslsk_settings(self) -> Settings:
        return Settings(
            network=NetworkSettings(
                server=ServerSettings(hostname=self.host, port=self.port),
                listening=ListeningSettings(port=self.listen_port, obfuscated_port=0),
                upnp=UpnpSettings(enabled=False),  # never talk to the LAN's router by default
                limits=NetworkLimitSettings(upload_speed_kbps=self.upload_speed_kbps,
                                            download_speed_kbps=self.download_speed_kbps),
                peer=PeerSettings(connect_mode=PeerConnectMode(self.connect_mode)),
            ),
            credentials=CredentialsSettings(username=self.username, password=self.password),
            shares=SharesSettings(
                scan_on_start=False, download=str(self.download_dir),
                directories=[SharedDirectorySettingEntry(path=str(p)) for p in self.share_dirs]),
            transfers=TransfersSettings(
                limits=TransferLimitSettings(upload_slots=self.upload_slots)),
            rooms=RoomsSettings(auto_join=False, private_room_invites=False),
            debug=DebugSettings(search_for_parent=False),
        )


class SessionTransferManager(ReplyFirstUploads, RangedTransferManager):
    """Ranged downloads, and uploads without aioslsk's lost-reply races (see ``uploads``)."""


class SoulseekSession:
    """Start with ``await session.start()``; stop with ``await session.stop()``."""

    def __init__(self, config: SessionConfig, *,
                 manager_factory: ManagerFactory | None = None,
                 **manager_options: Any) -> None:
        self.config = config
        self._manager_factory: ManagerFactory = manager_factory or SessionTransferManager
        self._manager_options = manager_options
        self._client: SlskdnClient | None = None
        self._subscribers: list[Subscriber] = []
        # Strong references to every listener handed to aioslsk's (weak) event bus.
        self._listeners: list[tuple[type[Event], Callable[[Any], Any]]] = []
        self.log = log.bind(peer=config.username)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        install_credential_filter()
        client = SlskdnClient(
            self.config.aioslsk_settings(), listen_host=self.config.listen_host,
            manager_factory=self._manager_factory, ticket_start=self.config.ticket_start,
            requeue_interval=self.config.requeue_interval, **self._manager_options)
        self._client = client
        self._bridge(SessionInitializedEvent, self._on_logged_in)
        self._bridge(SessionDestroyedEvent, self._on_logged_out)
        self._bridge(KickedEvent, self._on_kicked)
        self._bridge(UserStatusUpdateEvent, self._on_user_status)
        self._bridge(UserTrackingStateChangedEvent, self._on_user_tracked)
        self._bridge(SearchResultEvent, self._on_search_result)
        address = f"{self.config.host}:{self.config.port}"
        try:
            await client.start(connect=False)
            if self.config.share_dirs:
                await client.shares.scan()  # before login, so searches find files at once
            async with asyncio.timeout(self.config.login_timeout):
                await client.connect()
                await client.login()
        except AuthenticationError as exc:
            await self._shutdown()
            raise SessionError(f"login as {self.config.username!r} refused by {address}: "
                               f"{exc.reason or 'no reason given'}") from exc
        except (NetworkError, OSError) as exc:
            await self._shutdown()
            raise SessionError(f"cannot reach the Soulseek server at {address}: {exc}") from exc
        except TimeoutError as exc:
            await self._shutdown()
            raise SessionError(f"no login answer from {address} within "
                               f"{self.config.login_timeout:.0f} s") from exc
        self.log.info("session started", server=address, listen_port=self.listen_port)

    async def stop(self) -> None:
        if self._client is None:
            return
        # Close our ranges first, so their outcomes say "cancelled", not "peer closed".
        for transfer in self._client.ranged.ranged_transfers():
            transfer.cancel("session stopped")
        await self._shutdown()
        self.log.info("session stopped")

    async def _shutdown(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.stop()

    async def __aenter__(self) -> SoulseekSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def client(self) -> SlskdnClient:
        if self._client is None:
            raise SessionError("the session is not started")
        return self._client

    @property
    def username(self) -> str:
        return self.config.username

    @property
    def logged_in(self) -> bool:
        return self._client is not None and self._client.session is not None

    @property
    def listen_port(self) -> int:
        return self.client.network.get_listening_ports()[0]

    @property
    def transfers(self) -> RangedTransferManager:
        return self.client.ranged

    # --- searching and browsing ---------------------------------------------------------------

    async def search(self, query: str, window_s: float = 5.0,
                     on_results: Callable[[tuple[SearchResult, ...]], None] | None = None,
                     ) -> list[SearchResult]:
        """Search the network; collect the replies that arrive within ``window_s``."""
        request = await self.client.searches.search(query)
        collected: list[SearchResult] = []

        def take(event: SessionEvent) -> None:
            if isinstance(event, SearchResultsReceived) and event.ticket == request.ticket:
                collected.extend(event.results)
                if on_results is not None:
                    on_results(event.results)

        unsubscribe = self.subscribe(take)
        try:
            await asyncio.sleep(window_s)
        finally:
            unsubscribe()
            self.client.searches.remove_request(request)
        self.log.info("search done", query=query, results=len(collected))
        return collected

    async def browse(self, username: str, timeout: float = 30.0) -> list[SharedFile]:
        """All files ``username`` shares with us (locked folders excluded)."""
        reply = await self.client.execute(
            PeerGetSharesCommand(username), response=True, timeout=timeout)
        directories = reply[0] if reply is not None else []
        return shared_files(username, directories)

    async def watch(self, username: str) -> None:
        """Follow ``username``'s status: ``PeerStatusChanged`` events when it changes."""
        await self.client.users.track_user(username, TrackingFlag.REQUESTED)

    async def unwatch(self, username: str) -> None:
        await self.client.users.untrack_user(username, TrackingFlag.REQUESTED)

    def local_path_for(self, remote_path: str, keep_dirs: int = 1) -> Path:
        """Where a remote file lands under the download directory (never outside it)."""
        return safe_local_path(self.config.download_dir, remote_path, keep_dirs=keep_dirs)

    # --- ranged transfers ---------------------------------------------------------------------

    def negotiate(self, username: str, remote_path: str, part_path: Path,
                  **options: Any) -> PeerTransfer:
        """See ``RangedTransferManager.negotiate``."""
        return self.transfers.negotiate(username, remote_path, part_path, **options)

    async def download_range(self, username: str, remote_path: str, offset: int, end: int,
                             part_path: Path, on_progress: ProgressCallback | None = None,
                             **options: Any) -> RangeOutcome:
        """See ``RangedTransferManager.download_range``."""
        return await self.transfers.download_range(
            username, remote_path, offset, end, part_path, on_progress, **options)

    # --- events -------------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` (on the loop thread) with every ``SessionEvent``; held strongly.
        Returns a function that unsubscribes."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def subscribe_raw(self, event_class: type[Event], listener: Callable[[Any], Any]) -> None:
        """Listen to an aioslsk event directly; the session keeps the listener alive."""
        self._bridge(event_class, listener)

    def _bridge(self, event_class: type[Event], listener: Callable[[Any], Any]) -> None:
        self._listeners.append((event_class, listener))
        self.client.events.register(event_class, listener)

    def _publish(self, event: SessionEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                self.log.exception("session event subscriber failed",
                                   event_type=type(event).__name__)

    def _on_logged_in(self, event: SessionInitializedEvent) -> None:
        self._publish(LoggedIn(event.session.user.name))

    def _on_logged_out(self, event: SessionDestroyedEvent) -> None:
        self._publish(LoggedOut(event.session.user.name, "disconnected from the server"))

    def _on_kicked(self, event: KickedEvent) -> None:
        self._publish(LoggedOut(self.username, "kicked: logged in from elsewhere"))

    def _on_user_status(self, event: UserStatusUpdateEvent) -> None:
        status = event.current.status
        if status != event.before.status and status != UserStatus.UNKNOWN:
            self._publish(PeerStatusChanged(event.current.name, status.name.lower()))

    def _on_user_tracked(self, event: UserTrackingStateChangedEvent) -> None:
        # The status the server gave when we started watching (AddUser has no status event).
        if event.state == TrackingState.TRACKED and event.user.status != UserStatus.UNKNOWN:
            self._publish(PeerStatusChanged(event.user.name, event.user.status.name.lower()))

    def _on_search_result(self, event: SearchResultEvent) -> None:
        result = event.result
        self._publish(SearchResultsReceived(event.query.ticket, event.query.query, search_results(
            result.username, result.shared_items, free_slot=result.has_free_slots,
            queue_length=result.queue_size, speed=result.avg_speed)))
