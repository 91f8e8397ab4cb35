"""OTLP protobuf and OTLP/JSON -> otel_traces / otel_logs columns, as the Collector's exporter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from errors import InputError
from ingest.otlp_decode import (
    LOG_COLUMNS,
    TRACE_COLUMNS,
    decode_logs_json,
    decode_logs_protobuf,
    decode_traces_json,
    decode_traces_protobuf,
)

# The opentelemetry-proto repository's examples/trace.json and examples/logs.json (uppercase hex
# ids, int64s as JSON numbers), as the OTLP specification publishes them.
SPEC_TRACE: dict[str, Any] = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]
            },
            "scopeSpans": [
                {
                    "scope": {
                        "name": "my.library",
                        "version": "1.0.0",
                        "attributes": [
                            {
                                "key": "my.scope.attribute",
                                "value": {"stringValue": "some scope attribute"},
                            }
                        ],
                    },
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "parentSpanId": "EEE19B7EC3C1B173",
                            "name": "I'm a server span",
                            "startTimeUnixNano": 1544712660000000000,
                            "endTimeUnixNano": 1544712661000000000,
                            "kind": 2,
                            "attributes": [
                                {"key": "my.span.attr", "value": {"stringValue": "some value"}}
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}

SPEC_LOGS: dict[str, Any] = {
    "resourceLogs": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]
            },
            "scopeLogs": [
                {
                    "scope": {
                        "name": "my.library",
                        "version": "1.0.0",
                        "attributes": [
                            {
                                "key": "my.scope.attribute",
                                "value": {"stringValue": "some scope attribute"},
                            }
                        ],
                    },
                    "logRecords": [
                        {
                            "timeUnixNano": 1544712660300000000,
                            "observedTimeUnixNano": 1544712660300000000,
                            "severityText": "Information",
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "body": {"stringValue": "Example log record"},
                            "attributes": [
                                {
                                    "key": "string.attribute",
                                    "value": {"stringValue": "some string"},
                                },
                                {"key": "boolean.attribute", "value": {"boolValue": True}},
                                {"key": "int.attribute", "value": {"intValue": 10}},
                                {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                                {
                                    "key": "array.attribute",
                                    "value": {
                                        "arrayValue": {
                                            "values": [
                                                {"stringValue": "many"},
                                                {"stringValue": "values"},
                                            ]
                                        }
                                    },
                                },
                                {
                                    "key": "map.attribute",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [
                                                {
                                                    "key": "some.map.key",
                                                    "value": {"stringValue": "some value"},
                                                }
                                            ]
                                        }
                                    },
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


def _row(columns: dict[str, list[Any]], index: int = 0) -> dict[str, Any]:
    return {name: values[index] for name, values in columns.items()}


def test_spec_trace_example_maps_like_the_collector_exporter() -> None:
    batch = decode_traces_json(json.dumps(SPEC_TRACE).encode())
    assert (batch.rows, batch.rejected) == (1, 0)
    assert tuple(batch.columns) == TRACE_COLUMNS
    row = _row(batch.columns)
    assert row["TraceId"] == "5b8efff798038103d269b633813fc60c"
    assert row["SpanId"] == "eee19b7ec3c1b174"
    assert row["ParentSpanId"] == "eee19b7ec3c1b173"
    assert row["SpanName"] == "I'm a server span"
    assert row["SpanKind"] == "Server"
    assert row["ServiceName"] == "my.service"
    assert row["ResourceAttributes"] == {"service.name": "my.service"}
    assert (row["ScopeName"], row["ScopeVersion"]) == ("my.library", "1.0.0")
    assert row["SpanAttributes"] == {"my.span.attr": "some value"}
    assert row["Timestamp"] == 1544712660000000000
    assert row["Duration"] == 1_000_000_000
    assert (row["StatusCode"], row["StatusMessage"]) == ("Unset", "")
    assert row["Events.Name"] == [] and row["Links.TraceId"] == []


def test_spec_logs_example_stringifies_every_value_type() -> None:
    batch = decode_logs_json(json.dumps(SPEC_LOGS).encode())
    assert (batch.rows, batch.rejected) == (1, 0)
    assert tuple(batch.columns) == LOG_COLUMNS
    row = _row(batch.columns)
    assert row["Timestamp"] == 1544712660300000000
    assert (row["TraceId"], row["SpanId"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
    )
    assert row["SeverityText"] == "Information"
    assert row["Body"] == "Example log record"
    assert row["ServiceName"] == "my.service"
    assert row["ScopeAttributes"] == {"my.scope.attribute": "some scope attribute"}
    assert row["LogAttributes"] == {
        "string.attribute": "some string",
        "boolean.attribute": "true",
        "int.attribute": "10",
        "double.attribute": "637.704",
        "array.attribute": '["many","values"]',
        "map.attribute": '{"some.map.key":"some value"}',
    }


def test_hotrod_trace_decodes_every_span(shared_data: Path) -> None:
    body = (shared_data / "otlp" / "hotrod-trace-otlp.json").read_bytes()
    data = json.loads(body)
    expected = sum(
        len(scope["spans"]) for rs in data["resourceSpans"] for scope in rs["scopeSpans"]
    )
    batch = decode_traces_json(body)
    assert (batch.rows, batch.rejected) == (expected, 0)
    assert set(batch.columns["ServiceName"]) >= {"frontend", "customer", "driver", "route"}
    assert set(batch.columns["SpanKind"]) <= {"Server", "Client", "Internal"}
    assert all(len(t) == 32 for t in batch.columns["TraceId"])
    # Every event of the source is kept, in order, with its attributes.
    source_events = [
        [e["name"] for e in span.get("events", [])]
        for rs in data["resourceSpans"]
        for scope in rs["scopeSpans"]
        for span in scope["spans"]
    ]
    assert batch.columns["Events.Name"] == source_events


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def _trace_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", string_value="shop")])
    scope = rs.scope_spans.add()
    scope.scope.name = "tests"
    span = scope.spans.add(
        trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
        span_id=bytes.fromhex("b7ad6b7169203331"),
        name="POST /checkout",
        kind=3,
        start_time_unix_nano=1_700_000_000_123_456_789,
        end_time_unix_nano=1_700_000_000_623_456_789,
    )
    span.attributes.extend(
        [
            _kv("http.response.status_code", int_value=502),
            _kv("retry", bool_value=False),
            _kv("ratio", double_value=1.0),
            _kv("tags", array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue()])),
            _kv("raw", bytes_value=b"\x00\x01"),
            _kv("nested", kvlist_value=KeyValueList(values=[_kv("b<", string_value="&")])),
        ]
    )
    span.status.code = 2
    span.status.message = "upstream failed"
    event = span.events.add(name="exception", time_unix_nano=1_700_000_000_200_000_000)
    event.attributes.extend([_kv("exception.type", string_value="TimeoutError")])
    link = span.links.add(
        trace_id=bytes.fromhex("11111111111111111111111111111111"),
        span_id=bytes.fromhex("2222222222222222"),
        trace_state="k=v",
    )
    link.attributes.extend([_kv("link.kind", string_value="follows")])
    return request


def test_protobuf_span_keeps_status_events_links_and_typed_attributes() -> None:
    batch = decode_traces_protobuf(_trace_request().SerializeToString())
    row = _row(batch.columns)
    assert row["SpanKind"] == "Client"
    assert (row["StatusCode"], row["StatusMessage"]) == ("Error", "upstream failed")
    assert row["Duration"] == 500_000_000
    assert row["ParentSpanId"] == ""
    assert row["SpanAttributes"] == {
        "http.response.status_code": "502",
        "retry": "false",
        "ratio": "1",
        "tags": "[1,null]",
        "raw": "AAE=",
        "nested": '{"b\\u003c":"\\u0026"}',
    }
    assert row["Events.Timestamp"] == [1_700_000_000_200_000_000]
    assert row["Events.Name"] == ["exception"]
    assert row["Events.Attributes"] == [{"exception.type": "TimeoutError"}]
    assert row["Links.TraceId"] == ["11111111111111111111111111111111"]
    assert row["Links.SpanId"] == ["2222222222222222"]
    assert row["Links.TraceState"] == ["k=v"]
    assert row["Links.Attributes"] == [{"link.kind": "follows"}]


def test_json_and_protobuf_of_the_same_request_decode_identically() -> None:
    from google.protobuf import json_format

    request = _trace_request()
    as_json = json_format.MessageToDict(request)
    # OTLP/JSON carries ids as hex, where the protobuf JSON mapping would use base64.
    span = as_json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"], span["spanId"] = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    span["links"][0]["traceId"] = "11111111111111111111111111111111"
    span["links"][0]["spanId"] = "2222222222222222"
    from_json = decode_traces_json(json.dumps(as_json).encode())
    from_protobuf = decode_traces_protobuf(request.SerializeToString())
    assert from_json.columns == from_protobuf.columns


def test_invalid_ids_reject_only_their_span() -> None:
    data = json.loads(json.dumps(SPEC_TRACE))
    spans = data["resourceSpans"][0]["scopeSpans"][0]["spans"]
    good = spans[0]
    spans.append({**good, "spanId": "not-hex"})
    spans.append({**good, "traceId": "00000000000000000000000000000000"})
    spans.append({**good, "spanId": "eee19b7e"})  # 4 bytes
    batch = decode_traces_json(json.dumps(data).encode())
    assert (batch.rows, batch.rejected) == (1, 3)
    assert "spans[1]: spanId is not hex" in batch.error_message
    assert "spans[2]: traceId is all zeros" in batch.error_message
    assert "spans[3]: spanId must be 8 bytes, got 4" in batch.error_message


def test_protobuf_with_a_short_trace_id_rejects_that_span() -> None:
    request = _trace_request()
    spans = request.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.trace_id = b"\x01" * 8
    batch = decode_traces_protobuf(request.SerializeToString())
    assert (batch.rows, batch.rejected) == (1, 1)
    assert "spans[1]: traceId must be 16 bytes, got 8" in batch.error_message


@pytest.mark.parametrize(
    ("decode", "body", "message"),
    [
        (decode_traces_protobuf, b"\xff\xff\xff not protobuf", "cannot decode the protobuf"),
        (decode_logs_protobuf, b"\x0a\x05\x0a", "cannot decode the protobuf"),
        (decode_traces_json, b"{not json", "invalid JSON in the traces request at line 1"),
        (decode_logs_json, b"[]", "must be an object"),
        (
            decode_traces_json,
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "startTimeUnixNano",
        ),
    ],
)
def test_undecodable_bodies_raise_input_error(decode: Any, body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode(body)


def test_unknown_json_fields_are_ignored_and_snake_case_is_accepted() -> None:
    data = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": "0af7651916cd43dd8448eb211c80319c",
                                "span_id": "b7ad6b7169203331",
                                "name": "x",
                                "kind": 1,
                                "futureField": {"anything": 1},
                            }
                        ]
                    }
                ]
            }
        ],
        "somethingNew": True,
    }
    batch = decode_traces_json(json.dumps(data).encode())
    assert batch.rows == 1
    assert batch.columns["SpanKind"] == ["Internal"]
    assert batch.columns["ServiceName"] == [""]


def test_log_timestamp_falls_back_to_observed_time_and_ids_are_optional() -> None:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    record = scope.log_records.add(
        observed_time_unix_nano=1_700_000_000_000_000_001,
        severity_number=17,
        severity_text="ERROR",
        flags=0x101,
        event_name="checkout.failed",
    )
    record.body.kvlist_value.values.extend([_kv("order", int_value=42)])
    batch = decode_logs_protobuf(request.SerializeToString())
    row = _row(batch.columns)
    assert row["Timestamp"] == 1_700_000_000_000_000_001
    assert (row["TraceId"], row["SpanId"]) == ("", "")
    assert row["SeverityNumber"] == 17
    assert row["TraceFlags"] == 1
    assert row["Body"] == '{"order":42}'
    assert row["EventName"] == "checkout.failed"
