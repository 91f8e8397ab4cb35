"""Local stand-ins of the issue trackers andon exports to: GitHub Issues (REST), Jira Cloud
(REST v3) and Linear (GraphQL), on 127.0.0.1 and an OS-chosen port.

Each checks what the real API would: the auth header (GitHub ``Authorization: Bearer``, Jira
basic auth ``email:token``, Linear ``Authorization: <api key>``), the API version header and the
payload shape (GitHub ``title``/``body``/``labels``; Jira ``fields.project.key``, ``summary``,
``issuetype.name``, an ADF ``description``, ``labels`` without spaces; Linear ``teamId``,
``title``, ``description``, ``priority`` 0-4). Issues are kept in memory and served back by the
search/list endpoints, so idempotency can be tested. ``fail_next_create_response`` creates the
issue but answers 502, the way a lost response looks to a client.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class TrackerStandin:
    """One server hosting the three APIs (GitHub under /repos, Jira under /rest, Linear /graphql)."""

    github_token: str = "ghp_standin_token"
    jira_email: str = "pm@example.com"
    jira_token: str = "jira-standin-token"
    linear_key: str = "lin_api_standin"
    issues: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"github": [], "jira": [], "linear": []}
    )
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_next_create_response: bool = False
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def creates(self, tracker: str) -> int:
        return len(self.issues[tracker])

    def start(self) -> TrackerStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = standin._handle(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> TrackerStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bad(self, status: int, message: str) -> tuple[int, Any]:
        self.violations.append(f"{status} {message}")
        return status, {"message": message}

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path, headers, body))
            parsed = urlparse(path)
            if parsed.path.startswith("/repos/"):
                return self._github(method, parsed.path, parse_qs(parsed.query), headers, body)
            if parsed.path.startswith("/rest/api/3/"):
                return self._jira(method, parsed.path, headers, body)
            if parsed.path == "/graphql":
                return self._linear(headers, body)
            return self._bad(404, f"no route {path}")

    # -- GitHub -----------------------------------------------------------------------------

    def _github(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.github_token}":
            return self._bad(401, "Bad credentials")
        if headers.get("x-github-api-version") != "2022-11-28":
            return self._bad(400, "missing X-GitHub-Api-Version")
        if "application/vnd.github+json" not in headers.get("accept", ""):
            return self._bad(415, "Accept must be application/vnd.github+json")
        if not re.fullmatch(r"/repos/[\w.-]+/[\w.-]+/issues", path):
            return self._bad(404, f"Not Found {path}")
        issues = self.issues["github"]
        if method == "GET":
            label = (query.get("labels") or [""])[0]
            page = int((query.get("page") or ["1"])[0])
            per_page = int((query.get("per_page") or ["30"])[0])
            found = [i for i in issues if not label or label in i["labels"]]
            return 200, found[(page - 1) * per_page : page * per_page]
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("title"), str)
            or not body["title"]
        ):
            return self._bad(422, "Validation Failed: title")
        if not isinstance(body.get("body"), str) or not isinstance(body.get("labels", []), list):
            return self._bad(422, "Validation Failed: body/labels")
        number = len(issues) + 1
        repo = path.split("/")[2:4]
        issue = {
            "number": number,
            "title": body["title"],
            "body": body["body"],
            "labels": body.get("labels", []),
            "state": "open",
            "html_url": f"https://github.com/{repo[0]}/{repo[1]}/issues/{number}",
        }
        issues.append(issue)
        if self.fail_next_create_response:
            self.fail_next_create_response = False
            return 502, {"message": "Bad Gateway"}
        return 201, issue

    # -- Jira -------------------------------------------------------------------------------

    def _jira(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.jira_email}:{self.jira_token}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return self._bad(401, "Client must be authenticated to access this resource.")
        issues = self.issues["jira"]
        if path == "/rest/api/3/search/jql" and method == "POST":
            match = re.search(r'labels = "([^"]+)"', (body or {}).get("jql", ""))
            label = match.group(1) if match else None
            found = [{"id": i["id"], "key": i["key"]} for i in issues if label in i["labels"]]
            return 200, {"issues": found[: (body or {}).get("maxResults", 50)]}
        if path != "/rest/api/3/issue" or method != "POST":
            return self._bad(404, f"no Jira route {method} {path}")
        fields = (body or {}).get("fields") or {}
        problems = []
        if not (fields.get("project") or {}).get("key"):
            problems.append("project")
        if (
            not isinstance(fields.get("summary"), str)
            or not fields["summary"]
            or len(fields["summary"]) > 255
        ):
            problems.append("summary")
        if not (fields.get("issuetype") or {}).get("name"):
            problems.append("issuetype")
        desc = fields.get("description") or {}
        if (
            desc.get("type") != "doc"
            or desc.get("version") != 1
            or not isinstance(desc.get("content"), list)
        ):
            problems.append("description (ADF doc)")
        if any(" " in label for label in fields.get("labels", [])):
            problems.append("labels (no spaces)")
        if problems:
            return self._bad(400, f"invalid fields: {problems}")
        n = len(issues) + 1
        key = f"{fields['project']['key']}-{n}"
        issues.append(
            {"id": str(10000 + n), "key": key, "labels": fields.get("labels", []), "fields": fields}
        )
        return 201, {
            "id": str(10000 + n),
            "key": key,
            "self": f"{self.url}/rest/api/3/issue/{10000 + n}",
        }

    # -- Linear -----------------------------------------------------------------------------

    def _linear(self, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("authorization") != self.linear_key:
            return 400, {"errors": [{"message": "Authentication required, not authenticated"}]}
        query = (body or {}).get("query", "")
        variables = (body or {}).get("variables") or {}
        issues = self.issues["linear"]
        if "issueCreate" in query:
            data = variables.get("input") or {}
            if (
                not data.get("teamId")
                or not data.get("title")
                or not isinstance(data.get("description"), str)
            ):
                self.violations.append("issueCreate input missing teamId/title/description")
                return 200, {"errors": [{"message": "Argument Validation Error"}]}
            if data.get("priority") not in (0, 1, 2, 3, 4):
                self.violations.append("issueCreate priority out of range")
                return 200, {"errors": [{"message": "priority must be 0-4"}]}
            n = len(issues) + 1
            issue = {
                "id": f"uuid-{n}",
                "identifier": f"ENG-{n}",
                "url": f"https://linear.app/acme/issue/ENG-{n}",
                **data,
            }
            issues.append(issue)
            return 200, {
                "data": {
                    "issueCreate": {
                        "success": True,
                        "issue": {k: issue[k] for k in ("id", "identifier", "url")},
                    }
                }
            }
        if "issues(" in query:
            marker = variables.get("marker", "")
            nodes = [
                {k: i[k] for k in ("id", "identifier", "url")}
                for i in issues
                if marker and marker in i["description"]
            ]
            return 200, {"data": {"issues": {"nodes": nodes[:1]}}}
        self.violations.append("unknown GraphQL operation")
        return 200, {"errors": [{"message": "Unknown operation"}]}
