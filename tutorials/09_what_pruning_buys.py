# %% [markdown]
# # Tutorial 09: what pruning buys: compact the network, check it, time it.
#
# Run it:
#
# ```bash
# python tutorials/09_what_pruning_buys.py            # paper size (about half a minute)
# python tutorials/09_what_pruning_buys.py --quick    # tiny, for the tests
# ```
#
# The papers report *preserved capacity*, the share of weights not zeroed.
# But a zeroed weight inside a dense matrix costs as much as any other: the
# matrix product multiplies it all the same. Pruning buys something only when
# the network can be stored and run differently:
#
# - **compact dense**: remove whole units. A unit $j$ of layer $l$ whose
#   incoming weights are all zero computes the constant $c_j = f(b_j)$; add
#   $c_j W^{(l+1)}_{:,j}$ to the next layer's bias and delete the unit. A unit
#   whose outgoing weights are all zero is seen by nobody; delete it. Repeat
#   until nothing changes (`minievo.pruning.compact`, `minievo compact RUN`).
# - **sparse (CSR)**: keep every layer as a compressed sparse row matrix, which
#   stores and multiplies only the non-zeros, at the price of an index per
#   entry and irregular memory access.
#
# This script trains one autoencoder, prunes copies of it three ways
# (RANDOM, which thins every tensor evenly; CONJUNCTIVE, which removes whole
# nodes; and a heavy 95% unstructured cut), compacts each, checks that the
# compact network's outputs equal the masked network's on the test set, and
# times the three representations at batch 1 and on the whole test set.
# Figure: `09_what_pruning_buys.png`.

# %%
import argparse
import sys
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402

from minievo.data import batch_order, generate_binary_clustering  # noqa: E402
from minievo.engine import Engine  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402
from minievo.pruning import apply_prune_mask, conjunctive_masks, random_mask  # noqa: E402
from minievo.pruning.compact import ACTIVATION_FUNCTIONS, compact, masked_chain  # noqa: E402

TITLE = "Tutorial 09: what pruning buys: compact the network, check it, time it."
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %% [markdown]
# ## Three ways to prune one trained network
#
# RANDOM masks `round(0.1 n)` entries of every tensor, five times over
# (about 41% gone); CONJUNCTIVE prunes the nodes that stay quiet on every one
# of 100 test rows; the last copy loses 95% of its weights at random.


# %%
def pruned_copies(pair, test, rng):
    copies = {"unpruned": pair.copy()}
    randomly = pair.copy()
    for _ in range(5):  # five RANDOM events, persistent masks
        for net in (randomly.encoder, randomly.decoder):
            apply_prune_mask(net, random_mask(net, 0.1, rng, mask_mode="persistent"), "persistent")
    copies["random x5"] = randomly
    conj = pair.copy()
    cases = test[rng.integers(0, test.shape[0], size=100)]  # (100, n_dim)
    enc_mask, dec_mask = conjunctive_masks(conj, cases, 0.1, signal="hook_output")
    apply_prune_mask(conj.encoder, enc_mask, "persistent")
    apply_prune_mask(conj.decoder, dec_mask, "persistent")
    copies["conjunctive"] = conj
    heavy = pair.copy()
    for net in (heavy.encoder, heavy.decoder):
        net.apply_mask((rng.random(net.n_params) >= 0.95).astype(np.float32))
    copies["95% unstructured"] = heavy
    return copies


# %% [markdown]
# ## Three representations of one function
#
# The masked network as minievo trains it (`masked_chain`: the dense matrices,
# zeros included), the compact one, and CSR matrices built from the masked
# ones. Each is a function `x (B, n_dim) -> reconstruction (B, n_dim)`.


# %%
def representations(pair):
    masked, small = masked_chain(pair), compact(pair)
    csr = [(sparse.csr_array(w), b, a) for w, b, a in zip(masked.weights, masked.biases, masked.activations)]  # fmt: skip

    def csr_forward(x):
        a = x.T  # (n_in, B)
        for w, b, act in csr:
            a = ACTIVATION_FUNCTIONS[act](w @ a + b[:, None])
        return a.T

    return masked, small, {"masked": masked.forward, "compact": small.forward, "CSR": csr_forward}


