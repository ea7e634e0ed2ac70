# %% [markdown]
# # Tutorial 01: the binary clustering data and the autoencoder
#
# The data and the networks of both papers ([algorithm §1-§2](../algorithm.md)),
# and a first training that shows learning. Run it as a script or open it as
# a notebook (the `# %%` lines are cells):
#
# ```bash
# python tutorials/01_data_and_autoencoder.py            # paper size, a few seconds
# python tutorials/01_data_and_autoencoder.py --quick    # tiny, for the tests
# ```
#
# ## The problem
#
# `binary_clustering_{C}_{N}_{D}` draws $C$ random bit vectors, the
# *centroids* $c_k \in \{0,1\}^D$, each bit 1 with probability
# $p_{one} = 0.75$. Each centroid gets $N$ noisy copies:
#
# $$x_{i,d} = c_{k(i),d} \oplus \epsilon_{i,d}, \qquad \epsilon_{i,d} \sim \mathrm{Bernoulli}(0.05)$$
#
# so a row differs from its centroid in about 5% of its bits, and two
# centroids differ in about $2 \cdot 0.75 \cdot 0.25 = 37.5\%$ of theirs.
# An autoencoder that compresses a row to a 10-number code and back can only
# do well by learning the clusters.

# %%
import argparse
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows its figures
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minievo.data import batch_order, generate_binary_clustering  # noqa: E402
from minievo.engine import Engine  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402

parser = argparse.ArgumentParser(description="Tutorial 01: the data and the autoencoder")
parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()  # a notebook: its folder
parser.add_argument("--out", type=Path, default=HERE / "output")
# in a notebook there are no arguments to read: the default mode
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
QUICK, OUT = args.quick, args.out

# %% [markdown]
# ## The data
#
# Train, test and validation rows are drawn from the same centroids; row $r$
# belongs to cluster $r \bmod C$.

# %%
clusters, per_cluster, n_dim = (4, 10, 60) if QUICK else (10, 100, 1000)
rng = np.random.default_rng(1)
data = generate_binary_clustering(clusters, per_cluster, n_dim, rng=rng)
ones = float(data.centroids.mean())
flips = float(np.mean(data.train != data.centroids[data.train_labels]))
print(f"train {data.train.shape} {data.train.dtype}, labels {data.train_labels.shape}")
print(f"fraction of ones in the centroids: {ones:.3f} (expected 0.75)")
print(f"fraction of bits flipped by noise: {flips:.3f} (expected 0.05)")
assert data.train.shape == (clusters * per_cluster, n_dim)
if not QUICK:  # at paper size the fractions are within a few standard errors
    assert abs(ones - 0.75) < 0.02 and abs(flips - 0.05) < 0.005

# %% [markdown]
# ## The autoencoder
#
# The encoder is `D -> 30 ReLU -> 10 ReLU`, the decoder `10 -> 30 ReLU -> D
# sigmoid`; every layer computes $a = f(x W^\top + b)$ with $W$ of shape
# `(n_out, n_in)`. The loss is the L1 error
#
# $$L = \frac{1}{BD}\sum_{b,d} |\hat x_{b,d} - x_{b,d}|.$$
#
# An untrained decoder outputs values near 0.5, so $L$ starts near 0.5.

# %%
pair = make_autoencoder("default", n_dim, rng)
print("encoder", pair.encoder, "\ndecoder", pair.decoder)
n_params = pair.encoder.n_params + pair.decoder.n_params
print(f"parameters: {n_params}")
# (1000*30 + 30) + (30*10 + 10) + (10*30 + 30) + (30*1000 + 1000) at paper size
assert n_params == (n_dim * 30 + 30) + (30 * 10 + 10) + (10 * 30 + 30) + (30 * n_dim + n_dim)

