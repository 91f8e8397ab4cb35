"""Support-ticket themes: text clustering with scikit-learn, labels, trend, links to clusters.

Representation: words are stemmed (Snowball), so "fails", "failing" and "failed" are one term;
TF-IDF over words (1-2 grams) and characters (3-5 grams, robust to typos), reduced with LSA
(TruncatedSVD) and L2-normalised. Labels show the words customers wrote, not the stems.

Grouping: spectral clustering over a k-nearest-neighbour graph of the tickets (cosine). A theme
worded in several ways (customers describing one outage as "timing out", "broken", "errors since
this afternoon") is a chain of near neighbours rather than one round blob, which the graph follows
and k-means on the raw vectors does not. The graph's Laplacian eigenvectors are computed once;
the number of themes is chosen from the data: k-means on the first k eigenvectors for each k in a
range, scored by silhouette (cosine, on the ticket vectors) on a fixed sample; the smallest k within
5% of the best score wins, because silhouette keeps creeping up as clusters shrink and a smaller k
reads better. Deterministic for a seed.

What and what went wrong: a ticket's subject and body both name what it is about ("file
upload"), while each wording tells what went wrong in its own words ("timing out", "fails or
takes ages", "is something down?"). The words a ticket's subject and body share, crossed with its
primary symptom (`analysis.symptoms`), form a second block of the ticket's vector: tickets about
the same thing with the same symptom are alike however they are worded, and the same thing
failing is apart from it being slow. Texts without a subject (or with no word in common) have no
such block and are grouped by their words alone.

Telemetry links: a ticket that carries a session id is tied to the friction clusters whose
affected sessions include it. Tickets tied to the same cluster get an edge in the graph (as
strong as two texts at cosine ``LINK_WEIGHT``): the same suffering, said in different words,
leans towards one theme; the text still decides for the tickets without a session. Error
groups do not shape themes (a regressed error can reach most sessions); themes are linked to
them afterwards (`link_themes`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import polars as pl
import snowballstemmer
from scipy.linalg import eigh
from scipy.sparse import csr_matrix, hstack
from scipy.sparse.csgraph import laplacian
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from analysis.config import AnalysisSettings, ThemeSettings
from analysis.models import Cluster, TicketTheme
from analysis.symptoms import SYMPTOMS, primary_symptom, without_symptoms
from warehouse import Warehouse

SILHOUETTE_SAMPLE = 2000
NEAR_BEST = 0.95
CHAR_WEIGHT = 0.5  # characters help with typos; words carry the topic
MIN_NEIGHBOURS = 5  # graph degree: at least this, log2(n) for large sets (keeps it connected)
DENSE_EIGEN_BELOW = 500  # tickets: below, a dense eigensolver is faster than ARPACK
LINK_WEIGHT = 0.5  # edge between tickets from sessions of one friction cluster
LINK_DEGREE = 10  # each linked ticket is joined to at most 2x this many others of its cluster
FACET_WEIGHT = 1.0  # the what-and-symptom block against the words (both unit length)
FACET_DIMS = 200  # the block is kept whole up to this many columns, reduced (LSA) beyond
# Symptom vector: this constant plus a one for the primary symptom. Same thing, different
# symptoms: cosine 0.08; one symptom and none: 0.29; same symptom (or both none): 1.
SYMPTOM_BASE = 0.3
MERGE_COSINE = 0.9  # two themes whose what-and-symptom centroids are this close are one
MERGE_SHARE = 0.5  # ... counted only for a theme at least this share of whose tickets have one
_TOKEN = re.compile(r"[a-z][a-z0-9]+")
_WORD = re.compile(r"(?u)\b[a-z][a-z0-9]+\b")  # what the word vectorizer counts
# Placeholder-like tokens (templated ids, redaction markers) say nothing about a theme.
_NOISE = re.compile(r"\{\{.*?\}\}|\[[a-z_ ]+\]|<[a-z_ ]+>")
# scikit-learn's English list, less the topic words it holds ("bill", "call", "system", "name"):
# in a support ticket they say what it is about.
_TOPIC_WORDS = frozenset({
    "amount", "bill", "bottom", "call", "detail", "empty", "fire", "front", "full", "interest",
    "name", "part", "side", "system", "top",
})  # fmt: skip
_STOP = ENGLISH_STOP_WORDS - _TOPIC_WORDS
_local = threading.local()  # a Snowball stemmer keeps state between calls: one per thread


@dataclass
class ThemeModel:
    """Labels of each text, the chosen k and the evidence for it."""

    labels: np.ndarray
    k: int
    scores: dict[int, float]
    top_terms: list[list[str]]
    representatives: list[int]
    embedding: np.ndarray
    centroids: np.ndarray
    vectorizers: tuple[TfidfVectorizer, TfidfVectorizer, TruncatedSVD | None]

    def assign(self, texts: list[str]) -> np.ndarray:
        """The nearest theme of new texts (for the previous window's volume)."""
        if not texts:
            return np.zeros(0, dtype=int)
        z = _embed_with(self.vectorizers, [normalise_text(t) for t in texts])
        return np.asarray((z @ self.centroids.T).argmax(axis=1)).ravel()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word ("failing" -> "fail"). Stop words stay as they
    are, for the word vectorizer to drop, and so does a word whose stem reads as one ("billing"
    would become "bill", an English stop word, and vanish)."""
    if word in _STOP:
        return word
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    stemmed = str(stemmer.stemWord(word))
    return word if stemmed in _STOP or not _WORD.fullmatch(stemmed) else stemmed


def _lower(text: str) -> str:
    return _NOISE.sub(" ", text.lower())


def normalise_text(text: str) -> str:
    """Lower case, placeholders out, every word stemmed: what both vectorizers read."""
    return _WORD.sub(lambda m: stem(m.group(0)), _lower(text))


def written_forms(texts: Sequence[str]) -> dict[str, Counter[str]]:
    """For each term the word vectorizer counts (a stem, or two adjacent ones), how often each
    written form of it appears in ``texts``: labels show what customers wrote."""
    counts: dict[str, Counter[str]] = {}
    for text in texts:
        words = [w for w in _WORD.findall(_lower(text)) if w not in _STOP]
        stems = [stem(w) for w in words]
        for i, (word, stemmed) in enumerate(zip(words, stems, strict=True)):
            counts.setdefault(stemmed, Counter())[word] += 1
            if i + 1 < len(words):
                pair = f"{stemmed} {stems[i + 1]}"
                counts.setdefault(pair, Counter())[f"{word} {words[i + 1]}"] += 1
    return counts


def ticket_text(subject: str, body: str) -> str:
    """The one text a ticket is clustered as: its subject, then its body."""
    return f"{subject}. {body}"


def topic_words(subject: str, body: str) -> str:
    """The words (stemmed, stop words and symptom phrases out) a ticket's subject and body
    share: what it is about. Empty without a subject."""

    def words(text: str) -> set[str]:
        return {w for w in _WORD.findall(normalise_text(without_symptoms(text))) if w not in _STOP}

    return " ".join(sorted(words(subject) & words(body))) if subject.strip() else ""


def _what_and_symptom(texts: Sequence[str], topics: Sequence[str], seed: int) -> np.ndarray | None:
    """Each ticket's topic words (TF-IDF) crossed with its primary symptom, unit length; a zero
    row for a ticket without topic words; None when no ticket has any. Built sparse, and
    reduced to ``FACET_DIMS`` (LSA) when wider: thousands of topic words times the symptoms
    would not fit in memory as a dense block."""
    if not any(topics):
        return None
    what = normalize(
        TfidfVectorizer(sublinear_tf=True, token_pattern=_WORD.pattern).fit_transform(topics)
    ).tocoo()
    symptom = np.zeros((len(texts), len(SYMPTOMS) + 1))
    symptom[:, 0] = SYMPTOM_BASE
    for i, text in enumerate(texts):
        found = primary_symptom(text)
        if found is not None:
            symptom[i, 1 + SYMPTOMS.index(found)] = 1.0
    symptom = normalize(symptom)
    width = symptom.shape[1]
    # row-wise outer product: column (word, symptom) = tf-idf(word) x symptom weight
    rows = np.repeat(what.row, width)
    cols = (what.col[:, None] * width + np.arange(width)).ravel()
    data = (what.data[:, None] * symptom[what.row]).ravel()
    crossed = normalize(csr_matrix((data, (rows, cols)), shape=(len(texts), what.shape[1] * width)))
    if crossed.shape[1] <= FACET_DIMS:
        return np.asarray(crossed.toarray())
    reduced = TruncatedSVD(FACET_DIMS, random_state=seed).fit_transform(crossed)
    # keep a ticket without topic words at zero (normalize leaves zero rows alone)
    return np.asarray(normalize(reduced))


def _merge_same_facet(labels: np.ndarray, facets: np.ndarray) -> np.ndarray:
    """Join clusters that are mostly about the same thing with the same symptom: many tickets
    in one wording make a tight group that the silhouette would rather keep apart."""
    ids = sorted(set(labels.tolist()))
    has = np.linalg.norm(facets, axis=1) > 0
    means: dict[int, np.ndarray] = {}
    for c in ids:
        members = labels == c
        if has[members].mean() >= MERGE_SHARE:
            means[c] = normalize(facets[members & has].mean(axis=0, keepdims=True))[0]
    parent = {c: c for c in ids}

    def root(c: int) -> int:
        while parent[c] != c:
            c = parent[c]
        return c

    keys = sorted(means)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if float(means[a] @ means[b]) >= MERGE_COSINE:
                parent[root(b)] = root(a)
    return np.array([root(c) for c in labels.tolist()])


def _embed_with(
    parts: tuple[TfidfVectorizer, TfidfVectorizer, TruncatedSVD | None], texts: list[str]
) -> np.ndarray:
    words, chars, svd = parts
    x = hstack([words.transform(texts), CHAR_WEIGHT * chars.transform(texts)]).tocsr()
    z = svd.transform(x) if svd is not None else x.toarray()
    return normalize(z)


def _link_graph(links: Sequence[Collection[str]], n: int) -> csr_matrix:
    """Edges between tickets that share a link key; large groups as a circulant graph of bounded
    degree (a clique of thousands of tickets would cost quadratic memory for no extra pull)."""
    groups: dict[str, list[int]] = {}
    for i, keys in enumerate(links):
        for key in keys:
            groups.setdefault(key, []).append(i)
    rows: list[int] = []
    cols: list[int] = []
    for key in sorted(groups):
        members = groups[key]
        m = len(members)
        for step in range(1, min(LINK_DEGREE, m - 1) + 1):
            for j, a in enumerate(members):
                rows.append(a)
                cols.append(members[(j + step) % m])
    graph = csr_matrix((np.full(len(rows), LINK_WEIGHT), (rows, cols)), shape=(n, n))
    graph.sum_duplicates()
    graph.data[:] = LINK_WEIGHT
    return graph.maximum(graph.T).tocsr()


def _knn_graph(z: np.ndarray, links: Sequence[Collection[str]] | None = None) -> csr_matrix:
    """Symmetric k-nearest-neighbour affinity (cosine similarity, kept if either is a neighbour),
    plus the telemetry links between tickets."""
    n = z.shape[0]
    nn = min(n - 1, max(MIN_NEIGHBOURS, round(float(np.log2(n)))))
    dist, idx = NearestNeighbors(n_neighbors=nn + 1, metric="cosine").fit(z).kneighbors(z)
    # column 0 is the ticket itself (or an exact duplicate): either way it is a neighbour at 1.0
    sims = np.clip(1.0 - dist[:, 1:], 1e-6, None)
    rows = np.repeat(np.arange(n), nn)
    graph = csr_matrix((sims.ravel(), (rows, idx[:, 1:].ravel())), shape=(n, n))
    graph = graph.maximum(graph.T)
    if links is not None and any(links):
        graph = graph.maximum(_link_graph(links, n))
    return graph.tocsr()


def _spectral_embedding(
    z: np.ndarray, dims: int, seed: int, links: Sequence[Collection[str]] | None = None
) -> np.ndarray:
    """The ``dims`` eigenvectors of the graph's normalised Laplacian with the smallest values."""
    lap = laplacian(_knn_graph(z, links), normed=True)
    n = z.shape[0]
    dims = min(dims, n - 1)
    if n < DENSE_EIGEN_BELOW:
        _, vectors = eigh(lap.toarray(), subset_by_index=[0, dims - 1])
        return np.asarray(vectors)
    # Shift-invert around 1 on -L finds L's smallest eigenvalues quickly; fixed start: determinism.
    v0 = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    values, vectors = eigsh(-lap, k=dims, sigma=1.0, which="LM", v0=v0)
    return np.asarray(vectors[:, np.argsort(-values)])


def _candidate_ks(n: int, min_k: int, max_k: int) -> list[int]:
    top = max(min(max_k, n // 3), min_k)
    ks = sorted({k for k in range(min_k, top + 1) if k <= 12 or k % 2 == 0 or k == top})
    return ks


def cluster_texts(
    texts: list[str],
    settings: ThemeSettings,
    links: Sequence[Collection[str]] | None = None,
    topics: Sequence[str] | None = None,
) -> ThemeModel:
    """Cluster texts into themes, choosing the number of themes automatically.

    ``links``: for each text, keys it shares with other texts outside its words (the friction
    clusters its session suffered, from `ticket_links`); texts sharing a key lean together.
    ``topics``: for each text, what it is about (`topic_words` of its subject and body); texts
    about the same thing with the same symptom lean together.
    """
    for name, given in (("links", links), ("topics", topics)):
        if given is not None and len(given) != len(texts):
            raise ValueError(f"{name}: {len(given)} entries for {len(texts)} texts")
    docs = [normalise_text(t) for t in texts]
    n = len(docs)
    min_df = 2 if n >= 50 else 1
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df,
                            stop_words=sorted(_STOP), token_pattern=_WORD.pattern)  # fmt: skip
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                            min_df=min_df + 1)  # fmt: skip
    xw = words.fit_transform(docs)
    x = hstack([xw, CHAR_WEIGHT * chars.fit_transform(docs)]).tocsr()
    # Few tickets: keep fewer dimensions than documents, so LSA still merges wording variants.
    dims = min(100, x.shape[1] - 1, int(0.75 * n))
    svd: TruncatedSVD | None = None
    if dims >= 2:
        svd = TruncatedSVD(dims, random_state=settings.seed)
        z = normalize(svd.fit_transform(x))
    else:
        z = normalize(x.toarray())
    # Centroids, representatives and the previous window's assignment stay in word space;
    # the what-and-symptom block only shapes the grouping.
    text_z = z
    facets = _what_and_symptom(texts, topics, settings.seed) if topics is not None else None
    if facets is not None:
        z = normalize(np.hstack([z, FACET_WEIGHT * facets]))
    rng = np.random.default_rng(settings.seed)
    sample = rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False)
    scores: dict[int, float] = {}
    fits: dict[int, np.ndarray] = {}
    ks = [k for k in _candidate_ks(n, settings.min_k, settings.max_k) if k < n]
    spectral = _spectral_embedding(z, max(ks) + 1, settings.seed, links) if ks else None
    for k in ks:
        assert spectral is not None
        u = normalize(spectral[:, :k])
        labels = KMeans(k, n_init=3, random_state=settings.seed).fit(u).labels_
        if len(set(labels[sample].tolist())) < 2:
            continue
        scores[k] = float(silhouette_score(z[sample], labels[sample], metric="cosine"))
        fits[k] = labels
    if not scores:
        labels = np.zeros(n, dtype=int)
        k = 1
    else:
        best = max(scores.values())
        k = min(k for k, s in scores.items() if s >= NEAR_BEST * best)
        grouping = fits[k] if facets is None else _merge_same_facet(fits[k], facets)
        # renumber densely: a theme index for every label in use
        _, labels = np.unique(grouping, return_inverse=True)
        k = int(labels.max()) + 1
    # Centroids in text space: new tickets (the previous window) go to the nearest theme.
    centroids = normalize(np.vstack([text_z[labels == c].mean(axis=0) for c in range(k)]))
    terms = np.asarray(words.get_feature_names_out())
    top_terms, reps = [], []
    overall = np.asarray(xw.mean(axis=0)).ravel()
    for c in range(k):
        members = np.flatnonzero(labels == c)
        weight = np.asarray(xw[members].mean(axis=0)).ravel() - 0.5 * overall
        order = np.argsort(-weight)
        chosen: list[str] = []
        for t in terms[order]:
            parts = t.split()
            # Skip a unigram already inside a chosen bigram and vice versa, and a stem twice
            # ("cancel cancelled"): labels read better.
            if len(set(parts)) < len(parts) or any(t in c2.split() or c2 in parts for c2 in chosen):
                continue
            chosen.append(str(t))
            if len(chosen) == 5:
                break
        # In the words this theme's customers wrote most ("failing", not the stem "fail").
        written = written_forms([texts[i] for i in members])
        top_terms.append([written[t].most_common(1)[0][0] if t in written else t for t in chosen])
        sims = text_z[members] @ centroids[c]
        reps.append(int(members[int(np.argmax(sims))]))
    return ThemeModel(labels, k, scores, top_terms, reps, z, centroids, (words, chars, svd))


