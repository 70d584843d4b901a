"""Where the event store and the read models live: one database, named by a URL.

``sqlite:///PATH`` (the default, a file in the app directory) or
``postgresql://user:password@host:port/dbname``. Both the eventsourcing recorder and the
SQLAlchemy engine of the projections are derived from the same URL.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

# Every table slskdn creates starts with one of these; a database with tables but none of
# ours belongs to something else.
SLSKDN_TABLE_PREFIXES = ("stored_", "projection_", "proj_", "mb_", "library_", "doctor_")


class StoreUnavailable(Exception):
    """The database cannot be opened or is not a slskdn store; the message says why."""


@dataclass(frozen=True)
class DatabaseLocation:
    url: str
    lock_timeout_s: float = 10.0

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite:///")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///")).expanduser()

    def display(self) -> str:
        """The URL with any password hidden, for messages and `config show`."""
        if self.is_sqlite:
            return self.url
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
            return parts._replace(netloc=netloc).geturl()
        return self.url

    def eventsourcing_env(self) -> dict[str, str]:
        if self.is_sqlite:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": str(int(self.lock_timeout_s)),
            }
        parts = urlsplit(self.url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or ""),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_LOCK_TIMEOUT": str(int(self.lock_timeout_s * 1000)),
        }

    def sqlalchemy_url(self) -> str:
        if self.is_sqlite:
            return f"sqlite:///{self.sqlite_path}"
        parts = urlsplit(self.url)
        return parts._replace(scheme="postgresql+psycopg").geturl()

    def create_engine(self) -> sa.Engine:
        if self.is_sqlite:
            engine = sa.create_engine(
                self.sqlalchemy_url(),
                connect_args={"timeout": self.lock_timeout_s, "check_same_thread": False},
            )
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return sa.create_engine(self.sqlalchemy_url(), pool_pre_ping=True)

    def check_postgres_server(self) -> None:
        """Connect once, so that a server that is down is reported with its own reason."""
        import psycopg

        env = self.eventsourcing_env()
        try:
            psycopg.connect(
                dbname=env["POSTGRES_DBNAME"],
                host=env["POSTGRES_HOST"],
                port=env["POSTGRES_PORT"],
                user=env["POSTGRES_USER"],
                password=env["POSTGRES_PASSWORD"],
                connect_timeout=5,
            ).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise StoreUnavailable(
                f"PostgreSQL at {self.display()} cannot be reached: {reason}"
            ) from None

    def check_sqlite_file(self) -> None:
        """Refuse a file that is not SQLite, or a SQLite database of something else."""
        path = self.sqlite_path
        if not path.exists():
            if not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            return
        if path.is_dir():
            raise StoreUnavailable(f"database {path} is a directory, not a file")
        if path.stat().st_size == 0:
            return
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"database {path} cannot be opened: {exc}") from None
        if tables and not any(t.startswith(SLSKDN_TABLE_PREFIXES) for t in tables):
            listed = ", ".join(sorted(tables)[:5])
            raise StoreUnavailable(
                f"database {path} is a SQLite database of something else "
                f"(tables: {listed}); refusing to write slskdn tables into it"
            )


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # The event recorder already switched the file to WAL; readers and the projection
    # writer then only wait for each other on commit.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
