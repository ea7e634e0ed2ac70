# %% [markdown]
# # Tutorial 06: write your own pruning operator, register it, compare it with the published three.
#
# Run it:
#
# ```bash
# python tutorials/06_write_your_own_operator.py            # 3 trials x 60 epochs (about a minute)
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
# 2. **The registration.** `@register_operator("wanda")` above it. From
#    then on `Config(prune_method="wanda")`, `minievo run --plugin
#    this_file.py --prune-method wanda` and sweeps accept it, and
#    `minievo.pruning.operators.prune_pair` applies it with the run's
#    mask mode and counts what it pruned, as for the published three.
# 3. **Sweeps.** Jobs of a sweep may run in their own processes, which know
#    only the built-in operators. `plugins=[<this file>]` in the
#    configuration makes every job import this file first (its `main` does
#    not run there: it is guarded by `__name__ == "__main__"`).
#
# The operator written here is **Wanda**, "pruning by weights and
# activations" (Sun, Liu, Bair & Kolter 2023, *A Simple and Effective Pruning
# Approach for Large Language Models*, arXiv:2306.11695). It sits between
# magnitude pruning, which looks at the weights only, and the papers'
# VARIANCE and CONJUNCTIVE, which look at the activations only: a weight
# matters when it is large *and* the input it multiplies is large. Forward the
# $N$ test rows (`settings.test_data`) through a network; with
# $X \in \mathbb{R}^{N \times n_\text{in}}$ the input of layer $l$ and
# $W \in \mathbb{R}^{n_\text{out} \times n_\text{in}}$ its weight matrix, the
# score of weight $W_{ij}$ is
#
# $$S_{ij} = |W_{ij}| \cdot \lVert X_{:,j} \rVert_2 .$$
#
# The bias $b_i$ is the weight of an input that is 1 on every row, so its
# score is $|b_i| \cdot \sqrt{N}$ (minievo's choice: Wanda prunes weight
# matrices only, minievo's operators prune biases too). As in the paper, the scores
# compete per output unit: in each row $i$ of $[W \mid b]$, prune the
# $k_i = \operatorname{round}(\text{amount}\cdot n_i)$ entries of smallest
# score, $n_i$ the row's active entries. An input that is 0 on every test row
# (a dead ReLU unit of the layer before) scores 0 whatever its weights: Wanda
# prunes first what the data never uses, which magnitude cannot see. It needs no
# gradients, no retraining and no random draws.
#
# Why not movement pruning (Sanh, Wolf & Rush 2020, arXiv:2005.07683)? It
# keeps the weights that moved away from zero during training, to first order
# $S_{ij} \approx W_{ij}\,(W_{ij} - W^{(0)}_{ij})$, so it needs the initial
# weights $W^{(0)}$, and an operator sees only the networks as they are now
# (`net.params`, `net.mask`, `net.layout`).
# The classic magnitude baseline, smallest $|w|$ per tensor, is built in as
# `prune_method="magnitude"` (docs/baselines.md).
#
# The script first tries the operator on a fresh autoencoder, then trains
# canonical autoencoders (one network, docs/algorithm.md §3)
# without pruning and with each of the four operators (exponential schedule,
# p = 0.1, amount 0.1, persistent masks; `--quick` prunes at every epoch),
# `trials` seeds each, writes the sweep's report and draws
# `06_operators.png`: final training L1 against the share of parameters left,
# one point per trial.
#
# What to expect (the default mode, 3 trials x 60 epochs, about a minute on
# one core; the script checks each of these claims): on a fresh encoder, Wanda
# prunes 10% of every row, the lowest scores of the row, and some of them (about
# 150 of 3030) are not among the row's smallest $|w|$: the input norms, 18 to
# 31 at the first layer and 0 to 28 at the second (one unit is already dead),
# change the close calls. In training, WANDA and CONJUNCTIVE keep the unpruned
# network's loss with a quarter to a third of the parameters gone, RANDOM loses
# some loss for about 40% gone, and VARIANCE, which thins whole layers at once,
# leaves ~15% of the parameters and the fit with them.


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
from minievo.experiments.run import load_dataset_for  # noqa: E402
from minievo.experiments.sweep import run_sweep  # noqa: E402
from minievo.network import MLP, Autoencoder, make_autoencoder  # noqa: E402
from minievo.pruning.operators import prune_pair  # noqa: E402
from minievo.pruning.registry import PruneSettings, register_operator  # noqa: E402

