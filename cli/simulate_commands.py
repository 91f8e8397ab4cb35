"""`andon simulate` and `andon demo`: realistic telemetry with injected problems, and the tour."""

from __future__ import annotations

import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from cli.context import AppContext, echo_json, note, pass_app
from errors import InputError


def _progress(what: str) -> Any:
    """A progress callback printing to stderr: in place on a terminal, every 10% otherwise."""
    tty = sys.stderr.isatty()
    last = [-1]
    began = time.perf_counter()

    def report(done: int, total: int) -> None:
        pct = done * 100 // max(total, 1)
        step = pct if tty else pct // 10
        if step == last[0]:
            return
        last[0] = step
        rate = done / max(time.perf_counter() - began, 1e-9)
        line = f"{what}: {done:,}/{total:,} ({pct}%, {rate:,.0f}/s)"
        if tty:
            click.echo("\r" + line + ("\n" if done >= total else ""), err=True, nl=False)
        else:
            note(line)

    return report


def _load_problems(path: str, app: Any, hours: float | None) -> Any:
    from simulator.spec import ProblemSet, check_problems

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=path) from exc
    data = data.get("problems", data)
    try:
        problems = ProblemSet.model_validate(data)
        check_problems(app, problems, hours)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(str(err["msg"]), file=path, field=field) from exc
    except ValueError as exc:
        raise InputError(str(exc), file=path) from exc
    return problems


def _start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"--start: not an ISO 8601 time: {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@click.command(name="simulate")
@click.argument("app_name", metavar="APP", default="shop")
@click.option("--seed", type=int, help="Random seed (default: the app's). Same seed, same output.")
@click.option("--sessions", type=click.IntRange(min=1), help="User sessions to generate.")
@click.option("--start", help="Window start, ISO 8601 UTC (default: the app's).")
@click.option("--hours", type=click.FloatRange(min=0.01), help="Window length in hours.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write OTLP JSON, tickets, changes and manifest.json here (default ./simulation).",
)
@click.option("--send", "send_url", help="Send spans and logs to this OTLP/HTTP receiver base URL.")
@click.option(
    "--load",
    "load",
    is_flag=True,
    help="Bulk-insert spans and logs into the warehouse (fast path for big volumes).",
)
@click.option("--problems", "problems_file", type=click.Path(dir_okay=False), help="TOML file "
              "of problems replacing the app's ([[frictions]], [[bad_deploys]], [[deploys]]).")  # fmt: skip
@click.option("--random-problems", "random_seed", type=int, help="Inject a random problem set "
              "drawn from this seed instead of the app's.")  # fmt: skip
