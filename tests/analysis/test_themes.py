"""Ticket themes: the number of themes is chosen from the data; labels; determinism."""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from analysis.config import ThemeSettings
from analysis.themes import (
    FACET_DIMS,
    _merge_same_facet,
    _what_and_symptom,
    cluster_texts,
    normalise_text,
    stem,
    ticket_links,
    ticket_text,
    topic_words,
)
from ingest.redaction import redact
from simulator.api import simulate

INTENTS = ("cancel_order", "track_refund", "change_shipping_address", "delete_account",
           "newsletter_subscription", "payment_issue")  # fmt: skip


def _bitext(shared_data: Path, per_intent: int = 80) -> tuple[list[str], list[str]]:
    path = shared_data / "support-tickets" / "bitext-customer-support-sample.csv"
    texts: list[str] = []
    labels: list[str] = []
    counts = dict.fromkeys(INTENTS, 0)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            intent = row["intent"]
            if intent in counts and counts[intent] < per_intent:
                counts[intent] += 1
                texts.append(row["instruction"])
                labels.append(intent)
    return texts, labels


def test_themes_recover_real_intents_choosing_k(shared_data: Path) -> None:
    texts, labels = _bitext(shared_data)
    model = cluster_texts(texts, ThemeSettings(seed=7, max_k=15))
    # k is chosen, not the cap; silhouette splits some intents into phrasing variants (12-14).
    assert 4 <= model.k < 15
    assert normalized_mutual_info_score(labels, model.labels) >= 0.6
    # every theme has a readable label and a representative ticket from the theme
    for c in range(model.k):
        assert model.top_terms[c]
        assert model.labels[model.representatives[c]] == c


def test_themes_are_deterministic_for_a_seed(shared_data: Path) -> None:
    texts, _ = _bitext(shared_data, per_intent=30)
    a = cluster_texts(texts, ThemeSettings(seed=3, max_k=10))
    b = cluster_texts(texts, ThemeSettings(seed=3, max_k=10))
    assert a.k == b.k and a.labels.tolist() == b.labels.tolist() and a.top_terms == b.top_terms


def test_new_texts_are_assigned_to_the_nearest_theme(shared_data: Path) -> None:
    texts, labels = _bitext(shared_data, per_intent=40)
    model = cluster_texts(texts, ThemeSettings(seed=7, max_k=10))
    delete = [t for t, lab in zip(texts, labels, strict=True) if lab == "delete_account"][:5]
    assigned = model.assign(delete)
    expected = model.labels[[texts.index(t) for t in delete]]
    assert assigned.tolist() == expected.tolist()


def test_tickets_from_sessions_of_one_friction_lean_into_one_theme(shared_data: Path) -> None:
    texts, labels = _bitext(shared_data, per_intent=40)
    settings = ThemeSettings(seed=3, max_k=12)
    plain = cluster_texts(texts, settings)
    # the intent the text alone spreads over the most themes
    spread = {
        i: len(set(plain.labels[[labels[j] == i for j in range(len(texts))]])) for i in INTENTS
    }
    intent = max(INTENTS, key=lambda i: (spread[i], i))
    members = [j for j, lab in enumerate(labels) if lab == intent]
    assert spread[intent] > 1
    # their sessions all suffered one friction cluster; nobody else's did
    links = [{"cl-slow_step-x"} if lab == intent else set() for lab in labels]
    linked = cluster_texts(texts, settings, links)
    top = Counter(linked.labels[members].tolist()).most_common(1)[0][1]
    before = Counter(plain.labels[members].tolist()).most_common(1)[0][1]
    assert top > before and top >= 0.9 * len(members)


def test_ticket_links_follow_sessions_not_users() -> None:
    affected = {
        "cl-a": ({"s1", "s2"}, {"u1"}),
        "cl-b": ({"s2", "s3"}, {"u9"}),
    }
    links = ticket_links(["s2", "s3", "", "s7"], affected)
    assert links == [{"cl-a", "cl-b"}, {"cl-b"}, set(), set()]


def test_links_must_match_the_texts() -> None:
    with pytest.raises(ValueError, match="links: 1 entries for 2 texts"):
        cluster_texts(["a b c", "d e f"], ThemeSettings(), [set()])


