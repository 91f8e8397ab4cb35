"""A labelled corpus of error events for measuring fingerprint quality.

Each bug is a code path in one of six languages (or a stack-less log message); each occurrence
varies what really varies in production: line numbers after a release, install paths, framework
frames and versions, bundle hashes, lambda and proxy class names, goroutine ids and argument
addresses, and ids, numbers, UUIDs, emails, IPs, timestamps and amounts in the message. Several
bugs are deliberately close to each other (same file and type in another function; same
function, another type; same function, another raise; same message shape, another status) so a
fingerprint that merges too eagerly shows up as a false merge.

Run ``python -m tests.ingest.fingerprint_corpus`` to print the figures.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ingest.fingerprint import fingerprint


@dataclass(frozen=True)
class Occurrence:
    bug: str
    exception_type: str
    message: str
    stacktrace: str


Variant = Callable[[random.Random], tuple[str, str]]  # -> (message, stacktrace)

ROOTS = ["/srv/shop", "/app", "/home/runner/work/shop/shop", "/opt/shop/releases/20260301"]
SITE = [
    "/usr/local/lib/python3.11/site-packages",
    "/app/.venv/lib/python3.12/site-packages",
    "/opt/venv/lib/python3.11/site-packages",
]


def _id(r: random.Random) -> str:
    return str(r.randint(1, 10**7))


def _email(r: random.Random) -> str:
    return f"{r.choice(['ann', 'bob', 'li.wei', 'o.connor'])}{r.randint(1, 999)}@{r.choice(['example.com', 'mail.test'])}"


def _uuid(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128)))


def _py(r: random.Random, frames: list[tuple[str, str, str]], etype: str, msg: str) -> str:
    """A Python traceback: framework frames, then the app's (file, function, source line)."""
    root, site, shift = r.choice(ROOTS), r.choice(SITE), r.choice([0, 3, 17, 42])
    lines = ["Traceback (most recent call last):"]
    lines.append(
        f'  File "{site}/flask/app.py", line {r.choice([867, 880, 1484])}, in full_dispatch_request'
    )
    lines.append("    rv = self.dispatch_request()")
    if r.random() < 0.5:  # a middleware that only some deployments have
        lines.append(f'  File "{site}/sentry_sdk/integrations/flask.py", line 90, in _dispatch')
        lines.append("    return old_dispatch(self, *args, **kwargs)")
    for depth, (path, func, code) in enumerate(frames):
        lines.append(f'  File "{root}/{path}", line {10 + depth * 23 + shift}, in {func}')
        lines.append(f"    {code}")
        if r.random() < 0.3:
            lines.append("    " + " " * 4 + "^" * min(len(code), 12))
    lines.append(f"{etype}: {msg}")
    return "\n".join(lines)


def _java(r: random.Random, frames: list[tuple[str, str]], etype: str, msg: str) -> str:
    shift = r.choice([0, 2, 9, 31])
    lines = [f"{etype}: {msg}"]
    for depth, (qual, func) in enumerate(reversed(frames)):
        cls = qual.rsplit(".", 1)[-1].split("$")[0]
        if r.random() < 0.3 and depth > 0:
            qual = f"{qual}$$SpringCGLIB$${r.randint(0, 3)}"
        lines.append(f"\tat {qual}.{func}({cls}.java:{40 + depth * 17 + shift})")
    if frames[0][0].endswith("Controller"):  # controllers are reached through a route lambda
        lines.append(
            f"\tat com.shop.web.Routes$$Lambda${r.randint(100, 999)}/0x{r.getrandbits(40):016x}.handle(Unknown Source)"
        )
    lines.append(
        f"\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{r.choice([883, 897])})"
    )
    lines.append("\tat jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)")
    return "\n".join(lines)


def _js(r: random.Random, frames: list[str], etype: str, msg: str) -> str:
    bundle = f"{r.getrandbits(32):08x}"
    host = r.choice(["https://shop.example.com", "https://cdn.shop.example.com"])
    lines = [f"{etype}: {msg}"]
    for func in reversed(frames):
        lines.append(
            f"    at {func} ({host}/static/js/main.{bundle}.js:{r.choice([1, 2])}:{r.randint(1000, 90000)})"
        )
    lines.append(
        f"    at commitHookEffectListMount ({host}/static/js/vendor.{bundle}.js:2:{r.randint(1000, 90000)})"
    )
    lines.append("    at async Promise.all (index 0)")
    return "\n".join(lines)


