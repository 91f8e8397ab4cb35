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
    ClientSpec,
    DropoffProblem,
    ErrorAbandonProblem,
    ProblemSet,
    RetryProblem,
    SlowStepProblem,
    StepSpec,
    check_problems,
    walk_calls,
)
from simulator.theory import StepOdds, step_odds
from simulator.timeline import Incident, Timeline, ns, plan_timeline

MS = 1_000_000  # ns per ms
SDK_VERSION = {"web": "1.28.0", "ios": "1.12.1", "android": "0.9.0"}
SDK_LANGUAGE = {"web": "webjs", "ios": "swift", "android": "java"}
OS_NAME = {"ios": "iOS", "android": "Android"}
MAX_EXEMPLARS = 5000
_NO_ERROR, _HAD_ERROR_THEN_SUCCESS, _OTHER = 2, 1, 0
_PARAM = re.compile(r"\{[^}]*\}")


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, keys: list[str], cum: list[float]) -> str:
    return keys[bisect.bisect_right(cum, rng.random() * cum[-1])]


def code_file(app: AppSpec, service: str, route: str) -> str:
    """The source file handling ``route`` in ``service``: cited by stack traces and PR files."""
    spec = app.service(service)
    base = spec.path or f"services/{service}"
    words = [w for w in route.strip("/").split("/") if w and not w.startswith("{")]
    slug = (words[-1] if words else "index").replace("-", "_")
    if spec.language == "python":
        return f"{base}/app/routes/{slug}.py"
    if spec.language == "go":
        return f"{base}/internal/handlers/{slug}.go"
    if spec.language == "java":
        camel = "".join(part.capitalize() for part in slug.split("_"))
        return f"{base}/src/main/java/com/acme/{service.replace('-', '')}/{camel}Controller.java"
    return f"{base}/src/routes/{slug}.ts"


def stacktrace(app: AppSpec, service: str, route: str, error_type: str, message: str) -> str:
    """A plausible stack trace in the service's language, pointing at the route's code file."""
    path = code_file(app, service, route)
    language = app.service(service).language
    handler = path.rsplit("/", 1)[-1].split(".")[0]
    if language == "python":
        return (
            "Traceback (most recent call last):\n"
            f'  File "/srv/{path}", line 87, in handle_{handler}\n'
            f"    result = await client.call(request)\n"
            f'  File "/srv/{path}", line 142, in call\n'
            f"    raise {error_type}(msg)\n"
            f"{error_type}: {message}"
        )
    if language == "go":
        return (
            f"{error_type}: {message}\n\ngoroutine 41 [running]:\n"
            f"main.(*{handler.capitalize()}Handler).ServeHTTP(...)\n\t/src/{path}:118 +0x2f4\n"
            "net/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2220"
        )
    if language == "java":
        return (
            f"com.acme.{error_type}: {message}\n"
            f"\tat com.acme.{handler}.{handler}.handle({handler}.java:96)\n"
            f"\tat com.acme.{handler}.{handler}.post({handler}.java:61)\n"
            "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"
        )
    return (
        f"{error_type}: {message}\n"
        f"    at handle (/app/{path}:74:11)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"
    )


@dataclass(slots=True)
class User:
    """Who a session belongs to: fixed per user across sessions."""

    user_id: str
    client: ClientSpec
    resource: int
    span_attrs: dict[str, str]
    segment: dict[str, str]
    latency_factor: float


@dataclass(slots=True)
class Exemplar:
    """A session that suffered from a problem: tickets may cite it."""

    time_ns: int
    session_id: str
    user_id: str
    segment: dict[str, str]


@dataclass
class FrictionStats:
    """Expected and observed metric of one injected friction: [in segment, baseline]."""

    id: str
    problem: DropoffProblem | RetryProblem | ErrorAbandonProblem | SlowStepProblem
    route: str
    next_route: str | None
    exp_num: list[float] = field(default_factory=lambda: [0.0, 0.0])
    exp_den: list[float] = field(default_factory=lambda: [0.0, 0.0])
    obs_num: list[float] = field(default_factory=lambda: [0.0, 0.0])
    obs_den: list[float] = field(default_factory=lambda: [0.0, 0.0])
    sessions: list[int] = field(default_factory=lambda: [0, 0])
    durations: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    shadow: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    exemplars: list[Exemplar] = field(default_factory=list)


