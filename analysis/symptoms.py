"""What went wrong, as customers say it: a small English lexicon of friction symptoms.

A support ticket names a feature ("file upload") and says what went wrong with it. The same
symptom comes in many words ("fails", "timing out", "is something down?"), which word counts
see as unrelated; this lexicon knows they are one. Themes use a ticket's *primary* symptom:
tickets about one feature with the same symptom belong together whatever their wording, and
the same feature failing is a different theme from it being slow.

The symptoms mirror andon's friction kinds and are checked in order, the first that applies
being the primary one: a failure is often told with waiting ("fails or takes ages", "an error
after waiting a long time") and is then a failure; "retrying" is a step that works only when
tried again (the retry friction), not a failure tried many times.
"""

from __future__ import annotations

import re

_NEGATED_WORK = r"(?:doesn'?t|does not|don'?t|won'?t|isn'?t|is not|aren'?t|wasn'?t|not) work"
_CANT = r"(?:can'?t|cannot|can not|unable to|couldn'?t)"
_LEXICON: dict[str, str] = {
    "failing": "|".join([
        r"\bfail\w*", r"\berror\w*", r"\bbroken\b", r"\bbreaks?\b", r"\bcrash\w*",
        rf"\b{_NEGATED_WORK}(?:s|ing)?\b", r"\btim(?:e|es|ed|ing) ?outs?\b", r"\bbug\w*",
        r"\b(?:is|are|was|went|goes|go) down\b", r"\boutages?\b", r"\bwent wrong\b",
    ]),
    "retrying": "|".join([
        r"\bretr(?:y|ies|ied|ying)\b", r"\b(?:try|tries|tried|trying) again\b",
        r"\bover and over\b", r"\bagain and again\b", r"\bfirst (?:time|try|attempt)\b",
        r"\b(?:next|second|third) (?:try|time|attempt)\b", r"\beventually work\w*",
        r"\bthen works?\b", r"\b(?:reload|refresh)\w*",
    ]),
    "stuck": "|".join([
        r"\bstuck\b", rf"\b{_CANT} (?:get past|continue|proceed|finish|complete|move on)\b",
        r"\bwon'?t let\b", r"\breject\w*", r"\bsends? me back\b", r"\bnothing happens\b",
        r"\bimpossible\b", r"\bg[ai]ve up\b", r"\bwon'?t accept\b", r"\bdoesn'?t go through\b",
    ]),
    "slow": "|".join([
        r"\bslow\w*", r"\bforever\b", r"\bages\b", r"\bspin\w*", r"\bloading\b", r"\blag\w*",
        r"\bsluggish\b", r"\bwait\w*", r"\bhang(?:s|ing)?\b", r"\bfr(?:eez\w*|oze\w*)",
        r"\blong time\b", r"\btakes? (?:so )?long\b",
    ]),
}  # fmt: skip
SYMPTOMS: tuple[str, ...] = tuple(_LEXICON)  # in the order they are checked
_PATTERNS = {name: re.compile(pattern) for name, pattern in _LEXICON.items()}
_ANY = re.compile("|".join(_LEXICON.values()))


def symptoms(text: str) -> list[str]:
    """Every symptom ``text`` describes, in `SYMPTOMS` order."""
    low = text.lower()
    return [name for name in SYMPTOMS if _PATTERNS[name].search(low)]


def primary_symptom(text: str) -> str | None:
    """The first symptom in `SYMPTOMS` order that ``text`` describes, or None."""
    found = symptoms(text)
    return found[0] if found else None


def without_symptoms(text: str) -> str:
    """``text`` in lower case with every symptom phrase blanked out: what is left says what the
    text is about ("checkout payment timing out" -> "checkout payment")."""
    return _ANY.sub(" ", text.lower())
