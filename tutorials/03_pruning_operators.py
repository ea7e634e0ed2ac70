# %% [markdown]
# # Tutorial 03: the three pruning operators side by side, and the statistics behind them.
#
# Run it:
#
# ```bash
# python tutorials/03_pruning_operators.py            # paper size (a few seconds)
# python tutorials/03_pruning_operators.py --quick    # tiny, for the tests
# ```
#
# The GECCO 2025 paper uses pruning as a mutation: now and then (a *schedule*
# decides when, [algorithm §5](../algorithm.md)) an individual loses some of its weights. Three
# operators decide *which* (`minievo.pruning.operators`):
#
# - **`random`**: in every weight matrix and bias vector, mask `round(0.1 * n)` entries
#   drawn uniformly. Blind, and the same amount every time.
# - **`variance`** (published name `activation`): while the network trains with
#   `record=True`, the kernels keep running
#   sums of every node's pre-activation $z$ at every batch position.
#   From them, per node $j$,
#
#   $$s_j = \sum_b \operatorname{std}_{\text{passes}} z_{bj}, \qquad t_j = \operatorname{minmax}_k (1 - s_k)_j \in [0, 1]$$
#
#   and every weight entering node $j$ (and its bias) survives with
#   probability $t_j$, one coin per entry. The node whose input varies
#   most has $t = 0$ and loses everything; the steadiest has
#   $t = 1$ and is never touched. How much is pruned depends on the
#   spread of the scores, not on any `amount`.
#
# - **`conjunctive`** (published name `lexicase`): push 100 random test rows
#   through the network one at a time. For each
#   row and layer, min-max scale the layer's pre-activations; a node *passes*
#   the row when its scaled value is below 0.1 (it is among the least
#   excited). Keep the nodes that pass row 1, then those that also pass row 2,
#   ... stopping as soon as at most one is left, like lexicase selection.
#   Whatever survives the filter is pruned whole: nodes that are quiet on
#   *every* case are taken out.
#
# This script trains one default autoencoder a few epochs, computes every
# operator's mask from it (operators only *return* masks; they never change a
# network), applies each to its own copy with persistent masks, and compares
# what is left. Figures: the VARIANCE statistics per node (`03_activation_statistics.png`),
# the masks of every layer (`03_masks.png`) and the seven schedules
# (`03_schedules.png`).


# %%
import argparse
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minievo.data import batch_order, generate_binary_clustering  # noqa: E402
from minievo.engine import Engine  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402
from minievo.pruning import (  # noqa: E402
    SCHEDULES,
    apply_prune_mask,
    conjunctive_masks,
    format_report,
    node_keep_probabilities,
    prune_probability,
    random_mask,
    sparsity_report,
    variance_mask,
    variance_scores,
)
from minievo.pruning.sparsity import structurally_removable  # noqa: E402

OPERATORS = ("random", "variance", "conjunctive")

TITLE = "Tutorial 03: the three pruning operators side by side, and the statistics behind them."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def layers(pair):
    """``(label, net, l)`` of every linear layer, encoder first."""
    return [
        (f"{name} {l}", net, l)
        for name, net in (("enc", pair.encoder), ("dec", pair.decoder))
        for l in range(net.spec.n_layers)
    ]


# %%
def operator_masks(pair, cases, rng):
    """Every operator's (encoder mask, decoder mask), computed from the same trained pair.

    ``cases``: the 100 test rows CONJUNCTIVE filters by, drawn once by the caller
    (a run draws them inside the operator, ``conjunctive_masks(pair, test, 0.1, rng)``).
    """
    return {
        # round(0.1 * n) entries of every tensor; persistent: drawn among active entries
        "random": (
            random_mask(pair.encoder, 0.1, rng, mask_mode="persistent"),
            random_mask(pair.decoder, 0.1, rng, mask_mode="persistent"),
        ),
        # one Uniform(0, 1) coin per entry against its node's t_j (needs the records)
        "variance": (variance_mask(pair.encoder, rng), variance_mask(pair.decoder, rng)),
        # the lexicase filter per layer over the given cases, in order
        "conjunctive": conjunctive_masks(pair, cases, 0.1),
    }


