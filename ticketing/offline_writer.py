"""The deterministic offline writer: complete, readable tickets from a cluster, with no model and
no network (the default). Every figure it writes comes from the ticket's evidence through
`ticketing.figures`, so its drafts pass the grounding check by construction (and tests hold it
to that on every simulator scenario).
"""

from __future__ import annotations

from analysis.models import Cluster
from ticketing.evidence import cluster_values
from ticketing.figures import (
    change_phrase,
    count,
    flow_phrase,
    metric_name,
    metric_value,
    number,
    pct,
    segment_phrase,
)
from ticketing.models import Impact, TicketDraft

PROMPT_VERSION = "offline-1"


def _where(cluster: Cluster) -> str:
    if cluster.step and cluster.flow:
        return f"the {cluster.step} step of {flow_phrase(cluster.flow)}"
    if cluster.step:
        return f"{cluster.step}"
    if cluster.flow:
        return flow_phrase(cluster.flow)
    return "the product"


def _who(cluster: Cluster) -> str:
    return "everyone" if not cluster.segment else segment_phrase(cluster.segment)


def _window(impact: Impact) -> str:
    days = impact.window_days
    if not days:
        return "in the analysed window"
    if days < 1:
        return f"in the last {number(days * 24, 0)} hours"
    unit = "day" if number(days, 1) == "1" else "days"
    return f"in the last {number(days, 1)} {unit}"


def _label(cluster: Cluster) -> str:
    for key in ("label", "exception_type", "theme", "error_type", "name"):
        value = cluster_values(cluster).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _title(cluster: Cluster) -> str:
    v = metric_value(cluster.metric, cluster.value)
    b = metric_value(cluster.metric, cluster.baseline)
    step = cluster.step or cluster.flow or "a step"
    who = "" if not cluster.segment else f" for {segment_phrase(cluster.segment)}"
    label = _label(cluster)
    if cluster.kind == "dropoff":
        # Discovered flows are named by their goal ("to /checkout/confirm"): no prefix then.
        flow = f"{cluster.flow}: " if cluster.flow and not cluster.flow.startswith("to ") else ""
        title = f"{flow}{v} of sessions drop off at {step}{who} (baseline {b})"
    elif cluster.kind == "retry":
        title = f"Users retry {step}{who}: {v} {metric_name(cluster.metric)} (baseline {b})"
    elif cluster.kind == "error_abandon":
        title = f"Sessions abandon after errors at {step}{who}: {v} (baseline {b})"
    elif cluster.kind == "slow_step":
        title = f"{step} is slow{who}: {metric_name(cluster.metric)} {v} (baseline {b})"
    elif cluster.kind in ("error_group", "ticket_theme") and cluster.title:
        title = cluster.title  # the analysis' one-line finding, stated with its own figures
    elif cluster.kind == "error_group":
        what = label or "An error"
        title = f"{what} at {step}{who} hits {count(cluster.affected_sessions)} sessions"
    elif cluster.kind == "ticket_theme":
        about = f"'{label}'" if label else "one theme"
        title = f"Support tickets about {about}: {v} {metric_name(cluster.metric)} (baseline {b})"
    else:
        title = f"{metric_name(cluster.metric).capitalize()} at {step}{who}: {v} (baseline {b})"
    return title[:160]


def _lead(cluster: Cluster) -> str:
    """The first sentence: what happens, where, for whom, against what baseline."""
    v = metric_value(cluster.metric, cluster.value)
    b = metric_value(cluster.metric, cluster.baseline)
    change = change_phrase(cluster.value, cluster.baseline)
    change_text = f" ({change})" if change else ""
    where, who = _where(cluster), _who(cluster)
    name = metric_name(cluster.metric)
    if cluster.kind == "dropoff":
        return (
            f"At {where}, {v} of sessions for {who} end without reaching the next step, "
            f"against {b} for comparable sessions{change_text}."
        )
    if cluster.kind == "retry":
        return (
            f"At {where}, users in {who} need {v} {name} where comparable users need {b}"
            f"{change_text}: the first attempt often fails and users try again."
        )
    if cluster.kind == "error_abandon":
        return (
            f"At {where}, sessions for {who} that hit an error give up: the {name} is {v} "
            f"against {b} for comparable sessions{change_text}."
        )
    if cluster.kind == "slow_step":
        return (
            f"{where[0].upper()}{where[1:]} is slow for {who}: the {name} is {v} against {b} "
            f"for comparable requests{change_text}."
        )
    if cluster.kind == "error_group" and cluster.title:
        return f"{cluster.title}. It is raised at {where} for {who}."
    if cluster.kind == "ticket_theme" and cluster.title:
        return f"{cluster.title}, against {b} in the previous window{change_text}."
    if cluster.kind == "error_group":
        label = _label(cluster) or "This error"
        return (
            f"{label} is raised at {where} for {who}; the {name} is {v} against {b} "
            f"in the baseline{change_text}."
        )
    if cluster.kind == "ticket_theme":
        label = _label(cluster)
        about = f" about '{label}'" if label else ""
        return (
            f"Support tickets{about} are rising: {v} {name} against {b} in the baseline"
            f"{change_text}."
        )
    return f"At {where}, the {name} for {who} is {v} against {b}{change_text}."


