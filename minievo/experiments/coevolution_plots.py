"""Figures of a finished coevolution run, drawn from its records (``stats.jsonl``).

One line per cell, epochs on the x axis: selection and replacement loss,
learning rate, test loss. Pruning counts, which jump between cells at every
visit, are drawn as the mean over cells per epoch (:func:`mean_over_cells`, as
the papers' figures) with the interquartile band (:func:`median_band`); the
test loss with the median over cells on top: ``n_pruned_*`` (the published count: zeros at
the network's last pruning event with regrow masks, masked entries with
persistent ones) and ``n_zero_*`` (exact zeros at record time). Legends sit
outside the data. A record set with several
records per (epoch, cell), as ``all_vs_all`` writes (one per encoder-decoder
pair, ``node_idx`` = encoder), is averaged per (epoch, cell).

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly, so
importing this module does not choose or change a global matplotlib backend.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..training.records import PRUNED_LABELS

#: Above this many cells the legend is left out.
MAX_LEGEND_CELLS = 10
#: With more epochs than this, cell lines are drawn thin and the mean over cells on top.
LONG_RUN_EPOCHS = 50


def per_cell_series(records, key: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{cell: (epochs (T,), values (T,))}`` of ``key``, averaged per (epoch, cell).

    Records without ``key`` (or with a null value) are skipped.
    """
    sums = defaultdict(lambda: defaultdict(list))
    for record in records:
        value = record.get(key)
        if value is None:
            continue
        sums[int(record["node_idx"])][int(record["iteration"])].append(float(value))
    series = {}
    for cell in sorted(sums):
        epochs = np.array(sorted(sums[cell]), dtype=np.int64)  # (T,)
        values = np.array([np.mean(sums[cell][t]) for t in epochs])  # (T,)
        series[cell] = (epochs, values)
    return series


def _draw(axes, series, ylabel: str, log: bool = False) -> None:
    """One line per cell; with many epochs thin lines plus the mean over cells in black."""
    n = max(len(series), 1)
    long_run = any(len(epochs) > LONG_RUN_EPOCHS for epochs, _ in series.values())
    for i, (cell, (epochs, values)) in enumerate(series.items()):
        axes.plot(
            epochs,
            values,
            color=_cell_colour(i, n),
            linewidth=0.6 if long_run else 1,
            alpha=0.45 if long_run else 1.0,
            marker=None if len(epochs) >= 20 else "o",
            markersize=3,
            label=f"cell {cell}",
        )
    if long_run and len(series) > 1:
        all_epochs = np.unique(np.concatenate([epochs for epochs, _ in series.values()]))
        mean = [
            np.mean([v[e == t][0] for e, v in series.values() if np.any(e == t)])
            for t in all_epochs
        ]
        axes.plot(all_epochs, mean, color="black", linewidth=1.8, label="mean over cells")
    if log and any(np.all(v > 0) for _, v in series.values()):
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if 0 < len(series) <= MAX_LEGEND_CELLS:
        _legend_outside(axes)


def _legend_outside(axes) -> None:
    """The legend to the right of the axes, where it cannot hide data."""
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def median_band(records, key: str):
    """Median and interquartile range over cells, per epoch, of ``key``.

    Values are first averaged per (epoch, cell) (:func:`per_cell_series`).

    Returns
    -------
    epochs : ndarray, shape (T,)
    q25, median, q75 : ndarray, shape (T,)
        Quantiles over the cells recorded at each epoch.
    """
    per_epoch = defaultdict(list)
    for epochs, values in per_cell_series(records, key).values():
        for t, v in zip(epochs, values):
            per_epoch[int(t)].append(v)
    epochs = np.array(sorted(per_epoch), dtype=np.int64)  # (T,)
    if not epochs.size:
        empty = np.zeros(0)
        return epochs, empty, empty, empty
    q = np.array([np.percentile(per_epoch[t], (25, 50, 75)) for t in epochs])  # (T, 3)
    return epochs, q[:, 0], q[:, 1], q[:, 2]


def mean_over_cells(records, key: str):
    """Epochs and the mean over cells of ``key`` per epoch (per-cell values first averaged
    per (epoch, cell), :func:`per_cell_series`)."""
    per_epoch = defaultdict(list)
    for epochs, values in per_cell_series(records, key).values():
        for t, v in zip(epochs, values):
            per_epoch[int(t)].append(v)
    epochs = np.array(sorted(per_epoch), dtype=np.int64)
    return epochs, np.array([np.mean(per_epoch[int(t)]) for t in epochs])


