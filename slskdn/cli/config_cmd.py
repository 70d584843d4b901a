"""`slskdn config show`: the effective configuration, secrets masked."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from slskdn.cli.common import console, current_settings, database_location, print_json, state
from slskdn.config import default_config_path, masked

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def show(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective config (defaults < file < SLSKDN_* environment < flags)."""
    import os

    settings = current_settings()
    data = masked(settings)
    data["database"]["url"] = database_location(settings).display()
    source = state.config_path or default_config_path(os.environ)
    if json_output:
        print_json({"config_file": str(source), "settings": data})
        return
    console.print(f"# config file: {source}{'' if source.exists() else ' (absent: defaults)'}")
    console.print(yaml.safe_dump(data, sort_keys=False).rstrip(), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
