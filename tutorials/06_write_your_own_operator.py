# %% [markdown]
# # Tutorial 06: write your own pruning operator, register it, compare it with the published three.
#
# Run it:
#
# ```bash
# python tutorials/06_write_your_own_operator.py            # 3 trials x 60 epochs (under a minute)
# python tutorials/06_write_your_own_operator.py --quick    # tiny data, 2 trials x 3 epochs
# ```
#
# The GECCO 2025 paper's pruning operators (`random`, `variance`,
# `conjunctive`; docs/algorithm.md §5) are not special: each is one function
# registered in `minievo.pruning.registry`. Yours takes the same place
# with one function and one line:
#
# 1. **The operator.** A function `(pair, rng, settings) -> (encoder mask,
#    decoder mask)`: it looks at an autoencoder, returns one 0/1 float32 vector
#    per network with the layout of `net.params` (0 = prune) and changes
#    nothing. `settings` (`minievo.pruning.registry.PruneSettings`)
#    carries the run's `prune_amount`, mask mode, test data, ...
# 2. **The registration.** `@register_operator("magnitude")` above it. From
#    then on `Config(prune_method="magnitude")`, `minievo run --plugin
#    this_file.py --prune-method magnitude` and sweeps accept it, and
#    `minievo.pruning.operators.prune_pair` applies it with the run's
#    mask mode and counts what it pruned, as for the published three.
# 3. **Sweeps.** Jobs of a sweep may run in their own processes, which know
#    only the built-in operators. `plugins=[<this file>]` in the
#    configuration makes every job import this file first (its `main` does
#    not run there: it is guarded by `__name__ == "__main__"`).
#
# The operator written here is *magnitude pruning*, the classic baseline the
# papers do not test: in every weight matrix and bias vector, prune the
# $k = \operatorname{round}(\text{amount}\cdot n)$ active entries of
# smallest absolute value,
#
# $$\text{mask}_i = 0 \iff |w_i| \text{ is among the } k \text{ smallest of its tensor}.$$
#
# The script trains canonical autoencoders (one network, docs/algorithm.md §3)
# without pruning and with each of the four operators (exponential schedule,
# p = 0.1, amount 0.1, persistent masks; `--quick` prunes at every epoch),
# `trials` seeds each, writes the sweep's report and draws
# `06_operators.png`: final training L1 against the share of parameters left,
# one point per trial.
#
# What to expect (the default mode, 3 trials x 60 epochs, under a minute on one
# core; the script checks each of these claims): magnitude and CONJUNCTIVE keep the unpruned network's loss with a
# quarter to a third of the parameters gone, RANDOM loses some loss for about
# 40% gone, and VARIANCE, which thins whole layers at once, leaves ~15% of the
# parameters and the fit with them.


# %%
import argparse
import shutil
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minievo.experiments.config import Config  # noqa: E402
from minievo.experiments.report import read_sweep, write_report  # noqa: E402
from minievo.experiments.sweep import run_sweep  # noqa: E402
from minievo.network import MLP, Autoencoder  # noqa: E402
from minievo.pruning.registry import PruneSettings, register_operator  # noqa: E402

TITLE = "Tutorial 06: write your own pruning operator, register it, compare it with the published three."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def magnitude_mask(net: MLP, amount: float, mask_mode: str) -> np.ndarray:
    r"""Magnitude pruning of one network: the smallest :math:`|w|` of every tensor.

    For every weight matrix and bias vector (``net.layout`` gives their
    offsets), :math:`k = \operatorname{round}(\text{amount} \cdot n)` entries
    of smallest absolute value are masked; with ``mask_mode="persistent"``
    ``n`` counts the entries still active and only those are candidates (as
    the ``random`` operator does). Ties go to the earlier entry.

    Parameters
    ----------
    net : MLP
    amount : float
        Fraction in [0, 1] (the run's ``prune_amount``).
    mask_mode : {"persistent", "regrow"}

    Returns
    -------
    ndarray, shape (n_params,), float32
        0 where the entry is pruned, 1 elsewhere.
    """
    mask = np.ones(net.n_params, dtype=np.float32)  # (P,)
    for l in range(net.spec.n_layers):
        n_in, n_out, w_off, b_off = (int(v) for v in net.layout[l, :4])
        for start, stop in ((w_off, w_off + n_out * n_in), (b_off, b_off + n_out)):
            candidates = np.arange(start, stop)  # one tensor
            if mask_mode == "persistent":
                candidates = candidates[net.mask[start:stop] != 0]  # active entries
            k = round(amount * candidates.size)
            order = np.argsort(np.abs(net.params[candidates]), kind="stable")
            mask[candidates[order[:k]]] = 0.0  # k smallest |w|
    return mask


