"""Figures of a run, drawn from its records (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..training.records import PRUNED_LABELS  # noqa: E402


def _series(records, key):
    points = [(r["iteration"], r[key]) for r in records if r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_canonical(records: list[dict], out_dir, mask_mode=None) -> list[Path]:
    """Loss curves and pruned counts of a canonical run: ``figures/loss.png``.

    Left: minimum batch loss, training L1 and test L1 per epoch (log scale).
    Right: ``n_pruned_*`` (the published count: zeros at the last pruning
    event with regrow masks, masked entries with persistent ones) and
    ``n_zero_*`` (exact zeros at record time) per epoch. Legends sit outside
    the data.
    """
    out = Path(out_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    fig, (ax_loss, ax_prune) = plt.subplots(1, 2, figsize=(13, 3.8))
    for key, label in (
        ("min_batch_loss", "min batch loss"),
        ("train_L1", "train L1"),
        ("test_loss", "test L1"),
    ):
        x, y = _series(records, key)
        if x:
            ax_loss.plot(x, y, label=label)
    ax_loss.set(xlabel="epoch", ylabel="L1", yscale="log", title="canonical training")
    ax_loss.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    for key, label in (
        ("n_pruned_encoder", "encoder n_pruned"),
        ("n_pruned_decoder", "decoder n_pruned"),
        ("n_zero_encoder", "encoder n_zero"),
        ("n_zero_decoder", "decoder n_zero"),
    ):
        x, y = _series(records, key)
        if x:
            ax_prune.plot(x, y, label=label, linestyle="-" if "pruned" in key else "--")
    ax_prune.set(
        xlabel="epoch", ylabel="parameters", title=f"{PRUNED_LABELS[mask_mode]}, n_zero (zeros now)"
    )
    ax_prune.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    path = out / "loss.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [path]