@dataclass
class IncidentStats:
    """Production on an incident's degraded operations: durations and errors before/after onset."""

    incident: Incident
    durations: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    errors: dict[str, list[int]] = field(default_factory=dict)
    affected_sessions: int = 0
    exemplars: list[Exemplar] = field(default_factory=list)


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
    marks: dict[str, int] = field(default_factory=dict)  # friction id -> what happened at its step


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
        check_problems(app, problems)
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
        self._client_cum = _cumulative([c.weight for c in app.clients])
        self._flow_cum = _cumulative([f.weight for f in app.flows])
        self._countries = list(app.countries)
        self._country_cum = _cumulative(list(app.countries.values()))
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
        cum = _cumulative(weights)
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
            out.append(
                FrictionStats(
                    id=f"friction-{i}-{problem.kind}-{problem.step}",
                    problem=problem,
                    route=self.app.steps[problem.step].route,
                    next_route=self.app.steps[nxt].route if nxt else None,
                )
            )
        return out

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

    def user(self, uid: int) -> User:
        """The user with index ``uid``: same client, device and country in every session."""
        rng = random.Random(self.seed * 7_000_003 + uid + (1 << 40))
        client = self.app.clients[
            bisect.bisect_right(self._client_cum, rng.random() * self._client_cum[-1])
        ]
        version = _pick(rng, list(client.versions), _cumulative(list(client.versions.values())))
        os_version = _pick(
            rng, list(client.os_versions), _cumulative(list(client.os_versions.values()))
        )
        country = _pick(rng, self._countries, self._country_cum)
        resource = {
            "service.name": client.service,
            "service.version": version,
            "app.version": version,
            "service.namespace": self.app.name,
            "deployment.environment.name": self.app.environment,
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.language": SDK_LANGUAGE[client.platform],
            "telemetry.sdk.version": SDK_VERSION[client.platform],
        }
        span_attrs = {"app.platform": client.platform, "geo.country.iso_code": country}
        if client.platform == "web":
            os_names = client.os_names or {"Windows": 1.0}
            os_name = _pick(rng, list(os_names), _cumulative(list(os_names.values())))
            browsers = client.browsers or {"Chrome": 1.0}
            browser = _pick(rng, list(browsers), _cumulative(list(browsers.values())))
            resource["os.name"] = os_name
            resource["os.version"] = os_version
            span_attrs["browser.name"] = browser
            span_attrs["user_agent.original"] = _web_agent(browser, os_name)
        else:
            devices = client.devices or {"generic": 1.0}
            device = _pick(rng, list(devices), _cumulative(list(devices.values())))
            resource["os.name"] = OS_NAME[client.platform]
            resource["os.version"] = os_version
            resource["device.model.identifier"] = device
            app_name = self.app.name.capitalize() + "App"
            span_attrs["user_agent.original"] = (
                f"{app_name}/{version} ({device}; {OS_NAME[client.platform]} {os_version})"
            )
        segment = {
            "service.name": client.service,
            "app.version": version,
            "os.name": resource["os.name"],
            "os.version": os_version,
            **{k: v for k, v in span_attrs.items() if k != "user_agent.original"},
        }
        if "device.model.identifier" in resource:
            segment["device.model.identifier"] = resource["device.model.identifier"]
        return User(
            user_id=f"user-{uid:07d}",
            client=client,
            resource=self.resources.add(resource),
            span_attrs=span_attrs,
            segment=segment,
            latency_factor=client.latency_factor,
        )

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
        user = self.user(rng.randrange(self.n_users))
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
                    and _matches(s.problem.segment, user.segment)
                ),
                None,
            )
            if dropoff is not None and not last:
                p_next = 1.0 - dropoff.problem.rate  # type: ignore[union-attr]
            succeeded, t = self._visit(ctx, step, flow.name, t, p_next, stats)
            if not succeeded:
                break
            if last or rng.random() >= p_next:
                self._left_after(ctx, stats, flow.name, t)
                break
        for n in ctx.touched:
            self.incidents[n].affected_sessions += 1
        for n in ctx.hurt:
            self._exemplar(self.incidents[n].exemplars, ctx, t)
        return ctx.spans, ctx.logs

    # -- ground truth bookkeeping ---------------------------------------------------------------

    def _left_after(self, ctx: _Ctx, stats: list[FrictionStats], flow: str, t: int) -> None:
        """The session stopped after succeeding at this step: it did not complete it."""
        seg = ctx.user.segment
        for s in stats:
            p = s.problem
            if p.flow != flow or s.next_route is None:
                continue
            if isinstance(p, DropoffProblem):
                side = 0 if _matches(p.segment, seg) else 1
                s.obs_num[side] += 1
                if side == 0:
                    self._exemplar(s.exemplars, ctx, t)
            elif isinstance(p, ErrorAbandonProblem):
                mark = ctx.marks.get(s.id)
                if mark == _HAD_ERROR_THEN_SUCCESS:
                    s.obs_num[0] += 1
                elif mark == _NO_ERROR:
                    s.obs_num[1] += 1

    def _visit(
        self,
        ctx: _Ctx,
        step: StepSpec,
        flow: str,
        t: int,
        p_next: float,
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
            if not _matches(s.problem.segment, seg):
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
        self._expect(stats, flow, seg, odds, p_next)

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
            if slow is not None or any(isinstance(s.problem, SlowStepProblem) for s in stats):
                for s in stats:
                    if isinstance(s.problem, SlowStepProblem):
                        side = 0 if s is slow else 1
                        s.durations[side].append(result.duration_ms)
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
        self._observe(ctx, stats, flow, seg, attempts, had_error, succeeded, t)
        if slow is not None:
            self._shadow(ctx, slow, step, t)
        for s in stats:
            if isinstance(s.problem, SlowStepProblem) and s is not slow:
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

    def _expect(
        self,
        stats: list[FrictionStats],
        flow: str,
        seg: dict[str, str],
        odds: StepOdds,
        p_next: float,
    ) -> None:
        for s in stats:
            p = s.problem
            inside = _matches(p.segment, seg)
            side = 0 if inside else 1
            if isinstance(p, DropoffProblem):
                if p.flow != flow or s.next_route is None:
                    continue
                s.exp_num[side] += 1.0 - odds.p_success * p_next
                s.exp_den[side] += 1.0
            elif isinstance(p, RetryProblem):
                s.exp_num[side] += odds.attempts_when_success
                s.exp_den[side] += odds.p_success
            elif isinstance(p, ErrorAbandonProblem):
                if p.flow != flow:
                    continue
                if inside:
                    s.exp_num[0] += odds.p_first_error - odds.p_success_after_error * p_next
                    s.exp_den[0] += odds.p_first_error
                s.exp_num[1] += (1.0 - odds.p_first_error) * (1.0 - p_next)
                s.exp_den[1] += 1.0 - odds.p_first_error

    def _observe(
        self,
        ctx: _Ctx,
        stats: list[FrictionStats],
        flow: str,
        seg: dict[str, str],
        attempts: int,
        had_error: bool,
        succeeded: bool,
        t: int,
    ) -> None:
        for s in stats:
            p = s.problem
            inside = _matches(p.segment, seg)
            side = 0 if inside else 1
            if isinstance(p, DropoffProblem):
                if p.flow != flow or s.next_route is None:
                    continue
                s.sessions[side] += 1
                s.obs_den[side] += 1
                if not succeeded:
                    s.obs_num[side] += (
                        1  # left on the error; leaving after success is counted later
                    )
                    if inside:
                        self._exemplar(s.exemplars, ctx, t)
            elif isinstance(p, RetryProblem):
                s.sessions[side] += 1
                if succeeded:
                    s.obs_num[side] += attempts
                    s.obs_den[side] += 1
                if inside and attempts > 1:
                    self._exemplar(s.exemplars, ctx, t)
            elif isinstance(p, ErrorAbandonProblem):
                if p.flow != flow:
                    continue
                if had_error and inside:
                    s.sessions[0] += 1
                    s.obs_den[0] += 1
                    self._exemplar(s.exemplars, ctx, t)
                    if succeeded:
                        ctx.marks[s.id] = _HAD_ERROR_THEN_SUCCESS
                    else:
                        s.obs_num[0] += 1
                        ctx.marks[s.id] = _OTHER
                elif not had_error:
                    s.sessions[1] += 1
                    s.obs_den[1] += 1
                    ctx.marks[s.id] = _NO_ERROR
                else:
                    ctx.marks[s.id] = _OTHER
            elif isinstance(p, SlowStepProblem):
                s.sessions[side] += 1
                if inside:
                    self._exemplar(s.exemplars, ctx, t)

    def _shadow(self, ctx: _Ctx, s: FrictionStats, step: StepSpec, t: int) -> None:
        """Two extra, discarded draws of the step's duration: the expected p75 comes from them."""
        p = s.problem
        assert isinstance(p, SlowStepProblem)
        inside = _matches(p.segment, ctx.user.segment)
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
        )
        for _ in range(2):
            result = self._attempt(scratch, step, t, p.factor if inside else 1.0, None, None)
            s.shadow[0 if inside else 1].append(result.duration_ms)

    def _exemplar(self, bucket: list[Exemplar], ctx: _Ctx, t: int) -> None:
        if len(bucket) < MAX_EXEMPLARS:
            bucket.append(Exemplar(t, ctx.session_id, ctx.user.user_id, ctx.user.segment))

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
                    scope=LOG_SCOPE,
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
        for stats in self.incidents:
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


def _matches(segment: dict[str, str], attrs: dict[str, str]) -> bool:
    return all(attrs.get(k) == v for k, v in segment.items())


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


def _web_agent(browser: str, os_name: str) -> str:
    platform = {
        "Windows": "Windows NT 10.0; Win64; x64",
        "macOS": "Macintosh; Intel Mac OS X 10_15_7",
        "Linux": "X11; Linux x86_64",
        "ChromeOS": "X11; CrOS x86_64 14541.0.0",
    }.get(os_name, "X11; Linux x86_64")
    if browser == "Firefox":
        return f"Mozilla/5.0 ({platform}; rv:132.0) Gecko/20100101 Firefox/132.0"
    if browser == "Safari":
        return (
            f"Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15"
        )
    suffix = " Edg/131.0.0.0" if browser == "Edge" else ""
    return (
        f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/131.0.0.0 Safari/537.36{suffix}"
    )
