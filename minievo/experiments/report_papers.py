"""The report's "Beside the papers" section: every variant with a published run, side by side.

A variant is matched to the papers' run by its settings
(:func:`~minievo.experiments.paper_values.paper_value_for`), whatever the
preset or folder it comes from: ``main_comparison``, ``lexi_prob``,
``activation_sched``, a hand-made sweep or the published code's own folders.
A variant that differs from the papers' run only in population or data set
(``main_comparison_pop10``) is shown with the difference named. The sources
of the papers' values are listed under the table.
"""

from __future__ import annotations

from .paper_values import paper_value_for
from .stats import summarize

__all__ = ["papers_rows", "section_published"]


def _fmt(value, digits=3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def papers_rows(variants) -> list[tuple]:
    """``(variant, PaperValue, differences)`` for every variant with a published run."""
    out = []
    for v in variants:
        match = paper_value_for(v.config)
        if match is not None:
            out.append((v, match[0], match[1]))
    return out


def section_published(variants, labels: dict) -> list[str]:
    """Markdown of the papers' values beside minievo's, or nothing when none applies."""
    rows_in = papers_rows(variants)
    if not rows_in:
        return []
    rows, sources = [], []
    for v, paper, differs in rows_in:
        l1 = summarize(v.values("final_L1"))
        pooled = summarize([x for t in v.trials for x in t.cells_final_L1])
        capacity = summarize(v.values("capacity_published"))
        paper_l1 = "–"
        if paper.final_L1 is not None:
            paper_l1 = ("≈" if paper.final_L1_approx else "") + _fmt(paper.final_L1)
        gap = gap_sd = "–"
        if paper.final_L1 is not None and l1["mean"] is not None:
            gap = f"{l1['mean'] - paper.final_L1:+.3f}"
            if l1["std"]:
                gap_sd = f"{(l1['mean'] - paper.final_L1) / l1['std']:+.1f}"
        paper_pooled = (
            "–"
            if paper.pooled is None
            else f"{paper.pooled[0]:.3f} ({paper.pooled[1]:.3f}–{paper.pooled[2]:.3f})"
        )
        mine_pooled = (
            "–"
            if pooled["n"] == 0
            else f"{pooled['median']:.3f} ({pooled['q25']:.3f}–{pooled['q75']:.3f})"
        )
        paper_capacity = _fmt(paper.capacity_median)
        if paper.capacity_note:
            paper_capacity += f" ({paper.capacity_note})"
        run = paper.grid + (f"; **papers' run: {', '.join(differs)}**" if differs else "")
        rows.append(
            [
                labels.get(v.name, v.name),
                run,
                str(l1["n"]),
                paper_l1,
                _fmt(l1["mean"], 4),
                _fmt(l1["std"], 4),
                gap,
                gap_sd,
                paper_pooled,
                mine_pooled,
                paper_capacity,
                _fmt(capacity["median"]),
            ]
        )
        for source in paper.sources:
            if source not in sources:
                sources.append(source)
    epochs = sorted({v.config["epochs"] for v, _, _ in rows_in})
    note = (
        ""
        if epochs == [400]
        else f" **This sweep ran {', '.join(map(str, epochs))} epochs, the papers 400: "
        "the numbers are not comparable.**"
    )
    from .report import _table

    return [
        "## Beside the papers\n",
        "The papers' values (Jorgensen et al., GECCO 2025), read off the figures of the "
        "published `paper_plots.ipynb` (±0.002; ≈: ±0.01), beside minievo's, for every "
        "variant run as a published grid ran it (*papers' run*; a difference in population "
        "or data set is named). Final L1: mean over cells and trials at the last epoch "
        "(the papers' line plots); gap: minievo's mean minus the papers', and in units of "
        "minievo's trial-to-trial standard deviation. Pooled cells: median (Q1–Q3) of every "
        "cell of every trial (the papers' boxplots; cells are not independent). Capacity: "
        "published-count capacity, the papers' median over pooled cells, minievo's median "
        "over trials." + note + "\n",
        _table(
            [
                "variant",
                "papers' run",
                "n",
                "papers L1",
                "minievo mean",
                "std",
                "gap",
                "gap / std",
                "papers pooled median (Q1–Q3)",
                "minievo pooled median (Q1–Q3)",
                "papers capacity",
                "minievo capacity",
            ],
            rows,
        ),
        "Sources:\n\n" + "".join(f"- {s}\n" for s in sources),
    ]
