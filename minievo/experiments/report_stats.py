"""The tests section of a study report: what each test can and cannot show.

For every pair of :func:`~minievo.experiments.report.comparison_pairs` and for
two metrics, the final L1 and the published-count capacity, a two-sided
Mann-Whitney U test (trial as unit), Holm-corrected within each metric. Beside
each p the report gives the *smallest attainable p* for the two sample sizes
(:func:`smallest_p`): with 2 trials against 2, no outcome gives p below 1/3,
so a p of 0.333 there is "as separated as 2 against 2 can be", not "no
effect". With ``m`` tests of a metric, Holm's first step multiplies by ``m``,
so the smallest attainable Holm-adjusted p is ``min(1, m * p_min)``.

Effect sizes (Vargha-Delaney Â12) are given as numbers for every test; their
words (negligible, small, medium, large) only beside a result significant at
:data:`ALPHA` after Holm's correction: an effect-size word beside a test that
cannot reject reads as a finding that is not there.
"""

from __future__ import annotations

from functools import cache
from math import comb

from ..io import atomic_write_bytes
from .stats import EXACT_WITH_TIES_MAX, a12_magnitude, compare, mann_whitney

__all__ = ["ALPHA", "TESTED_METRICS", "section_tests", "smallest_p"]

ALPHA = 0.05
#: metric -> (its name in the report, CSV file of its tests)
TESTED_METRICS = {
    "final_L1": ("final L1", "tests.csv"),
    "capacity_published": ("published-count capacity", "tests_capacity.csv"),
}


@cache
def smallest_p(n_a: int, n_b: int) -> float | None:
    """The smallest two-sided p :func:`~minievo.experiments.stats.mann_whitney` can give
    for samples of ``n_a`` and ``n_b`` values: its p for two completely separated samples.

    Without ties this is the exact ``2 / C(n_a + n_b, n_a)`` for small samples
    (``2 / 6 = 1/3`` for 2 against 2, ``2 / 252`` for 5 against 5) and the
    normal approximation's value for large untied ones, as the test itself computes
    it; where tied samples of these sizes get the exact test
    (:data:`~minievo.experiments.stats.EXACT_WITH_TIES_MAX`), the smaller exact floor.
    None when a side has fewer than 2 values (no test).
    """
    if n_a < 2 or n_b < 2:
        return None
    separated = mann_whitney(list(range(n_a)), list(range(n_a, n_a + n_b)))[1]
    if comb(n_a + n_b, n_a) <= EXACT_WITH_TIES_MAX:  # tied samples get the exact test
        return min(separated, min(1.0, 2 / comb(n_a + n_b, n_a)))
    return separated


def _fmt(value, digits=4) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _p(value) -> str:
    if value is None:
        return "–"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def _csv(header, rows) -> bytes:
    from .report import _csv as write_csv

    return write_csv(header, rows)


def _effect(c) -> str:
    if c.a12 is None:
        return "–"
    if c.p_holm is not None and c.p_holm <= ALPHA:
        return f"{c.a12:.3f} ({a12_magnitude(c.a12)})"
    return f"{c.a12:.3f}"


def section_tests(variants, out, pairs, labels: dict) -> list[str]:
    """Markdown of the tests section; writes ``tests.csv`` and ``tests_capacity.csv``."""
    md = ["## Tests\n"]
    if not pairs:
        for _, csv_name in TESTED_METRICS.values():
            atomic_write_bytes(out / csv_name, _csv(_HEADER, []))
        return md + [
            "No pairs to compare (no unpruned baseline and at most one "
            "pruning variant per training mode).\n"
        ]
    md.append(
        "Two-sided Mann–Whitney U, trial as unit (tests need n ≥ 2 per side), "
        "Holm-corrected within each metric. *min p*: the smallest p the test can give "
        "for these n (two completely separated samples); *min p (Holm)*: the smallest "
        "Holm-adjusted p, m × min p for m tests. A p near its minimum is as strong as "
        "these n allow. Â12 = P(a > b) + ½ P(a = b) (below 0.5: a tends to be lower); "
        f"its size in words only where the Holm-adjusted p ≤ {ALPHA}.\n"
    )
    for metric, (title, csv_name) in TESTED_METRICS.items():
        samples = {v.name: v.values(metric) for v in variants}
        comparisons = compare(pairs, samples)
        m = sum(c.p is not None for c in comparisons)
        rows, csv_rows = [], []
        n_significant = 0
        for c in comparisons:
            p_min = smallest_p(c.n_a, c.n_b)
            p_min_holm = None if p_min is None else min(1.0, m * p_min)
            significant = c.p_holm is not None and c.p_holm <= ALPHA
            n_significant += significant
            rows.append(
                [
                    c.kind,
                    labels.get(c.a, c.a),
                    labels.get(c.b, c.b),
                    f"{c.n_a} / {c.n_b}",
                    f"{_fmt(c.median_a)} / {_fmt(c.median_b)}",
                    _fmt(c.u, 1),
                    _p(c.p),
                    _p(p_min),
                    _p(c.p_holm) + (" *" if significant else ""),
                    _p(p_min_holm),
                    _effect(c),
                ]
            )
            csv_rows.append(
                [c.kind, c.a, c.b, c.n_a, c.n_b, c.median_a, c.median_b, c.u, c.p, c.p_holm]
                + [c.a12, p_min, p_min_holm]
            )
        atomic_write_bytes(out / csv_name, _csv(_HEADER, csv_rows))
        unreachable = [
            c
            for c in comparisons
            if c.p is not None and min(1.0, m * smallest_p(c.n_a, c.n_b)) > ALPHA
        ]
        note = f"{m} test(s), {n_significant} significant at Holm-adjusted p ≤ {ALPHA} (marked *)."
        if unreachable:
            note += (
                f" {len(unreachable)} of them cannot reach Holm-adjusted p ≤ {ALPHA} with "
                "these n whatever the data: run more trials (`--trials`)."
            )
        md += [
            f"**{title}** (`{csv_name}`): {note}\n",
            _table(
                [
                    "kind",
                    "a",
                    "b",
                    "n a / b",
                    "median a / b",
                    "U",
                    "p",
                    "min p",
                    "p (Holm)",
                    "min p (Holm)",
                    "Â12",
                ],
                rows,
            ),
        ]
    return md


_HEADER = [
    "kind",
    "a",
    "b",
    "n_a",
    "n_b",
    "median_a",
    "median_b",
    "U",
    "p",
    "p_holm",
    "A12",
    "p_min",
    "p_min_holm",
]


def _table(header, rows) -> str:
    from .report import _table as table

    return table(header, rows)
