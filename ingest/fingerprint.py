"""Stable error fingerprints: one per bug, whatever varies between its occurrences.

An error's fingerprint is a hash of what identifies the bug:

- the exception type (``builtins.`` and similar language prefixes dropped);
- when the stack trace has frames, the innermost `IN_APP_DEPTH` in-app frames, each reduced to
  module/file name and function (no line numbers, columns, absolute paths, build hashes or
  addresses); library frames count only when there is no in-app frame at all. The message is
  left out then: the same line failing with different data is the same bug;
- without frames, the normalised message: UUIDs, hex addresses, long hex ids, emails, IPs,
  timestamps, URLs' ids and every number are replaced by placeholders, so ``order 1234 not
  found`` and ``order 98 not found`` group, while ``payment declined`` stays apart.

Stack traces are parsed from text for Python, Java/Kotlin, JavaScript (V8 and Firefox), Go,
Ruby and .NET, or given as structured frames (Sentry's ``stacktrace.frames``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IN_APP_DEPTH = 4
"""How many in-app frames, counted from where the exception was raised, identify a bug."""


@dataclass(frozen=True)
class Frame:
    """One stack frame, as much as is known about it."""

    filename: str = ""
    function: str = ""
    module: str = ""
    lineno: int | None = None
    in_app: bool | None = None  # None: decide from the path/module
    context: str = ""  # the source line, when the trace has it (Python, Sentry)

    @property
    def is_in_app(self) -> bool:
        if self.in_app is not None:
            return self.in_app
        return not _is_library(self.filename, self.module)

    def key(self) -> str:
        """What identifies this frame across builds: module or file, function, source line.

        The source line (not its number) tells two raises in one function apart and survives
        edits elsewhere in the file.
        """
        where = _ANON_RE.sub("", self.module) or _normalise_path(self.filename)
        function = _normalise_function(self.function)
        context = " ".join(self.context.split())
        return f"{where}:{function}:{context}" if context else f"{where}:{function}"

    def label(self) -> str:
        """``shop/cart.py in add_item``: how the culprit is shown."""
        where = _short_path(self.filename) if self.filename else self.module
        return f"{where} in {self.function}" if self.function else where


# -- library vs application code ------------------------------------------------------------

_LIBRARY_PATH_RE = re.compile(
    r"(?:site-packages|dist-packages|node_modules|/lib/python\d|\\lib\\python|/usr/lib/|"
    r"/usr/local/lib/|<frozen |/usr/local/go/src/|/go/pkg/mod/|/gems/|/rubygems/|"
    r"^internal/|^node:|^<anonymous>|/\.cargo/registry/|^webpack/bootstrap)"
)
_LIBRARY_MODULE_RE = re.compile(
    r"^(?:java|javax|jakarta|jdk|sun|com\.sun|kotlin|kotlinx|scala|org\.springframework|org\.apache|"
    r"org\.hibernate|io\.netty|reactor|okhttp3|com\.fasterxml|org\.junit|"
    r"System|Microsoft|runtime|net/http|reflect|sync|internal)(?:[./]|$)"
)


def _is_library(filename: str, module: str) -> bool:
    if filename and _LIBRARY_PATH_RE.search(filename):
        return True
    return bool(module and _LIBRARY_MODULE_RE.match(module))


# -- normalisation of names -------------------------------------------------------------------

_BUILD_HASH_RE = re.compile(r"[.-][0-9a-f]{6,}(?=\.(?:js|mjs|cjs|css)$)", re.I)
# Compiler- and proxy-generated names that change from build to build.
_ANON_RE = re.compile(
    r"\$\$Lambda(?:\$+\d+)?(?:/0x[0-9a-f]+)?|\$\$(?:EnhancerBySpringCGLIB|FastClassBySpringCGLIB|SpringCGLIB)\$\$\w+"
    r"|\$\d+|lambda\$\w+\$\d+|<lambda_\d+>",
    re.I,
)


def _short_path(path: str) -> str:
    path = path.replace("\\", "/")
    path = re.sub(r"^(?:https?://[^/]+|file://|webpack://[^/]*|app://)", "", path)
    path = path.split("?")[0].split("#")[0]
    for marker in ("site-packages/", "dist-packages/", "node_modules/", "/src/", "/app/"):
        if marker in path:
            path = path.rsplit(marker, 1)[1]
            break
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[-2:])


def _normalise_path(path: str) -> str:
    return _BUILD_HASH_RE.sub("", _short_path(path)).lower()


def _normalise_function(function: str) -> str:
    function = _ANON_RE.sub("", function.strip())
    function = re.sub(r"\(.*\)$", "", function)  # Go/.NET argument lists
    return re.sub(r"0x[0-9a-f]+", "", function, flags=re.I)


def normalise_type(exception_type: str) -> str:
    """``builtins.ValueError`` -> ``ValueError``; other qualified names are kept."""
    name = exception_type.strip()
    for prefix in ("builtins.", "exceptions.", "__main__."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


# -- message normalisation --------------------------------------------------------------------

_MESSAGE_RULES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        "<time>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<addr>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"(?<![\w])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    # Ids mixing letters and digits (user_8f2k1, ord-20240315-77): the digits are what varies.
    (
        re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+\b"),
        "<id>",
    ),
    (re.compile(r"\b[A-Za-z]{1,12}[-_]?\d[\w-]*\b"), "<id>"),
    (re.compile(r"(?<![A-Za-z<])[-+]?\d+(?:[.,]\d+)*"), "<n>"),
]


# HTTP status codes name the failure ("HTTP 502" is not "HTTP 404"): they survive the number
# rule below by being spelled with letters (5 -> f) before it runs.
_STATUS_RE = re.compile(
    r"(?i)\b(https?|status(?: code)?|code|returned|responded(?: with)?)(\s*[:=]?\s*)([1-5]\d\d)\b"
)
_DIGITS_AS_LETTERS = str.maketrans("0123456789", "abcdefghij")


def normalise_message(message: str) -> str:
    """The message with everything that varies between occurrences replaced by placeholders."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = _STATUS_RE.sub(
        lambda m: f"{m[1]}{m[2]}<status:{m[3].translate(_DIGITS_AS_LETTERS)}>", text
    )
    for pattern, placeholder in _MESSAGE_RULES:
        text = pattern.sub(placeholder, text)
    return re.sub(r"\s+", " ", text)[:500]