# %% [markdown]
# ## What a loss means
#
# Two floors tell what a loss means. Predicting every row by the per-bit
# majority of the training set, with no code at all, gives an L1 of about
# 0.27 at paper size: a network stuck there has learned the bit frequencies,
# not the clusters. Reconstructing each row by its centroid gives the noise
# floor, 0.05. A loss well below the majority baseline means the code tells
# the clusters apart.
#
# ## A first training
#
# 20 epochs of Adam steps with a *fresh* Adam state for every step (as the
# coevolution does, [algorithm §4](../algorithm.md) step 4) at learning rate
# 3e-3. With a fresh state, Adam's first step is
# $\Delta w = -\eta\, \hat m / (\sqrt{\hat v} + \epsilon) = -\eta\,\mathrm{sign}(g)$
# (up to $\epsilon$): every weight moves by about the learning rate *against*
# the sign of its gradient, downhill. One persistent Adam at this size often
# sits on the majority plateau for dozens of epochs, which is why the papers'
# canonical runs take 4000 epochs.

# %%
engine = Engine(pair, max_rows=data.train.shape[0])
before = engine.reconstruction_l1(pair, data.test)
untrained = pair.copy()
epochs = 20
for _ in range(epochs):
    order = batch_order(data.train.shape[0], rng)
    engine.train_epoch(pair, data.train, order, 5, 3e-3, fresh=True, record=False)
after = engine.reconstruction_l1(pair, data.test)
majority = data.train.mean(axis=0) > 0.5  # (n_dim,) the commoner bit
baseline = float(np.mean(np.abs(majority - data.test)))  # L1 of predicting it everywhere
print(
    f"test L1: untrained {before:.4f}, after {epochs} epochs {after:.4f} "
    f"(per-bit majority {baseline:.4f}, noise floor 0.05)"
)
assert abs(before - 0.5) < 0.02, "an untrained decoder outputs about 0.5"
if not QUICK:  # learning that is visible: well below the majority plateau
    assert abs(baseline - 0.27) < 0.02
    assert after < baseline - 0.05, (after, baseline)

# %% [markdown]
# ## The figure
#
# The data sorted by cluster, the centroids, and an untrained reconstruction
# next to one after the short training; the title gives the test L1 before and
# after and the majority baseline.

# %%
# rows are interleaved by cluster (row r: cluster r mod n_clusters); sort
# them by cluster so that the picture shows one block per cluster
by_cluster = np.argsort(data.test_labels, kind="stable")  # (N,)
picks = by_cluster[np.linspace(0, data.test.shape[0] - 1, 40).astype(int)]
rows = data.test[picks]  # (40, n_dim)
recon = {
    "untrained": engine.reconstruct(untrained, rows),  # (40, n_dim) in [0, 1]
    "trained": engine.reconstruct(pair, rows),
}
order = np.argsort(data.train_labels, kind="stable")
width = min(n_dim, 200)
fig, axes = plt.subplots(1, 4, figsize=(14, 4))
axes[0].imshow(data.train[order][:, :width], aspect="auto", cmap="gray_r", interpolation="nearest")
axes[0].set(title="train rows by cluster", xlabel=f"bit (first {width})", ylabel="row")
axes[1].imshow(data.centroids[:, :width], aspect="auto", cmap="gray_r", interpolation="nearest")
axes[1].set(title="centroids", xlabel="bit", ylabel="cluster")
for ax, name in zip(axes[2:], ("untrained", "trained")):
    ax.imshow(recon[name][:, :width], aspect="auto", cmap="gray_r", vmin=0, vmax=1)
    ax.set(title=f"{name} reconstruction", xlabel="bit", ylabel="test row")
fig.suptitle(
    f"binary_clustering_{clusters}_{per_cluster}_{n_dim}: "
    f"test L1 {before:.3f} -> {after:.3f} (per-bit majority {baseline:.3f}, "
    "noise floor 0.05)"
)
fig.tight_layout()
OUT.mkdir(parents=True, exist_ok=True)
path = OUT / "01_data_and_autoencoder.png"
fig.savefig(path, dpi=100)
print(f"figure: {path}")
