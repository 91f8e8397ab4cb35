"""Plan user sessions as spans and logs: the seeded, pure heart of the simulator.

`Generator(app, problems, seed, sessions, start, hours)` decides, for each session ``i``, who the
user is (client app, version, OS, device, browser, country: their segment), which flow they follow,
how long they think, which attempts fail and why, and how long every span takes. Session ``i`` is
planned from its own random stream, so any range of sessions can be generated alone (the bulk path
streams them in chunks) and the result never depends on chunking.

While planning it accumulates the ground truth: for each injected friction, the expected value of
its metric (from the very probabilities it draws with, see `simulator.theory`) and what the
generated data actually contains; for each incident, production latency and errors on the
degraded routes before and after onset; and exemplar sessions that support tickets can cite.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from errors import InputError
from simulator.code_paths import stacktrace
from simulator.ground_truth import (
    Exemplar,
    FrictionStats,
    IncidentStats,
    Visit,
    add_exemplar,
    expect,
    matches,
    observe,
    settle,
)
from simulator.records import (
    CLIENT_SCOPE,
    DB_SCOPE,
    HTTP_SCOPE,
    KIND_CLIENT,
    KIND_SERVER,
    LOG_SCOPE,
    STATUS_ERROR,
    EventRecord,
    LogRecordSpec,
    ResourceTable,
    SpanRecord,
)
from simulator.spec import (
    AppSpec,
    CallSpec,
    DropoffProblem,
    ErrorAbandonProblem,
    ProblemSet,
    RetryProblem,
    SlowStepProblem,
    StepSpec,
    check_problems,
    walk_calls,
)
from simulator.theory import step_odds
from simulator.timeline import Timeline, ns, plan_timeline
from simulator.users import Population, User, cumulative

MS = 1_000_000  # ns per ms
_PARAM = re.compile(r"\{[^}]*\}")


@dataclass(slots=True)
class _Ctx:
    """The session being planned."""

    rng: random.Random
    user: User
    session_id: str
    trace_id: int
    ids: dict[str, int]
    spans: list[SpanRecord]
    logs: list[LogRecordSpec]
    touched: set[int]  # incidents whose degraded operations this session called after onset
    hurt: set[int]  # ... and among them, those it saw slow or failing
    walked: list[str] = field(default_factory=list)  # step ids visited so far, in order
    visits: list[Visit] = field(default_factory=list)  # drop-off / error_abandon steps visited
    record: bool = True  # False for the discarded draws behind expected values


@dataclass(slots=True)
class _Failure:
    code: int
    error_type: str
    message: str


@dataclass(slots=True)
class _Attempt:
    failed: bool
    friction_cause: bool
    duration_ms: float
    end_ns: int


class Generator:
    """Plans sessions of ``app`` with ``problems`` injected; see the module docstring."""

    def __init__(
        self,
        app: AppSpec,
        problems: ProblemSet,
        *,
        seed: int,
        sessions: int,
        start: datetime,
        hours: float,
    ) -> None:
        try:
            check_problems(app, problems, hours)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        self.app = app
        self.problems = problems
        self.seed = seed
        self.sessions = sessions
        self.start = start
        self.hours = hours
        self.end = start + timedelta(hours=hours)
        self.resources = ResourceTable()
        self.timeline: Timeline = plan_timeline(app, problems, seed, start)
        self.n_users = max(1, round(sessions * app.users_per_session))
        self.population = Population(app, seed, self.resources)
        self._flow_cum = cumulative([f.weight for f in app.flows])
        self._server_res: dict[tuple[str, str], int] = {}
        self._lang = {s.name: s.language for s in app.services}
        self._starts = self._session_starts()
        self.frictions = self._friction_stats()
        self.incidents = [IncidentStats(incident=i) for i in self.timeline.incidents]
        self._by_step: dict[str, list[FrictionStats]] = {}
        for stats in self.frictions:
            self._by_step.setdefault(stats.problem.step, []).append(stats)
        self._stacks: dict[tuple[str, str, str, str], str] = {}

    # -- set-up ---------------------------------------------------------------------------------

    def _session_starts(self) -> list[int]:
        """Session start times following the hourly traffic shape, sorted."""
        rng = random.Random(self.seed * 1_000_003 + 1)
        start_ns = ns(self.start)
        hours = math.ceil(self.hours)
        weights = []
        for h in range(hours):
            hour_of_day = (self.start.hour + h) % 24
            part = min(1.0, self.hours - h)  # the last hour may be partial
            weights.append(self.app.traffic.hourly[hour_of_day] * part)
        cum = cumulative(weights)
        starts = []
        for _ in range(self.sessions):
            h = bisect.bisect_right(cum, rng.random() * cum[-1])
            part = min(1.0, self.hours - h)
            offset_s = (h + rng.random() * part) * 3600.0
            starts.append(start_ns + int(offset_s * 1e9))
        starts.sort()
        return starts

    def _friction_stats(self) -> list[FrictionStats]:
        out = []
        for i, problem in enumerate(self.problems.frictions, start=1):
            flow = self.app.flow(problem.flow)
            pos = flow.steps.index(problem.step)
            nxt = flow.steps[pos + 1] if pos + 1 < len(flow.steps) else None
            came_from, opens, branches = self._path_to(problem.step, nxt)
            out.append(
                FrictionStats(
                    id=f"friction-{i}-{problem.kind}-{problem.step}",
                    problem=problem,
                    route=self.app.steps[problem.step].route,
                    next_route=self.app.steps[nxt].route if nxt else None,
                    next_step=nxt,
                    came_from=came_from,
                    opens=opens,
                    branches=branches,
                )
            )
        return out

    def _path_to(self, step: str, nxt: str | None) -> tuple[frozenset[str], bool, frozenset[str]]:
        """Which sessions are on a flow going ``step`` -> ``nxt`` at ``step``, by their path:
        the steps that lead to it in those flows, whether one starts at it, and the next steps
        of the other flows (see `simulator.ground_truth`)."""
        came_from: set[str] = set()
        opens = False
        branches: set[str] = set()
        for flow in self.app.flows:
            for i, (a, b) in enumerate(zip(flow.steps, flow.steps[1:], strict=False)):
                if a != step:
                    continue
                if b != nxt:
                    branches.add(b)
                elif i == 0:
                    opens = True
                else:
                    came_from.add(flow.steps[i - 1])
        return frozenset(came_from), opens, frozenset(branches)

    def _server_resource(self, service: str, time_ns: int) -> int:
        version = self.timeline.version_at(service, time_ns)
        key = (service, version)
        found = self._server_res.get(key)
        if found is None:
            language = self._lang[service]
            found = self.resources.add(
                {
                    "service.name": service,
                    "service.version": version,
                    "service.namespace": self.app.name,
                    "deployment.environment.name": self.app.environment,
                    "telemetry.sdk.name": "opentelemetry",
                    "telemetry.sdk.language": "nodejs" if language == "node" else language,
                    "telemetry.sdk.version": "1.28.0",
                }
            )
            self._server_res[key] = found
        return found

    # -- sessions -------------------------------------------------------------------------------

    def iter_sessions(
        self, first: int = 0, last: int | None = None
    ) -> Iterator[tuple[list[SpanRecord], list[LogRecordSpec]]]:
        """Spans and logs of sessions ``first`` to ``last`` (exclusive), one session at a time."""
        stop = self.sessions if last is None else min(last, self.sessions)
        for index in range(first, stop):
            yield self.session(index)

    def session(self, index: int) -> tuple[list[SpanRecord], list[LogRecordSpec]]:
        """Plan session ``index``: its spans (parents before children) and ERROR logs."""
        rng = random.Random(self.seed * 1_000_000_007 + index)
        user = self.population.user(rng.randrange(self.n_users))
        sid = f"{rng.getrandbits(128):032x}"
        session_id = f"{sid[:8]}-{sid[8:12]}-4{sid[13:16]}-a{sid[17:20]}-{sid[20:]}"
        flow = self.app.flows[
            bisect.bisect_right(self._flow_cum, rng.random() * self._flow_cum[-1])
        ]
        ctx = _Ctx(
            rng=rng,
            user=user,
            session_id=session_id,
            trace_id=0,
            ids={"id": 1000 + rng.randrange(9000), "cart": 10_000 + rng.randrange(90_000)},
            spans=[],
            logs=[],
            touched=set(),
            hurt=set(),
        )
        t = self._starts[index]
        for pos, step_id in enumerate(flow.steps):
            step = self.app.steps[step_id]
            if pos > 0:
                t += int(rng.lognormvariate(math.log(max(step.think_s, 0.2) * 1000), 0.6) * MS)
            last = pos + 1 == len(flow.steps)
            p_next = 1.0 if last else flow.proceed[pos]
            stats = self._by_step.get(step_id, [])
            dropoff = next(
                (
                    s
                    for s in stats
                    if isinstance(s.problem, DropoffProblem)
                    and s.problem.flow == flow.name
                    and matches(s.problem.segment, user.segment)
                ),
                None,
            )
            if dropoff is not None and not last:
                p_next = 1.0 - dropoff.problem.rate  # type: ignore[union-attr]
            went_to = None if last else flow.steps[pos + 1]
            succeeded, t = self._visit(ctx, step, flow.name, t, p_next, went_to, stats)
            ctx.walked.append(step_id)
            if not succeeded or last or rng.random() >= p_next:
                break
        settle(ctx.visits, ctx.walked)
        for n in ctx.touched:
            self.incidents[n].affected_sessions += 1
        for n in ctx.hurt:
            add_exemplar(self.incidents[n].exemplars, _who(ctx, t))
        return ctx.spans, ctx.logs

    # -- ground truth bookkeeping ---------------------------------------------------------------

    def _visit(
        self,
        ctx: _Ctx,
        step: StepSpec,
        flow: str,
        t: int,
        p_next: float,
        went_to: str | None,
        stats: list[FrictionStats],
    ) -> tuple[bool, int]:
        """Attempt a step until it works or the user leaves; returns (succeeded, end time)."""
        rng = ctx.rng
        seg = ctx.user.segment
        app = self.app
        scale = 1.0
        retry: RetryProblem | None = None
        error: ErrorAbandonProblem | None = None
        slow: FrictionStats | None = None
        for s in stats:
            if not matches(s.problem.segment, seg):
                continue
            if isinstance(s.problem, SlowStepProblem):
                scale, slow = s.problem.factor, s
            elif isinstance(s.problem, RetryProblem):
                retry = s.problem
            elif isinstance(s.problem, ErrorAbandonProblem):
                error = s.problem
        # Per-attempt failure and retry probabilities: what we draw with, and what theory uses.
        q_bg = self._background_failure(step, t)
        qs: list[float] = []
        rs: list[float] = []
        for k in range(app.max_attempts if retry is None else retry.max_attempts):
            q_f = 0.0
            r_f = app.retry_after_error
            if retry is not None:
                q_f, r_f = retry.fail_prob, 1.0
            elif error is not None and (k == 0 or not error.recovers):
                q_f, r_f = error.error_rate, 1.0 - error.abandon_rate
            q = 1.0 - (1.0 - q_f) * (1.0 - q_bg)
            # after a failure, the user reacts to the friction's error when that was the cause
            r = (q_f * r_f + (1.0 - q_f) * q_bg * app.retry_after_error) / q if q > 0 else 0.0
            qs.append(q)
            rs.append(r)
        odds = step_odds(qs, rs)
        expect(stats, flow, ctx.walked, went_to, seg, odds, p_next)

        attempts = 0
        had_error = False
        succeeded = False
        for k in range(len(qs)):
            attempts += 1
            forced: _Failure | None = None
            target: str | None = None
            friction_cause = False
            if retry is not None and rng.random() < retry.fail_prob:
                forced = _Failure(retry.status_code, retry.error_type, retry.error_message)
                target, friction_cause = retry.service, True
            elif (
                error is not None
                and (k == 0 or not error.recovers)
                and rng.random() < error.error_rate
            ):
                forced = _Failure(error.status_code, error.error_type, error.error_message)
                target, friction_cause = error.service, True
            result = self._attempt(ctx, step, t, scale, forced, target)
            for s in stats:
                if isinstance(s.problem, SlowStepProblem):
                    s.durations[0 if s is slow else 1].append(result.duration_ms)
            t = result.end_ns
            if not result.failed:
                succeeded = True
                break
            had_error = True
            r = app.retry_after_error
            if friction_cause and retry is not None:
                r = 1.0
            elif friction_cause and error is not None:
                r = 1.0 - error.abandon_rate
            if k + 1 >= len(qs) or rng.random() >= r:
                break
            t += int(rng.lognormvariate(math.log(2500), 0.5) * MS)  # reload / tap again
        observe(stats, flow, ctx.walked, seg, attempts, had_error, succeeded, ctx.visits,
                _who(ctx, t))  # fmt: skip
        for s in stats:
            if isinstance(s.problem, SlowStepProblem):
                self._shadow(ctx, s, step, t)
        return succeeded, t

    def _background_failure(self, step: StepSpec, t: int) -> float:
        ok = 1.0
        for call in walk_calls(step.calls):
            ok *= 1.0 - self._call_error_rate(call, t)
        return 1.0 - ok

    def _call_error_rate(self, call: CallSpec, t: int) -> float:
        rate = call.error_rate
        for stats in self.incidents:
            inc = stats.incident
            if (
                t >= inc.onset_ns
                and call.service == inc.deploy.service
                and call.name in inc.names
                and inc.spec.signal in ("errors", "both")
            ):
                rate = 1.0 - (1.0 - rate) * (1.0 - inc.spec.error_rate)
        return rate

    def _shadow(self, ctx: _Ctx, s: FrictionStats, step: StepSpec, t: int) -> None:
        """Two extra, discarded draws of the step's duration: the expected p75 comes from them."""
        p = s.problem
        assert isinstance(p, SlowStepProblem)
        inside = matches(p.segment, ctx.user.segment)
        shadow_rng = random.Random(ctx.rng.getrandbits(64))
        scratch = _Ctx(
            rng=shadow_rng,
            user=ctx.user,
            session_id=ctx.session_id,
            trace_id=0,
            ids=dict(ctx.ids),
            spans=[],
            logs=[],
            touched=set(),
            hurt=set(),
            record=False,
        )
        for _ in range(2):
            result = self._attempt(scratch, step, t, p.factor if inside else 1.0, None, None)
            s.shadow[0 if inside else 1].append(result.duration_ms)

    # -- spans ----------------------------------------------------------------------------------

    def _attempt(
        self,
        ctx: _Ctx,
        step: StepSpec,
        t0: int,
        scale: float,
        forced: _Failure | None,
        target: str | None,
    ) -> _Attempt:
        """One root client span and the server call tree behind it."""
        rng = ctx.rng
        user = ctx.user
        ctx.trace_id = rng.getrandbits(128) or 1
        root_id = rng.getrandbits(64) or 1
        mark = len(ctx.spans)
        client_ms = rng.lognormvariate(math.log(step.latency_ms), step.jitter)
        client_ms *= user.latency_factor * scale
        pre = int(client_ms * 0.55 * MS)
        t = t0 + pre
        failure: _Failure | None = None
        forced_node = self._forced_node(step, target) if forced is not None else None
        for call in step.calls:
            t, failure = self._server(ctx, call, root_id, t, scale, forced, forced_node)
            if failure is not None:
                break
            t += int(rng.uniform(0.2, 1.5) * MS)
        end = t + int(client_ms * 0.45 * MS)
        path = _PARAM.sub(lambda _m: str(ctx.ids["id"]), step.path or step.route)
        path = path.replace("{n}", str(ctx.ids["id"]))
        code = failure.code if failure else 200
        attrs: dict[str, str | int | float | bool] = {
            "http.request.method": step.method,
            "http.route": step.route,
            "url.path": path,
            "url.full": f"https://api.{self.app.domain}{path}",
            "server.address": f"api.{self.app.domain}",
            "http.response.status_code": code,
            "session.id": ctx.session_id,
            "enduser.id": user.user_id,
            **user.span_attrs,
        }
        if failure is not None:
            attrs["error.type"] = str(code)
        root = SpanRecord(
            trace_id=ctx.trace_id,
            span_id=root_id,
            parent_id=0,
            name=f"{step.method} {step.route}",
            kind=KIND_CLIENT,
            resource=user.resource,
            scope=CLIENT_SCOPE[user.client.platform],
            start_ns=t0,
            end_ns=end,
            attributes=attrs,
            status=STATUS_ERROR if failure else 0,
            status_message=f"HTTP {code}" if failure else "",
        )
        # The root goes first so parents precede children in the exported order.
        ctx.spans.insert(mark, root)
        return _Attempt(
            failed=failure is not None,
            friction_cause=forced is not None,
            duration_ms=(end - t0) / MS,
            end_ns=end,
        )

    def _forced_node(self, step: StepSpec, service: str | None) -> CallSpec | None:
        calls = walk_calls(step.calls)
        if service is not None:
            return next((c for c in calls if c.service == service), None)
        node = step.calls[0] if step.calls else None
        while node is not None and node.calls:
            node = node.calls[0]
        return node

    def _server(
        self,
        ctx: _Ctx,
        call: CallSpec,
        parent_id: int,
        t0: int,
        scale: float,
        forced: _Failure | None,
        forced_node: CallSpec | None,
    ) -> tuple[int, _Failure | None]:
        """A server span in ``call.service`` (children: db spans, client spans to callees)."""
        rng = ctx.rng
        span_id = rng.getrandbits(64) or 1
        resource = self._server_resource(call.service, t0)
        language = self._lang[call.service]
        self_ms = rng.lognormvariate(math.log(call.latency_ms), call.jitter) * scale
        degraded = [
            n
            for n, stats in enumerate(self.incidents)
            if t0 >= stats.incident.onset_ns
            and call.service == stats.incident.deploy.service
            and call.name in stats.incident.names
        ]
        for n in degraded:
            ctx.touched.add(n)
            spec = self.incidents[n].incident.spec
            if spec.signal in ("latency", "both"):
                self_ms *= rng.lognormvariate(math.log(spec.latency_factor), 0.25)
        mark = len(ctx.spans)
        t = t0 + int(self_ms * 0.35 * MS)
        failure: _Failure | None = None
        for db in call.db:
            d_ms = rng.lognormvariate(math.log(db.latency_ms), db.jitter) * scale
            end = t + int(d_ms * MS)
            statement = _statement(db.operation, db.collection)
            ctx.spans.append(
                SpanRecord(
                    trace_id=ctx.trace_id,
                    span_id=rng.getrandbits(64) or 1,
                    parent_id=span_id,
                    name=f"{db.operation} {db.collection}",
                    kind=KIND_CLIENT,
                    resource=resource,
                    scope=DB_SCOPE[language],
                    start_ns=t,
                    end_ns=end,
                    attributes={
                        "db.system": db.system,
                        "db.system.name": db.system,
                        "db.operation.name": db.operation,
                        "db.collection.name": db.collection,
                        "db.query.text": statement,
                        "server.address": f"{db.system}.{call.service}.internal",
                        "session.id": ctx.session_id,
                        "enduser.id": ctx.user.user_id,
                    },
                )
            )
            t = end + int(rng.uniform(0.05, 0.4) * MS)
        for child in call.calls:
            client_id = rng.getrandbits(64) or 1
            client_at = len(ctx.spans)
            net = int(rng.uniform(0.3, 1.8) * MS * scale)
            child_end, failure = self._server(
                ctx, child, client_id, t + net, scale, forced, forced_node
            )
            end = child_end + int(rng.uniform(0.2, 1.2) * MS * scale)
            child_path = _concrete(child.route, ctx.ids)
            code = failure.code if failure else 200
            attrs: dict[str, str | int | float | bool] = {
                "http.request.method": child.method,
                "url.full": f"http://{child.service}:8080{child_path}",
                "url.template": child.route,
                "server.address": child.service,
                "server.port": 8080,
                "http.response.status_code": code,
                "session.id": ctx.session_id,
                "enduser.id": ctx.user.user_id,
            }
            if failure is not None:
                attrs["error.type"] = str(code)
            ctx.spans.insert(
                client_at,
                SpanRecord(
                    trace_id=ctx.trace_id,
                    span_id=client_id,
                    parent_id=span_id,
                    name=f"{child.method} {child.route}",
                    kind=KIND_CLIENT,
                    resource=resource,
                    scope=HTTP_SCOPE[language],
                    start_ns=t,
                    end_ns=end,
                    attributes=attrs,
                    status=STATUS_ERROR if failure else 0,
                    status_message=f"HTTP {code}" if failure else "",
                ),
            )
            t = end + int(rng.uniform(0.05, 0.5) * MS)
            if failure is not None:
                break
        raised: _Failure | None = None
        if failure is None:
            if forced is not None and call is forced_node:
                raised = forced
            else:
                rate = self._call_error_rate(call, t0)
                if rate > 0 and rng.random() < rate:
                    raised = self._failure_of(call, t0)
            failure = raised
        end = t + int(self_ms * 0.65 * MS)
        if degraded and (failure is not None or self_ms > call.latency_ms * 2 * scale):
            ctx.hurt.update(degraded)
        code = failure.code if failure else 200
        path = _concrete(call.route, ctx.ids)
        attrs = {
            "http.request.method": call.method,
            "http.route": call.route,
            "url.path": path,
            "url.scheme": "http",
            "server.address": call.service,
            "http.response.status_code": code,
            "session.id": ctx.session_id,
            "enduser.id": ctx.user.user_id,
        }
        events: list[EventRecord] = []
        status = 0
        message = ""
        if failure is not None:
            attrs["error.type"] = failure.error_type if raised else str(code)
            if code >= 500 or raised is not None:
                status = STATUS_ERROR
                message = f"{failure.error_type}: {failure.message}" if raised else f"HTTP {code}"
        if raised is not None:
            trace = self._stack(call, raised)
            exc_attrs: dict[str, str | int | float | bool] = {
                "exception.type": raised.error_type,
                "exception.message": raised.message,
                "exception.stacktrace": trace,
            }
            events.append(EventRecord(end - 1000, "exception", exc_attrs))
            ctx.logs.append(
                LogRecordSpec(
                    time_ns=end - 1000,
                    trace_id=ctx.trace_id,
                    span_id=span_id,
                    severity_number=17,
                    severity_text="ERROR",
                    body=f"{call.name} failed: {raised.error_type}: {raised.message}",
                    resource=resource,
                    scope=LOG_SCOPE[language],
                    attributes={
                        **exc_attrs,
                        "http.route": call.route,
                        "http.response.status_code": code,
                        "session.id": ctx.session_id,
                        "enduser.id": ctx.user.user_id,
                    },
                )
            )
        span = SpanRecord(
            trace_id=ctx.trace_id,
            span_id=span_id,
            parent_id=parent_id,
            name=call.name,
            kind=KIND_SERVER,
            resource=resource,
            scope=HTTP_SCOPE[language],
            start_ns=t0,
            end_ns=end,
            attributes=attrs,
            status=status,
            status_message=message,
            events=events,
        )
        ctx.spans.insert(mark, span)
        for stats in self.incidents if ctx.record else ():
            inc = stats.incident
            if call.service == inc.deploy.service and call.name in inc.names:
                after = 1 if t0 >= inc.onset_ns else 0
                pair = stats.durations.setdefault(call.name, ([], []))
                pair[after].append((end - t0) / MS)
                errs = stats.errors.setdefault(call.name, [0, 0])
                if status == STATUS_ERROR:
                    errs[after] += 1
        return end, failure

    def _failure_of(self, call: CallSpec, t0: int) -> _Failure:
        for stats in self.incidents:
            inc = stats.incident
            if (
                t0 >= inc.onset_ns
                and call.service == inc.deploy.service
                and call.name in inc.names
                and inc.spec.signal in ("errors", "both")
            ):
                return _Failure(504, inc.spec.error_type, inc.spec.error_message)
        return _Failure(500, call.error_type, call.error_message)

    def _stack(self, call: CallSpec, failure: _Failure) -> str:
        key = (call.service, call.route, failure.error_type, failure.message)
        found = self._stacks.get(key)
        if found is None:
            found = stacktrace(
                self.app, call.service, call.route, failure.error_type, failure.message
            )
            self._stacks[key] = found
        return found


def _who(ctx: _Ctx, t: int) -> Exemplar:
    return Exemplar(t, ctx.session_id, ctx.user.user_id, ctx.user.segment)


def _concrete(route: str, ids: dict[str, int]) -> str:
    return _PARAM.sub(lambda _m: str(ids["cart"] if "cart" in route else ids["id"]), route)


def _statement(operation: str, collection: str) -> str:
    if operation in ("GET", "MGET", "SET"):
        return f"{operation} {collection}:?"
    if operation == "SELECT":
        return f"SELECT * FROM {collection} WHERE id = $1"
    if operation == "INSERT":
        return f"INSERT INTO {collection} VALUES ($1, $2, $3)"
    if operation == "UPDATE":
        return f"UPDATE {collection} SET status = $1 WHERE id = $2"
    return f"{operation} {collection}"
