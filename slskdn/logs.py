"""Logging: structlog loggers that write through the standard ``logging`` module.

slskdn's modules take their logger from :func:`get_logger`. Records go to stdlib logging,
so a process that embeds the engine decides where they go (and nothing is printed to
stdout behind its back). The CLI and the daemon call :func:`configure_logging`: console
lines on a terminal, JSON lines otherwise or with ``--log-format json``; the ids bound to a
logger (job_id, transfer_id, peer, ...) become fields of the line.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["auto", "console", "json"]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.render_to_log_kwargs,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return logger


def configure_logging(level: str = "info", log_format: LogFormat = "auto") -> None:
    """Configure structlog and the stdlib root logger (libraries log through it)."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric = getattr(logging, level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # aioslsk and eventsourcing are chatty at INFO; their warnings still show.
    for noisy in ("aioslsk", "eventsourcing", "asyncio", "musicbrainzngs"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
