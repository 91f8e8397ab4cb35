"""LLM settings: the key comes from ANDON_LLM__API_KEY, else ANTHROPIC_API_KEY; never printed."""

from __future__ import annotations

import pytest

from settings import load_settings


def test_anthropic_key_fills_an_unset_key(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANDON_LLM__API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    settings = load_settings()
    assert settings.llm.enabled
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "sk-ant-from-env"
    assert "sk-ant-from-env" not in repr(settings)


def test_andon_setting_wins_over_anthropic_key(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANDON_LLM__API_KEY", "sk-ant-andon")
    settings = load_settings()
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "sk-ant-andon"


def test_no_key_means_offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANDON_LLM__API_KEY", raising=False)
    assert not load_settings().llm.enabled
