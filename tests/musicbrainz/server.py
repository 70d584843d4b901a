"""A loopback MusicBrainz web service (``/ws/2``) for tests, on http.server in a thread.

It serves release lookups from the real fixtures (``../shared/fixtures/musicbrainz/``)
and from the synthetic ones (``tests/fixtures/musicbrainz_synthetic/``), and browse
results either from a synthetic file holding the whole list or from items generated on
the fly; both are paged by ``limit``/``offset`` as MusicBrainz does. Faults (an HTTP
status, a truncated body, any body) can be queued for the next k requests or for the
requests that match a predicate. Every request is recorded.
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_FIXTURES = (PROJECT_ROOT / "../shared/fixtures/musicbrainz").resolve()
SYNTHETIC_FIXTURES = PROJECT_ROOT / "tests/fixtures/musicbrainz_synthetic"
MMD_NS = "http://musicbrainz.org/ns/mmd-2.0#"
NOT_FOUND_BODY = b'<?xml version="1.0" encoding="UTF-8"?><error><text>Not Found</text></error>'


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    user_agent: str

    @property
    def offset(self) -> int:
        return int(self.query.get("offset", "0"))


@dataclass
class Fault:
    """Answer matching requests with ``status``, a truncated real body, or ``body``."""

    status: int | None = None
    truncate: bool = False
    body: bytes | None = None
    times: int | None = 1  # None: every matching request
    match: Callable[[Seen], bool] = lambda _seen: True
    retry_after: str | None = None


@dataclass
class _Browse:
    entity: str
    count: int
    item: Callable[[int], str]  # index -> XML of one item


@dataclass
class FakeMusicBrainz:
    shared: Path = SHARED_FIXTURES
    synthetic: Path = SYNTHETIC_FIXTURES
    requests: list[Seen] = field(default_factory=list)
    _faults: list[Fault] = field(default_factory=list)
    _browses: dict[tuple[str, str, str], _Browse] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # Control ------------------------------------------------------------------------

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll interval: shutdown() waits for it, once per test.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def fail_next(self, k: int, status: int = 503, retry_after: str | None = None) -> None:
        self.add_fault(Fault(status=status, times=k, retry_after=retry_after))

    def count(self, path_prefix: str = "/ws/2/") -> int:
        with self._lock:
            return sum(1 for seen in self.requests if seen.path.startswith(path_prefix))

    def generate_release_groups(self, artist_id: str, n: int) -> list[str]:
        """Make an artist with ``n`` generated release groups; return their ids in order."""
        ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{artist_id}/rg/{i}")) for i in range(n)]

        def item(i: int) -> str:
            return (
                f'<release-group id="{ids[i]}" type="Album"><title>Generated {i}</title>'
                f"<first-release-date>{1950 + i % 70}-01-01</first-release-date>"
                "<primary-type>Album</primary-type></release-group>"
            )

        self._browses[("release-group", "artist", artist_id)] = _Browse("release-group", n, item)
        return ids

    def generate_releases(self, by: str, mbid: str, n: int) -> list[str]:
        """Make ``n`` generated releases for a ``by`` (artist/label/release-group) browse."""
        ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{by}/{mbid}/r/{i}")) for i in range(n)]

        def item(i: int) -> str:
            return (
                f'<release id="{ids[i]}"><title>Generated {i}</title><status>Official</status>'
                f'<medium-list count="1"><medium><position>1</position><format>CD</format>'
                f'<track-list count="{1 + i % 20}"/></medium></medium-list></release>'
            )

        self._browses[("release", by, mbid)] = _Browse("release", n, item)
        return ids

    # Serving ------------------------------------------------------------------------

    def answer(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests.append(seen)
            fault = next((f for f in self._faults if f.times != 0 and f.match(seen)), None)
            if fault and fault.times is not None:
                fault.times -= 1
        status, body = self._route(seen)
        if fault is None:
            return status, body, {}
        if fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return fault.status, b"<error><text>fault injected by test</text></error>", headers
        if fault.truncate:
            return status, body[: len(body) // 2], {}
        return 200, fault.body or b"", {}

    def _route(self, seen: Seen) -> tuple[int, bytes]:
        parts = seen.path.removeprefix("/ws/2/").strip("/").split("/")
        if len(parts) == 2 and parts[0] == "release":
            found = self._release_file(parts[1])
            return (200, found.read_bytes()) if found else (404, NOT_FOUND_BODY)
        if len(parts) == 1 and parts[0] in ("release", "release-group"):
            for by in ("artist", "label", "release-group"):
                if by in seen.query:
                    return self._browse_page(parts[0], by, seen)
        return 404, NOT_FOUND_BODY

    def _release_file(self, mbid: str) -> Path | None:
        synthetic = self.synthetic / "release" / f"{mbid}.xml"
        if synthetic.exists():
            return synthetic
        real = sorted((self.shared / "release").glob(f"{mbid}-*.xml"))
        return real[0] if real else None

    def _browse_page(self, entity: str, by: str, seen: Seen) -> tuple[int, bytes]:
        browse = self._browses.get((entity, by, seen.query[by])) or self._browse_file(
            entity, by, seen.query[by]
        )
        if browse is None:
            return 404, NOT_FOUND_BODY
        offset, limit = seen.offset, int(seen.query.get("limit", "25"))
        items = "".join(browse.item(i) for i in range(offset, min(offset + limit, browse.count)))
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><metadata xmlns="{MMD_NS}">'
            f'<{entity}-list count="{browse.count}" offset="{offset}">{items}</{entity}-list>'
            "</metadata>"
        )
        return 200, body.encode()

    def _browse_file(self, entity: str, by: str, mbid: str) -> _Browse | None:
        path = self.synthetic / "browse" / entity / by / f"{mbid}.xml"
        if not path.exists():
            return None
        items = ET.parse(path).getroot().find(f"{{{MMD_NS}}}{entity}-list")
        assert items is not None, f"{path} has no {entity}-list"
        # Each item keeps its namespace as an ns0: prefix; still mmd-2.0 to any XML reader.
        xml = [ET.tostring(item, encoding="unicode") for item in items]
        return _Browse(entity, len(xml), xml.__getitem__)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMusicBrainz

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        seen = Seen(url.path, query, self.headers.get("User-Agent", ""))
        status, body, headers = self.fake.answer(seen)
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean; the fake records requests itself