def _tickets_sql(wh: Warehouse) -> str:
    return f"""
SELECT TicketId AS id, argMax(Subject, UpdatedAt) AS subject, argMax(Body, UpdatedAt) AS body,
       argMax(SessionId, UpdatedAt) AS session_id, argMax(UserId, UpdatedAt) AS user_id,
       min(CreatedAt) AS created_at
FROM {wh.table("andon_support_tickets")}
GROUP BY Source, TicketId
HAVING created_at >= {{since:DateTime64(3)}} AND created_at < {{until:DateTime64(3)}}
ORDER BY created_at, id"""


def _fetch(wh: Warehouse, since: datetime, until: datetime) -> pl.DataFrame:
    return wh.frame(_tickets_sql(wh), {"since": since, "until": until})


def ticket_links(
    session_ids: Sequence[str], affected: Mapping[str, tuple[set[str], set[str]]]
) -> list[set[str]]:
    """For each ticket, the friction clusters whose affected sessions include its session.

    Sessions only: a user's other sessions often fall in unrelated clusters, and linking by user
    made themes worse on the simulator benchmark.
    """
    return [
        {cid for cid, (sessions, _users) in affected.items() if sid in sessions} if sid else set()
        for sid in session_ids
    ]


def ticket_themes(
    wh: Warehouse,
    cfg: AnalysisSettings,
    since: datetime,
    until: datetime,
    affected: Mapping[str, tuple[set[str], set[str]]] | None = None,
) -> list[TicketTheme]:
    """Themes of the support tickets created in [since, until), with the previous window's trend.

    ``affected``: friction cluster id -> (sessions, users) that felt it; tickets from sessions of
    one cluster lean towards one theme.
    """
    tickets = _fetch(wh, since, until)
    if tickets.height < cfg.themes.min_tickets:
        return []
    pairs = list(zip(tickets["subject"], tickets["body"], strict=True))
    texts = [ticket_text(s, b) for s, b in pairs]
    links = ticket_links(tickets["session_id"].to_list(), affected) if affected else None
    model = cluster_texts(texts, cfg.themes, links, [topic_words(s, b) for s, b in pairs])
    previous = _fetch(wh, since - (until - since), since)
    prev_counts = np.bincount(
        model.assign([ticket_text(s, b) for s, b in zip(previous["subject"], previous["body"], strict=True)]),
        minlength=model.k,
    ) if previous.height else None  # fmt: skip
    return themes_from_model(model, tickets, prev_counts, cfg.themes.min_theme_size)