# %%
def plot_statistics(pair, out):
    """s_j and t_j of every node of every layer: which nodes VARIANCE goes after."""
    fig, axes = plt.subplots(2, 4, figsize=(15, 5.5))
    for col, (label, net, l) in enumerate(layers(pair)):
        s = variance_scores(net, l)  # (n_out,)
        t = node_keep_probabilities(s)  # (n_out,)
        nodes = np.arange(s.size)
        kind = "bar" if s.size <= 60 else "plot"
        getattr(axes[0, col], kind)(nodes, s, color="tab:blue")
        getattr(axes[1, col], kind)(nodes, t, color="tab:green")
        axes[0, col].set_title(f"{label}: {net.spec.sizes[l]}\u2192{net.spec.sizes[l + 1]}")
        axes[1, col].set(xlabel="node j", ylim=(0, 1.05))
    axes[0, 0].set_ylabel("s_j = \u03a3_b std(z_bj)")
    axes[1, 0].set_ylabel("keep probability t_j")
    fig.suptitle("VARIANCE: nodes whose pre-activations vary most (high s) are pruned most (low t)")
    fig.tight_layout()
    path = out / "03_activation_statistics.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# %%
def plot_masks(pair, masks, out):
    """One row per operator, one column per layer: black = pruned entry.

    Each panel is the layer's ``(n_out, n_in)`` weight mask with the bias mask
    as one extra column on the right: nodes down, inputs across, in every panel.
    """
    fig, axes = plt.subplots(3, 4, figsize=(15, 8))
    for row, name in enumerate(OPERATORS):
        for col, (label, net, l) in enumerate(layers(pair)):
            mask = masks[name][0 if label.startswith("enc") else 1]
            image = np.hstack(
                [net.weight(l, mask), net.bias(l, mask)[:, None]]
            )  # (n_out, n_in + 1)
            ax = axes[row, col]
            ax.imshow(
                image,
                cmap="gray",
                vmin=0,
                vmax=1,
                aspect="auto",
                interpolation="nearest",
            )
            kept = image.mean()
            ax.set_title(f"{name}: {label}, {1 - kept:.0%} pruned", fontsize=9)
            ax.set_xlabel("input (last column: bias)", fontsize=8)
            ax.set_ylabel("node j", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(
        "masks of one pruning step (black = pruned): random thins evenly, "
        "variance thins whole rows by t_j, conjunctive removes whole nodes"
    )
    fig.tight_layout()
    path = out / "03_masks.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# %%
def plot_schedules(epochs, out):
    """The seven schedules with p = 0.5 over a coevolution of ``epochs`` (T = epochs - 1)."""
    T = epochs - 1
    fig, ax = plt.subplots(figsize=(7, 4))
    t = np.arange(epochs)
    for schedule in SCHEDULES:
        ax.plot(
            t,
            [prune_probability(schedule, 0.5, int(e), T, n_solutions=3) for e in t],
            label=schedule,
            drawstyle="steps-post" if "_" in schedule else "default",
            linestyle="--" if "_" in schedule else "-",
        )
    ax.set(
        xlabel="epoch t",
        ylabel="probability of pruning",
        title=f"schedules, p = 0.5, T = {T}, 3 solutions (decrease starts at 1)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "03_schedules.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# %%
def main(quick: bool, out: Path) -> list:
    n_clusters, per_cluster, n_dim, epochs = (4, 20, 60, 3) if quick else (10, 100, 1000, 10)
    batch_size = 5
    rng = np.random.default_rng(3)
    data = generate_binary_clustering(n_clusters, per_cluster, n_dim, rng=rng)

    # 1. Train with records on. record_rows = batch size: one row of running
    #    sums per batch position (sum z, sum z^2, count), in float64.
    pair = make_autoencoder("default", n_dim, rng, record_rows=batch_size)
    engine = Engine(pair, max_rows=batch_size, backend="numba")
    n_rows = data.train.shape[0]
    for epoch in range(epochs):
        if epoch == epochs - 1:
            # Records hold every pass since they were last cleared; start the
            # last epoch afresh so the scores describe the trained network
            # (the training loops clear them after each pruning / cell visit).
            pair.encoder.clear_records()
            pair.decoder.clear_records()
        # fresh=True: the published update, a new Adam for every step (docs/algorithm.md §4),
        # at a larger learning rate than the paper's 1e-5 so a few epochs suffice
        losses = engine.train_epoch(
            pair, data.train, batch_order(n_rows, rng), batch_size, 1e-3, fresh=True, record=True
        )
        print(f"epoch {epoch}: mean batch L1 {losses.mean():.4f}")
    print(f"records: {int(pair.encoder.rec_count.max())} passes per batch position")

    # 2. Every operator's masks from the same trained pair, each applied to a copy.
    #    CONJUNCTIVE's 100 cases are drawn once here (uniformly, with replacement)
    #    so that section 3 below compares on the very same rows.
    cases = data.test[rng.integers(0, data.test.shape[0], size=100)]  # (100, n_dim)
    masks = operator_masks(pair, cases, rng)
    base_l1 = engine.reconstruction_l1(pair, data.test)
    print(f"\ntest L1 before pruning: {base_l1:.4f}")
    for name in OPERATORS:
        pruned = pair.copy()  # copies keep params, masks and Adam state
        apply_prune_mask(pruned.encoder, masks[name][0], "persistent")
        apply_prune_mask(pruned.decoder, masks[name][1], "persistent")
        l1 = engine.reconstruction_l1(pruned, data.test)
        share = (pruned.encoder.n_pruned + pruned.decoder.n_pruned) / (
            pruned.encoder.n_params + pruned.decoder.n_params
        )
        print(
            f"\n== {name}: {share:.1%} of the parameters pruned, test L1 {l1:.4f} "
            f"(+{l1 - base_l1:.4f}), {structurally_removable(pruned)} parameters "
            f"structurally removable"
        )
        print(format_report(pruned))
        if name == "random":  # round(0.1 * n) of every tensor: about 10% in all
            assert abs(share - 0.1) < 0.01, share
        if name == "conjunctive":  # whole nodes: a pruned bias means its whole row is pruned
            for net, m in ((pair.encoder, masks[name][0]), (pair.decoder, masks[name][1])):
                for l in range(net.spec.n_layers):
                    dead = net.bias(l, m) == 0.0
                    assert not net.weight(l, m)[dead].any()

    # Note the nodes CONJUNCTIVE removes at almost no cost: ReLU nodes whose
    # z is far below the others on every test row are off for every input
    # ("dead"), so removing them changes nothing.

    # 3. What CONJUNCTIVE compares. docs/algorithm.md §5 says pre-activations; the published
    #    PyTorch code's hooks actually saw ReLU outputs (an in-place ReLU
    #    overwrote them), so every node that is off for a row (z <= 0 -> 0)
    #    passes it, and the filter removes nodes that are off on every case.
    nodes_per_signal = {}
    for signal in ("pre_activation", "hook_output"):
        enc_mask, dec_mask = conjunctive_masks(pair, cases, 0.1, signal=signal)
        nodes = [
            int(np.count_nonzero(net.bias(l, m) == 0.0))
            for net, m in ((pair.encoder, enc_mask), (pair.decoder, dec_mask))
            for l in range(net.spec.n_layers)
        ]
        print(f"conjunctive on {signal:>14}: nodes pruned per layer {nodes}")
        nodes_per_signal[signal] = nodes
    # the same cases as section 2: its table's conjunctive nodes are the pre-activation ones
    table = [
        int(np.count_nonzero(net.bias(l, m) == 0.0))
        for net, m in (
            (pair.encoder, masks["conjunctive"][0]),
            (pair.decoder, masks["conjunctive"][1]),
        )
        for l in range(net.spec.n_layers)
    ]
    assert table == nodes_per_signal["pre_activation"], (table, nodes_per_signal)
    # ReLU outputs are 0 for every node that is off: more nodes pass every case
    assert sum(nodes_per_signal["hook_output"]) >= sum(nodes_per_signal["pre_activation"])
    if not quick:  # the numbers docs/differences.md quotes
        assert nodes_per_signal == {"pre_activation": [1, 1, 1, 0], "hook_output": [7, 1, 5, 0]}

    out.mkdir(parents=True, exist_ok=True)
    paths = [plot_statistics(pair, out), plot_masks(pair, masks, out), plot_schedules(epochs, out)]
    untouched = [
        r["sparsity"] for r in sparsity_report(pair.encoder) + sparsity_report(pair.decoder)
    ]
    print(
        f"\nthe trained pair itself is untouched (operators return masks): "
        f"sparsity per layer {untouched}"
    )
    assert all(s == 0 for s in untouched)
    for path in paths:
        print(f"figure: {path}")
    return paths


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    main(args.quick, args.out)
