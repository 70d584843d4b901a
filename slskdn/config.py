"""The slskdn.yml configuration: sections, defaults, loading and validation.

Precedence, lowest first: built-in defaults < the YAML file < ``SLSKDN_<SECTION>_<KEY>``
environment variables < command-line flags (applied by the CLI as overrides).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "SLSKDN_"
# Environment variables that choose where config lives rather than setting a key.
RESERVED_ENV = {"SLSKDN_CONFIG", "SLSKDN_APP_DIR"}
DEFAULT_APP_DIR = Path("~/.local/share/slskdn")
CONFIG_FILE_NAME = "slskdn.yml"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = Field(
        default="",
        description="Empty: a SQLite file 'slskdn.db' in the app directory. "
        "'sqlite:///PATH' or 'postgresql://user:pass@host:port/dbname'.",
    )
    lock_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class ActorSettings(_Section):
    commit_every_messages: int = Field(default=500, ge=1)
    commit_every_ms: float = Field(default=20.0, gt=0)
    passivate_after_s: float = Field(default=300.0, gt=0)
    snapshot_every_events: int = Field(default=200, ge=10)


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


class SoulseekSettings(_Section):
    server_host: str = "server.slsknet.org"
    server_port: int = Field(default=2242, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    listen_host: str = "0.0.0.0"
    listen_port: int = Field(default=60000, ge=0, le=65535)
    upload_slots: int = Field(default=2, ge=1, le=100)
    upload_speed_kbps: int = Field(default=0, ge=0, description="KiB/s, 0 = unlimited")
    download_speed_kbps: int = Field(default=0, ge=0, description="KiB/s, 0 = unlimited")
    login_timeout_s: float = Field(default=30.0, gt=0)
    max_parallel_downloads: int = Field(default=3, ge=1, le=32)


class MusicBrainzSettings(_Section):
    base_url: str = "https://musicbrainz.org"
    contact: str = Field(default="", description="E-mail or URL sent in the User-Agent.")
    cache_ttl_days: float = Field(default=30.0, gt=0)
    requests_per_second: float = Field(default=1.0, gt=0, le=1.0)
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10)
    preferred_countries: list[str] = Field(default_factory=lambda: ["XW", "US", "GB"])
    core_include_live: bool = False
    core_include_compilations: bool = False

    @field_validator("base_url")
    @classmethod
    def _http_root(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(
                "must be the server's root, without a path (e.g. https://musicbrainz.org)"
            )
        return value.rstrip("/")


class SwarmSettings(_Section):
    cost_based: bool = Field(default=True, description="Off: plain work stealing.")
    mode: Literal["conservative", "balanced", "aggressive"] = "balanced"
    rebalance_interval_s: float = Field(default=1.0, gt=0)
    endgame_race: bool = Field(
        default=True, description="Race a healthy but much slower last range on a faster peer.")
    throughput_alpha: float = Field(default=0.1, gt=0, le=1)
    cost_alpha: float = Field(default=1024.0 * 1024.0, ge=0)
    cost_beta: float = Field(default=2.0, ge=0)
    cost_gamma: float = Field(default=2.0, ge=0)
    cost_reputation_weight: float = Field(default=1.0, ge=0)
    reputation_half_life_hours: float = Field(default=168.0, gt=0)
    quarantine_below: float = Field(default=0.2, ge=0, le=1)


class RescueSettings(_Section):
    max_queue_minutes: float = Field(default=10.0, gt=0)
    min_speed_kbps: float = Field(default=64.0, ge=0)
    window_s: float = Field(default=5.0, gt=0)


class PlaybackSettings(_Section):
    high_seconds: float = Field(default=30.0, gt=0)
    mid_seconds: float = Field(default=120.0, gt=0)
    critical_buffer_seconds: float = Field(default=5.0, ge=0)
    relax_fairness_when_critical: bool = False


class LibrarySettings(_Section):
    directories: list[Path] = Field(default_factory=list)
    downloads: Path = Path("~/Music/slskdn")


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5030, ge=0, le=65535, description="0: any free port")
    keys: list[SecretStr] = Field(default_factory=list)


class Settings(_Section):
    """The whole configuration. ``app_dir`` is where the database and state live."""

    app_dir: Path = DEFAULT_APP_DIR
    database: DatabaseSettings = DatabaseSettings()
    actors: ActorSettings = ActorSettings()
    logging: LoggingSettings = LoggingSettings()
    soulseek: SoulseekSettings = SoulseekSettings()
    musicbrainz: MusicBrainzSettings = MusicBrainzSettings()
    swarm: SwarmSettings = SwarmSettings()
    rescue: RescueSettings = RescueSettings()
    playback: PlaybackSettings = PlaybackSettings()
    library: LibrarySettings = LibrarySettings()
    api: ApiSettings = ApiSettings()

    @property
    def app_path(self) -> Path:
        return self.app_dir.expanduser()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.app_path / 'slskdn.db'}"


SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, _Section)
}


def default_config_path(env: Mapping[str, str]) -> Path:
    if "SLSKDN_CONFIG" in env:
        return Path(env["SLSKDN_CONFIG"]).expanduser()
    app_dir = Path(env.get("SLSKDN_APP_DIR", str(DEFAULT_APP_DIR))).expanduser()
    return app_dir / CONFIG_FILE_NAME


def load_settings(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load and validate the effective settings; raise ConfigError naming the bad key.

    ``config_path`` None means the default location, where a missing file is fine;
    an explicitly named file must exist.
    """
    env = os.environ if env is None else env
    explicit = config_path is not None or "SLSKDN_CONFIG" in env
    path = config_path or default_config_path(env)
    data: dict[str, Any] = _read_yaml(path, must_exist=explicit)
    if "SLSKDN_APP_DIR" in env and "app_dir" not in data:
        data["app_dir"] = env["SLSKDN_APP_DIR"]
    for (section, key), value in _env_overrides(env).items():
        target = data.setdefault(section, {}) if key else data
        if not isinstance(target, dict):
            raise ConfigError(f"{section}: must be a mapping in {path}")
        target[key or section] = value
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _read_yaml(path: Path, *, must_exist: bool) -> dict[str, Any]:
    if not path.exists():
        if must_exist:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must be a mapping of sections")
    return loaded


def _env_overrides(env: Mapping[str, str]) -> dict[tuple[str, str], Any]:
    """Map SLSKDN_<SECTION>_<KEY> variables to (section, key); unknown ones are errors.

    Values are parsed as YAML scalars/lists so that ``[a, b]``, ``true`` and ``5`` work.
    """
    found: dict[tuple[str, str], Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in SECTIONS or key not in SECTIONS[section].model_fields:
            raise ConfigError(f"{name}: unknown setting (expected SLSKDN_<SECTION>_<KEY>)")
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        field = SECTIONS[section].model_fields[key]
        if field.annotation in (str, SecretStr) and not isinstance(value, str):
            value = raw  # "0123" must stay a string for string keys
        found[(section, key)] = value
    return found


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (in {path} or the environment)")
        else:
            lines.append(f"{key}: {error['msg']} (got {error.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def masked(settings: Settings) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as '********'."""
    return settings.model_dump(mode="json")