def _draw_pruning(axes, records, network: str, mask_mode=None) -> None:
    """Mean over cells with the IQR band: published pruned count and current zeros.

    The mean, as the papers' figures draw it (``sns.lineplot``'s estimator): with
    regrow masks a cell's published count is 0 or its last pruning event's count
    depending on which network the visit selected, so half the cells sit near 0
    and half near thousands, and the median jumps between the two groups from
    epoch to epoch; the median is drawn thin.
    """
    for key, label, colour in (
        (f"n_pruned_{network}", PRUNED_LABELS[mask_mode], "C3"),
        (f"n_zero_{network}", "n_zero (exact zeros now)", "C0"),
    ):
        epochs, q25, median, q75 = median_band(records, key)
        if not epochs.size:
            continue
        axes.fill_between(
            epochs,
            q25,
            q75,
            color=colour,
            alpha=0.25,
            linewidth=0,
            label=f"{label}: IQR over cells",
        )
        _, mean = mean_over_cells(records, key)
        axes.plot(epochs, mean, color=colour, linewidth=1.8, label=f"{label}: mean")
        axes.plot(epochs, median, color=colour, linewidth=0.6, alpha=0.6, label=f"{label}: median")
    axes.set_xlabel("epoch")
    axes.set_ylabel("parameters")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        _legend_outside(axes)


def _cell_colour(i: int, n: int):
    from matplotlib import colormaps

    return colormaps["viridis"](i / max(n - 1, 1))


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")  # keeps the outside legends
    return path


def plot_coevolution(records, out_dir, mask_mode=None) -> list[Path]:
    """Write the figures of a coevolution run to ``out_dir`` and return their paths.

    Parameters
    ----------
    records : list of dict
        The run's records (:func:`minievo.training.records.read_stats`).
    out_dir : path
        Created if missing.
    mask_mode : {"regrow", "persistent"}, optional
        The run's, to say in the pruning figure what ``n_pruned`` counts.

    Returns
    -------
    list of pathlib.Path
        ``coevolution_losses.png`` (selection and replacement loss per cell),
        ``coevolution_learning_rates.png``, ``coevolution_pruned.png``
        (pruning counts of encoder and decoder, :func:`median_band`) and, when the records hold
        it, ``coevolution_test_loss.png``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2, sharey=True)
    _draw(left, per_cell_series(records, "min_selection_loss"), "L1 loss (one batch)")
    left.set_title("selection: best of the neighbourhood")
    _draw(right, per_cell_series(records, "min_replacement_loss"), "L1 loss (one batch)")
    right.set_title("replacement: the trained pair")
    paths.append(_save(figure, out_dir / "coevolution_losses.png"))

    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    _draw(axes, per_cell_series(records, "learning_rate"), "learning rate")
    axes.set_title("learning rate of each cell (mutated every visit)")
    paths.append(_save(figure, out_dir / "coevolution_learning_rates.png"))

    figure = Figure(figsize=(9, 6.5))
    top, bottom = figure.subplots(2, 1, sharex=True)
    _draw_pruning(top, records, "encoder", mask_mode)
    top.set_title("encoder: pruning counts over cells per epoch (mean; IQR band)")
    _draw_pruning(bottom, records, "decoder", mask_mode)
    bottom.set_title("decoder")
    paths.append(_save(figure, out_dir / "coevolution_pruned.png"))

    test = per_cell_series(records, "test_loss")
    if test:
        figure = Figure(figsize=(6, 4))
        axes = figure.subplots()
        _draw(axes, test, "L1 loss (test set)")
        if len(test) > 1:  # the cells' lines overlap: their median and IQR on top
            epochs, q25, median, q75 = median_band(records, "test_loss")
            axes.fill_between(epochs, q25, q75, color="black", alpha=0.15, linewidth=0)
            axes.plot(epochs, median, color="black", linewidth=1.8, label="median over cells")
            if len(test) <= MAX_LEGEND_CELLS:
                _legend_outside(axes)
        axes.set_title("test loss of each new center")
        paths.append(_save(figure, out_dir / "coevolution_test_loss.png"))
    return paths
