"""Support tickets that reflect the injected problems, among background tickets on other topics.

Wording varies (several subjects and bodies per kind of problem, greetings, sign-offs, "sent from
my phone"), carries typos at a configurable rate, mentions the user's platform, and sometimes
includes personal data (emails, phone numbers) that andon must redact before any model sees it.
Some tickets carry the ``session_id``/``user_id`` of a session that really suffered the problem.

Columns follow the design brief: ``id, created_at, subject, body`` plus ``channel, tags,
user_id, session_id, status, priority``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.ground_truth import Exemplar, FrictionStats, IncidentStats
from simulator.spec import BACKGROUND_TOPICS, AppSpec, TicketSpec

MAX_PER_THEME = 150

SUBJECTS: dict[str, list[str]] = {
    "dropoff": ["can't get past {thing}", "stuck on the {thing} step", "{thing} won't let me continue",
                "cannot finish - {thing} page", "problem with {thing} on {platform}",
                "{thing} screen keeps rejecting me"],
    "retry": ["{thing} doesn't work the first time", "had to try {thing} several times",
              "{thing} button flaky", "{thing} keeps failing then works??", "{thing} errors randomly"],
    "error_abandon": ["error at {thing}", "{thing} fails with an error", "\"{message}\"",
                      "can't complete {thing}, error", "gave up on {thing}"],
    "error_recovers": ["weird error at {thing}", "{thing} error, fixed after refresh",
                       "error on {thing} (worked on reload)"],
    "slow_step": ["{thing} is extremely slow", "{thing} takes forever", "{thing} page loading forever",
                  "so slow on {thing}", "{thing} spinning for ages"],
    "incident": ["{thing} failing since this afternoon", "{thing} not working!!", "{thing} timing out",
                 "{thing} broken?", "urgent: {thing} errors", "{thing} super slow and then fails"],
}  # fmt: skip

BODIES: dict[str, list[str]] = {
    "dropoff": [
        "I'm trying to finish but the {thing} step just doesn't go through on {platform}. I filled everything in {n} times.",
        "On {platform} the {thing} page won't accept my details and I can't continue. Tried again later, same thing.",
        "Every time I get to {thing} it sends me back or nothing happens. Using {platform}. Is this a known issue?",
        "I wanted to get this done but the {thing} part is impossible on {platform}, I gave up.",
    ],
    "retry": [
        "When I press {thing} on {platform} it fails and I have to tap it again {n} or {m} times before it works.",
        "{thing} keeps giving me an error the first time, then on the next try it goes through. Annoying.",
        "Had to retry {thing} over and over on {platform}. It eventually worked but please fix.",
    ],
    "error_abandon": [
        'I get an error at {thing}: "{message}". I tried twice and then gave up. {platform}.',
        "{thing} shows an error message and I can't complete it. Using {platform}.",
        "Wanted to complete {thing} but it just errors out ({message}). Left without finishing.",
    ],
    "error_recovers": [
        "Got an error at {thing} on {platform} but when I reloaded the page it worked. Thought you should know.",
        '{thing} failed with "{message}", after a refresh it was fine. Strange.',
    ],
    "slow_step": [
        "{thing} on {platform} takes forever to load, like {n}0 seconds. Other pages are fine.",
        "Why is {thing} so slow? I'm on {platform} with good internet.",
        "The {thing} page spins for a long time before anything shows up ({platform}).",
    ],
    "incident": [
        "Since around {time} UTC {thing} fails or takes ages on {platform}. Tried {n} times.",
        "{thing} keeps timing out today. It worked yesterday. {platform}.",
        "I get an error at {thing} after waiting a long time. Did it go through or not?? Please check.",
        "Is something down? {thing} not working for me since {time}, tried again just now on {platform}.",
    ],
}

BACKGROUND: dict[str, tuple[list[str], list[str]]] = {
    "password-reset": (
        ["password reset email never arrives", "can't reset my password", "reset link expired"],
        ["I requested a password reset {n} times but no email arrives. Checked spam too.",
         "The reset link says it has expired even though I clicked it right away."],
    ),
    "refund-request": (
        ["refund request", "I want my money back", "refund not received yet"],
        ["I returned my order {n} weeks ago and still no refund. Order number {order}.",
         "Please refund order {order}, the item was not what I expected."],
    ),
    "delivery-status": (
        ["where is my order", "delivery late", "tracking not updating"],
        ["My order {order} was supposed to arrive {n} days ago and tracking hasn't changed.",
         "The courier says delivered but I have nothing. Order {order}."],
    ),
    "change-account-email": (
        ["change email on account", "update my email address", "new email"],
        ["How do I change the email on my account? I no longer use the old one.",
         "Please update my account email, I can't find the setting."],
    ),
    "invoice-request": (
        ["need an invoice", "invoice with VAT number", "receipt for order {order}"],
        ["Can you send me an invoice with my company VAT number for order {order}?",
         "I need a proper receipt for my expenses, order {order}."],
    ),
    "delete-account": (
        ["delete my account", "GDPR deletion request", "remove my data"],
        ["Please delete my account and all my personal data.",
         "I want to close my account, how do I do that?"],
    ),
    "storage-quota": (
        ["storage full?", "quota exceeded but I deleted files", "how much storage do I have"],
        ["It says my storage is full but I deleted {n} big folders yesterday.",
         "What is the storage limit on my plan? The app says I'm over quota."],
    ),
    "sso-setup": (
        ["SSO with Okta", "SAML setup help", "single sign-on not working for new users"],
        ["We are trying to set up SAML single sign-on with Okta, the metadata upload fails.",
         "New employees can't log in with SSO, the old ones can."],
    ),
    "data-export": (
        ["export all my files", "download everything", "need an export of our workspace"],
        ["How can I export all files in our workspace? We have about {n}000 files.",
         "Is there a way to download the whole workspace as a zip?"],
    ),
    "billing-question": (
        ["charged twice this month", "question about my invoice", "change billing email"],
        ["I see two charges on my card for this month's subscription, invoice {order}.",
         "Can you change the billing contact on invoice {order}?"],
    ),
    "promo-code": (
        ["promo code not working", "discount code invalid", "coupon doesn't apply"],
        ["The code from your newsletter says invalid. Can you apply it manually to order {order}?",
         "My discount code was not applied at checkout."],
    ),
}  # fmt: skip

assert set(BACKGROUND) == set(BACKGROUND_TOPICS), "every background topic needs wording"

GREETINGS = ["Hi,", "Hello,", "hi there", "Hey", "Hello support team,", "", "", "Good morning,"]
SIGNOFFS = ["Thanks", "thx", "Regards", "Cheers", "", "Sent from my iPhone", "Thank you!", "--"]
FIRST = ["maria", "john", "li", "fatima", "lukas", "chloe", "arjun", "sam", "ana", "oliver"]
LAST = ["garcia", "smith", "wang", "khan", "muller", "martin", "sharma", "lee", "silva", "brown"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "icloud.com", "proton.me"]
PHONES = ["+1 415 555 {a:04d}", "+44 7700 900{b:03d}", "+49 151 2345 {a:04d}", "(212) 555-{a:04d}",
          "+33 6 12 34 {c:02d} {d:02d}"]  # fmt: skip
_WORD = re.compile(r"[A-Za-z]{4,}")


@dataclass
class Ticket:
    """One support ticket (serialised to CSV and JSONL by the writers)."""

    id: str
    created_at: datetime
    subject: str
    body: str
    channel: str
    tags: list[str]
    user_id: str
    session_id: str
    status: str
    priority: str
    theme: str
    personal_data: bool

    def as_dict(self) -> dict[str, Any]:
        """The public columns (theme and personal_data stay in the manifest)."""
        return {
            "id": self.id,
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": self.subject,
            "body": self.body,
            "channel": self.channel,
            "tags": self.tags,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "status": self.status,
            "priority": self.priority,
        }


def _platform_phrase(rng: random.Random, segment: dict[str, str]) -> str:
    platform = segment.get("app.platform", "web")
    if platform == "android":
        device = segment.get("device.model.identifier", "phone")
        return rng.choice(["the android app", "my Android phone", f"my {device}", "Android"])
    if platform == "ios":
        return rng.choice(["the iPhone app", "iOS", "my iphone", "the app on iPhone"])
    browser = segment.get("browser.name", "Chrome")
    return rng.choice([f"{browser}", "the website", f"the website in {browser}", "my laptop"])


def _typos(rng: random.Random, text: str, rate: float) -> str:
    def mangle(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(3)
        if kind == 0:  # swap two letters
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if kind == 1:  # drop one
            return word[:i] + word[i + 1 :]
        return word[:i] + word[i] + word[i:]  # double one

    return _WORD.sub(mangle, text)


class TicketWriter:
    """Writes themed and background tickets; remembers which theme each ticket belongs to."""

    def __init__(self, app: AppSpec, spec: TicketSpec, seed: int, window_end: datetime) -> None:
        self.app = app
        self.spec = spec
        self.rng = random.Random(seed * 1_000_003 + 43)
        self.window_end = window_end
        self.tickets: list[Ticket] = []

    def _thing(self, step_id: str) -> str:
        step = self.app.steps[step_id]
        return step.label or step_id.replace("_", " ")

    def _pii(self, rng: random.Random) -> str:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{rng.randrange(10, 99)}@{rng.choice(DOMAINS)}"
        phone = rng.choice(PHONES).format(
            a=rng.randrange(10000),
            b=rng.randrange(1000),
            c=rng.randrange(100),
            d=rng.randrange(100),
        )
        return rng.choice(
            [
                f"You can reach me at {email}.",
                f"My email is {email} and phone {phone}.",
                f"Call me on {phone} please.",
                f"(account email: {email})",
            ]
        )

    def _compose(
        self, template: str, body: str, fill: dict[str, str], pii: bool
    ) -> tuple[str, str]:
        rng = self.rng
        subject = template.format(**fill)
        parts = [rng.choice(GREETINGS), body.format(**fill)]
        if pii:
            parts.append(self._pii(rng))
        parts.append(rng.choice(SIGNOFFS))
        text = "\n".join(p for p in parts if p)
        if rng.random() < 0.3:
            text = text.lower()
        if rng.random() < 0.15:
            subject = subject.upper() if rng.random() < 0.3 else subject + "!!"
        return _typos(rng, subject, self.spec.typo_rate), _typos(rng, text, self.spec.typo_rate)

    def _add(
        self,
        theme: str,
        subject: str,
        body: str,
        at: datetime,
        exemplar: Exemplar | None,
        pii: bool,
        tags: list[str],
    ) -> Ticket:
        rng = self.rng
        with_session = exemplar is not None and rng.random() < self.spec.session_id_share
        ticket = Ticket(
            id="",
            created_at=at,
            subject=subject,
            body=body,
            channel=rng.choice(["email", "email", "chat", "web_form", "app_review"]),
            tags=tags,
            user_id=exemplar.user_id if exemplar is not None and rng.random() < 0.7 else "",
            session_id=exemplar.session_id if with_session and exemplar is not None else "",
            status=rng.choice(["new", "new", "open", "pending", "solved"]),
            priority=rng.choice(["normal", "normal", "normal", "high", "low"]),
            theme=theme,
            personal_data=pii,
        )
        self.tickets.append(ticket)
        return ticket

    def _problem_tickets(
        self,
        theme: str,
        kind: str,
        step_id: str,
        exemplars: list[Exemplar],
        rate: float,
        message: str,
    ) -> None:
        if not exemplars or rate <= 0:
            return
        rng = self.rng
        count = min(MAX_PER_THEME, max(3, round(len(exemplars) * rate)))
        chosen = sorted(rng.sample(exemplars, min(count, len(exemplars))), key=lambda e: e.time_ns)
        thing = self._thing(step_id)
        for exemplar in chosen:
            at = datetime.fromtimestamp(exemplar.time_ns / 1e9, tz=UTC)
            fill = {
                "thing": thing,
                "platform": _platform_phrase(rng, exemplar.segment),
                "message": message,
                "n": str(rng.randrange(2, 6)),
                "m": str(rng.randrange(6, 9)),
                "time": at.strftime("%H:%M"),
            }
            pii = rng.random() < self.spec.personal_data_share
            subject, body = self._compose(
                rng.choice(SUBJECTS[kind]), rng.choice(BODIES[kind]), fill, pii
            )
            created = self._clip(at + timedelta(minutes=5 + rng.lognormvariate(3.5, 1.0)))
            self._add(theme, subject, body, created, exemplar, pii, [kind])

    def _clip(self, at: datetime) -> datetime:
        # tickets written after the simulated window would fall outside the analysed window
        last = self.window_end - timedelta(seconds=30)
        return min(at, last)

    def friction(self, stats: FrictionStats) -> None:
        """Tickets about one injected friction, from sessions that suffered it."""
        p = stats.problem
        kind: str = p.kind
        message = getattr(p, "error_message", "")
        if kind == "error_abandon" and getattr(p, "recovers", False):
            kind = "error_recovers"
        self._problem_tickets(
            f"theme-{stats.id}", kind, p.step, stats.exemplars, p.tickets, message
        )

    def incident(self, stats: IncidentStats, step_id: str) -> None:
        """Tickets about an incident, from sessions that saw it slow or failing."""
        spec = stats.incident.spec
        self._problem_tickets(
            f"theme-{stats.incident.id}",
            "incident",
            step_id,
            stats.exemplars,
            spec.tickets,
            spec.error_message,
        )

    def background(self, start: datetime, hours: float) -> None:
        """Tickets about topics unrelated to any injected problem."""
        rng = self.rng
        topics = self.spec.topics or list(BACKGROUND_TOPICS)
        for _ in range(self.spec.background):
            topic = rng.choice(topics)
            subjects, bodies = BACKGROUND[topic]
            fill = {"n": str(rng.randrange(2, 5)), "order": f"{rng.randrange(100000, 999999)}"}
            pii = rng.random() < self.spec.personal_data_share
            subject, body = self._compose(rng.choice(subjects), rng.choice(bodies), fill, pii)
            at = start + timedelta(seconds=rng.random() * hours * 3600)
            self._add(f"bg-{topic}", subject, body, at, None, pii, [topic])

    def finish(self) -> list[Ticket]:
        """All tickets in creation order, with ids assigned in that order."""
        self.tickets.sort(key=lambda t: (t.created_at, t.theme, t.subject))
        base = 10000 + self.rng.randrange(80000)
        for n, ticket in enumerate(self.tickets):
            ticket.id = f"SUP-{base + n}"
        return self.tickets
