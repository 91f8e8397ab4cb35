"""What an app description (``simulator/apps/*.toml``) may say: pydantic models, validated strictly.

An app is data, not code: backend services, the client apps users come from (web, ios, android)
and their segment mixes, the steps users take (each a root client span keyed by its
``http.route``) with the server call tree behind each, flows as ordered steps with the share of
users who go on after each, traffic over the day, and the problems to inject.

    app = load_app("shop")                        # built-in, or a path to a .toml file
    app.steps["address"].route                    # '/checkout/address'
    app.problems                                  # what gets injected unless overridden

Every field is documented in docs/simulator.md. Unknown keys are errors: a typo in a scenario
file must not silently produce a scenario without the problem you meant to inject.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Weights = dict[str, float]


def _check_weights(value: Weights, what: str) -> Weights:
    if not value:
        raise ValueError(f"{what} needs at least one entry")
    if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
        raise ValueError(f"{what} weights must be >= 0 with a positive sum")
    return value


class DbCall(_Model):
    """A database call a service makes: a Client span with ``db.*`` attributes."""

    system: str = Field(default="postgresql", description="db.system.name, e.g. postgresql, redis.")
    operation: str = Field(default="SELECT", description="db.operation.name.")
    collection: str = Field(description="db.collection.name (table).")
    latency_ms: float = Field(default=4.0, gt=0, description="Median duration.")
    jitter: float = Field(default=0.5, ge=0, description="Lognormal sigma of the duration.")


class CallSpec(_Model):
    """A server operation in a backend service, and what it calls in turn."""

    service: str
    method: str = "GET"
    route: str = Field(description="http.route of the server span, e.g. /v1/payments/authorize.")
    latency_ms: float = Field(default=20.0, gt=0, description="Median self time (ms).")
    jitter: float = Field(default=0.45, ge=0, description="Lognormal sigma of the self time.")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Background failure rate.")
    error_type: str = Field(default="InternalServerError", description="exception.type on failure.")
    error_message: str = "unexpected error while handling the request"
    db: list[DbCall] = Field(default_factory=list)
    calls: list[CallSpec] = Field(default_factory=list)

    @property
    def name(self) -> str:
        """The server span's name, as HTTP server instrumentations set it."""
        return f"{self.method} {self.route}"


class StepSpec(_Model):
    """A user-facing action: one root client span (kind Client) keyed by ``route``."""

    route: str = Field(description="http.route of the root span: the step key analyses use.")
    label: str | None = Field(
        default=None, description="What users call it in support tickets (default: the step id)."
    )
    method: str = "GET"
    path: str | None = Field(
        default=None,
        description="url.path template; '{n}' is replaced by a number. Default: route.",
    )
    latency_ms: float = Field(default=60.0, gt=0, description="Client-side overhead (median ms).")
    jitter: float = Field(default=0.35, ge=0)
    think_s: float = Field(default=8.0, ge=0, description="Median seconds a user takes before it.")
    calls: list[CallSpec] = Field(default_factory=list, description="Server calls behind the step.")


class ClientSpec(_Model):
    """A client app users come from, with its segment mix."""

    platform: Literal["web", "ios", "android"]
    service: str = Field(description="service.name of the client, e.g. shop-web.")
    weight: float = Field(gt=0, description="Share of sessions from this client.")
    versions: Weights = Field(description="app.version (= service.version) -> weight.")
    os_versions: Weights = Field(description="os.version -> weight (os.name from the platform).")
    os_names: Weights | None = Field(
        default=None, description="web only: os.name -> weight (Windows, macOS, Linux ...)."
    )
    devices: Weights | None = Field(default=None, description="device.model.identifier -> weight.")
    browsers: Weights | None = Field(default=None, description="web only: browser.name -> weight.")
    latency_factor: float = Field(default=1.0, gt=0, description="Network/device slowness.")

    @field_validator("versions", "os_versions")
    @classmethod
    def _weights(cls, value: Weights) -> Weights:
        return _check_weights(value, "this mix")


