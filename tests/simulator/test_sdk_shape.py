"""The SDK path and the bulk path carry the same rows; the SDK output follows the conventions."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from simulator.api import Simulation, make_generator, write_files
from simulator.rows import LogColumns, SpanColumns
from simulator.sdk import SdkEmitter


def test_bulk_rows_equal_sdk_rows() -> None:
    gen = make_generator("shop", seed=4, sessions=80)
    bulk, bulk_logs = SpanColumns(), LogColumns()
    emitter = SdkEmitter(gen.resources)
    for spans, logs in gen.iter_sessions():
        emitter.emit(spans, logs)
        for record in spans:
            bulk.add_record(record, gen.resources)
        for log in logs:
            bulk_logs.add_record(log, gen.resources)
    sdk, sdk_logs = SpanColumns(), LogColumns()
    for span in emitter.finished_spans():
        sdk.add_sdk(span)
    for log in emitter.finished_logs():
        sdk_logs.add_sdk(log)
    assert len(bulk) > 1000 and len(bulk_logs) > 0
    assert bulk.rows() == sdk.rows()
    assert bulk_logs.rows() == sdk_logs.rows()


def test_conventions(small_shop: Simulation) -> None:
    columns = SpanColumns()
    for span in small_shop.spans:
        columns.add_sdk(span)
    rows = [dict(zip(columns.names, values, strict=True)) for values in columns.rows()]
    by_id = {r["SpanId"]: r for r in rows}
    assert {r["SpanKind"] for r in rows} == {"Server", "Client"}
    assert {r["StatusCode"] for r in rows} <= {"Unset", "Ok", "Error"}
    for r in rows:
        assert len(r["TraceId"]) == 32 and r["TraceId"] == r["TraceId"].lower()
        assert len(r["SpanId"]) == 16
        attrs = dict(r["SpanAttributes"])
        assert attrs["session.id"] and attrs["enduser.id"]  # on every span of a client action
        if r["ParentSpanId"]:
            parent = by_id[r["ParentSpanId"]]
            assert parent["TraceId"] == r["TraceId"]
            assert parent["Timestamp"] <= r["Timestamp"]
            assert r["Timestamp"] + r["Duration"] <= parent["Timestamp"] + parent["Duration"]
        else:
            # a step: root client span of a client app, keyed by http.route
            resource = dict(r["ResourceAttributes"])
            assert r["SpanKind"] == "Client"
            assert resource["service.name"].startswith("shop-")
            assert {
                "app.platform",
                "geo.country.iso_code",
                "user_agent.original",
                "http.route",
            } <= set(attrs)
            assert {"os.name", "os.version", "app.version", "deployment.environment.name"} <= set(
                resource
            )
    db = [r for r in rows if "db.system" in dict(r["SpanAttributes"])]
    assert db and all(r["SpanKind"] == "Client" for r in db)
    failing = [r for r in rows if r["Events.Name"]]
    assert failing and all(r["StatusCode"] == "Error" for r in failing)
    event = dict(failing[0]["Events.Attributes"][0])
    assert {"exception.type", "exception.message", "exception.stacktrace"} <= set(event)


def test_versions_change_at_deploy_time(small_shop: Simulation) -> None:
    deploy = next(d for d in small_shop.manifest.deployments if d.culprit)
    cutoff = int(deploy.finished_at.timestamp() * 1e9)
    versions: dict[str, set[str]] = {"before": set(), "after": set()}
    for span in small_shop.spans:
        if span.resource.attributes["service.name"] == deploy.service:
            key = "after" if span.start_time >= cutoff else "before"
            versions[key].add(span.resource.attributes["service.version"])
    assert deploy.version in versions["after"]
    assert deploy.version not in versions["before"]
    assert deploy.previous_version in versions["before"]


def test_otlp_json_files_are_the_sdk_encoding(small_saas: Simulation, tmp_path: Path) -> None:
    paths = write_files(small_saas, tmp_path)
    lines = paths["traces"].read_text().splitlines()
    first = json.loads(lines[0])
    span = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
    assert isinstance(span["kind"], int)

    def to_base64(node: object) -> object:
        if isinstance(node, dict):
            return {
                k: base64.b64encode(bytes.fromhex(v)).decode()
                if k in ("traceId", "spanId", "parentSpanId")
                else to_base64(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [to_base64(v) for v in node]
        return node

    parsed = json_format.ParseDict(to_base64(first), ExportTraceServiceRequest())
    assert parsed == encode_spans(small_saas.spans[:2000])
    logs = json.loads(paths["logs"].read_text().splitlines()[0])
    parsed_logs = json_format.ParseDict(to_base64(logs), ExportLogsServiceRequest())
    assert parsed_logs == encode_logs(small_saas.logs[:2000])
    ticket_lines = paths["tickets_jsonl"].read_text().splitlines()
    assert len(ticket_lines) == len(small_saas.tickets) > 0
