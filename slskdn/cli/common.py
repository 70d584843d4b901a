"""What every CLI command shares: the loaded settings, the store, and output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from slskdn.config import ConfigError, Settings, load_settings
from slskdn.logs import get_logger
from slskdn.storage.database import DatabaseLocation, StoreUnavailable
from slskdn.storage.event_store import EventStore

if TYPE_CHECKING:
    from slskdn.engine import Engine

log = get_logger(__name__)
console = Console()
err_console = Console(stderr=True)

# Exit codes: 1 = the operation failed, 2 = bad input (usage, config, ids).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


@dataclass
class CliState:
    config_path: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path, overrides=self.overrides)
            except ConfigError as exc:
                fail(str(exc), code=EXIT_BAD_INPUT)
        return self._settings


state = CliState()


def current_settings() -> Settings:
    return state.settings()


def database_location(settings: Settings | None = None) -> DatabaseLocation:
    settings = settings or current_settings()
    return DatabaseLocation(settings.database_url, settings.database.lock_timeout_s)


@contextmanager
def open_store(settings: Settings | None = None) -> Iterator[EventStore]:
    """The event store, or a clear error and exit 1 when it cannot be opened."""
    try:
        store = EventStore(database_location(settings))
    except StoreUnavailable as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def database_engine(settings: Settings | None = None) -> sa.Engine:
    """A SQLAlchemy engine on the project database (for read models and caches)."""
    location = database_location(settings)
    if location.is_sqlite:
        try:
            location.check_sqlite_file()
        except StoreUnavailable as exc:
            fail(str(exc))
    return location.create_engine()


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


@contextmanager
def engine_session() -> Iterator[Engine]:
    """A started engine for one command; stopped (everything committed) on the way out."""
    from slskdn.engine import Engine

    try:
        engine = Engine(current_settings()).start()
    except StoreUnavailable as exc:
        fail(str(exc))
    try:
        yield engine
    finally:
        engine.stop()


@contextmanager
def progress_reporter(label: str) -> Iterator[Callable[[int, int], None]]:
    """(done, total) updates: a bar on a terminal, a log line every 1,000 items otherwise."""
    if sys.stderr.isatty():
        columns = (
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update
        return
    last = [0]

    def log_line(done: int, total: int) -> None:
        if done - last[0] >= 1000 or done == total:
            last[0] = done
            log.info(label, done=done, total=total)

    yield log_line
