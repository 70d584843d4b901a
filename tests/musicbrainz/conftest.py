"""Fixtures: the loopback MusicBrainz, a fake clock (nothing sleeps for real), a database."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from slskdn.musicbrainz.cache import MusicBrainzCache, metadata
from slskdn.musicbrainz.client import MusicBrainzClient, RateLimiter
from slskdn.musicbrainz.service import MusicBrainzService
from slskdn.storage.database import DatabaseLocation
from tests.musicbrainz.server import SHARED_FIXTURES, FakeMusicBrainz

CONTACT = "tests@example.org"
# Cache and service tests also run on PostgreSQL when this names a database they may
# fill and empty (postgresql://user:pass@host:port/db). Not SLSKDN_*: the config loader
# rejects unknown SLSKDN_ variables.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
BACKENDS = [
    "sqlite",
    *([pytest.param("postgres", marks=pytest.mark.postgres)] * bool(POSTGRES_URL)),
]


class FakeClock:
    """Monotonic time that moves only when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class WallClock:
    """The service's idea of 'now' for TTL decisions; moved by hand."""

    def __init__(self) -> None:
        self.at = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@pytest.fixture
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real MusicBrainz fixtures not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture
def fake_mb() -> Iterator[FakeMusicBrainz]:
    fake = FakeMusicBrainz()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep)


@pytest.fixture
def client(fake_mb: FakeMusicBrainz, limiter: RateLimiter, clock: FakeClock) -> MusicBrainzClient:
    return MusicBrainzClient(
        fake_mb.base_url, CONTACT, limiter=limiter, sleep=clock.sleep, timeout_s=5.0
    )


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = DatabaseLocation(f"sqlite:///{tmp_path / 'mb.db'}").create_engine()
        yield engine
        engine.dispose()
        return
    engine = DatabaseLocation(POSTGRES_URL).create_engine()
    metadata.drop_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def service(client: MusicBrainzClient, engine: sa.Engine, wall: WallClock) -> MusicBrainzService:
    return MusicBrainzService(
        client,
        MusicBrainzCache(engine),
        ttl=timedelta(days=30),
        now=wall,
        preferred_countries=("XW", "US", "GB"),
    )


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
