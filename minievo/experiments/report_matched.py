r"""The matched-size section of a study report: each baseline beside the papers' operator
it is matched to (docs/baselines.md, "Comparison at equal size").

A *sparsity baseline* is a variant pruned on a sparsity schedule (magnitude
pruning one-shot, iterative, gradual, the lottery ticket), with its
``target_sparsity`` (:func:`target_of`). Its *partner* is
the variant of the same training (cell evaluation, environment, population,
data set, epochs) pruned by one of the papers' operators (random, conjunctive,
variance) whose median final sparsity is closest to the baseline's target. The
final sparsity of a trial is :math:`1 - \text{capacity}`, the share of all
parameters that are zero at the end (the report's ``capacity``), so the
comparison is at an equal number of non-zero parameters whatever the mask mode.

For every baseline with a partner: the target, both measured sparsities
(medians over trials), both final L1 medians, and a two-sided Mann–Whitney U
of the final L1 (trial as unit), Holm-corrected over this section's tests, with
the smallest attainable p and Vargha–Delaney :math:`\hat A_{12}` (words only
beside a significant result), as in the tests section
(:mod:`minievo.experiments.report_stats`).
"""

from __future__ import annotations

from ..pruning import is_sparsity_schedule
from .config import Config
from .report_stats import ALPHA, _effect, _fmt, _p, _table, smallest_p
from .stats import compare, summarize

__all__ = ["PAPERS_OPERATORS", "matched_pairs", "section_matched", "target_of"]

#: The papers' operators: a baseline's partner is pruned by one of these.
PAPERS_OPERATORS = ("random", "conjunctive", "variance")
#: What two variants must share to be compared at matched size.
TRAINING_KEYS = ("cell_evaluation", "environment", "population_size", "dataset_name", "epochs")


def _training(variant) -> tuple:
    return tuple(variant.config.get(k) for k in TRAINING_KEYS)


def target_of(config: dict) -> float | None:
    """The variant's ``target_sparsity``: the key when written, else the default when its
    schedule is a sparsity schedule (``config.json`` omits a default target), else None."""
    if config.get("target_sparsity") is not None:
        return config["target_sparsity"]
    try:
        sparse = config.get("prune_method") is not None and is_sparsity_schedule(
            config.get("prune_schedule")
        )
    except (ValueError, KeyError, TypeError):  # a plug-in schedule this process lacks
        return None
    return Config().target_sparsity if sparse else None


def _sparsity(variant) -> float | None:
    """Median final sparsity over the variant's trials, ``1 - capacity``."""
    median = summarize(variant.values("capacity"))["median"]
    return None if median is None else 1.0 - median


def matched_pairs(variants) -> list[tuple[object, object]]:
    """``(baseline, partner)`` for every sparsity baseline that has a partner (module docstring).

    Ties in distance go to the first partner in the sweep's order.
    """
    papers = [
        v
        for v in variants
        if v.config.get("prune_method") in PAPERS_OPERATORS and _sparsity(v) is not None
    ]
    pairs = []
    for v in variants:
        target = target_of(v.config)
        if target is None:
            continue
        same = [p for p in papers if _training(p) == _training(v)]
        if same:
            pairs.append((v, min(same, key=lambda p: abs(_sparsity(p) - target))))
    return pairs


def section_matched(variants, labels: dict) -> list[str]:
    """Markdown of the matched-size section; nothing when the sweep has no sparsity baseline."""
    if not any(target_of(v.config) is not None for v in variants):
        return []
    pairs = matched_pairs(variants)
    md = ["## At matched size: baselines beside the papers' operators\n"]
    if not pairs:
        return md + [
            "No baseline has a partner: no variant of the same training is pruned by one of "
            "the papers' operators (or none has finished a trial).\n"
        ]
    samples = {v.name: v.values("final_L1") for pair in pairs for v in pair}
    tests = compare([("matched", b.name, p.name) for b, p in pairs], samples)
    m = sum(c.p is not None for c in tests)
    rows = []
    for (baseline, partner), c in zip(pairs, tests):
        p_min = smallest_p(c.n_a, c.n_b)
        significant = c.p_holm is not None and c.p_holm <= ALPHA
        rows.append(
            [
                labels.get(baseline.name, baseline.name),
                labels.get(partner.name, partner.name),
                _fmt(target_of(baseline.config), 3),
                f"{_fmt(_sparsity(baseline), 3)} / {_fmt(_sparsity(partner), 3)}",
                f"{c.n_a} / {c.n_b}",
                f"{_fmt(c.median_a)} / {_fmt(c.median_b)}",
                _p(c.p),
                _p(p_min),
                _p(c.p_holm) + (" *" if significant else ""),
                _effect(c),
            ]
        )
    return md + [
        "Each baseline (a variant with a target sparsity) beside the variant of the same "
        "training pruned by one of the papers' operators whose median final sparsity "
        "(1 − capacity: the share of zero parameters at the end) is closest to the target. "
        f"Two-sided Mann–Whitney U of the final L1, trial as unit, Holm-corrected over these "
        f"{m} test(s); *min p*: the smallest p these n can give; Â12 below 0.5: the baseline "
        f"tends to the lower loss (its size in words only where p (Holm) ≤ {ALPHA}).\n",
        _table(
            [
                "baseline",
                "matched to",
                "target sparsity",
                "final sparsity, median (baseline / matched)",
                "n",
                "final L1 median (baseline / matched)",
                "p",
                "min p",
                "p (Holm)",
                "Â12",
            ],
            rows,
        ),
    ]