# -- stack trace parsing ------------------------------------------------------------------------

_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_JAVA_FRAME = re.compile(
    r"^\s*at (?P<qual>[\w$.<>/]+)\.(?P<func>[\w$<>]+)\((?P<file>[^:)]*)(?::(?P<line>\d+))?\)"
)
_DOTNET_FRAME = re.compile(
    r"^\s*at (?P<qual>[\w.`<>+\[\], ]+)\.(?P<func>[\w<>`]+)\([^)]*\)(?: in (?P<file>.+?):line (?P<line>\d+))?\s*$"
)
_V8_FRAME = re.compile(
    r"^\s*at (?:(?:async )?(?P<func>[^(]+?) \()?(?P<file>[^()]+?):(?P<line>\d+)(?::\d+)?\)?\s*$"
)
_FIREFOX_FRAME = re.compile(r"^\s*(?P<func>[^@\s]*)@(?P<file>.+?):(?P<line>\d+)(?::\d+)?\s*$")
_GO_FUNC = re.compile(r"^(?P<func>[\w./*()\[\]-]+)\(.*\)$")
_GO_FILE = re.compile(r"^\s+(?P<file>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_RUBY_FRAME = re.compile(
    r"^\s*(?:from )?(?P<file>[^:\s]+\.rb):(?P<line>\d+):in [`'](?P<func>[^']+)'"
)


def parse_stacktrace(text: str) -> list[Frame]:
    """Frames from a stack trace's text, outermost first (the raising frame is last).

    For chained Python tracebacks the last one (the exception that escaped) is used; for Java
    ``Caused by:`` sections, the first (the exception that was thrown to the caller).
    """
    if not text:
        return []
    lines = text.splitlines()
    if any(_PY_FRAME.match(line) for line in lines):
        return _parse_python(text)
    go = _parse_go(lines)
    if go:
        return go
    innermost_first: list[Frame] = []
    for line in lines:
        if line.strip().startswith("Caused by:") and innermost_first:
            break
        frame = _parse_line(line)
        if frame is not None:
            innermost_first.append(frame)
    return list(reversed(innermost_first))