def _concentration(cluster: Cluster) -> str:
    # The cluster's own segment concentrates by definition: only other attributes say more.
    top = [s for s in cluster.segments if s.lift > 1 and s.attribute not in cluster.segment][:2]
    if not top:
        return ""
    parts = [
        f"{s.attribute}={s.value} makes up {pct(s.affected_share, 0)} of affected sessions "
        f"against {pct(s.baseline_share, 0)} of the others"
        for s in top
    ]
    return "The problem concentrates where " + "; ".join(parts) + "."


def _scope(cluster: Cluster) -> list[str]:
    step = cluster.step or cluster.flow or "the affected step"
    who = _who(cluster)
    common_last = "Add or fix instrumentation if the sample traces do not show why users fail here."
    by_kind = {
        "dropoff": [
            f"Replay the sample traces for {who} and find where users stop at {step}.",
            f"Check client-side errors, validation messages and slow responses at {step} on {who}.",
            common_last,
        ],
        "retry": [
            f"Find why the first attempt at {step} fails for {who} (status codes and timeouts in the sample traces).",
            "Make the operation safe to retry and show users a clear outcome so they do not repeat it blindly.",
            common_last,
        ],
        "error_abandon": [
            f"Fix or handle the errors users hit at {step}; start from the linked error groups.",
            "Show a recoverable error state with a clear next action instead of a dead end.",
            common_last,
        ],
        "slow_step": [
            f"Profile {step} with the slowest sample traces and find the span that dominates.",
            f"Check recent deploys and downstream calls of the services behind {step} for {who}.",
            "Add a latency budget for this step to the CI performance gate.",
        ],
        "error_group": [
            "Fix the root cause using the stack traces of the linked error group.",
            "Add a regression test that reproduces the failing input from a sample trace.",
            "Alert on this error group so a recurrence is caught before users report it.",
        ],
        "ticket_theme": [
            "Read the linked support tickets and confirm which flow and step they describe.",
            "Match the tickets' sessions to traces to find the failing request.",
            "Reply to the affected users once the fix ships.",
        ],
    }
    return by_kind.get(
        cluster.kind,
        [f"Investigate {step} for {who} starting from the sample traces.", common_last],
    )


def write_offline(
    cluster: Cluster,
    impact: Impact,
    sample_trace_ids: list[str],
    support_tickets: list[str],
    error_groups: list[str],
) -> TicketDraft:
    """A complete ticket draft from the cluster's facts alone."""
    problem = [_lead(cluster)]
    if concentration := _concentration(cluster):
        problem.append(concentration)
    if support_tickets:
        shown = ", ".join(support_tickets[:3])
        problem.append(
            f"{count(len(support_tickets))} support tickets describe the same problem "
            f"(for example {shown})."
        )
    if error_groups:
        groups = "error group is" if len(error_groups) == 1 else "error groups are"
        problem.append(f"{count(len(error_groups))} {groups} linked to these sessions.")
    if sample_trace_ids:
        problem.append(
            f"The evidence lists {count(len(sample_trace_ids))} sample traces and the SQL that "
            "reproduces every figure."
        )
    affected = (
        f"{count(impact.affected_sessions)} sessions"
        + (f" from {count(impact.affected_users)} users" if impact.affected_users else "")
        + f" {_window(impact)} ({_who(cluster)})."
    )
    if impact.lost_conversions >= 1:
        affected += (
            f" An estimated {number(round(impact.lost_conversions), 0)} conversions were lost."
        )
    notes = [
        "Re-run the SQL of evidence ev-impact over a comparable window after the release and "
        "compare it with the acceptance criteria.",
    ]
    if sample_trace_ids:
        notes.append(
            "Check that new sessions on the same path no longer look like the sample traces."
        )
    return TicketDraft(
        title=_title(cluster),
        problem=" ".join(problem),
        affected=affected,
        suggested_scope=_scope(cluster),
        acceptance_notes=notes,
    )
