"""The report's figures for a reader: labelled, one panel per training mode, the papers' values on them.

Every figure of :func:`draw_panels`:

- names variants by :func:`~minievo.experiments.report_labels.variant_labels`
  (``Lipi-AE (pop 5) · RANDOM-exp``), never by folder;
- draws canonical training and coevolution in separate panels (their losses
  and sizes differ by a factor of two and would hide each other);
- gives each variant a colour by operator, a line style by schedule and a
  marker by what else differs (:func:`~minievo.experiments.report_labels.styles`);
- marks the papers' value of a variant (``X``, black edge) where the variant
  is a published run (:mod:`minievo.experiments.paper_values`) and the sweep
  ran the papers' 400 epochs;
- draws the majority-bit loss and the noise floor of the data set as
  reference lines (:func:`~minievo.experiments.report_labels.reference_losses`);
- draws every trial as a point (a strip plot) where a variant has fewer than
  :data:`BOX_MIN` trials, a boxplot otherwise.

Figures are :class:`matplotlib.figure.Figure` objects saved with the Agg canvas
(no pyplot state), with the PNG metadata of :mod:`minievo.experiments.report_plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .paper_values import paper_value_for
from .report_labels import PANELS, panel_of, reference_losses, styles, variant_labels
from .report_plots import _METADATA, _band

__all__ = ["BOX_MIN", "PAPERS_EPOCHS", "draw_panels"]

#: Fewer trials than this: every trial as a point instead of a box.
BOX_MIN = 5
#: The papers' values are at the end of 400 epochs.
PAPERS_EPOCHS = 400


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=100, metadata=_METADATA)
    return path


class _Drawn:
    """The variants of a report with their labels, styles, panels and papers' values."""

    def __init__(self, variants):
        configs = [v.config for v in variants]
        self.variants = list(variants)
        self.labels = dict(zip((v.name for v in variants), variant_labels(configs)))
        self.styles = dict(zip((v.name for v in variants), styles(configs)))
        comparable = {v.config.get("epochs") for v in variants} == {PAPERS_EPOCHS}
        self.papers = {}
        for v in variants:
            match = paper_value_for(v.config) if comparable else None
            if match is not None and not match[1]:  # the papers' own run only
                self.papers[v.name] = match[0]
        self.panels = [
            (panel, [v for v in variants if panel_of(v.config) == panel]) for panel in PANELS
        ]
        self.panels = [(p, vs) for p, vs in self.panels if vs]
        self.references = {}
        for v in variants:
            refs = reference_losses(v.config)
            if refs is not None:
                self.references.setdefault(v.config.get("dataset_name"), refs)

    def label(self, v) -> str:
        return f"{self.labels[v.name]} (n={len(v.trials)})"


def _reference_lines(ax, drawn: _Drawn, variants) -> None:
    names = {v.config.get("dataset_name") for v in variants}
    for k, name in enumerate(sorted(n for n in names if n in drawn.references)):
        refs = drawn.references[name]
        suffix = f", {name.rsplit('_', 1)[-1]} bits" if len(names) > 1 else ""
        x, ha = (0.01, "left") if k % 2 == 0 else (0.99, "right")  # two data sets: both ends
        ax.axhline(refs["majority_bit"], color="0.45", linestyle="--", linewidth=0.9)
        ax.axhline(refs["noise_floor"], color="0.45", linestyle=":", linewidth=0.9)
        ax.annotate(
            f"majority bit {refs['majority_bit']:.3f}{suffix}",
            (x, refs["majority_bit"]),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="0.3",
            va="bottom",
            ha=ha,
        )
        ax.annotate(
            f"noise floor {refs['noise_floor']:.3f}{suffix}",
            (x, refs["noise_floor"]),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="0.3",
            va="bottom",
            ha=ha,
        )


def _legend_below(ax, ncol=2) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=ncol, frameon=False
        )