def _node(r: random.Random, frames: list[tuple[str, str]], etype: str, msg: str) -> str:
    root = r.choice(["/usr/src/app", "/app", "/home/node/app"])
    lines = [f"{etype}: {msg}"]
    for path, func in reversed(frames):
        lines.append(f"    at {func} ({root}/{path}:{r.randint(10, 400)}:{r.randint(1, 60)})")
    lines.append(
        f"    at Layer.handle [as handle_request] ({root}/node_modules/express/lib/router/layer.js:95:5)"
    )
    lines.append(
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"
    )
    return "\n".join(lines)


def _go(r: random.Random, frames: list[tuple[str, str]], msg: str) -> str:
    root = r.choice(["/home/dev/shop", "/build/shop", "/go/src/github.com/acme/shop"])
    lines = [f"panic: {msg}", "", f"goroutine {r.randint(1, 9999)} [running]:"]
    for pkg_func, path in reversed(frames):
        lines.append(
            f"{pkg_func}(0xc{r.getrandbits(36):09x}, {{0x{r.getrandbits(24):x}, 0xc{r.getrandbits(36):09x}}})"
        )
        lines.append(f"\t{root}/{path}:{r.randint(20, 300)} +0x{r.getrandbits(12):x}")
    lines.append("net/http.HandlerFunc.ServeHTTP(0x0?, {0x6e0fa8?, 0xc0000e2000?}, 0xc0000e4000?)")
    lines.append(f"\t/usr/local/go/src/net/http/server.go:{r.choice([2136, 2171])} +0x29")
    return "\n".join(lines)


def _ruby(r: random.Random, frames: list[tuple[str, str]]) -> str:
    root = r.choice(["/app", "/srv/www/shop/current", "/rails"])
    lines = [f"{root}/{path}:{r.randint(5, 200)}:in '{func}'" for path, func in reversed(frames)]
    lines.append(
        f"/usr/local/bundle/gems/actionpack-7.1.{r.randint(1, 3)}/lib/abstract_controller/base.rb:224:in 'process_action'"
    )
    return "\n".join(lines)


def _dotnet(r: random.Random, frames: list[tuple[str, str, str]]) -> str:
    root = r.choice(["/src", "C:\\build\\agent\\_work\\1\\s", "/home/vsts/work/1/s"])
    sep = "\\" if root.startswith("C:") else "/"
    lines = []
    for qual, func, file in reversed(frames):
        lines.append(
            f"   at {qual}.{func}(Int32 id) in {root}{sep}Shop{sep}{file}:line {r.randint(10, 300)}"
        )
    lines.append(
        "   at Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.Execute(ObjectMethodExecutor executor)"
    )
    return "\n".join(lines)


CART = [
    ("shop/views.py", "add_to_cart", "cart.add_item(sku, qty)"),
    ("shop/cart.py", "add_item", "price = PRICES[sku]"),
]
CART_REMOVE = [
    ("shop/views.py", "remove_from_cart", "cart.remove_item(sku)"),
    ("shop/cart.py", "remove_item", "del self.lines[sku]"),
]
CHECKOUT = [
    ("shop/views.py", "checkout", "total = pricing.total(cart)"),
    ("shop/pricing.py", "total", "return sum(money.parse(i.price) for i in cart.items)"),
    ("shop/money.py", "parse", 'raise ValueError(f"bad amount {raw!r}")'),
]
REFUND = [
    ("shop/views.py", "refund", "amount = pricing.total(order.cart)"),
    ("shop/pricing.py", "total", "return sum(money.parse(i.price) for i in cart.items)"),
    ("shop/money.py", "parse", 'raise ValueError(f"bad amount {raw!r}")'),
]
QTY = [
    ("shop/views.py", "checkout", "validate(order)"),
    ("shop/validation.py", "validate", 'raise ValueError(f"invalid quantity {q}")'),
]
POSTCODE = [
    ("shop/views.py", "checkout", "validate(order)"),
    ("shop/validation.py", "validate", 'raise ValueError(f"invalid postcode {p!r}")'),
]
TYPE_IN_VALIDATE = [
    ("shop/views.py", "checkout", "validate(order)"),
    ("shop/validation.py", "validate", "if q < MIN_QTY:"),
]
DB = [("shop/orders.py", "save", "session.commit()")]
USER = [
    ("accounts/api.py", "profile", "user = repo.get(user_id)"),
    ("accounts/repo.py", "get", "return self.cache[user_id]"),
]

