from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.fingerprint import culprit, fingerprint, normalise_message, parse_stacktrace
from tests.ingest.fingerprint_corpus import corpus, measure

PY = """Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/flask/app.py", line {lib}, in full_dispatch_request
    rv = self.dispatch_request()
  File "{root}/shop/cart.py", line {line}, in add_item
    price = PRICES[sku]
            ~~~~~~^^^^^
KeyError: 'sku-{n}'
"""


def test_corpus_groups_every_bug_once_without_false_merges() -> None:
    quality = measure(corpus())
    assert quality.events >= 250 and quality.bugs >= 30
    assert quality.false_merges == 0, quality.merged_bugs
    assert quality.pair_precision == 1.0
    assert quality.pair_recall >= 0.95, quality.split_bugs


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    line=st.integers(1, 5000),
    lib=st.integers(1, 5000),
    n=st.integers(0, 10**9),
    root=st.sampled_from(["/srv/app", "/app", "/home/x/work/shop"]),
)
def test_python_fingerprint_ignores_lines_paths_and_ids(
    line: int, lib: int, n: int, root: str
) -> None:
    reference = fingerprint("KeyError", "'sku-1'", PY.format(lib=1, line=1, root="/srv", n=1))
    varied = fingerprint("KeyError", f"'sku-{n}'", PY.format(lib=lib, line=line, root=root, n=n))
    assert varied == reference


@settings(max_examples=60, deadline=None, derandomize=True)
@given(number=st.integers(0, 10**12), uid=st.uuids(), addr=st.integers(0, 2**48))
def test_message_placeholders_absorb_what_varies(number: int, uid: object, addr: int) -> None:
    message = f"order {number} for {uid} failed at 0x{addr:x}"
    assert normalise_message(message) == "order <n> for <uuid> failed at <addr>"
    assert fingerprint("OrderError", message) == fingerprint("OrderError", "order 1 for 00000000-0000-0000-0000-000000000000 failed at 0x1")  # fmt: skip


def test_what_differs_stays_apart() -> None:
    stack = PY.format(lib=1, line=1, root="/srv", n=1)
    assert fingerprint("KeyError", "x", stack) != fingerprint("IndexError", "x", stack)
    other_function = stack.replace("in add_item", "in remove_item")
    assert fingerprint("KeyError", "x", stack) != fingerprint("KeyError", "x", other_function)
    assert fingerprint("", "payment returned HTTP 502") != fingerprint(
        "", "payment returned HTTP 503"
    )
    assert fingerprint("", "payment declined") != fingerprint("", "payment timed out")
    assert fingerprint("builtins.KeyError", "x", stack) == fingerprint("KeyError", "y", stack)


def test_explicit_grouping_overrides() -> None:
    assert fingerprint("A", "x", extra=["payments", "gateway"]) == fingerprint("B", "y", extra=["payments", "gateway"])  # fmt: skip
    assert fingerprint("A", "x", extra=["{{ default }}"]) != fingerprint("B", "x", extra=["{{ default }}"])  # fmt: skip


def test_parsers_and_culprit_across_languages() -> None:
    java = "java.lang.IllegalStateException: x\n\tat com.shop.Ledger.apply(Ledger.java:42)\n\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)\nCaused by: java.io.IOException: y\n\tat java.io.File.open(File.java:1)"  # fmt: skip
    assert culprit(parse_stacktrace(java)) == "Ledger.java in apply"
    js = "TypeError: x\n    at renderCart (https://shop.example.com/static/js/main.3f9a2b1c.js:2:18345)\n    at Object.handler (/app/node_modules/express/lib/router.js:10:5)"  # fmt: skip
    frames = parse_stacktrace(js)
    assert [f.is_in_app for f in frames] == [False, True]
    assert frames[-1].key() == "js/main.js:renderCart"  # build hash dropped
    firefox = "renderCart@https://shop.example.com/static/js/main.3f9a2b1c.js:2:18345\n"
    assert parse_stacktrace(firefox)[0].function == "renderCart"
    go = "panic: boom\n\ngoroutine 7 [running]:\nmain.(*Server).handle(0xc000010000)\n\t/build/shop/server.go:45 +0x1d\nnet/http.HandlerFunc.ServeHTTP(0x0?)\n\t/usr/local/go/src/net/http/server.go:2136 +0x29\n"  # fmt: skip
    assert culprit(parse_stacktrace(go)) == "shop/server.go in handle"
    ruby = "/app/app/models/order.rb:23:in 'Order#total'\n/usr/local/bundle/gems/actionpack-7.1.3/lib/abstract_controller/base.rb:224:in 'process_action'"  # fmt: skip
    assert culprit(parse_stacktrace(ruby)) == "models/order.rb in total"
    dotnet = "   at Shop.Orders.OrderService.GetLatest(Int32 userId) in /src/Shop/OrderService.cs:line 58\n   at Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.Execute()"  # fmt: skip
    assert culprit(parse_stacktrace(dotnet)) == "Shop/OrderService.cs in GetLatest"
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint("E", "m"))
