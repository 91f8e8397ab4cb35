"""The bulk path for volume: plan and build rows in one process, insert in another.

Planning sessions and building Arrow rows is pure Python (one core); inserting into ClickHouse
is the engine's work. `produce_in_background` runs the first in a separate process (spawned: the
parent may hold an embedded chDB engine, which must not be forked) and hands Arrow tables over a
bounded queue, so on two cores generation and insertion overlap. The producer sends the finished
`Simulation` (manifest, tickets, changes) last.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from simulator.rows import LogColumns, SpanColumns

QUEUE_DEPTH = 3  # tables in flight: bounds memory while keeping both processes busy


def _producer(
    queue: Any,
    app: dict[str, Any],
    problems: dict[str, Any] | None,
    options: dict[str, Any],
    chunk_sessions: int,
) -> None:
    """Child process: plan chunks, send (spans table, logs table, sessions done), then the result."""
    from simulator.api import complete, make_generator, plan_records
    from simulator.spec import AppSpec, ProblemSet

    try:
        spec = AppSpec.model_validate(app)
        chosen = ProblemSet.model_validate(problems) if problems is not None else None
        gen = make_generator(spec, problems=chosen, **options)
        spans_total = logs_total = 0
        for spans, logs, done in plan_records(gen, chunk_sessions):
            span_columns, log_columns = SpanColumns(), LogColumns()
            for record in spans:
                span_columns.add_record(record, gen.resources)
            for log in logs:
                log_columns.add_record(log, gen.resources)
            spans_total += len(spans)
            logs_total += len(logs)
            queue.put(("chunk", span_columns.table(), log_columns.table(), done, gen.sessions))
        queue.put(("done", complete(gen, spans_total, logs_total)))
    except BaseException as exc:  # report anything to the parent, which raises it
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def produce_in_background(
    app: Any,
    problems: Any,
    options: dict[str, Any],
    chunk_sessions: int,
) -> Iterator[tuple[str, Any]]:
    """Yield ("chunk", (spans_table, logs_table, done, total)) items, then ("done", Simulation).

    Raises RuntimeError with the producer's error if it fails.
    """
    context = mp.get_context("spawn")
    queue = context.Queue(maxsize=QUEUE_DEPTH)
    process = context.Process(
        target=_producer,
        args=(
            queue,
            app.model_dump(mode="json"),
            problems.model_dump(mode="json") if problems is not None else None,
            options,
            chunk_sessions,
        ),
        daemon=True,
        name="andon-simulate",
    )
    process.start()
    try:
        while True:
            item = queue.get()
            kind = item[0]
            if kind == "chunk":
                spans_table: pa.Table = item[1]
                yield "chunk", (spans_table, item[2], item[3], item[4])
            elif kind == "done":
                yield "done", item[1]
                return
            else:
                raise RuntimeError(f"the simulation process failed: {item[1]}")
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
