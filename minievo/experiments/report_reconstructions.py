"""The report's reconstruction figure for image data (docs/datasets.md).

On a sweep over the handwritten digits, ``minievo report`` draws
``reconstructions.png``: the first test image of every class (top row, the
originals) and, one row per variant, what that variant's network gives back
for them, 8×8 grey levels in [0, 1] (white 0, black 1, as ink on paper).

Which network: of each variant, the trial with the lowest final L1 (the
training batches' mean L1 at the last epoch, averaged over the cells, the
report's ``final_L1``), and of that trial the network its run folder saved:
``best_autoencoder.npz`` (coevolution: the final center with the lowest test
L1) or ``final_autoencoder.npz`` (canonical: the one network after the last
epoch). A row's label gives the mean L1 of the images shown.

Nothing is drawn for binary clustering sweeps (their rows are not images) or
when no trial left a network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..data import load_or_generate
from ..digits import DIGITS_NAMES
from ..engine import Engine
from ..network import Autoencoder
from .report_labels import data_seed_of, variant_labels
from .report_panels import _save
from .run import BEST_FILE, FINAL_FILE

__all__ = ["FIGURE_FILE", "plot_reconstructions"]

FIGURE_FILE = "reconstructions.png"


def _examples(config: dict) -> tuple[np.ndarray, tuple[int, int]]:
    """The first test image of every class, ``(n_classes, n_dim)``, and the image shape."""
    data = load_or_generate(config["dataset_name"], seed=data_seed_of(config))
    first = [int(np.flatnonzero(data.test_labels == k)[0]) for k in range(data.n_clusters)]
    return data.test[first], data.image_shape  # (n_classes, n_dim)


def _best_network(root: Path, variant) -> Autoencoder | None:
    """The saved network of the variant's trial with the lowest final L1, or None."""
    trials = [t for t in variant.trials if t.metrics.get("final_L1") is not None]
    if not trials:
        return None
    best = min(trials, key=lambda t: t.metrics["final_L1"])
    for name in (BEST_FILE, FINAL_FILE):
        path = root / best.job / name
        if path.exists():
            return Autoencoder.load(path)
    return None


def _reconstruct(network: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Decoder outputs for ``images (n, n_dim)``, ``(n, n_dim)`` (NumPy backend: no compiling)."""
    engine = Engine(network, images.shape[0], backend="numpy", noise_std=0.0)
    return engine.reconstruct(network, images)  # (n, n_dim)


def plot_reconstructions(variants, root, out) -> Path | None:
    """Draw ``reconstructions.png`` into ``out`` for a digits sweep in ``root``; else None."""
    variants = [v for v in variants if v.config.get("dataset_name") in DIGITS_NAMES]
    labels = dict(zip((v.name for v in variants), variant_labels([v.config for v in variants])))
    networks = [(v, _best_network(Path(root), v)) for v in variants]
    networks = [(v, net) for v, net in networks if net is not None]
    if not networks:
        return None
    images, shape = _examples(networks[0][0].config)  # (n_classes, n_dim)
    rows = [("originals", images)]
    for v, net in networks:
        outputs = _reconstruct(net, images)  # (n_classes, n_dim)
        l1 = float(np.abs(outputs - images).mean())
        rows.append((f"{labels[v.name]} (L1 {l1:.3f})", outputs))
    return _draw(rows, shape, Path(out) / FIGURE_FILE)


def _draw(rows, shape, path: Path) -> Path:
    """One row of images per entry of ``rows`` (label, ``(n, n_dim)``), label on the left."""
    n_cols = rows[0][1].shape[0]
    label_inches = 0.06 * max(len(label) for label, _ in rows) + 0.2  # 7-point text
    width = 0.7 * n_cols + label_inches + 0.1
    fig = Figure(figsize=(width, 0.75 * len(rows) + 0.5))
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(shape), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(
        "Test images (top) and their reconstructions by each variant's best trial", fontsize=8
    )
    fig.subplots_adjust(
        left=label_inches / width, right=0.99, top=0.9, bottom=0.02, wspace=0.05, hspace=0.1
    )
    return _save(fig, path)