BUGS: dict[str, tuple[str, Variant]] = {
    # -- Python
    "py-cart-keyerror": (
        "KeyError",
        lambda r: (m := f"'sku-{_id(r)}'", _py(r, CART, "KeyError", m)),
    ),
    "py-cart-remove-keyerror": (
        "KeyError",
        lambda r: (m := f"'sku-{_id(r)}'", _py(r, CART_REMOVE, "KeyError", m)),
    ),
    "py-money-parse": (
        "ValueError",
        lambda r: (
            m := f"bad amount '{r.randint(1, 99)},{r.randint(0, 9)}x'",
            _py(r, CHECKOUT, "ValueError", m),
        ),
    ),
    "py-money-parse-refund": (
        "ValueError",
        lambda r: (
            m := f"bad amount '{r.randint(1, 99)}.{r.randint(0, 9)}?'",
            _py(r, REFUND, "ValueError", m),
        ),
    ),
    "py-invalid-qty": (
        "ValueError",
        lambda r: (m := f"invalid quantity {r.randint(-5, 0)}", _py(r, QTY, "ValueError", m)),
    ),
    "py-invalid-postcode": (
        "ValueError",
        lambda r: (
            m := f"invalid postcode '{r.choice(['SW1A', 'EC1', '9021'])}{r.randint(0, 9)}'",
            _py(r, POSTCODE, "ValueError", m),
        ),
    ),
    "py-validate-typeerror": (
        "TypeError",
        lambda r: (
            m := "'<' not supported between instances of 'NoneType' and 'int'",
            _py(r, TYPE_IN_VALIDATE, "TypeError", m),
        ),
    ),
    "py-db-integrity": (
        "sqlalchemy.exc.IntegrityError",
        lambda r: (
            m
            := f'(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "orders_pkey" DETAIL: Key (id)=({_id(r)}) already exists.',
            _py(r, DB, "sqlalchemy.exc.IntegrityError", m),
        ),
    ),
    "py-user-cache": ("KeyError", lambda r: (m := f"'{_uuid(r)}'", _py(r, USER, "KeyError", m))),
    # -- Java
    "java-address-npe": (
        "java.lang.NullPointerException",
        lambda r: (
            m := 'Cannot invoke "String.trim()" because "address.line2" is null',
            _java(
                r,
                [
                    ("com.shop.checkout.CheckoutController", "submit"),
                    ("com.shop.checkout.CheckoutService", "placeOrder"),
                    ("com.shop.checkout.AddressValidator", "validate"),
                ],
                "java.lang.NullPointerException",
                m,
            ),
        ),
    ),
    "java-address-normalize-npe": (
        "java.lang.NullPointerException",
        lambda r: (
            m := 'Cannot invoke "String.toUpperCase()" because "country" is null',
            _java(
                r,
                [
                    ("com.shop.checkout.CheckoutController", "submit"),
                    ("com.shop.checkout.CheckoutService", "placeOrder"),
                    ("com.shop.checkout.AddressValidator", "normalize"),
                ],
                "java.lang.NullPointerException",
                m,
            ),
        ),
    ),
    "java-inventory-iae": (
        "java.lang.IllegalStateException",
        lambda r: (
            m := f"Stock for item {_id(r)} went negative: {-r.randint(1, 9)}",
            _java(
                r,
                [
                    ("com.shop.inventory.InventoryService", "reserve"),
                    ("com.shop.inventory.StockLedger", "apply"),
                ],
                "java.lang.IllegalStateException",
                m,
            ),
        ),
    ),
    "java-payment-timeout": (
        "java.net.SocketTimeoutException",
        lambda r: (
            m
            := f"Read timed out after {r.choice([3000, 5000])}ms to {r.randint(10, 99)}.0.{r.randint(0, 9)}.{r.randint(1, 254)}:443",
            _java(
                r,
                [
                    ("com.shop.payments.PaymentClient", "charge"),
                    ("com.shop.payments.HttpGateway", "post"),
                ],
                "java.net.SocketTimeoutException",
                m,
            ),
        ),
    ),
    # -- browser JavaScript
    "js-render-cart": (
        "TypeError",
        lambda r: (
            "Cannot read properties of undefined (reading 'id')",
            _js(
                r,
                ["CartPage", "renderCart"],
                "TypeError",
                "Cannot read properties of undefined (reading 'id')",
            ),
        ),
    ),
    "js-render-checkout": (
        "TypeError",
        lambda r: (
            "Cannot read properties of undefined (reading 'id')",
            _js(
                r,
                ["CheckoutPage", "renderCheckout"],
                "TypeError",
                "Cannot read properties of undefined (reading 'id')",
            ),
        ),
    ),
    "js-chunk-load": (
        "ChunkLoadError",
        lambda r: (
            m
            := f"Loading chunk {r.randint(100, 999)} failed. (timeout: https://shop.example.com/static/js/{r.randint(100, 999)}.{r.getrandbits(32):08x}.chunk.js)",
            _js(r, ["loadRoute"], "ChunkLoadError", m),
        ),
    ),
    # -- Node.js
    "node-coupon-rangeerror": (
        "RangeError",
        lambda r: (
            m := f"Invalid discount {r.randint(101, 400)}% for coupon SAVE{r.randint(10, 99)}",
            _node(
                r,
                [
                    ("src/routes/coupons.js", "applyCoupon"),
                    ("src/pricing/discount.js", "percentOff"),
                ],
                "RangeError",
                m,
            ),
        ),
    ),
    "node-session-expired": (
        "Error",
        lambda r: (
            m
            := f"session {r.getrandbits(64):016x} expired at 2026-03-0{r.randint(1, 9)}T{r.randint(10, 23)}:{r.randint(10, 59)}:00Z",
            _node(r, [("src/middleware/auth.js", "requireSession")], "Error", m),
        ),
    ),
    # -- Go
    "go-order-index": (
        "runtime.boundsError",
        lambda r: (
            m
            := f"runtime error: index out of range [{r.randint(3, 9)}] with length {r.randint(0, 3)}",
            _go(
                r,
                [
                    ("main.main", "main.go"),
                    ("main.(*Server).handleOrder", "server.go"),
                    ("main.lineTotal", "orders.go"),
                ],
                m,
            ),
        ),
    ),
    "go-order-nil": (
        "runtime.Error",
        lambda r: (
            m
            := f"runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation code=0x1 addr=0x{r.getrandbits(8):x} pc=0x{r.getrandbits(24):x}]",
            _go(
                r,
                [
                    ("main.main", "main.go"),
                    ("main.(*Server).handleOrder", "server.go"),
                    ("main.customerName", "orders.go"),
                ],
                m,
            ),
        ),
    ),
    # -- Ruby
    "rb-order-total": (
        "NoMethodError",
        lambda r: (
            f"undefined method '+' for nil (order #{_id(r)})",
            _ruby(
                r,
                [
                    ("app/controllers/orders_controller.rb", "OrdersController#show"),
                    ("app/models/order.rb", "Order#total"),
                ],
            ),
        ),
    ),
    "rb-invoice-pdf": (
        "Prawn::Errors::CannotFit",
        lambda r: (
            f"Table's width was set too small for invoice INV-{_id(r)}",
            _ruby(
                r,
                [
                    ("app/jobs/invoice_job.rb", "InvoiceJob#perform"),
                    ("app/services/invoice_pdf.rb", "InvoicePdf#render"),
                ],
            ),
        ),
    ),
    # -- .NET
    "cs-latest-order": (
        "System.InvalidOperationException",
        lambda r: (
            "Sequence contains no elements",
            _dotnet(
                r,
                [
                    ("Shop.Api.OrdersController", "Latest", "OrdersController.cs"),
                    ("Shop.Orders.OrderService", "GetLatest", "OrderService.cs"),
                ],
            ),
        ),
    ),
    "cs-user-format": (
        "System.FormatException",
        lambda r: (
            f"The input string '{r.choice(['12a', 'x9', '7 7'])}' was not in a correct format.",
            _dotnet(
                r,
                [
                    ("Shop.Api.UsersController", "Get", "UsersController.cs"),
                    ("Shop.Users.UserParser", "ParseId", "UserParser.cs"),
                ],
            ),
        ),
    ),
    # -- stack-less errors (ERROR logs)
    "log-payment-502": (
        "",
        lambda r: (
            f"payment provider returned HTTP 502 for order {_id(r)} after {r.randint(100, 9000)}ms",
            "",
        ),
    ),
    "log-payment-503": (
        "",
        lambda r: (
            f"payment provider returned HTTP 503 for order {_id(r)} after {r.randint(100, 9000)}ms",
            "",
        ),
    ),
    "log-email-bounce": (
        "",
        lambda r: (f"could not send receipt to {_email(r)}: mailbox unavailable (550 5.1.1)", ""),
    ),
    "log-db-pool": (
        "",
        lambda r: (
            f"connection pool exhausted (size={r.choice([10, 20])}, waiting={r.randint(1, 90)}) at {r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)}",
            "",
        ),
    ),
    "log-cache-miss-storm": (
        "",
        lambda r: (
            f"cache stampede on key product:{_id(r)} from 10.0.{r.randint(0, 9)}.{r.randint(1, 254)}",
            "",
        ),
    ),
    "log-webhook-signature": (
        "",
        lambda r: (f"rejected webhook {_uuid(r)}: signature mismatch", ""),
    ),
}