def themes_from_model(
    model: ThemeModel, tickets: pl.DataFrame, prev_counts: np.ndarray | None, min_size: int
) -> list[TicketTheme]:
    """TicketTheme objects from a fitted model (largest first)."""
    ids = tickets["id"].to_list()
    texts = [ticket_text(s, b) for s, b in zip(tickets["subject"], tickets["body"], strict=True)]
    sessions = tickets["session_id"].to_list()
    users = tickets["user_id"].to_list()
    themes: list[TicketTheme] = []
    for c in range(model.k):
        members = np.flatnonzero(model.labels == c)
        if members.size < min_size:
            continue
        terms = model.top_terms[c]
        previous = int(prev_counts[c]) if prev_counts is not None else 0
        trend = (
            (members.size - previous) / previous if prev_counts is not None and previous else None
        )
        rep = model.representatives[c]
        themes.append(
            TicketTheme(
                id="theme-" + hashlib.sha1("|".join(sorted(ids[i] for i in members)).encode()).hexdigest()[:10],
                label=", ".join(terms[:3]) or "(no words)", top_terms=terms,
                representative_ticket_id=ids[rep], representative_text=texts[rep][:300],
                tickets=int(members.size), ticket_ids=sorted(ids[i] for i in members),
                session_ids=sorted({sessions[i] for i in members if sessions[i]}),
                user_ids=sorted({users[i] for i in members if users[i]}),
                previous_tickets=previous, trend=round(trend, 4) if trend is not None else None,
            )
        )  # fmt: skip
    themes.sort(key=lambda t: (-t.tickets, t.id))
    return themes


