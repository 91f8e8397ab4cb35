"""Fixtures for tests/rca: the Anthropic Messages API stand-in (real SDK, 127.0.0.1)."""

from tests.standins.anthropic_api import anthropic_standin  # noqa: F401