class FlowSpec(_Model):
    """An ordered list of steps a user goes through, and how many go on after each."""

    name: str
    weight: float = Field(gt=0, description="Share of sessions that follow this flow.")
    steps: list[str] = Field(min_length=1, description="Step ids, in order.")
    proceed: list[float] = Field(
        description="Probability of going on after each step but the last (len(steps) - 1 values)."
    )

    @model_validator(mode="after")
    def _proceed_length(self) -> FlowSpec:
        if len(self.proceed) != len(self.steps) - 1:
            raise ValueError(
                f"flow {self.name!r}: proceed needs {len(self.steps) - 1} values (one per step but "
                f"the last), got {len(self.proceed)}"
            )
        if any(not 0 <= p <= 1 for p in self.proceed):
            raise ValueError(f"flow {self.name!r}: proceed values must be between 0 and 1")
        return self


class ServiceSpec(_Model):
    """A backend service: its starting version and the repository its changes come from."""

    name: str
    version: str = "1.0.0"
    repo: str = Field(description="owner/name of the repository (pull requests, file paths).")
    path: str = Field(
        default="", description="Source folder in the repo (default services/<name>)."
    )
    language: Literal["python", "go", "java", "node"] = "python"


# -- problems -----------------------------------------------------------------------------------


class _StepProblem(_Model):
    flow: str
    step: str = Field(description="Step id (a key of [steps]).")
    segment: dict[str, str] = Field(
        default_factory=dict, description="attribute -> value; {} = all."
    )
    tickets: float = Field(
        default=0.03, ge=0, le=1, description="Support tickets per affected session."
    )


class DropoffProblem(_StepProblem):
    """Users of the segment leave after this step with probability ``rate``."""

    kind: Literal["dropoff"] = "dropoff"
    rate: float = Field(gt=0, le=1)


class RetryProblem(_StepProblem):
    """Attempts at the step fail with ``fail_prob`` and users retry until it works."""

    kind: Literal["retry"] = "retry"
    fail_prob: float = Field(gt=0, lt=1)
    service: str | None = Field(
        default=None, description="Backend service that fails (default: deepest first call)."
    )
    max_attempts: int = Field(default=5, ge=2, le=10)
    status_code: int = 503
    error_type: str = "ServiceUnavailableError"
    error_message: str = "upstream timed out, please retry"


class ErrorAbandonProblem(_StepProblem):
    """The step fails with ``error_rate``; after the error users leave with ``abandon_rate``."""

    kind: Literal["error_abandon"] = "error_abandon"
    error_rate: float = Field(gt=0, le=1)
    abandon_rate: float = Field(ge=0, le=1)
    recovers: bool = Field(default=False, description="The error goes away on reload.")
    service: str | None = Field(
        default=None, description="Backend service that raises (default: deepest first call)."
    )
    status_code: int = 500
    error_type: str = "InternalServerError"
    error_message: str = "unexpected error"


class SlowStepProblem(_StepProblem):
    """The step (and the calls behind it) takes ``factor`` times longer for the segment."""

    kind: Literal["slow_step"] = "slow_step"
    factor: float = Field(gt=1)


StepProblem = Annotated[
    DropoffProblem | RetryProblem | ErrorAbandonProblem | SlowStepProblem,
    Field(discriminator="kind"),
]


class BadDeploy(_Model):
    """A deploy of ``service`` at ``at_hour`` that degrades some of its routes."""

    id: str | None = Field(default=None, description="Incident id (default incident-N).")
    service: str
    routes: list[str] = Field(
        default_factory=list, description="Server http.routes that degrade (default: all of them)."
    )
    at_hour: float = Field(ge=0, description="Hours after the window start when it deploys.")
    onset_delay_minutes: float = Field(
        default=0, ge=0, description="Degradation starts this long after the deploy finished."
    )
    signal: Literal["latency", "errors", "both"] = "both"
    latency_factor: float = Field(default=5.0, ge=1)
    error_rate: float = Field(default=0.12, ge=0, le=1)
    error_type: str = "TimeoutError"
    error_message: str = "deadline exceeded calling downstream"
    pr_title: str | None = None
    tickets: float = Field(default=0.02, ge=0, le=1, description="Tickets per affected session.")


class DeploySpec(_Model):
    """An innocent deploy (a change that breaks nothing)."""

    service: str
    at_hour: float = Field(ge=0)
    pr_title: str | None = None


