"""Configuration: file, environment, precedence, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from slskdn.config import ConfigError, load_settings
from slskdn.swarm_settings import session_config


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_put_the_database_in_the_app_directory(tmp_path: Path) -> None:
    settings = load_settings(env={"SLSKDN_APP_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'slskdn.db'}"
    assert settings.musicbrainz.base_url == "https://musicbrainz.org"


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yml", "actors:\n  commit_every_messages: 7\n  commit_every_ms: 3\n"
    )
    env = {
        "SLSKDN_ACTORS_COMMIT_EVERY_MS": "9",
        "SLSKDN_MUSICBRAINZ_BASE_URL": "http://127.0.0.1:1",
    }
    settings = load_settings(config, env=env, overrides={"actors.commit_every_messages": 11})
    assert settings.actors.commit_every_messages == 11
    assert settings.actors.commit_every_ms == 9
    assert settings.musicbrainz.base_url == "http://127.0.0.1:1"


def test_slskdn_config_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "elsewhere.yml", "logging:\n  level: debug\n")
    assert load_settings(env={"SLSKDN_CONFIG": str(config)}).logging.level == "debug"


def test_an_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yml", "actors:\n  commit_evry_messages: 7\n")
    with pytest.raises(ConfigError, match=r"actors\.commit_evry_messages: unknown key"):
        load_settings(config, env={})


def test_a_wrong_type_is_named_with_the_value(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yml", "soulseek:\n  server_port: many\n")
    with pytest.raises(ConfigError, match=r"soulseek\.server_port: .*'many'"):
        load_settings(config, env={})


def test_an_unknown_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="SLSKDN_SOULSEEK_PASSWROD: unknown setting"):
        load_settings(env={"SLSKDN_SOULSEEK_PASSWROD": "x", "SLSKDN_APP_DIR": "/tmp"})


def test_broken_yaml_and_missing_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path / "c.yml", "actors: [unclosed\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yml", env={})


def test_string_settings_from_the_environment_stay_strings() -> None:
    settings = load_settings(env={"SLSKDN_SOULSEEK_PASSWORD": "0123", "SLSKDN_APP_DIR": "/tmp"})
    assert settings.soulseek.password.get_secret_value() == "0123"


def test_a_database_url_with_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"database\.url"):
        load_settings(env={"SLSKDN_DATABASE_URL": "mysql://x", "SLSKDN_APP_DIR": "/tmp"})


def test_swarm_keys_reach_the_scheduler_policy() -> None:
    default = session_config(load_settings(env={})).scheduler
    calm = session_config(load_settings(env={}, overrides={"swarm.endgame_race": False,
                                                           "swarm.mode": "aggressive"}))
    assert default.endgame_race
    assert not calm.scheduler.endgame_race
    assert calm.scheduler.mode == "aggressive"
