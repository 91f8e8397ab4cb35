"""Segment discovery: which attribute values concentrate a friction (affected vs the rest).

Every test compares sessions *with* an attribute value against sessions *without* it, one-sided
(is the segment worse?), and returns one row per (attribute, value) with the raw p-value; the
caller pools the p-values of a whole run for Benjamini-Hochberg. Vectorised per attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as sps

from analysis.stats import two_proportion_greater


@dataclass
class SegmentTest:
    """One segment against its complement."""

    attribute: str
    value: str
    n_in: int
    n_out: int
    value_in: float
    value_out: float
    p: float
    x_in: float = 0.0  # successes (rates) or sum (means)
    x_out: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def segment(self) -> dict[str, str]:
        return {self.attribute: self.value}


def _value_counts(frame: pl.DataFrame, attribute: str, outcome: str) -> pl.DataFrame:
    return (
        frame.filter(pl.col(attribute).is_not_null() & (pl.col(attribute) != ""))
        .group_by(attribute)
        .agg(
            pl.len().alias("n"),
            pl.col(outcome).cast(pl.Float64).sum().alias("x"),
            (pl.col(outcome).cast(pl.Float64) ** 2).sum().alias("xx"),
        )
        .sort(attribute)
    )


def rate_tests(
    frame: pl.DataFrame, outcome: str, attributes: list[str], min_n: int, margin: float = 0.0
) -> list[SegmentTest]:
    """Is ``outcome`` (bool) more frequent in the segment than outside it, by more than
    ``margin`` (absolute, see `analysis.stats.two_proportion_greater`)?"""
    total_n = frame.height
    total_x = float(frame[outcome].sum()) if total_n else 0.0
    out: list[SegmentTest] = []
    for attribute in attributes:
        counts = _value_counts(frame, attribute, outcome)
        if counts.height < 1:
            continue
        n = counts["n"].to_numpy().astype(float)
        x = counts["x"].to_numpy()
        n_out, x_out = total_n - n, total_x - x
        keep = (n >= min_n) & (n_out >= min_n)
        if not keep.any():
            continue
        p = np.ones_like(n)
        p[keep] = two_proportion_greater(x[keep], n[keep], x_out[keep], n_out[keep], margin)
        for i in np.flatnonzero(keep):
            out.append(
                SegmentTest(
                    attribute,
                    str(counts[attribute][int(i)]),
                    int(n[i]),
                    int(n_out[i]),
                    x[i] / n[i],
                    x_out[i] / n_out[i],
                    float(p[i]),
                    float(x[i]),
                    float(x_out[i]),
                )
            )
    return out


def mean_tests(
    frame: pl.DataFrame, measure: str, attributes: list[str], min_n: int, margin: float = 0.0
) -> list[SegmentTest]:
    """Is the mean of ``measure`` larger in the segment than outside it, by more than the
    relative ``margin`` (H1: mean_in > (1 + margin) * mean_out)? Welch, one-sided: the rest's
    mean is scaled, and so is its variance."""
    total_n = frame.height
    if total_n == 0:
        return []
    col = frame[measure].cast(pl.Float64)
    total_s, total_ss = float(col.sum()), float((col**2).sum())
    out: list[SegmentTest] = []
    for attribute in attributes:
        counts = _value_counts(frame, attribute, measure)
        n = counts["n"].to_numpy().astype(float)
        s, ss = counts["x"].to_numpy(), counts["xx"].to_numpy()
        n2, s2, ss2 = total_n - n, total_s - s, total_ss - ss
        keep = (n >= max(min_n, 2)) & (n2 >= max(min_n, 2))
        for i in np.flatnonzero(keep):
            m1, m2 = s[i] / n[i], s2[i] / n2[i]
            v1 = max((ss[i] - n[i] * m1 * m1) / (n[i] - 1), 0.0)
            v2 = max((ss2[i] - n2[i] * m2 * m2) / (n2[i] - 1), 0.0)
            k = 1.0 + margin
            a, b = v1 / n[i], k * k * v2 / n2[i]
            se = float(np.sqrt(a + b))
            if se == 0:
                p = 0.0 if m1 > k * m2 else 1.0
            else:
                df = (a + b) ** 2 / (a**2 / max(n[i] - 1, 1) + b**2 / max(n2[i] - 1, 1) or 1.0)
                p = float(sps.t.sf((m1 - k * m2) / se, df))
            out.append(
                SegmentTest(
                    attribute,
                    str(counts[attribute][int(i)]),
                    int(n[i]),
                    int(n2[i]),
                    m1,
                    m2,
                    p,
                    float(s[i]),
                    float(s2[i]),
                    {"se": se},
                )
            )
    return out


def in_segment(segment: dict[str, str]) -> pl.Expr:
    """A filter expression for the sessions of a segment ({} = everyone)."""
    expr = pl.lit(True)
    for attribute, value in segment.items():
        expr = expr & (pl.col(attribute) == value)
    return expr


def implied_attributes(
    frame: pl.DataFrame, segment: dict[str, str], attributes: list[str], share: float = 0.99
) -> dict[str, str]:
    """Attribute values that (almost) every session of the segment has, besides its own keys.

    ``{"app.version": "5.12.0"}`` implies ``{"app.platform": "ios", "os.name": "iOS"}`` when
    only the iOS app ships that version: the same sessions, told two ways.
    """
    inside = frame.filter(in_segment(segment))
    if inside.height == 0:
        return {}
    implied: dict[str, str] = {}
    for attribute in attributes:
        if attribute in segment:
            continue
        top = (
            inside.group_by(attribute).len().sort(["len", attribute], descending=[True, False])
        ).row(0)
        if top[0] not in (None, "") and top[1] >= share * inside.height:
            implied[attribute] = str(top[0])
    return implied


def equivalent(frame: pl.DataFrame, a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether two segments select (almost) the same sessions (Jaccard >= 0.98)."""
    ia = frame.select(in_segment(a)).to_series()
    ib = frame.select(in_segment(b)).to_series()
    union = int((ia | ib).sum())
    return union > 0 and int((ia & ib).sum()) / union >= 0.98


def share(series: pl.Series) -> float:
    """Mean of a boolean or numeric series as a float (0.0 when empty)."""
    if series.len() == 0:
        return 0.0
    value = series.cast(pl.Float64).mean()
    return float(value) if isinstance(value, int | float) else 0.0