def test_word_forms_are_one_term_and_labels_read_as_written(shared_data: Path) -> None:
    texts, _ = _bitext(shared_data, per_intent=40)
    model = cluster_texts(texts, ThemeSettings(seed=7, max_k=10))
    analyse = model.vectorizers[0].build_analyzer()
    # "cancel", "cancelling" and "cancelled" are one term; stop words go
    assert set(analyse(normalise_text("cancel the cancelling"))) == {"cancel", "cancel cancel"}
    # a word whose stem is an English stop word stays ("billing" -> "bill", not dropped)
    assert set(analyse(normalise_text("billing bills"))) == {"bill", "bill bill"}
    # labels are words this theme's own tickets wrote, never stems ("cancel ord")
    for c in range(model.k):
        written = {
            w for i in np.flatnonzero(model.labels == c) for w in re.findall(r"[a-z0-9]+", texts[i].lower())
        }  # fmt: skip
        for term in model.top_terms[c]:
            assert set(term.split()) <= written, (term, model.top_terms[c])


def test_stemming_is_safe_from_many_threads() -> None:
    # Distinct words (the cache would hide a race) and a tiny GIL switch interval, so threads
    # interleave inside the stemmer as often as they can.
    roots = ("upload", "fail", "bill", "deliver", "refund", "cancel", "connect", "sync", "pay")
    words = [f"{r}{i}{suffix}" for r in roots for i in "abcdefghijklmnop"
             for suffix in ("", "s", "ing", "ed", "ers", "ation", "ness")]  # fmt: skip
    stem.cache_clear()
    expected = [stem(w) for w in words]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(5):
            stem.cache_clear()
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda ws: [stem(w) for w in ws], [words] * 8))
            assert all(r == expected for r in results)
    finally:
        sys.setswitchinterval(interval)
        stem.cache_clear()


def _own_cluster(labels: dict[str, int], ticket_ids: list[str]) -> bool:
    """The theme holding most of these tickets holds at least 80% of them and is 80% them."""
    theme, count = Counter(labels[t] for t in ticket_ids).most_common(1)[0]
    size = sum(1 for lab in labels.values() if lab == theme)
    return count >= 0.8 * len(ticket_ids) and count >= 0.8 * size


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_thing_same_symptom_in_other_words_is_one_theme(seed: int) -> None:
    # The saas app's bad deploy of the files service: its tickets say "timing out", "fails or
    # takes ages", "is something down?", on the step where an Android slow-upload friction
    # has tickets too ("takes forever").
    sim = simulate("saas", seed=seed, sessions=1500)
    pairs = [(redact(t["subject"]), redact(t["body"])) for t in sim.tickets]
    texts = [ticket_text(s, b) for s, b in pairs]
    ids = [t["id"] for t in sim.tickets]
    injected = {th.id: list(th.ticket_ids) for th in sim.manifest.ticket_themes if th.linked_id}
    settings = ThemeSettings(seed=seed)
    plain = dict(zip(ids, cluster_texts(texts, settings).labels.tolist(), strict=True))
    # words alone cut the deploy's tickets by wording (the premise of this test)
    assert not _own_cluster(plain, injected["theme-incident-1"])
    model = cluster_texts(texts, settings, topics=[topic_words(s, b) for s, b in pairs])
    labels = dict(zip(ids, model.labels.tolist(), strict=True))
    assert {theme: _own_cluster(labels, tickets) for theme, tickets in injected.items()} == {
        theme: True for theme in injected
    }


def test_topic_words_are_what_subject_and_body_share() -> None:
    assert (
        topic_words("File upload timing out!!", "Since 13:35 UTC file uploads fail")
        == "file upload"
    )
    assert topic_words("", "file upload fails") == ""
    with pytest.raises(ValueError, match="topics: 1 entries for 2 texts"):
        cluster_texts(["a b c", "d e f"], ThemeSettings(), topics=["a"])


def test_themes_about_the_same_thing_and_symptom_are_joined() -> None:
    upload_failing, upload_slow = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    none = [0.0, 0.0, 0.0]  # a ticket without a subject
    facets = np.array([
        upload_failing, upload_failing,  # theme 0: one wording
        upload_failing, upload_failing,  # theme 1: another wording of the same
        upload_slow, upload_slow,  # theme 2: the same thing, slow
        upload_failing, none, none,  # theme 3: mostly tickets without a subject
    ])  # fmt: skip
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    assert _merge_same_facet(labels, facets).tolist() == [0, 0, 0, 0, 2, 2, 3, 3, 3]


def test_what_and_symptom_block_is_bounded_for_many_topics() -> None:
    # 300 distinct things x 5 symptom columns would be 3,000 dense columns per ticket
    texts = [f"thing{i} fails again" for i in range(300)] + ["how do I export my files?"]
    topics = [f"thing{i} part{i % 7}" for i in range(300)] + [""]
    facets = _what_and_symptom(texts, topics, seed=3)
    assert facets is not None and facets.shape == (301, FACET_DIMS)
    assert np.allclose(np.linalg.norm(facets[:300], axis=1), 1.0)
    assert not facets[300].any()  # no topic words: no block
    assert _what_and_symptom(["a", "b"], ["", ""], seed=3) is None
