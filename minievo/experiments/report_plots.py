"""Figures of a study report, drawn with :class:`matplotlib.figure.Figure` (no pyplot state).

Importing this module changes nothing in matplotlib; every figure is its own
``Figure`` saved with its Agg canvas. Variants are drawn in the sweep's order
with one colour each, the same in every figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

#: PNG metadata without the matplotlib version, so figures depend only on the data.
_METADATA = {"Software": None}


def _colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _band(trials, key):
    """Epochs present in every trial's curve, median and quartiles across trials."""
    curves = [t.curves.get(key, {}) for t in trials]
    if not curves or not all(curves):
        return None
    epochs = sorted(set.intersection(*(set(c) for c in curves)))
    if not epochs:
        return None
    values = np.array([[c[e] for e in epochs] for c in curves])  # (trials, epochs)
    q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
    return np.array(epochs), q25, q50, q75


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=100, metadata=_METADATA)
    return path


def _legend_outside(ax) -> None:
    """The legend right of the axes, so it hides no data (constrained layout makes room)."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def plot_loss_curves(variants, out: Path) -> Path:
    """Final-metric curve: mean training L1 (``mean_L1``, mean over cells) against the
    epoch, median and interquartile band across trials, one colour per variant."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for v, colour in zip(variants, _colours(len(variants))):
        band = _band(v.trials, "mean_L1")
        if band is None:
            continue
        epochs, q25, q50, q75 = band
        ax.plot(epochs, q50, color=colour, label=f"{v.name} (n={len(v.trials)})")
        ax.fill_between(epochs, q25, q75, color=colour, alpha=0.2, linewidth=0)
    ax.set(
        xlabel="epoch",
        ylabel="mean training L1 (mean over cells)",
        title="training loss: median and IQR across trials",
    )
    if ax.has_data():
        _legend_outside(ax)
    return _save(fig, out / "loss_over_epochs.png")


def plot_boxplots(variants, out: Path) -> Path:
    """Boxplots across trials of the final L1 and the published-count capacity."""
    fig = Figure(figsize=(max(7, 1.0 * len(variants) + 2), 6.5), layout="constrained")
    names = [v.name for v in variants]
    for row, (metric, label) in enumerate(
        (("final_L1", "final training L1"), ("capacity_published", "capacity (published count)"))
    ):
        ax = fig.add_subplot(2, 1, row + 1)
        data = [[x for x in v.values(metric) if x is not None] for v in variants]
        positions = [i for i, d in enumerate(data) if d]
        if positions:
            ax.boxplot([data[i] for i in positions], positions=positions, widths=0.6)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names if row == 1 else [], rotation=30, ha="right", fontsize=7)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set(ylabel=label)
    fig.suptitle("per variant, across trials")
    return _save(fig, out / "boxplots.png")


def plot_active_parameters(variants, out: Path) -> Path:
    """Non-zero encoder and decoder parameters against the epoch (median across trials)."""
    fig = Figure(figsize=(13, 4), layout="constrained")
    colours = _colours(len(variants))
    for col, part in enumerate(("encoder", "decoder")):
        ax = fig.add_subplot(1, 2, col + 1)
        for v, colour in zip(variants, colours):
            band = _band(v.trials, f"_active_{part}")
            if band is None:
                continue
            epochs, q25, q50, q75 = band
            ax.plot(epochs, q50, color=colour, label=v.name)
            ax.fill_between(epochs, q25, q75, color=colour, alpha=0.2, linewidth=0)
        ax.set(xlabel="epoch", ylabel=f"non-zero {part} parameters", title=part)
        if col == 1 and ax.has_data():
            _legend_outside(ax)
    return _save(fig, out / "active_parameters.png")


def plot_loss_vs_parameters(variants, out: Path) -> Path:
    """Final L1 against non-zero parameters (encoder + decoder), one point per trial."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for v, colour in zip(variants, _colours(len(variants))):
        points = [
            (t.metrics["active_encoder"] + t.metrics["active_decoder"], t.metrics["final_L1"])
            for t in v.trials
            if None
            not in (t.metrics["active_encoder"], t.metrics["active_decoder"], t.metrics["final_L1"])
        ]
        if points:
            x, y = zip(*points)
            ax.scatter(x, y, color=colour, s=18, label=v.name)
    ax.set(
        xlabel="non-zero parameters at the end (encoder + decoder)",
        ylabel="final training L1",
        title="loss against active parameters (one point per trial)",
    )
    if ax.has_data():
        _legend_outside(ax)
    return _save(fig, out / "loss_vs_parameters.png")


def plot_front(variants, rows, out: Path) -> Path:
    """Final L1 against the compact and the papers' parameter counts, one point per trial;
    the non-dominated trials (``front_*`` of ``rows``) ringed in black."""
    fig = Figure(figsize=(13, 4.5), layout="constrained")
    colours = dict(zip((v.name for v in variants), _colours(len(variants))))
    axes = (("compact_params", "compact parameters"), ("published_params", "papers' count"))
    for col, (size, label) in enumerate(axes):
        ax = fig.add_subplot(1, 2, col + 1)
        for v in variants:
            mine = [r for r in rows if r["variant"] == v.name and r[size] is not None]
            if mine:
                ax.scatter([r[size] for r in mine], [r["final_L1"] for r in mine], s=18,
                           color=colours[v.name], label=v.name)  # fmt: skip
        front = sorted(
            (r[size], r["final_L1"]) for r in rows if r.get(f"front_{size}") and r[size] is not None
        )
        if front:
            x, y = zip(*front)
            ax.scatter(x, y, s=60, facecolors="none", edgecolors="black", label="non-dominated")
            ax.step(x, y, where="post", color="black", linewidth=0.7)
        ax.set(xlabel=f"parameters ({label})", ylabel="final training L1", title=label)
        if col == 1 and ax.has_data():
            _legend_outside(ax)
    fig.suptitle("the loss–size front (one point per trial)")
    return _save(fig, out / "loss_size_front.png")


def draw_report_figures(variants, out) -> list[Path]:
    """Every figure of the report into ``out``; returns their paths.

    The report draws them labelled, one panel per training mode, with the
    papers' values and reference lines (:mod:`minievo.experiments.report_panels`);
    the functions above draw the same data in one panel with folder names.
    """
    from .report_panels import draw_panels

    return draw_panels(variants, Path(out))