def median_time(f, x, rounds=5, calls=20):
    """Median over ``rounds`` of the mean time of ``calls`` calls, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            f(x)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return float(np.median(samples))


# %% [markdown]
# ## Run it


# %%
def main(quick: bool, out: Path) -> list:
    n_clusters, per_cluster, n_dim, epochs = (4, 20, 60, 2) if quick else (10, 100, 1000, 5)
    rng = np.random.default_rng(9)
    data = generate_binary_clustering(n_clusters, per_cluster, n_dim, rng=rng)
    pair = make_autoencoder("default", n_dim, rng)
    engine = Engine(pair, max_rows=5, backend="numba")
    for _ in range(epochs):
        engine.train_epoch(pair, data.train, batch_order(data.train.shape[0], rng), 5, 1e-3,
                           fresh=True, record=False)  # fmt: skip
    print(f"trained {epochs} epochs: test L1 {engine.reconstruction_l1(pair, data.test):.4f}")

    times, largest = {}, 0.0
    for name, net in pruned_copies(pair, data.test, rng).items():
        masked, small, forwards = representations(net)
        # the compact and CSR networks against the masked one, the same NumPy arithmetic
        reference = forwards["masked"](data.test)  # (N, n_dim)
        diffs = {k: float(np.max(np.abs(f(data.test) - reference))) for k, f in forwards.items()}
        # the engine's Numba forward sums 1000 products in another order: float32 rounding
        engine_diff = float(np.max(np.abs(engine.reconstruct(net, data.test) - reference)))
        largest = max(largest, diffs["compact"])
        assert diffs["compact"] <= 1e-6 and diffs["CSR"] <= 1e-5 and engine_diff <= 1e-5
        zeros = 1 - sum(np.count_nonzero(w) for w in masked.weights) / sum(
            w.size for w in masked.weights
        )
        print(f"\n== {name}: {zeros:.1%} of the weights zero")
        print(f"   widths {masked.widths} -> {small.widths}")
        print(f"   parameters {masked.n_params} -> {small.n_params}, "
              f"FLOPs/example {masked.flops} -> {small.flops}")  # fmt: skip
        print(f"   largest |compact - masked| on the test set: {diffs['compact']:.2e} "
              f"(|CSR - masked|: {diffs['CSR']:.2e}; |engine - masked|: {engine_diff:.2e})")  # fmt: skip
        assert small.widths[0] == small.widths[-1] == n_dim  # input and output widths stay
        assert small.n_params <= masked.n_params
        if name == "unpruned":  # nothing to remove: the same widths
            assert small.widths == masked.widths
        times[name] = {}
        for batch, x in (("batch 1", data.test[:1]), (f"batch {data.test.shape[0]}", data.test)):
            t = {k: median_time(f, x) for k, f in forwards.items()}
            times[name][batch] = t
            print(f"   {batch:>9}: masked {t['masked']:8.1f} µs, compact {t['compact']:8.1f} µs, "
                  f"CSR {t['CSR']:8.1f} µs  (masked/compact {t['masked'] / t['compact']:.2f}x, "
                  f"masked/CSR {t['masked'] / t['CSR']:.2f}x)")  # fmt: skip
    print(f"\nlargest |compact - masked| over all four networks: {largest:.2e}")
    print("Times are this machine's, today; benchmarks/bench_inference.py measures them properly.")

    out.mkdir(parents=True, exist_ok=True)
    return [plot_times(times, out)]


# %%
def plot_times(times, out):
    """Per network and batch size: the three representations' times (log scale)."""
    batches = list(next(iter(times.values())))
    fig, axes = plt.subplots(1, len(batches), figsize=(12, 4))
    names, reps = list(times), ("masked", "compact", "CSR")
    for ax, batch in zip(axes, batches):
        for i, rep in enumerate(reps):
            ax.bar(np.arange(len(names)) + (i - 1) * 0.27, [times[n][batch][rep] for n in names],
                   width=0.27, label=rep)  # fmt: skip
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=20, fontsize=8)
        ax.set(yscale="log", ylabel="µs per forward pass", title=batch)
    axes[0].legend()
    fig.suptitle("one reconstruction forward pass: masked dense, compact dense, CSR")
    fig.tight_layout()
    path = out / "09_what_pruning_buys.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"figure: {path}")
    return path


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    main(args.quick, args.out)
