"""Shared fixtures: database URLs for both backends, settings in a temporary app dir."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pykka
import pytest

from slskdn.config import Settings, load_settings

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")


def _fresh_postgres_database() -> Iterator[str]:
    import psycopg

    name = f"slskdn_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'slskdn.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL server: run the suite with scripts/test")
    yield from _fresh_postgres_database()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        env={"SLSKDN_APP_DIR": str(tmp_path)},
        overrides={"database.url": database_url},
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return load_settings(env={"SLSKDN_APP_DIR": str(tmp_path)})


class FakeClock:
    """A clock tests move by hand; starts at a fixed instant."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _stop_stray_actors() -> Iterator[None]:
    # pykka threads are not daemons: a test that forgets to stop one would hang the run.
    yield
    pykka.ActorRegistry.stop_all()