@click.option("--clean", is_flag=True, help="Inject nothing (innocent deploys only).")
@click.option("--list-apps", is_flag=True, help="List the built-in apps and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.pass_context
def simulate_command(
    ctx: click.Context,
    app_name: str,
    seed: int | None,
    sessions: int | None,
    start: str | None,
    hours: float | None,
    out_dir: str | None,
    send_url: str | None,
    load: bool,
    problems_file: str | None,
    random_seed: int | None,
    clean: bool,
    list_apps: bool,
    as_json: bool,
) -> None:
    """Generate telemetry of a multi-service app with injected problems, plus tickets, change
    events and a ground-truth manifest.

    APP is a built-in app (shop, saas) or a .toml app description. By default everything is
    written as files to --out; --send also posts spans/logs to an OTLP/HTTP receiver with the
    OpenTelemetry SDK's exporters; --load bulk-inserts them into the warehouse instead (use it for
    millions of spans) and ingests the tickets and change events too. Tickets, changes and
    manifest.json are always written to --out.

    Examples:

    \b
      andon simulate shop --sessions 500 --out sim/
      andon simulate saas --random-problems 3 --send http://127.0.0.1:4318
      andon simulate shop --sessions 300000 --load --out sim/
      andon simulate shop --clean --out clean/
    """
    from simulator.api import bulk_load, load_app, random_problems, simulate
    from simulator.loader import builtin_apps
    from simulator.writers import check_reachable, send_otlp, write_files

    if list_apps:
        for name in builtin_apps():
            spec = load_app(name)
            click.echo(f"{name:<10} {spec.description}")
        return
    if (
        sum(x is not None and x is not False for x in (problems_file, random_seed, clean or None))
        > 1
    ):
        raise click.UsageError("use only one of --problems, --random-problems and --clean")
    if load and send_url:
        raise click.UsageError("use either --send or --load, not both")
    spec = load_app(app_name)
    if send_url:
        check_reachable(send_url.rstrip("/"))  # before spending time generating
    problems = None
    if problems_file:
        problems = _load_problems(problems_file, spec, hours)
    elif random_seed is not None:
        problems = random_problems(spec, random_seed, hours=hours)
    elif clean:
        # innocent deploys still happen on a clean day: detectors must not blame them
        problems = random_problems(
            spec, spec.seed if seed is None else seed, clean=True, hours=hours
        )
    out = Path(out_dir or "simulation")
    began = time.perf_counter()
    options: dict[str, Any] = {
        "seed": seed, "sessions": sessions, "start": _start(start), "hours": hours,
        "problems": problems,
    }  # fmt: skip
    if load:
        app_ctx: AppContext = ctx.find_object(AppContext)  # type: ignore[assignment]
        sim = bulk_load(spec, app_ctx.warehouse, progress=_progress("sessions"), **options)
        destination = f"warehouse {app_ctx.warehouse.database}"
    else:
        sim = simulate(spec, progress=_progress("sessions"), **options)
        destination = ""
    generated = time.perf_counter() - began
    if send_url:
        send_otlp(sim, send_url, progress=_progress("spans+logs sent"))
        destination = send_url
    written = write_files(sim, out, telemetry=not (load or send_url))
    ingested: dict[str, Any] = {}
    if load:
        from simulator.demo import ingest_side_files

        tickets, changes = ingest_side_files(app_ctx.warehouse, app_ctx.settings, written)
        ingested = {"tickets": tickets.to_dict(), "changes": changes.to_dict()}
    m = sim.manifest
    summary = {
        "app": m.app,
        "seed": m.seed,
        "window_start": m.window_start.isoformat(),
        "window_end": m.window_end.isoformat(),
        "counts": m.counts.model_dump(),
        "spans_per_second": round(m.counts.spans / generated) if generated > 0 else None,
        "frictions": len(m.frictions),
        "incidents": len(m.incidents),
        "sent_to": destination or None,
        "ingested": ingested or None,
        "files": {k: str(v) for k, v in written.items()},
    }
    if as_json:
        echo_json(summary)
        return
    note(
        f"{m.counts.sessions:,} sessions, {m.counts.spans:,} spans, {m.counts.logs:,} logs, "
        f"{m.counts.tickets} tickets, {m.counts.change_events} change events "
        f"in {generated:.1f} s ({summary['spans_per_second']:,} spans/s)"
    )
    if destination:
        note(f"telemetry -> {destination}")
    if ingested:
        note(
            f"tickets: {ingested['tickets']['stored']} stored; "
            f"change events: {ingested['changes']['stored']} stored"
        )
    elif m.counts.tickets:
        note(
            f"next: andon ingest tickets {out / 'tickets.jsonl'} && "
            f"andon ingest changes {out / 'changes.jsonl'}"
        )
    frictions = f"{len(m.frictions)} friction" + ("" if len(m.frictions) == 1 else "s")
    incidents = f"{len(m.incidents)} incident" + ("" if len(m.incidents) == 1 else "s")
    click.echo(f"wrote {out}/ (manifest.json: {frictions}, {incidents})")


@click.command(name="demo")
@click.option("--sessions", type=click.IntRange(min=50), default=None,
              help="Sessions to simulate (default 3000: a few minutes on a laptop).")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Random seed (default 7).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where the demo's files go (default .andon/demo).")  # fmt: skip
@pass_app
def demo_command(
    app: AppContext, sessions: int | None, seed: int | None, out_dir: str | None
) -> None:
    """Simulate a day of the built-in shop, send it through the real OTLP path into the
    warehouse, ingest its tickets and change events, analyse it, and show what was found.

    Running it again reuses the telemetry already loaded (nothing is stored twice).

    Example: andon demo
    """
    from simulator import demo

    state = demo.DemoState(
        settings=app.settings,
        warehouse=app.warehouse,
        out_dir=Path(out_dir or ".andon/demo"),
        note=note,
        sessions=sessions or demo.DEMO_SESSIONS,
        seed=demo.DEMO_SEED if seed is None else seed,
    )
    began = time.perf_counter()
    demo.run_demo(state)
    for line in demo.summary_lines(state):
        click.echo(line)
    note(f"demo finished in {time.perf_counter() - began:.0f} s")


COMMANDS: list[click.Command] = [simulate_command, demo_command]
