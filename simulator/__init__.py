"""`andon simulate`: realistic telemetry of a multi-service app, with injected problems.

An app is described as data (``simulator/apps/<name>.toml``, models in `simulator.spec`). The
simulator plans user sessions from that description, emits them through the real OpenTelemetry
SDK (spans with correct parent/child context, ERROR logs with trace context), writes support
tickets and change events (pull requests, deployments, gate verdicts) that reflect the injected
problems, and a ground-truth manifest (`simulator.manifest.Manifest`) of everything injected.

Public API (see `simulator.api` for the details)::

    from simulator.api import load_app, simulate, send_otlp, write_files, load_warehouse
    from simulator.api import random_problems, bulk_load
    app = load_app("shop")                                  # or "saas", or a path to a .toml
    sim = simulate(app, seed=7, sessions=500)               # Simulation
    sim.spans, sim.logs                                     # ReadableSpan / ReadableLogRecord
    sim.tickets, sim.changes, sim.manifest                  # dicts, dicts, Manifest
    write_files(sim, "out/")                                # OTLP JSON + tickets + changes + manifest
    send_otlp(sim, "http://127.0.0.1:4318")                 # real OTLPSpanExporter/OTLPLogExporter
    load_warehouse(sim, warehouse)                          # otel_traces/otel_logs rows, as the Collector writes them
    problems = random_problems(app, seed=3)                 # a different incident + frictions per seed
    simulate(app, seed=3, problems=problems)                # override; ProblemSet.none() = clean
"""