BACKGROUND_TOPICS = (
    "password-reset", "refund-request", "delivery-status", "change-account-email",
    "invoice-request", "delete-account", "promo-code", "storage-quota", "sso-setup",
    "data-export", "billing-question",
)  # fmt: skip


class TicketSpec(_Model):
    """Support tickets: background volume and how much of the text carries personal data."""

    background: int = Field(default=40, ge=0, description="Tickets on unrelated topics.")
    topics: list[str] = Field(
        default_factory=lambda: ["password-reset", "refund-request", "delivery-status",
                                 "change-account-email", "invoice-request", "delete-account",
                                 "promo-code"],
        description="Background topics, from BACKGROUND_TOPICS.",
    )  # fmt: skip

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in BACKGROUND_TOPICS]
        if unknown:
            raise ValueError(
                f"unknown topic {unknown[0]!r} (one of {', '.join(BACKGROUND_TOPICS)})"
            )
        return value

    personal_data_share: float = Field(default=0.25, ge=0, le=1)
    session_id_share: float = Field(default=0.4, ge=0, le=1)
    typo_rate: float = Field(default=0.03, ge=0, le=0.3, description="Per-word typo probability.")


class ProblemSet(_Model):
    """Everything injected into one simulation (the app's default, or an override)."""

    frictions: list[StepProblem] = Field(default_factory=list)
    bad_deploys: list[BadDeploy] = Field(default_factory=list)
    deploys: list[DeploySpec] = Field(default_factory=list, description="Innocent deploys.")
    tickets: TicketSpec = Field(default_factory=TicketSpec)

    @classmethod
    def none(cls) -> ProblemSet:
        """A clean scenario: no frictions, no bad deploy (innocent deploys may still be added)."""
        return cls()


# -- the app ------------------------------------------------------------------------------------


class TrafficSpec(_Model):
    """Sessions over the day: 24 relative weights, one per UTC hour."""

    hourly: list[float] = Field(default_factory=lambda: [1.0] * 24)

    @field_validator("hourly")
    @classmethod
    def _hours(cls, value: list[float]) -> list[float]:
        if len(value) != 24 or any(v < 0 for v in value) or sum(value) <= 0:
            raise ValueError("hourly needs 24 non-negative weights with a positive sum")
        return value


class AppSpec(_Model):
    """One simulated application."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    environment: str = "production"
    domain: str = Field(default="example.com", description="API host is api.<domain>.")
    seed: int = 7
    sessions: int = Field(default=2000, ge=1)
    start: datetime = Field(default=datetime(2026, 11, 20, tzinfo=UTC))
    hours: float = Field(default=24, gt=0)
    retry_after_error: float = Field(
        default=0.5, ge=0, le=1, description="Chance a user retries a failed step (else leaves)."
    )
    max_attempts: int = Field(default=4, ge=1, le=10)
    users_per_session: float = Field(
        default=0.7, gt=0, le=1, description="Distinct users per session (returning users < 1)."
    )
    countries: Weights = Field(default_factory=lambda: {"US": 1.0})
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    services: list[ServiceSpec]
    clients: list[ClientSpec] = Field(min_length=1)
    steps: dict[str, StepSpec]
    flows: list[FlowSpec] = Field(min_length=1)
    problems: ProblemSet = Field(default_factory=ProblemSet)

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _references(self) -> AppSpec:
        service_names = {s.name for s in self.services}
        for step_id, step in self.steps.items():
            for call in _walk(step.calls):
                if call.service not in service_names:
                    raise ValueError(
                        f"steps.{step_id}: call to unknown service {call.service!r} "
                        f"(declared: {', '.join(sorted(service_names))})"
                    )
        for flow in self.flows:
            for step_id in flow.steps:
                if step_id not in self.steps:
                    raise ValueError(f"flow {flow.name!r}: unknown step {step_id!r}")
        check_problems(self, self.problems)
        return self

    # -- lookups used by the generator --

    def flow(self, name: str) -> FlowSpec:
        """The flow called ``name``."""
        for flow in self.flows:
            if flow.name == name:
                return flow
        raise KeyError(name)

    def service_routes(self, service: str) -> list[CallSpec]:
        """Every distinct server operation of ``service`` (first declaration wins)."""
        seen: dict[str, CallSpec] = {}
        for step in self.steps.values():
            for call in _walk(step.calls):
                if call.service == service:
                    seen.setdefault(call.name, call)
        return list(seen.values())

    def steps_calling(self, service: str, routes: list[str]) -> list[str]:
        """Step ids whose call tree passes through one of ``routes`` of ``service``."""
        found = []
        for step_id, step in self.steps.items():
            if any(c.service == service and c.route in routes for c in _walk(step.calls)):
                found.append(step_id)
        return found

    def service(self, name: str) -> ServiceSpec:
        """The backend service called ``name``."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def _walk(calls: list[CallSpec]) -> list[CallSpec]:
    out: list[CallSpec] = []
    for call in calls:
        out.append(call)
        out.extend(_walk(call.calls))
    return out