def _draw_band(ax, drawn, v, key: str, **line) -> bool:
    """The median of ``key`` across ``v``'s trials in its style, with the IQR shaded;
    False (nothing drawn) when no trial recorded it."""
    band = _band(v.trials, key)
    if band is None:
        return False
    epochs, q25, q50, q75 = band
    style = drawn.styles[v.name]
    ax.plot(
        epochs,
        q50,
        color=style["color"],
        linestyle=style["linestyle"],
        marker=style["marker"],
        markevery=max(1, len(epochs) // 8),
        markersize=4,
        label=drawn.label(v),
        **line,
    )
    ax.fill_between(epochs, q25, q75, color=style["color"], alpha=0.12, linewidth=0)
    return True


def plot_loss_panels(drawn: _Drawn, out: Path) -> Path:
    """Training L1 against the epoch: median and IQR band across trials, one panel per mode."""
    n = len(drawn.panels)
    fig = Figure(figsize=(6.5 * max(n, 1), 6.0), layout="constrained")
    axes = [fig.add_subplot(1, max(n, 1), i + 1) for i in range(max(n, 1))]
    papers_drawn = False
    for ax, (panel, variants) in zip(axes, drawn.panels):
        for v in variants:
            if not _draw_band(ax, drawn, v, "mean_L1", linewidth=1.4):
                continue
            paper = drawn.papers.get(v.name)
            if paper is not None and paper.final_L1 is not None:
                ax.plot(
                    PAPERS_EPOCHS - 1,
                    paper.final_L1,
                    "X",
                    color=drawn.styles[v.name]["color"],
                    markeredgecolor="black",
                    markersize=9,
                    zorder=5,
                )
                papers_drawn = True
        _reference_lines(ax, drawn, variants)
        ax.set(xlabel="epoch", ylabel="mean training L1 (mean over cells)", title=panel)
        _legend_below(ax, ncol=1 if len(variants) <= 6 else 2)
    note = "median and IQR across trials"
    if papers_drawn:
        note += "; X: the papers' value at epoch 400 (mean over cells and trials)"
    fig.suptitle(f"training loss: {note}", fontsize=10)
    return _save(fig, out / "loss_over_epochs.png")


def _strip_or_box(ax, position, values, style, width=0.6) -> None:
    if len(values) >= BOX_MIN:
        box = ax.boxplot(
            [values],
            positions=[position],
            widths=width,
            patch_artist=True,
            medianprops={"color": "black"},
            flierprops={"markersize": 3},
        )
        for patch in box["boxes"]:
            patch.set(facecolor=style["color"], alpha=0.35)
    elif values:
        offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(
            [position + o for o in offsets],
            values,
            color=style["color"],
            marker=style["marker"],
            s=22,
            zorder=3,
        )
        ax.plot([position - 0.2, position + 0.2], [np.median(values)] * 2, color="black", lw=1.2)


def plot_final_panels(drawn: _Drawn, out: Path) -> Path:
    """Final L1 and published-count capacity per variant across trials, one column per mode.

    Boxes where a variant has at least :data:`BOX_MIN` trials, every trial as a point
    otherwise (with the median as a bar); the papers' values as ``X``.
    """
    n = max(len(drawn.panels), 1)
    widest = max((len(vs) for _, vs in drawn.panels), default=1)
    fig = Figure(figsize=(max(5.0, 0.9 * widest + 2.5) * n, 8.0), layout="constrained")
    metrics = (
        ("final_L1", "final training L1", "final_L1"),
        ("capacity_published", "capacity (published count)", "capacity_median"),
    )
    for col, (panel, variants) in enumerate(drawn.panels):
        for row, (metric, ylabel, paper_key) in enumerate(metrics):
            ax = fig.add_subplot(2, n, row * n + col + 1)
            for i, v in enumerate(variants):
                values = [x for x in v.values(metric) if x is not None]
                _strip_or_box(ax, i, values, drawn.styles[v.name])
                paper = drawn.papers.get(v.name)
                value = None if paper is None else getattr(paper, paper_key)
                if value is not None:
                    ax.plot(i, value, "X", color="white", markeredgecolor="black", markersize=9)
            if metric == "final_L1":
                _reference_lines(ax, drawn, variants)
            ax.set_xticks(range(len(variants)))
            ax.set_xticklabels(
                [drawn.label(v) for v in variants] if row == 1 else [],
                rotation=35,
                ha="right",
                fontsize=7,
            )
            ax.set_xlim(-0.6, len(variants) - 0.4)
            ax.set(ylabel=ylabel)
            if row == 0:
                ax.set_title(panel)
    fig.suptitle(
        f"per variant across trials: boxes where n ≥ {BOX_MIN}, every trial as a point "
        "otherwise (bar: median); X: the papers' value",
        fontsize=10,
    )
    return _save(fig, out / "boxplots.png")


def plot_active_panels(drawn: _Drawn, out: Path) -> Path:
    """Non-zero encoder and decoder parameters against the epoch, one row per mode."""
    n = max(len(drawn.panels), 1)
    fig = Figure(figsize=(13, 4.6 * n), layout="constrained")
    for row, (panel, variants) in enumerate(drawn.panels):
        for col, part in enumerate(("encoder", "decoder")):
            ax = fig.add_subplot(n, 2, row * 2 + col + 1)
            for v in variants:
                _draw_band(ax, drawn, v, f"_active_{part}")
            ax.set(xlabel="epoch", ylabel=f"non-zero {part} parameters", title=f"{panel}: {part}")
            if col == 1 and ax.has_data():
                ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("non-zero parameters: median and IQR across trials", fontsize=10)
    return _save(fig, out / "active_parameters.png")


def plot_loss_vs_parameters_labelled(drawn: _Drawn, out: Path) -> Path:
    """Final L1 against the non-zero parameters at the end, one point per trial, per mode."""
    n = max(len(drawn.panels), 1)
    fig = Figure(figsize=(6.5 * n, 5.5), layout="constrained")
    for col, (panel, variants) in enumerate(drawn.panels):
        ax = fig.add_subplot(1, n, col + 1)
        for v in variants:
            points = [
                (t.metrics["active_encoder"] + t.metrics["active_decoder"], t.metrics["final_L1"])
                for t in v.trials
                if None
                not in (
                    t.metrics["active_encoder"],
                    t.metrics["active_decoder"],
                    t.metrics["final_L1"],
                )
            ]
            if points:
                style = drawn.styles[v.name]
                x, y = zip(*points)
                ax.scatter(x, y, color=style["color"], marker=style["marker"], s=20)
                ax.scatter(
                    [], [], color=style["color"], marker=style["marker"], label=drawn.label(v)
                )
        _reference_lines(ax, drawn, variants)
        ax.set(
            xlabel="non-zero parameters at the end (encoder + decoder)",
            ylabel="final training L1",
            title=panel,
        )
        _legend_below(ax, ncol=1 if len(variants) <= 6 else 2)
    fig.suptitle("loss against active parameters (one point per trial)", fontsize=10)
    return _save(fig, out / "loss_vs_parameters.png")


def draw_panels(variants, out) -> list[Path]:
    """Every figure of the report into ``out`` (the file names of
    :func:`~minievo.experiments.report_plots.draw_report_figures`); returns their paths."""
    out = Path(out)
    drawn = _Drawn(variants)
    return [
        plot_loss_panels(drawn, out),
        plot_final_panels(drawn, out),
        plot_active_panels(drawn, out),
        plot_loss_vs_parameters_labelled(drawn, out),
    ]
