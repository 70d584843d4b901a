"""The ``slskdn`` command line: one sub-app per concern, global options here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from slskdn.cli import (
    config_cmd,
    daemon_cmd,
    doctor_cmd,
    events_cmd,
    jobs_cmd,
    library_cmd,
    mb,
    projections_cmd,
    sandbox_cmd,
    soulseek_cmd,
    swarm_cmd,
)
from slskdn.cli.common import state
from slskdn.logs import configure_logging

app = typer.Typer(
    name="slskdn",
    help="A Soulseek download daemon with MusicBrainz-aware library intelligence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    config: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional here
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $SLSKDN_CONFIG or ~/.local/share/slskdn/slskdn.yml).",
            envvar="SLSKDN_CONFIG",
        ),
    ] = None,
    log_level: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--log-level", help="debug, info, warning or error (overrides logging.level)."
        ),
    ] = None,
    log_format: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--log-format", help="auto, console or json (overrides logging.format)."),
    ] = None,
) -> None:
    state.config_path = config
    state._settings = None
    state.overrides = {}
    if log_level:
        state.overrides["logging.level"] = log_level
    if log_format:
        state.overrides["logging.format"] = log_format
    settings = state.settings()
    configure_logging(settings.logging.level, settings.logging.format)


config_cmd.register(app)
events_cmd.register(app)
projections_cmd.register(app)
jobs_cmd.register(app)
daemon_cmd.register(app)
library_cmd.register(app)
doctor_cmd.register(app)
swarm_cmd.register(app)
soulseek_cmd.register(app)
sandbox_cmd.register(app)
app.add_typer(mb.app, name="mb")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