# %%
@register_operator("magnitude")
def magnitude_masks(pair: Autoencoder, rng: np.random.Generator, settings: PruneSettings):
    """MAGNITUDE operator: :func:`magnitude_mask` on the encoder and the decoder (no draws)."""
    return (
        magnitude_mask(pair.encoder, settings.amount, settings.mask_mode),
        magnitude_mask(pair.decoder, settings.amount, settings.mask_mode),
    )


OPERATORS = (None, "random", "variance", "conjunctive", "magnitude")


# %%
def study(quick: bool, out: Path) -> tuple[list[Config], list[str]]:
    """One canonical variant per operator (None: no pruning), all else equal."""
    if quick:  # 3 clusters x 10 rows x 40 bits, generated into out/06_data; prune every epoch
        base = {
            "epochs": 3,
            "trials": 2,
            "dataset_name": "binary_clustering_3_10_40",
            "data_dir": str(out / "06_data"),
            "batch_size": 4,
            "stats_every": 1,
            "prune_schedule": "fixed",
            "prune_probability": 1.0,
        }
    else:  # about four pruning events per run, late in training
        base = {
            "epochs": 60,
            "trials": 3,
            "stats_every": 5,
            "prune_schedule": "exponential",
            "prune_probability": 0.1,
        }
    base.update(
        cell_evaluation="ann_canonical",
        prune_amount=0.1,
        learning_rate=1e-3,
        mask_mode="persistent",
        progress=False,
        plugins=[str((HERE / "06_write_your_own_operator.py").resolve())],
    )  # every job imports this file
    variants = [Config(prune_method=method, **base) for method in OPERATORS]
    names = [f"canonical-{method or 'none'}" for method in OPERATORS]
    return variants, names


# %%
def draw(root: Path, target: Path) -> Path:
    """Final training L1 against the share of parameters left, one point per trial."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for variant, marker in zip(read_sweep(root), "osD^v"):
        ax.scatter(
            variant.values("capacity"),
            variant.values("final_L1"),
            marker=marker,
            s=50,
            alpha=0.8,
            label=variant.name.removeprefix("canonical-"),
        )
    ax.set_xlabel("parameters left (non-zero share)")
    ax.set_ylabel("final training L1")
    ax.set_title("Canonical training: four pruning operators")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(target, dpi=120)
    plt.close(fig)
    return target


# %%
def main(quick: bool, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    variants, names = study(quick, out)
    root = out / "06_study"
    if root.exists():
        shutil.rmtree(root)  # a tutorial starts afresh; a real study resumes instead
    print(f"=== {len(variants)} variants x {variants[0].trials} trials -> {root} ===")
    # the jobs one after another in this process; `minievo sweep --workers N` runs
    # them in worker processes, each of which imports this file through `plugins`
    outcome = run_sweep(variants, root, names=names, in_process=True, workers=1, figures=False)
    print(outcome.summary())
    report = write_report(root)
    print(f"{report.summary_line()}\nreport: {report.path}")
    means = {}
    for variant in read_sweep(root):
        l1, left = np.mean(variant.values("final_L1")), np.mean(variant.values("capacity"))
        means[variant.name.removeprefix("canonical-")] = l1, left
        print(f"  {variant.name:24s} final L1 {l1:.4f}   parameters left {left:.3f}")
    if not quick:  # the claims of the text above
        none_l1 = means["none"][0]
        for name in ("magnitude", "conjunctive"):  # the unpruned loss, a quarter to a third gone
            l1, left = means[name]
            assert abs(l1 - none_l1) < 0.01 and 0.6 < left < 0.8, (name, means[name])
        assert means["random"][0] > none_l1 + 0.01 and 0.5 < means["random"][1] < 0.7, means
        assert means["variance"][0] > 0.45 and means["variance"][1] < 0.25, means
    figure = draw(root, out / "06_operators.png")
    print(f"figure: {figure}")
    return [figure]


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    main(args.quick, args.out)
