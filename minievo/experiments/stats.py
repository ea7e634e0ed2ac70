"""Statistics of a study: summaries, Mann-Whitney U, Holm correction, Vargha-Delaney A12.

The unit of every test is the *trial* (one seed of one variant): the cells of
one coevolutionary trial share ancestors and data, so they are not
independent samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Comparison", "a12", "compare", "holm", "mann_whitney", "summarize"]

#: Tied samples with at most this many ways to split the pooled values get the
#: exact permutation p (10 against 10: 184,756 splits, about two seconds).
EXACT_WITH_TIES_MAX = 200_000


def summarize(values: Sequence[float]) -> dict:
    """``n``, ``median``, ``mean``, ``std`` (ddof 1), ``q25``, ``q75``, ``iqr``, ``min``, ``max``.

    Quartiles use NumPy's default linear interpolation. Empty input gives
    ``n = 0`` and None elsewhere; one value gives ``std = None``.
    """
    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return {
            "n": 0,
            "median": None,
            "mean": None,
            "std": None,
            "q25": None,
            "q75": None,
            "iqr": None,
            "min": None,
            "max": None,
        }
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    return {
        "n": int(x.size),
        "median": float(q50),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else None,
        "q25": float(q25),
        "q75": float(q75),
        "iqr": float(q75 - q25),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: ``(U of x, p)``.

    ``U_x = R_x - n_x (n_x + 1) / 2`` with ``R_x`` the rank sum of ``x`` in the
    pooled sample (ties get mid-ranks); :func:`scipy.stats.mannwhitneyu` with
    ``method="auto"`` (exact for small samples without ties, else the normal
    approximation with tie and continuity correction), except for tied samples
    with at most :data:`EXACT_WITH_TIES_MAX` splits of the pooled values: there
    the exact permutation distribution (the normal approximation is
    anti-conservative for so few values: 3 trials at 0.9 against 3 at 1.0 give
    p = 0.047 by it, 0.1 exactly, and 0.1 is the smallest p 3 against 3 can give).
    """
    from math import comb

    from scipy.stats import PermutationMethod, mannwhitneyu

    x, y = np.asarray(x, float), np.asarray(y, float)
    method = "auto"
    pooled = np.concatenate([x, y])
    if np.unique(pooled).size < pooled.size and comb(pooled.size, x.size) <= EXACT_WITH_TIES_MAX:
        method = PermutationMethod(n_resamples=np.inf)
    result = mannwhitneyu(x, y, alternative="two-sided", method=method)
    p = float(result.pvalue)
    return float(result.statistic), (p if np.isfinite(p) else 1.0)  # all tied: no evidence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    With the ``m`` p-values sorted increasingly, :math:`p_{(1)} \\le \\dots
    \\le p_{(m)}`, the adjusted values are

    .. math:: \\tilde p_{(i)} = \\max_{j \\le i} \\min\\bigl(1, (m - j + 1)\\, p_{(j)}\\bigr)

    Rejecting where :math:`\\tilde p \\le \\alpha` controls the family-wise
    error rate at :math:`\\alpha` (Holm 1979).
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return [float(v) for v in adjusted]


def a12(x: Sequence[float], y: Sequence[float]) -> float:
    """Vargha-Delaney effect size :math:`\\hat A_{12} = P(X > Y) + \\tfrac12 P(X = Y)`.

    Over all :math:`n_x n_y` pairs. 0.5: no effect; for a loss, a value below
    0.5 means ``x`` tends to be lower (better). Vargha and Delaney (2000) call
    :math:`|\\hat A_{12} - 0.5|` negligible below 0.06, small below 0.14,
    medium below 0.21, large above.
    """
    x = np.asarray(x, dtype=float)[:, None]  # (n_x, 1)
    y = np.asarray(y, dtype=float)[None, :]  # (1, n_y)
    if x.size == 0 or y.size == 0:
        raise ValueError("a12 needs two non-empty samples")
    return float(((x > y).sum() + 0.5 * (x == y).sum()) / (x.size * y.size))


def a12_magnitude(value: float) -> str:
    """Vargha and Delaney's label for :math:`|\\hat A_{12} - 0.5|`."""
    d = abs(value - 0.5)
    return "negligible" if d < 0.06 else "small" if d < 0.14 else "medium" if d < 0.21 else "large"


@dataclass
class Comparison:
    """One two-sided test of ``a`` against ``b`` (``p_holm`` set by :func:`compare`)."""

    kind: str
    a: str
    b: str
    n_a: int
    n_b: int
    median_a: float | None
    median_b: float | None
    u: float | None
    p: float | None
    a12: float | None
    p_holm: float | None = None


def compare(pairs: list[tuple[str, str, str]], samples: dict[str, list[float]]) -> list[Comparison]:
    """Mann-Whitney U and A12 for every ``(kind, a, b)``, Holm-corrected together.

    Pairs where a side has fewer than 2 values get no test (None).
    """
    out = []
    for kind, a, b in pairs:
        xa = [v for v in samples.get(a, []) if v is not None]
        xb = [v for v in samples.get(b, []) if v is not None]
        u = p = effect = None
        if len(xa) >= 2 and len(xb) >= 2:
            u, p = mann_whitney(xa, xb)
            effect = a12(xa, xb)
        out.append(
            Comparison(
                kind,
                a,
                b,
                len(xa),
                len(xb),
                summarize(xa)["median"],
                summarize(xb)["median"],
                u,
                p,
                effect,
            )
        )
    tested = [c for c in out if c.p is not None]
    for comparison, adjusted in zip(tested, holm([c.p for c in tested])):
        comparison.p_holm = adjusted
    return out
