from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from ingest import tickets
from ingest.collectors_config import CollectorsSettings
from ingest.redaction import email_hash
from warehouse import Warehouse

CSV = """id,created_at,subject,body,channel,tags,user_id,session_id,status,priority,email
T-1,2026-03-01T10:00:00Z,Checkout fails,"I tried to pay with 4111 1111 1111 1111
and it failed. Call me on +44 20 7946 0958",web,"checkout,payment",u-17,s-abc,open,high,Jane.Doe@Example.com
T-2,2026-03-01T11:00:00+01:00,Address rejected,My postcode is valid,email,,u-18,,open,normal,
T-3,not-a-date,Broken,body,web,,,,,,
T-4,2026-03-02T09:00:00Z,,empty subject,web,,,,,,
T-5,2026-03-02T09:30:00Z,Slow,Mail me at bob@example.org,chat,slow,,s-def,solved,low,
"""


def _rows(wh: Warehouse) -> list[tuple]:
    return wh.rows(
        f"SELECT TicketId, Subject, Body, Tags, UserId, SessionId, EmailHash, Status, CreatedAt "
        f"FROM {wh.table('andon_support_tickets')} ORDER BY TicketId, IngestedAt"
    )


def test_csv_import_redacts_reports_bad_rows_and_is_idempotent(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(CSV)
    settings = CollectorsSettings(email_hash_salt=SecretStr("pepper"))
    report = tickets.ingest_file(warehouse, path, settings=settings)
    assert report.stored == 3
    assert [(r.line, r.field) for r in report.rejected] == [(5, "created_at"), (6, "subject")]
    assert str(report.rejected[0]).startswith(f"{path}:5: ")

    rows = {r[0]: r for r in _rows(warehouse)}
    body = rows["T-1"][2]
    assert "4111" not in body and "7946" not in body
    assert "[card]" in body and "[phone]" in body
    assert rows["T-1"][3] == ["checkout", "payment"]
    assert rows["T-1"][4:6] == ("u-17", "s-abc")
    assert rows["T-1"][6] == email_hash("jane.doe@example.com", "pepper")
    assert "bob@example.org" not in rows["T-5"][2]
    assert str(rows["T-2"][8]) == "2026-03-01 10:00:00"  # +01:00 stored as UTC

    again = tickets.ingest_file(warehouse, path, settings=settings)
    assert (again.stored, again.duplicates) == (0, 3)
    assert len(_rows(warehouse)) == 3


def test_updated_ticket_keeps_history(warehouse: Warehouse, tmp_path: Path) -> None:
    first = {"id": 7, "created_at": "2026-03-01T10:00:00Z", "subject": "Login", "body": "cannot log in", "status": "open"}  # fmt: skip
    second = {**first, "updated_at": "2026-03-02T10:00:00Z", "status": "solved"}
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps(first) + "\n\n" + json.dumps(second) + "\n" + json.dumps(first) + "\n"
    )
    report = tickets.ingest_file(warehouse, path)
    assert (report.stored, report.duplicates, len(report.rejected)) == (2, 1, 0)
    latest = warehouse.rows(
        f"SELECT argMax(Status, (UpdatedAt, IngestedAt)), count() "
        f"FROM {warehouse.table('andon_support_tickets')} WHERE TicketId = '7'"
    )
    assert latest == [("solved", 2)]


def test_jsonl_bad_lines_are_reported_with_line_and_field(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    good = {"id": "a", "created_at": "2026-03-01T10:00:00Z", "subject": "s", "body": "b"}
    path.write_text(
        "\n".join(
            [
                json.dumps(good),
                "{not json",
                json.dumps({**good, "id": "b", "tags": {"x": 1}}),
                json.dumps([1, 2]),
                json.dumps({**good, "id": "c"}),
            ]
        )
    )
    report = tickets.ingest_file(warehouse, path)
    assert report.stored == 2
    assert [(r.line, r.field) for r in report.rejected] == [(2, None), (3, "tags"), (4, None)]


def test_zendesk_export_file(warehouse: Warehouse, tmp_path: Path) -> None:
    page = {
        "tickets": [
            {
                "id": 35436,
                "created_at": "2026-03-01T10:00:00Z",
                "updated_at": "2026-03-01T12:00:00Z",
                "subject": "Help, my printer is on fire!",
                "description": "The fire is very colorful. My card is 5555 5555 5555 4444.",
                "status": "open",
                "priority": "urgent",
                "requester_id": 20978392,
                "via": {"channel": "web"},
                "tags": ["enterprise", "printer"],
                "custom_fields": [{"id": 27642, "value": "sess-99"}],
            },
            {"id": 35437, "created_at": "yesterday", "subject": "x", "description": "y"},
        ],
        "users": [{"id": 20978392, "email": "ann@example.com", "external_id": "user-42"}],
        "after_cursor": "MTU3NjYxMzUzOS4wfHw0Njd8",
        "end_of_stream": True,
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(page))
    settings = CollectorsSettings(zendesk_session_field=27642, email_hash_salt=SecretStr("s"))
    report = tickets.ingest_file(warehouse, path, settings=settings)
    assert report.stored == 1
    assert [r.field for r in report.rejected] == ["tickets[1].created_at"]
    (row,) = _rows(warehouse)
    assert row[0] == "35436" and row[4] == "user-42" and row[5] == "sess-99"
    assert "5555" not in row[2] and row[6] == email_hash("ann@example.com", "s")
    assert (
        warehouse.scalar(f"SELECT Source FROM {warehouse.table('andon_support_tickets')}")
        == "zendesk"
    )


def test_shared_bitext_sample_imports(
    warehouse: Warehouse, shared_data: Path, tmp_path: Path
) -> None:
    """A real third-party export: its columns mapped to ours, every row stored."""
    import csv

    src = shared_data / "support-tickets" / "bitext-customer-support-sample.csv"
    out = tmp_path / "bitext.csv"
    with src.open(newline="") as fh, out.open("w", newline="") as dst:
        reader = csv.DictReader(fh)
        writer = csv.writer(dst)
        writer.writerow(["id", "created_at", "subject", "body", "tags"])
        for i, row in enumerate(reader):
            if i == 300:
                break
            writer.writerow([f"b{i}", "2026-03-01T00:00:00Z", row["intent"], row["instruction"], row["category"]])  # fmt: skip
    report = tickets.ingest_file(warehouse, out)
    assert (report.stored, len(report.rejected)) == (300, 0)


def test_semicolon_csv_from_a_spreadsheet(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id;created_at;subject;body;tags\nA1;2026-03-01T10:00:00Z;Retour;Colis abîmé, merci;colis,retour\n")  # fmt: skip
    report = tickets.ingest_file(warehouse, path)
    assert (report.stored, report.rejected) == (1, [])
    assert _rows(warehouse)[0][1:4] == ("Retour", "Colis abîmé, merci", ["colis", "retour"])
