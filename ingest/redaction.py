"""Personal data and secrets out of free text, before it is stored or sent to a model.

`redact` replaces, in this order (earlier kinds win where patterns overlap):

- secrets: JWTs, ``Bearer ...`` credentials, AWS access key ids, well-known API key prefixes
  (GitHub, Slack, Stripe, OpenAI/Anthropic-style ``sk-``, Google ``AIza``), private-key blocks,
  long random-looking tokens, and the value of ``password=...`` / ``"api_key": "..."`` /
  ``my password is ...`` style pairs;
- email addresses;
- card numbers (13-19 digits, spaces or dashes allowed) that pass the Luhn check;
- IBANs that pass the ISO 13616 mod-97 check;
- IPv4 and IPv6 addresses (optional, on by default: they identify a person under GDPR);
- phone numbers in international (``+44 20 7946 0958``, ``0044 ...``) and national formats
  (``(415) 555-2671``, ``020 7946 0958``, ``06 12 34 56 78``); bare digit runs only when a word
  like "phone" or "call" precedes them, so order numbers and amounts survive.

Replacements are fixed placeholders (``[email]``, ``[phone]`` ...): nothing of the original is
kept, so it cannot be recovered from the output. `email_hash` gives a keyed hash of an email for
joining tickets to users without storing the address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
IBAN = "[iban]"
IP = "[ip]"
SECRET = "[secret]"

_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,24}|[Xx][Nn]--[A-Za-z0-9-]{1,59})\b"
_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@" + _DOMAIN)
# Everything RFC 5322 allows in a local part ("!#$%&'*+/=?^`{|}~"): a second pass, so the common
# case above keeps "email=" in "email=ann@example.com" while rarer addresses still go.
_RFC_EMAIL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + _DOMAIN)
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_PRIVATE_KEY_RE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
)
_KNOWN_KEYS_RE = re.compile(
    r"\b(?:"
    r"(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r")"
)
# key = value pairs whose value is a secret; the key stays so the text still reads.
_SECRET_KEYS = (
    r"pass(?:word|wd|phrase|code)?|pwd|secret|client[_-]?secret|api[_-]?key|apikey|"
    r"access[_-]?key(?:[_-]?id)?|secret[_-]?access[_-]?key|private[_-]?key|auth[_-]?token|"
    r"access[_-]?token|refresh[_-]?token|session[_-]?token|token|credentials?|pin|otp|cvv|cvc"
)
_KV_SECRET_RE = re.compile(
    r"(?i)(?P<key>[\"']?\b(?:[\w-]*[_-])?(?:" + _SECRET_KEYS + r")\b[\"']?\s*(?:[:=]|=>)\s*)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'}\]]+)"
)
_SAID_SECRET_RE = re.compile(
    r"(?i)\b(?P<key>(?:password|passcode|pin|pwd)\s+(?:is|was|=)\s*:?\s*)(?P<value>[^\s,;]+)"
)
# Long tokens mixing upper case, lower case and digits: API keys, session cookies. Pure hex
# (trace ids, hashes, commit shas) is deliberately left alone: it is not a credential.
_LONG_TOKEN_RE = re.compile(r"(?<![\w/.-])[A-Za-z0-9_\-+/]{32,}={0,2}(?![\w/])")

_CARD_RE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_IPV6_RE = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,6}|[0-9A-Fa-f]{1,4})(?![\w:])"
)

# A phone candidate: optional international prefix, then 2-8 digit groups, each optionally in
# parentheses, separated by at most one space, dot, dash or slash.
_PHONE_RE = re.compile(
    r"(?<![\w+@/.:-])(?P<intl>\+\s?|00)?(?:\(\d{1,5}\)|\d{1,5})(?:[ .\-/]?(?:\(\d{1,5}\)|\d{1,5})){1,7}(?![\w@]|[.\-]\d)"
)
_PHONE_CONTEXT_RE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call|text|sms|whatsapp|fax|ring|contact|number|no\.?|#)\b\W{0,3}(?:\w+\W{1,3}){0,2}$"
)
_DATE_RE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
_NANP_RE = re.compile(r"^(?:1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


# Issuer prefixes of the card networks (Visa 4, Mastercard 51-55/22-27, Amex 34/37, Discover
# 6011/64/65, JCB 35, Diners 30/36/38, UnionPay 62, Maestro 50/56-69): with the Luhn check this
# keeps order and tracking numbers, which pass Luhn one time in ten, out of "[card]".
_CARD_PREFIX_RE = re.compile(r"^(?:4|5[0-5]|5[6-9]|2[2-7]|3[0478]|35|6)")


def _replace_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if (
        13 <= len(digits) <= 19
        and _CARD_PREFIX_RE.match(digits)
        and _luhn_ok(digits)
        and len(set(digits)) > 1
    ):
        return CARD
    return match.group(0)


def _replace_iban(match: re.Match[str]) -> str:
    return IBAN if _iban_ok(match.group(0)) else match.group(0)


def _replace_ipv4(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv4Address(match.group(0))
    except ValueError:
        return match.group(0)
    return IP


def _replace_ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return IP


def _is_phone(candidate: str, has_context: bool) -> bool:
    digits = re.sub(r"\D", "", candidate)
    stripped = candidate.strip()
    if _DATE_RE.match(stripped):
        return False
    if re.fullmatch(r"(?:\d{1,3}\.){3}\d{1,3}", stripped):
        return False  # an IPv4 address, handled (or deliberately kept) elsewhere
    if stripped.startswith("+"):
        return 8 <= len(digits) <= 15
    if stripped.startswith("00"):
        # 00 is the international prefix only before a country code (never starting with 0);
        # "00123842" is an order number.
        return digits[2:3] != "0" and 10 <= len(digits) <= 17
    separated = bool(re.search(r"[ .\-/()]", stripped))
    if not separated:
        return has_context and 7 <= len(digits) <= 15
    if re.fullmatch(r"\d+\.\d+", stripped):
        return False  # a decimal number
    if _NANP_RE.match(stripped):
        return True
    if 9 <= len(digits) <= 12 and (stripped.startswith(("0", "(")) or has_context):
        return True
    return has_context and 7 <= len(digits) <= 15


def _redact_phones(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _PHONE_RE.finditer(text):
        start = match.start()
        candidate = match.group(0)
        has_context = bool(_PHONE_CONTEXT_RE.search(text[max(0, start - 40) : start]))
        # A greedy candidate can swallow a trailing number ("call 020 7946 0958 2 times"):
        # drop trailing groups until what is left reads as a phone number.
        accepted = ""
        trial = candidate
        while trial:
            if _is_phone(trial, has_context):
                accepted = trial
                break
            cut = re.search(r"[ .\-/]?(?:\(\d{1,5}\)|\d{1,5})$", trial)
            if cut is None or cut.start() == 0:
                break
            trial = trial[: cut.start()]
        if accepted:
            out.append(text[pos:start])
            out.append(PHONE)
            pos = start + len(accepted)
    out.append(text[pos:])
    return "".join(out)


def _replace_long_token(match: re.Match[str]) -> str:
    token = match.group(0)
    core = token.rstrip("=")
    classes = sum(
        bool(re.search(p, core)) for p in (r"[a-z]", r"[A-Z]", r"\d")
    )  # entropy proxy: random keys mix all three; words, paths and hex ids do not
    if classes == 3 and not re.fullmatch(r"[0-9a-fA-F-]+", core):
        return SECRET
    return token


def _kv_secret(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.lstrip("\"'").startswith("["):
        return match.group(0)  # already a placeholder from an earlier step
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{quote}{SECRET}{quote}"


_STEPS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (_PRIVATE_KEY_RE, SECRET),
    (_JWT_RE, SECRET),
    (_KNOWN_KEYS_RE, SECRET),
    (_BEARER_RE, lambda m: f"{m.group(1)}{m.group(2)}{SECRET}"),
    (_KV_SECRET_RE, _kv_secret),
    (_SAID_SECRET_RE, _kv_secret),
    (_EMAIL_RE, EMAIL),
    (_RFC_EMAIL_RE, EMAIL),
    (_LONG_TOKEN_RE, _replace_long_token),
    (_IBAN_RE, _replace_iban),
    (_CARD_RE, _replace_card),
]


def redact(text: str, *, ip_addresses: bool = True) -> str:
    """Replace personal data and secrets in ``text`` with placeholders like ``[email]``.

    >>> redact("Call me on +44 20 7946 0958 or mail jane.doe@example.com")
    'Call me on [phone] or mail [email]'
    """
    if not text:
        return text
    for pattern, replacement in _STEPS:
        text = pattern.sub(replacement, text)
    # Phones before IPs: "+1 10.10.10.10" is a phone number; a bare dotted quad is left to
    # the IP pass (the phone check refuses it).
    text = _redact_phones(text)
    if ip_addresses:
        text = _IPV4_RE.sub(_replace_ipv4, text)
        text = _IPV6_RE.sub(_replace_ipv6, text)
    return text


def email_hash(email: str, salt: str) -> str:
    """A keyed hash (HMAC-SHA256, hex) of a normalised email, for joins without the address.

    The same address with different case or surrounding spaces hashes the same; without the
    salt the hash cannot be checked against guessed addresses. Empty email: empty string.
    """
    normalised = email.strip().lower()
    if not normalised:
        return ""
    return hmac.new(salt.encode(), normalised.encode(), hashlib.sha256).hexdigest()
