"""Config validation: shipped files load; mistakes name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings, parse_settings
from engine.errors import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # configs/ray.yaml takes the cluster from there
    settings = load_settings(path)
    assert settings.llm.backend in ("local", "openai")


def test_default_is_the_offline_embedded_one():
    settings = load_settings(None)
    assert settings.llm.backend == "local" and settings.planner.mode == "auto"


def test_wrong_backend_names_the_key():
    with pytest.raises(ConfigError) as err:
        parse_settings({"llm": {"backend": "gpt"}})
    assert "llm.backend" in str(err.value) and "'local' or 'openai'" in str(err.value)


def test_unknown_key_is_refused_with_a_hint():
    with pytest.raises(ConfigError) as err:
        parse_settings({"llm": {"modle": "x"}})
    assert "llm.modle" in str(err.value) and "unknown key" in str(err.value)


def test_openai_without_url_or_key_says_what_to_set(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        parse_settings({"llm": {"backend": "openai"}})
    assert "llm.base_url" in str(err.value) and "OPENAI_API_KEY" in str(err.value)


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("llm: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path / "missing.yaml")


def test_data_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("HUGGINGGPT_DATA_DIR", str(tmp_path))
    assert parse_settings({}).data_path == tmp_path
