"""The policy file: priority rules over measured impact, re-proposal, autonomy; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors import InputError
from ticketing.models import Impact
from ticketing.policy import Policy, load_policy


def _impact(sessions: int, change: float | None = 1.2, lost: float = 0.0) -> Impact:
    return Impact(metric="dropoff_rate", value=0.3, baseline=0.1, relative_change=change,
                  affected_sessions=sessions, lost_conversions=lost)  # fmt: skip


def test_default_policy_ranks_by_impact() -> None:
    policy = Policy()
    assert policy.priority_for("dropoff", _impact(1500))[0] == "P0"
    assert policy.priority_for("dropoff", _impact(10, lost=300))[0] == "P0"
    assert policy.priority_for("dropoff", _impact(400, change=0.6))[0] == "P1"
    assert policy.priority_for("dropoff", _impact(60, change=None))[0] == "P2"
    assert policy.priority_for("dropoff", _impact(5))[0] == "P3"
    assert policy.autonomy.auto_approve == []  # nothing skips the human gate by default


def test_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[[priority.rules]]\npriority = "P1"\nkinds = ["slow_step"]\nmin_affected_sessions = 10\n'
        '[priority]\ndefault = "P2"\n[reproposal]\nimpact_growth = 3.0\n'
    )
    policy = load_policy(path)
    assert policy.priority_for("slow_step", _impact(20)) == (
        "P1",
        "policy rule 1: kind in ['slow_step'] and affected_sessions >= 10",
    )
    assert policy.priority_for("dropoff", _impact(5000))[0] == "P2"
    assert not policy.may_repropose(100, _impact(299)) and policy.may_repropose(100, _impact(300))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[priority.rules]]\npriority = "P9"\n', "field 'priority.rules.0.priority'"),
        ("[priority\n", "invalid TOML"),
        ("[reproposal]\nimpact_growth = 0.5\n", "field 'reproposal.impact_growth'"),
        ("[surprise]\n", "field 'surprise'"),
    ],
)
def test_bad_policy_files_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.toml")
