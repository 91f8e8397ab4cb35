"""`andon console ...` and `andon jobs ...`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from console.auth import token_sha256, verify_password
from console.config import ConsoleSettings
from errors import NotFoundError
from settings import Settings


def _args(settings: Settings) -> list[str]:
    return ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]


def test_add_user_prints_settings_with_only_a_hash(settings: Settings) -> None:
    result = CliRunner().invoke(
        cli,
        ["console", "add-user", "maria", "--display-name", "Maria (PM)"],
        input="s3cret-pass\ns3cret-pass\n",
    )
    assert result.exit_code == 0, result.output
    toml = result.stdout[result.stdout.index("[[console.users]]") :]
    assert "s3cret-pass" not in toml
    users = ConsoleSettings.model_validate(tomllib.loads(toml)["console"]).users
    assert users[0].name == "maria" and users[0].display_name == "Maria (PM)"
    assert verify_password("s3cret-pass", users[0].password_hash.get_secret_value())


def test_add_user_refuses_short_passwords_and_odd_names() -> None:
    short = CliRunner().invoke(cli, ["console", "add-user", "maria", "--password", "short"])
    assert short.exit_code != 0
    odd = CliRunner().invoke(cli, ["console", "add-user", "ma ria", "--password", "longenough"])
    assert odd.exit_code != 0


def test_new_token_prints_the_token_once_and_its_hash(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["console", "new-token", "ci"])
    assert result.exit_code == 0, result.output
    token = result.stderr.split("keep it secret): ")[1].strip()
    entry = tomllib.loads(result.stdout)["console"]["api_tokens"][0]
    assert entry == {"name": "ci", "sha256": token_sha256(token)}
    assert token not in result.stdout


def test_jobs_run_list_runs_and_rerun(settings: Settings) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, [*_args(settings), "jobs", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    names = [j["name"] for j in json.loads(listed.stdout)["jobs"]]
    assert names == [
        "detect_incidents", "analyse_friction", "pull_support_desk", "export_tickets", "housekeeping",
    ]  # fmt: skip
    ran = runner.invoke(
        cli,
        [*_args(settings), "jobs", "run", "pull_support_desk", "--since", "2026-11-20T00:00Z",
         "--until", "2026-11-21T00:00Z", "--json"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.stdout)
    assert run["status"] == "succeeded" and run["actor"] == "cli"
    assert run["output"]["skipped"].startswith("no support desk configured")
    again = runner.invoke(cli, [*_args(settings), "jobs", "rerun", run["run_id"], "--json"])
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert rerun["rerun_of"] == run["run_id"]
    assert (rerun["window_start"], rerun["window_end"]) == (run["window_start"], run["window_end"])
    history = runner.invoke(cli, [*_args(settings), "jobs", "runs", "--job", "pull_support_desk"])
    assert history.exit_code == 0 and history.stdout.count("pull_support_desk") == 2
    missing = runner.invoke(cli, [*_args(settings), "jobs", "rerun", "run_nope"])
    # main() turns these into "Error: ..." and exit 1 (tests/cli checks that path).
    assert isinstance(missing.exception, NotFoundError)
    assert "no job run with id 'run_nope'" in str(missing.exception)
    bad = runner.invoke(cli, [*_args(settings), "jobs", "run", "nope"])
    assert isinstance(bad.exception, NotFoundError) and "known jobs" in str(bad.exception)


def test_jobs_start_runs_the_scheduler_until_sigterm(tmp_path: Path) -> None:
    # A separate process: it opens its own embedded warehouse directory.
    env = {**os.environ, "ANDON_WAREHOUSE__DSN": f"chdb://{tmp_path / 'wh'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "jobs", "start"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "scheduler running" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "detect_incidents" in output and "next run" in output
    assert "andon jobs: stopped" in output
