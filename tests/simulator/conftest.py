"""Simulations shared by the simulator tests (small, generated once per test process)."""

from __future__ import annotations

import pytest

from simulator.api import Simulation, simulate


@pytest.fixture(scope="session")
def small_shop() -> Simulation:
    """The shop with its built-in problems, through the real SDK, 150 sessions."""
    return simulate("shop", seed=5, sessions=150)


@pytest.fixture(scope="session")
def small_saas() -> Simulation:
    """The SaaS app with its built-in problems, through the real SDK, 150 sessions."""
    return simulate("saas", seed=5, sessions=150)
