from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from cli.main import cli, main
from settings import Settings


def _all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, path + " "))
    return found


def test_every_command_has_help_text() -> None:
    commands = _all_commands(cli)
    assert commands
    for path, command in commands:
        assert command.help and len(command.help.strip()) > 20, f"`andon {path}` has no help"
        result = CliRunner().invoke(cli, [*path.split(), "--help"])
        assert result.exit_code == 0, (path, result.output)


def _dsn_args(settings: Settings) -> list[str]:
    return ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]


def test_status_json(settings: Settings) -> None:
    result = CliRunner().invoke(cli, [*_dsn_args(settings), "status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tables"]["otel_traces"] == 0
    assert data["traces"] is None


def test_user_errors_are_one_line(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--dsn", "ftp://nowhere", "status"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: unsupported warehouse DSN")
    assert "\n" not in err


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, check=True
    )
    assert "andon" in out.stdout
