"""GitHub webhooks -> change events (pull requests, deployments, gate verdicts).

The signature (``X-Hub-Signature-256: sha256=<hex HMAC of the body>``) is checked with
`hmac.compare_digest` before the body is even parsed. Events (``X-GitHub-Event``):

- ``pull_request`` with ``action: closed`` and ``merged: true`` -> a merged pull request;
- ``deployment`` -> a deployment (status ``queued``); ``deployment_status`` -> the same
  deployment id with its new state (``success``, ``failure``, ``error``, ``in_progress`` ...);
  the service is ``deployment.payload.service`` else the repository name, the version
  ``deployment.payload.version``, else the ref when it is a version tag (``v2.1.0``), else the
  first 12 characters of the sha;
- ``check_run`` / ``check_suite`` with ``action: completed`` -> a gate verdict: conclusion
  ``success`` -> pass, ``failure``/``timed_out`` -> fail, ``neutral``/``skipped`` -> waived (others,
  such as ``cancelled``, are not verdicts and are ignored). Measurements come from the check's
  output (summary and text): every line ``name: number`` (optionally followed by a unit) and
  every JSON object in a fenced ``json`` block whose values are numbers.

Anything else (``ping``, other actions) is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from errors import AuthError, InputError
from ingest import fields
from ingest.changes import Change, Deployment, GateVerdict, PullRequest

CONCLUSIONS = {
    "success": "pass",
    "failure": "fail",
    "timed_out": "fail",
    "neutral": "waived",
    "skipped": "waived",
}


def verify_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """`AuthError` unless ``header`` is ``sha256=`` + the HMAC-SHA256 of ``body`` with ``secret``."""
    if not secret:
        raise AuthError("GitHub webhooks are disabled: set collectors.github_webhook_secret")
    if not header:
        raise AuthError("missing X-Hub-Signature-256 header")
    scheme, _, given = header.strip().partition("=")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if scheme != "sha256" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise AuthError("bad X-Hub-Signature-256 signature")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_LINE_MEASUREMENT = re.compile(
    r"^\s*[-*]?\s*(?P<name>[A-Za-z][\w .%/-]{0,80}?)\s*[:=]\s*(?P<value>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*[A-Za-z%/]*\s*$"
)
_JSON_BLOCK = re.compile(r"```json\s*\n(?P<body>.*?)\n```", re.S)


def parse_measurements(text: str) -> dict[str, float]:
    """Numbers a check reports: ``name: number`` lines and fenced ``json`` blocks."""
    found: dict[str, float] = {}
    for block in _JSON_BLOCK.finditer(text or ""):
        try:
            data = json.loads(block["body"])
        except ValueError:
            continue
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    found[str(key)] = float(value)
    without_blocks = _JSON_BLOCK.sub("", text or "")
    for line in without_blocks.splitlines():
        m = _LINE_MEASUREMENT.match(line)
        if m:
            found[m["name"].strip()] = float(m["value"])
    return found


def _maybe(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError("expected an object", field=name)
    return value


def _repo(payload: Mapping[str, Any]) -> tuple[str, str]:
    repo = _object(payload.get("repository"), "repository")
    return fields.text(repo, "full_name", required=True), fields.text(repo, "name")


def changes_from_event(event: str, payload: Mapping[str, Any]) -> list[Change]:
    """The change events a webhook delivery carries (empty when it is not one andon keeps)."""
    action = payload.get("action")
    if event == "pull_request":
        pr = _object(payload.get("pull_request"), "pull_request")
        if action != "closed" or not pr.get("merged"):
            return []
        repo, _ = _repo(payload)
        user = _maybe(pr.get("user"))
        labels = [lbl.get("name") for lbl in pr.get("labels") or [] if isinstance(lbl, dict)]
        return [
            PullRequest(
                repo=repo,
                number=fields.integer(pr, "number", required=True) or 0,
                title=fields.text(pr, "title"),
                author=str(user.get("login") or ""),
                merged_at=fields.parse_time(pr.get("merged_at"), "pull_request.merged_at"),
                merge_commit_sha=fields.text(pr, "merge_commit_sha").lower(),
                url=fields.text(pr, "html_url"),
                labels=tuple(str(name) for name in labels if name),
                source="github",
            )
        ]
    if event in ("deployment", "deployment_status"):
        return [_deployment(event, payload)]
    if event in ("check_run", "check_suite"):
        if action != "completed":
            return []
        verdict = _gate_verdict(event, payload)
        return [verdict] if verdict else []
    return []


def _deployment(event: str, payload: Mapping[str, Any]) -> Deployment:
    repo, name = _repo(payload)
    dep = _object(payload.get("deployment"), "deployment")
    raw_payload = dep.get("payload")
    if isinstance(raw_payload, str) and raw_payload.strip().startswith("{"):
        try:  # the Deployments API accepts the payload as a JSON string too
            raw_payload = json.loads(raw_payload)
        except ValueError:
            raw_payload = None
    extra = _maybe(raw_payload)
    sha = fields.text(dep, "sha").lower()
    started = fields.parse_time(dep.get("created_at"), "deployment.created_at")
    status, finished = "queued", None
    if event == "deployment_status":
        state = _object(payload.get("deployment_status"), "deployment_status")
        status = fields.text(state, "state", required=True).lower()
        if status in ("success", "failure", "error", "inactive"):
            finished = fields.parse_time(
                state.get("updated_at") or state.get("created_at"), "deployment_status.updated_at"
            )
    return Deployment(
        id=f"github:{repo}:{fields.text(dep, 'id', required=True)}",
        service=str(extra.get("service") or name or repo),
        version=str(extra.get("version") or _version_from_ref(str(dep.get("ref") or ""), sha)),
        started_at=started,
        commit_sha=sha,
        environment=fields.text(dep, "environment"),
        finished_at=finished if finished is None or finished >= started else started,
        status=status if status != "pending" else "queued",
        repo=repo,
        source="github",
    )


def _version_from_ref(ref: str, sha: str) -> str:
    """A tag like ``v2.1.0`` is a version; a branch name (``main``) is not: use the sha."""
    return ref if re.match(r"^v?\d", ref) else sha[:12]


def _gate_verdict(event: str, payload: Mapping[str, Any]) -> GateVerdict | None:
    repo, _ = _repo(payload)
    check = _object(payload.get(event), event)
    conclusion = str(check.get("conclusion") or "").lower()
    verdict = CONCLUSIONS.get(conclusion)
    if verdict is None:
        return None
    if event == "check_run":
        gate = fields.text(check, "name", required=True)
        at_value = check.get("completed_at") or check.get("started_at")
    else:
        app = _maybe(check.get("app"))
        gate = str(app.get("name") or app.get("slug") or "check_suite")
        at_value = check.get("updated_at") or check.get("created_at")
    output = _maybe(check.get("output"))
    text = "\n".join(str(output.get(k) or "") for k in ("summary", "text"))
    prs = [p for p in check.get("pull_requests") or [] if isinstance(p, dict)]
    details = " - ".join(str(output.get(k)) for k in ("title", "summary") if output.get(k))
    return GateVerdict(
        gate=gate,
        verdict=verdict,
        at=fields.parse_time(at_value, f"{event}.completed_at"),
        repo=repo,
        pr_number=int(prs[0].get("number") or 0) if prs else 0,
        commit_sha=fields.text(check, "head_sha").lower(),
        measurements=parse_measurements(text),
        details=details[:10_000],
        source="github",
        id=f"github:{repo}:{event}:{fields.text(check, 'id', required=True)}",
    )
