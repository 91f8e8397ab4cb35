"""Fixtures for tests/ticketing: the Anthropic Messages API stand-in."""

from tests.standins.anthropic_api import anthropic_standin  # noqa: F401