TITLE = "Tutorial 06: write your own pruning operator, register it, compare it with the published three."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def layer_inputs(net: MLP, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Forward ``x`` through ``net``; what every layer multiplies, and the output.

    Returns
    -------
    inputs : list of ndarray
        One per layer, ``(N, n_in)`` float32: ``x``, then each layer's output in turn.
    output : ndarray, shape (N, n_out of the last layer)
    """
    inputs, a = [], np.asarray(x, dtype=np.float32)  # (N, n_in of layer 0)
    for l, activation in enumerate(net.spec.activations):
        inputs.append(a)
        z = a @ net.weight(l).T + net.bias(l)  # (N, n_in) @ (n_in, n_out) -> (N, n_out)
        if activation == "relu":
            a = np.maximum(z, np.float32(0.0))
        elif activation == "sigmoid":
            with np.errstate(over="ignore"):  # exp(-z) = inf gives 0, as it should
                a = np.float32(1.0) / (np.float32(1.0) + np.exp(-z))
        else:  # identity
            a = z
    return inputs, a


def wanda_scores(net: MLP, l: int, x: np.ndarray) -> np.ndarray:
    """Layer ``l``'s scores |w| * ||x_j||, entry by entry of ``[W | b]``.

    ``x`` is the layer's input, shape ``(N, n_in)``; the bias column is the
    weight of a constant input 1, whose norm over N rows is sqrt(N).

    Returns
    -------
    ndarray, shape (n_out, n_in + 1), float32
    """
    norms = np.append(np.linalg.norm(x, axis=0), np.sqrt(x.shape[0]))  # (n_in + 1,)
    weights = np.column_stack([net.weight(l), net.bias(l)])  # (n_out, n_in + 1)
    return (np.abs(weights) * norms).astype(np.float32)  # (n_out, n_in + 1)


def wanda_mask(net: MLP, x: np.ndarray, amount: float, mask_mode: str) -> np.ndarray:
    """Wanda on one network: in every row of every ``[W | b]``, the lowest scores.

    Parameters
    ----------
    net : MLP
    x : ndarray, shape (N, n_in of the network)
        The rows to forward (the run's test data, or the code for a decoder).
    amount : float
        Fraction in [0, 1] of each row's candidates to prune (``prune_amount``).
    mask_mode : {"persistent", "regrow"}
        ``"persistent"``: only entries still active are candidates (as the
        ``random`` operator); ``"regrow"``: every entry. Ties go to the earlier entry.

    Returns
    -------
    ndarray, shape (n_params,), float32
        0 where the entry is pruned, 1 elsewhere.
    """
    mask = np.ones(net.n_params, dtype=np.float32)  # (P,)
    for l, inputs in enumerate(layer_inputs(net, x)[0]):
        score = wanda_scores(net, l, inputs)  # (n_out, n_in + 1)
        active = np.column_stack([net.weight(l, net.mask), net.bias(l, net.mask)]) != 0  # same
        if mask_mode != "persistent":
            active[...] = True  # every entry is a candidate
        score[~active] = np.inf  # ranked after every candidate: never chosen
        k = np.round(amount * active.sum(axis=1))  # (n_out,) per row; halves to even
        rank = np.argsort(np.argsort(score, axis=1, kind="stable"), axis=1)  # 0 = lowest
        keep = (rank >= k[:, None]).astype(np.float32)  # (n_out, n_in + 1)
        net.weight(l, mask)[...] = keep[:, :-1]  # (n_out, n_in) view into the mask
        net.bias(l, mask)[...] = keep[:, -1]  # (n_out,)
    return mask


# %%
@register_operator("wanda")
def wanda_masks(pair: Autoencoder, rng: np.random.Generator, settings: PruneSettings):
    """WANDA operator: :func:`wanda_mask` on the encoder, then the decoder (no draws)."""
    if settings.test_data is None:
        raise ValueError("prune method 'wanda' needs test_data to forward")
    x = np.asarray(settings.test_data, dtype=np.float32)  # (N, n_dim)
    code = layer_inputs(pair.encoder, x)[1]  # (N, code width): what the decoder reads
    if pair.kind == "variational":
        code = code[:, : pair.latent]  # the posterior mean, as the CONJUNCTIVE operator
    return (
        wanda_mask(pair.encoder, x, settings.amount, settings.mask_mode),
        wanda_mask(pair.decoder, code, settings.amount, settings.mask_mode),
    )


# %%
def try_on_a_fresh_autoencoder(test_data: np.ndarray) -> None:
    """Prune a fresh encoder once; check each row's count and choice, then by name."""
    pair = make_autoencoder("default", test_data.shape[1], np.random.default_rng(0))
    enc = pair.encoder
    mask = wanda_mask(enc, test_data, 0.1, "regrow")  # (P,)
    not_smallest = 0  # pruned entries that are not among the smallest |w| of their row
    for l, x in enumerate(layer_inputs(enc, test_data)[0]):
        score = wanda_scores(enc, l, x)  # (n_out, n_in + 1)
        pruned = np.column_stack([enc.weight(l, mask), enc.bias(l, mask)]) == 0  # same shape
        k = round(0.1 * score.shape[1])  # every entry is a candidate (regrow)
        assert (pruned.sum(axis=1) == k).all(), (l, pruned.sum(axis=1))
        highest_pruned = np.where(pruned, score, -np.inf).max(axis=1)  # (n_out,)
        lowest_kept = np.where(pruned, np.inf, score).min(axis=1)  # (n_out,)
        assert (highest_pruned <= lowest_kept).all(), l  # each row: the k lowest scores
        w = np.abs(np.column_stack([enc.weight(l), enc.bias(l)]))  # (n_out, n_in + 1)
        smallest = np.argsort(np.argsort(w, axis=1, kind="stable"), axis=1) < k  # per-row |w|
        not_smallest += int((pruned & ~smallest).sum())
    n_pruned = int((mask == 0).sum())
    assert not_smallest > 0, "the activations changed nothing: this is magnitude pruning"
    result = prune_pair(
        pair, "wanda", np.random.default_rng(1), test_data=test_data, amount=0.1, mask_mode="regrow"
    )  # by name, through the registry
    assert result.n_pruned_encoder == n_pruned, (result.n_pruned_encoder, n_pruned)
    print(
        f"fresh encoder: {n_pruned} of {enc.n_params} pruned, {not_smallest} of them "
        "not among the smallest |w| of their row"
    )


OPERATORS = (None, "random", "variance", "conjunctive", "wanda")


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
    try_on_a_fresh_autoencoder(load_dataset_for(variants[0]).test)  # (N, n_dim) test rows
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
        for name in ("wanda", "conjunctive"):  # the unpruned loss, a quarter to a third gone
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
