"""`andon console ...` (reviewers and API tokens) and `andon jobs ...` (scheduled runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cli.context import AppContext, echo_json, note, pass_app
from console.auth import hash_password, new_api_token
from errors import InputError
from jobs.config import format_duration
from jobs.records import JobRun
from scheduler import shared_runner


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@click.group(name="console")
def console_group() -> None:
    """Set up the web console: reviewers who sign in, and API tokens for scripts."""


@console_group.command(name="add-user")
@click.argument("name")
@click.option("--display-name", default="", help="Shown in the console, e.g. 'Maria (PM)'.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (asked for when not given; only its hash is printed).",
)
def add_user(name: str, display_name: str, password: str) -> None:
    """Print the andon.toml lines that let NAME sign in to the console.

    Only an scrypt hash of the password is printed; paste the lines into andon.toml and
    restart `andon serve`.

    Example: andon console add-user maria --display-name "Maria (PM)" >> andon.toml
    """
    if len(password) < 8:
        raise InputError("use a password of at least 8 characters", field="password")
    from console.config import ConsoleUser

    try:
        ConsoleUser(name=name, password_hash=hash_password(password), display_name=display_name)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InputError(
            f"not a valid user name {name!r}: use letters, digits, _ . @ -", field="name"
        ) from exc
    click.echo("[[console.users]]")
    click.echo(f"name = {_toml_string(name)}")
    if display_name:
        click.echo(f"display_name = {_toml_string(display_name)}")
    click.echo(f"password_hash = {_toml_string(hash_password(password))}")
    note(f"paste these lines into andon.toml, then restart `andon serve`; {name} can sign in")


@console_group.command(name="hash-password")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def hash_password_command(password: str) -> None:
    """Print an scrypt hash of a password (for [[console.users]] password_hash).

    Example: andon console hash-password
    """
    click.echo(hash_password(password))


@console_group.command(name="new-token")
@click.argument("name")
def new_token(name: str) -> None:
    """Create an API token for a machine client called NAME.

    The token is printed once, on stderr; the andon.toml lines (with only its SHA-256) go to
    stdout. Clients send it as 'Authorization: Bearer <token>' to /api/v1/...

    Example: andon console new-token ci >> andon.toml
    """
    from console.config import ApiToken

    token, digest = new_api_token()
    try:
        ApiToken(name=name, sha256=digest)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InputError(f"not a valid token name {name!r}", field="name") from exc
    click.echo("[[console.api_tokens]]")
    click.echo(f"name = {_toml_string(name)}")
    click.echo(f"sha256 = {_toml_string(digest)}")
    note(f"token for {name} (shown once, keep it secret): {token}")


@click.group(name="jobs")
def jobs_group() -> None:
    """Scheduled jobs: list them, see their runs, run one now, re-run a run by id.

    In embedded mode these need the warehouse, so stop `andon serve` first or use the console's
    Runs page (or POST /api/v1/runs/ID/rerun) while it runs.
    """


def _run_row(run: JobRun) -> dict[str, Any]:
    return run.model_dump(mode="json")


def _print_run(run: JobRun) -> None:
    took = f"{run.duration_ms / 1000:.1f}s" if run.duration_ms is not None else "-"
    line = (
        f"{run.run_id}  {run.job:<18} {run.status:<9} {run.window_start:%Y-%m-%d %H:%M} -> "
        f"{run.window_end:%Y-%m-%d %H:%M}  tries {run.attempt}/{run.max_attempts}  {took}"
    )
    if run.error_summary:
        line += f"  {run.error_summary}"
    click.echo(line)


@jobs_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def jobs_list(app: AppContext, as_json: bool) -> None:
    """List the scheduled jobs with their schedules and last run.

    Example: andon jobs list
    """
    runner = shared_runner(app.settings, app.warehouse)
    rows: list[dict[str, Any]] = []
    for job in runner.jobs:
        schedule = runner.schedule(job.name)
        last = runner.store.recent(job=job.name, limit=1)
        rows.append(
            {
                "name": job.name,
                "description": job.description,
                "enabled": schedule.enabled,
                "every": schedule.every,
                "lookback": schedule.lookback,
                "settle": schedule.settle,
                "last_run": _run_row(last[0]) if last else None,
            }
        )
    if as_json:
        echo_json({"jobs": rows})
        return
    for row in rows:
        last_run: dict[str, Any] | None = row["last_run"]
        state = (
            f"last {last_run['status']} at {last_run['started_at']}" if last_run else "never run"
        )
        window = f", lookback {row['lookback']}" if row["lookback"] else ""
        off = "" if row["enabled"] else " (disabled)"
        click.echo(f"{row['name']:<18} every {row['every']}{window}{off}  {state}")
        click.echo(f"{'':<18} {row['description']}")


@jobs_group.command(name="runs")
@click.option("--job", help="Only runs of this job.")
@click.option(
    "--status", help="Only runs in this status (running, retrying, succeeded, failed, skipped)."
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def jobs_runs(
    app: AppContext, job: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """Show recent runs, newest first.

    Example: andon jobs runs --status failed
    """
    runs = shared_runner(app.settings, app.warehouse).store.recent(
        job=job, status=status, limit=limit
    )
    if as_json:
        echo_json({"runs": [_run_row(r) for r in runs]})
        return
    if not runs:
        note("no runs yet")
    for run in runs:
        _print_run(run)


def _parse(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 time: {value!r}", field=field) from exc


@jobs_group.command(name="run")
@click.argument("job")
@click.option("--since", help="Window start (ISO 8601); default: what the schedule would cover.")
@click.option("--until", help="Window end (ISO 8601); default: the last schedule boundary.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@pass_app
def jobs_run(
    app: AppContext, job: str, since: str | None, until: str | None, as_json: bool
) -> None:
    """Run JOB now, recorded like a scheduled run (retries included). Exit 1 if it fails.

    Example: andon jobs run analyse_friction --since 2026-11-14T00:00Z --until 2026-11-21T00:00Z
    """
    runner = shared_runner(app.settings, app.warehouse)
    schedule = runner.schedule(runner.job(job).name)
    note(f"running {job} (every {format_duration(schedule.period)} on its schedule)")
    run = runner.run_now(
        job, since=_parse(since, "since"), until=_parse(until, "until"), actor="cli"
    )
    _finish(run, as_json)


@jobs_group.command(name="rerun")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the new run as JSON.")
@pass_app
def jobs_rerun(app: AppContext, run_id: str, as_json: bool) -> None:
    """Run the job of RUN_ID again over exactly the same data window. Exit 1 if it fails.

    Example: andon jobs rerun run_3f2a9c1d0b7e4a55
    """
    run = shared_runner(app.settings, app.warehouse).rerun(run_id, actor="cli")
    _finish(run, as_json)


@jobs_group.command(name="start")
@pass_app
def jobs_start(app: AppContext) -> None:
    """Run the scheduler alone, in the foreground, until Ctrl-C or SIGTERM.

    For deployments on a ClickHouse server, where the receivers and the console run elsewhere.
    With the embedded warehouse this process holds it, so use `andon serve` instead (it runs
    the scheduler too).

    Example: ANDON_WAREHOUSE__DSN=http://andon:pw@clickhouse:8123 andon jobs start
    """
    import signal
    import threading

    from scheduler import SchedulerService
    from warehouse import is_embedded

    if not app.settings.scheduler.enabled:
        raise InputError("scheduled runs are switched off", field="scheduler.enabled")
    if is_embedded(app.settings.warehouse.dsn):
        note("the embedded warehouse is held by this process: receivers and the console cannot "
             "run beside it (`andon serve` runs all three)")  # fmt: skip
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    service = SchedulerService(app.settings, app.warehouse)
    try:
        service.start()
        assert service.scheduler is not None
        for name, when in sorted(service.scheduler.next_runs().items()):
            note(f"  {name:<18} next run {when:%Y-%m-%d %H:%M:%S} UTC" if when else f"  {name}")
        note("andon jobs: scheduler running; Ctrl-C or SIGTERM stops it")
        while not stop.wait(0.5):
            pass
        note("andon jobs: stopping (waiting for running jobs)")
    finally:
        service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    note("andon jobs: stopped")


def _finish(run: JobRun, as_json: bool) -> None:
    if as_json:
        echo_json(_run_row(run))
    else:
        _print_run(run)
    if run.status == "failed":
        raise click.exceptions.Exit(1)


COMMANDS: list[click.Command] = [console_group, jobs_group]