def walk_calls(calls: list[CallSpec]) -> list[CallSpec]:
    """Every call in a call tree, depth first."""
    return _walk(calls)


SEGMENT_ATTRIBUTES = (
    "service.name",
    "app.platform",
    "app.version",
    "os.name",
    "os.version",
    "device.model.identifier",
    "browser.name",
    "geo.country.iso_code",
)


def check_problems(app: AppSpec, problems: ProblemSet, hours: float | None = None) -> None:
    """Raise ValueError naming the field when a problem refers to something the app lacks or
    falls outside the window (``hours``: its length, default the app's)."""
    window = app.hours if hours is None else hours
    for i, friction in enumerate(problems.frictions):
        where = f"problems.frictions[{i}]"
        try:
            flow = app.flow(friction.flow)
        except KeyError:
            raise ValueError(f"{where}.flow: unknown flow {friction.flow!r}") from None
        if friction.step not in flow.steps:
            raise ValueError(
                f"{where}.step: {friction.step!r} is not a step of flow {flow.name!r} "
                f"({', '.join(flow.steps)})"
            )
        if isinstance(friction, DropoffProblem) and friction.step == flow.steps[-1]:
            raise ValueError(
                f"{where}.step: a dropoff needs a next step, and {friction.step!r} is the last "
                f"step of flow {flow.name!r}"
            )
        if (
            isinstance(friction, RetryProblem | ErrorAbandonProblem)
            and not app.steps[friction.step].calls
        ):
            raise ValueError(f"{where}.step: {friction.step!r} calls no backend that could fail")
        for attribute in friction.segment:
            if attribute not in SEGMENT_ATTRIBUTES:
                raise ValueError(
                    f"{where}.segment: unknown attribute {attribute!r} "
                    f"(one of {', '.join(SEGMENT_ATTRIBUTES)})"
                )
        if isinstance(friction, ErrorAbandonProblem | RetryProblem) and friction.service:
            services = {c.service for c in _walk(app.steps[friction.step].calls)}
            if friction.service not in services:
                raise ValueError(
                    f"{where}.service: step {friction.step!r} never calls {friction.service!r}"
                )
    names = {s.name for s in app.services}
    for i, deploy in enumerate(problems.bad_deploys):
        where = f"problems.bad_deploys[{i}]"
        if deploy.service not in names:
            raise ValueError(f"{where}.service: unknown service {deploy.service!r}")
        known = {c.route for c in app.service_routes(deploy.service)}
        if not known:
            raise ValueError(f"{where}.service: no step ever calls {deploy.service!r}")
        for route in deploy.routes:
            if route not in known:
                raise ValueError(
                    f"{where}.routes: {route!r} is not a route of {deploy.service!r} "
                    f"({', '.join(sorted(known))})"
                )
        if deploy.at_hour >= window:
            raise ValueError(
                f"{where}.at_hour: {deploy.at_hour} h is after the end of the window "
                f"({window} h); choose a longer window or other problems"
            )
    for i, innocent in enumerate(problems.deploys):
        if innocent.at_hour >= window:
            raise ValueError(
                f"problems.deploys[{i}].at_hour: {innocent.at_hour} h is after the end of the "
                f"window ({window} h)"
            )
        if innocent.service not in names:
            raise ValueError(f"problems.deploys[{i}].service: unknown service {innocent.service!r}")
