"""The README's figure: the main comparison, minievo's trials beside the papers' values.

Reads docs/results/main_comparison/variants.csv (the report of
``minievo reproduce --trials 10``) and the papers' values
(``minievo.experiments.presets.PUBLISHED_MAIN_COMPARISON``) and writes
docs/figures/main_comparison.png::

    python docs/figures/main_comparison.py
"""

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from minievo.experiments.presets import (  # noqa: E402
    PUBLISHED_MAIN_COMPARISON,
    expand_preset,
    variant_names_of,
)
from minievo.experiments.report_labels import variant_labels  # noqa: E402

HERE = Path(__file__).resolve().parent
ROWS = HERE.parent / "results" / "main_comparison" / "variants.csv"

# the report's readable names of the preset's variants, in its order
_VARIANTS = expand_preset("main_comparison", trials=1)
LABELS = dict(
    zip(
        variant_names_of("main_comparison", _VARIANTS),
        variant_labels([v.to_dict() for v in _VARIANTS]),
    )
)


def main() -> Path:
    stats = {}
    with ROWS.open() as f:
        for row in csv.DictReader(f):
            if row["metric"] == "final_L1":
                stats[row["variant"]] = row
    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    names = list(LABELS)
    for y, name in enumerate(names):
        row = stats.get(name, {})
        if row.get("n", "0") not in ("", "0"):  # a variant without finished trials: papers only
            ax.plot([float(row["min"]), float(row["max"])], [y, y], color="0.75", lw=1)
            ax.plot([float(row["q25"]), float(row["q75"])], [y, y], color="tab:blue", lw=5)
            ax.plot(
                float(row["mean"]),
                y,
                "o",
                color="tab:blue",
                ms=5,
                label="minievo: mean, IQR, range (n trials)" if y == 0 else None,
            )
        paper = PUBLISHED_MAIN_COMPARISON[name]["final_L1"]
        ax.plot(
            paper,
            y,
            "x",
            color="tab:red",
            ms=9,
            mew=2,
            label="the paper (GECCO 2025)" if y == 0 else None,
        )
    ax.set_yticks(
        range(len(names)),
        [f"{LABELS[n]} (n={stats.get(n, {}).get('n') or 0})" for n in names],
    )
    ax.invert_yaxis()
    ax.set_xlabel("final training L1 after 400 epochs (lower is better)")
    ax.set_title("The main comparison of the 2025 paper, reproduced")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    out = HERE / "main_comparison.png"
    fig.savefig(out, dpi=110)
    return out


if __name__ == "__main__":
    print(main())