def _tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text.lower()) if len(t) > 2}


def link_themes(
    themes: list[TicketTheme],
    clusters: list[Cluster],
    affected: dict[str, tuple[set[str], set[str]]],
    error_words: dict[str, set[str]] | None = None,
) -> None:
    """Link each theme to the friction clusters and error groups it matches, both ways.

    ``affected``: cluster id -> (sessions, users) it reached; ``error_words``: cluster id -> the
    words of its errors (types, messages; an error group's culprit too). Each (theme, cluster)
    pair scores 2 per shared session, 1 per shared user and 1.5 per word the theme's top terms
    share with the cluster's step, segment values and error words. A theme links to its best
    cluster, and to any other scoring at least half as much, when the score is at least 3 (one
    shared session and one shared word, or more).
    """
    error_words = error_words or {}
    for theme in themes:
        t_sessions, t_users = set(theme.session_ids), set(theme.user_ids)
        words = set().union(*(_tokens(t) for t in theme.top_terms)) if theme.top_terms else set()
        scored: list[tuple[float, str]] = []
        for cluster in clusters:
            if cluster.kind == "ticket_theme":
                continue
            c_sessions, c_users = affected.get(cluster.id, (set(), set()))
            vocab = (
                _tokens(cluster.step)
                | set().union(*(_tokens(v) for v in cluster.segment.values()))
                | error_words.get(cluster.id, set())
            )
            points = (
                2.0 * len(t_sessions & c_sessions)
                + 1.0 * len(t_users & c_users)
                + 1.5 * len(words & vocab)
            )
            if points >= 3.0:
                scored.append((points, cluster.id))
        if not scored:
            continue
        best = max(p for p, _ in scored)
        for points, cid in sorted(scored, key=lambda x: (-x[0], x[1])):
            if points < 0.5 * best:
                continue
            cluster = next(c for c in clusters if c.id == cid)
            theme.linked_cluster_ids.append(cid)
            cluster.linked_theme_ids.append(theme.id)
            cluster.linked_ticket_ids = sorted(
                set(cluster.linked_ticket_ids) | set(theme.ticket_ids)
            )


def theme_clusters(themes: list[TicketTheme], cfg: AnalysisSettings) -> list[Cluster]:
    """A ``ticket_theme`` cluster for each theme that matches a friction or is rising fast."""
    out: list[Cluster] = []
    for t in themes:
        rising = t.trend is not None and t.trend >= 1.0 and t.tickets >= cfg.themes.min_theme_size
        if not t.linked_cluster_ids and not rising:
            continue
        title = f"{t.tickets} support tickets about {t.label}"
        values: dict[str, float | int | str] = {
            "tickets": t.tickets,
            "previous_tickets": t.previous_tickets,
        }
        if t.trend is not None:
            values["trend"] = t.trend
        out.append(
            Cluster(
                id="cl-ticket_theme-" + t.id.removeprefix("theme-"), kind="ticket_theme",
                metric="tickets", value=t.tickets, baseline=t.previous_tickets,
                affected_sessions=len(t.session_ids), affected_users=len(t.user_ids),
                trend=t.trend, title=title, values=values, linked_ticket_ids=t.ticket_ids,
                linked_theme_ids=[t.id], score=float(t.tickets) * 0.1,
                confidence="medium",
            )
        )  # fmt: skip
    return out