def corpus(seed: int = 7, per_bug: int = 9) -> list[Occurrence]:
    """``per_bug`` varied occurrences of every bug (fixed seed: the same corpus every run)."""
    r = random.Random(seed)
    found = []
    for bug, (etype, variant) in BUGS.items():
        for _ in range(per_bug):
            message, stack = variant(r)
            found.append(Occurrence(bug, etype, message, stack))
    return found


@dataclass(frozen=True)
class Quality:
    events: int
    bugs: int
    groups: int
    false_merges: int  # groups holding more than one bug
    splits: int  # extra groups beyond one per bug
    pair_precision: float
    pair_recall: float
    merged_bugs: list[list[str]]
    split_bugs: dict[str, int]


def measure(events: list[Occurrence]) -> Quality:
    """Group by fingerprint and compare with the labels."""
    groups: dict[str, set[str]] = defaultdict(set)
    by_bug: dict[str, set[str]] = defaultdict(set)
    labels = []
    for e in events:
        fp = fingerprint(e.exception_type, e.message, e.stacktrace)
        groups[fp].add(e.bug)
        by_bug[e.bug].add(fp)
        labels.append((e.bug, fp))
    same_both = same_fp = same_bug = 0
    for (b1, f1), (b2, f2) in itertools.combinations(labels, 2):
        same_fp += f1 == f2
        same_bug += b1 == b2
        same_both += f1 == f2 and b1 == b2
    return Quality(
        events=len(events),
        bugs=len(by_bug),
        groups=len(groups),
        false_merges=sum(1 for bugs in groups.values() if len(bugs) > 1),
        splits=sum(len(fps) - 1 for fps in by_bug.values()),
        pair_precision=same_both / same_fp if same_fp else 1.0,
        pair_recall=same_both / same_bug if same_bug else 1.0,
        merged_bugs=sorted(sorted(b) for b in groups.values() if len(b) > 1),
        split_bugs={bug: len(fps) for bug, fps in by_bug.items() if len(fps) > 1},
    )


if __name__ == "__main__":
    q = measure(corpus())
    print(f"corpus: {q.events} error events, {q.bugs} distinct bugs in 6 languages + logs")
    print(f"groups: {q.groups}; false merges: {q.false_merges}; splits: {q.splits}")
    print(f"pairwise precision: {q.pair_precision:.4f}; pairwise recall: {q.pair_recall:.4f}")
    for merged in q.merged_bugs:
        print(f"  merged: {', '.join(merged)}")
    for bug, n in q.split_bugs.items():
        print(f"  split: {bug} into {n} groups")