def _parse_python(text: str) -> list[Frame]:
    blocks = re.split(r"^Traceback \(most recent call last\):\s*$", text, flags=re.M)
    block = next((b for b in reversed(blocks) if _PY_FRAME.search(b) or "File " in b), text)
    frames = []
    lines = block.splitlines()
    for i, line in enumerate(lines):
        m = _PY_FRAME.match(line)
        if m:
            frames.append(
                Frame(
                    filename=m["file"],
                    function=(m["func"] or "").strip(),
                    lineno=int(m["line"]),
                    context=_python_source_line(lines, i + 1),
                )
            )
    return frames


def _python_source_line(lines: Sequence[str], at: int) -> str:
    """The source line printed under a ``File ...`` line (not the ``^^^`` markers, if any)."""
    if at >= len(lines):
        return ""
    candidate = lines[at]
    if not candidate.startswith("    ") or _PY_FRAME.match(candidate):
        return ""
    text = candidate.strip()
    return "" if not text or set(text) <= set("^~ ") else text


def _parse_go(lines: Sequence[str]) -> list[Frame]:
    frames: list[Frame] = []
    pending: str | None = None
    for line in lines:
        if pending is not None:
            m = _GO_FILE.match(line)
            if m:
                module = pending.rsplit(".", 1)[0] if "." in pending else ""
                frames.append(
                    Frame(
                        filename=m["file"],
                        function=pending.rsplit(".", 1)[-1],
                        module=module,
                        lineno=int(m["line"]),
                    )
                )
            pending = None
            continue
        m = _GO_FUNC.match(line.strip())
        if m and not line.startswith((" ", "\t")):
            pending = m["func"]
    return list(reversed(frames))


def _parse_line(line: str) -> Frame | None:
    m = _JAVA_FRAME.match(line)
    if m and (
        m["file"].endswith((".java", ".kt", ".scala", ".groovy"))
        or m["file"] in ("Unknown Source", "Native Method")
    ):
        return Frame(
            filename=m["file"], function=m["func"], module=m["qual"], lineno=_int(m["line"])
        )
    m = _DOTNET_FRAME.match(line)
    if m and (m["file"] is None or m["file"].endswith((".cs", ".fs", ".vb"))):
        return Frame(
            filename=m["file"] or "", function=m["func"], module=m["qual"], lineno=_int(m["line"])
        )
    m = _RUBY_FRAME.match(line)
    if m:
        return Frame(
            filename=m["file"],
            function=m["func"].split(".")[-1].split("#")[-1],
            lineno=_int(m["line"]),
        )
    m = _V8_FRAME.match(line)
    if m:
        return Frame(filename=m["file"], function=(m["func"] or "").strip(), lineno=_int(m["line"]))
    m = _FIREFOX_FRAME.match(line)
    if m:
        return Frame(filename=m["file"], function=m["func"], lineno=_int(m["line"]))
    return None


def _int(value: str | None) -> int | None:
    return int(value) if value else None


# -- the fingerprint ----------------------------------------------------------------------------


def significant_frames(frames: Sequence[Frame]) -> list[Frame]:
    """The frames that identify the bug: innermost in-app ones, else innermost library ones."""
    in_app = [f for f in frames if f.is_in_app]
    chosen = in_app or list(frames)
    return chosen[-IN_APP_DEPTH:]


def culprit(frames: Sequence[Frame]) -> str:
    """The innermost in-app frame as ``path in function`` ('' without frames)."""
    chosen = significant_frames(frames)
    return chosen[-1].label() if chosen else ""


def fingerprint(
    exception_type: str,
    message: str = "",
    stacktrace: str = "",
    *,
    frames: Iterable[Frame] | None = None,
    extra: Sequence[str] = (),
) -> str:
    """A 32-hex-character id shared by every occurrence of the same bug.

    ``frames`` (outermost first) take precedence over parsing ``stacktrace``; ``extra`` lets a
    client force grouping (Sentry's explicit ``fingerprint`` values other than
    ``{{ default }}``).
    """
    if extra and any(part != "{{ default }}" for part in extra):
        basis = ["custom", *extra]
    else:
        frame_list = list(frames) if frames is not None else parse_stacktrace(stacktrace)
        chosen = significant_frames(frame_list)
        basis = [normalise_type(exception_type) or "Error"]
        if chosen:
            basis += [f.key() for f in chosen]
        else:
            basis.append(normalise_message(message))
        if extra:
            basis.append("default")
    return hashlib.sha256("\x1f".join(basis).encode()).hexdigest()[:32]
