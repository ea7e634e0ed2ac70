# %% [markdown]
# # Tutorial 02: one training step by hand, then the same step in the kernels.
#
# Run it:
#
# ```bash
# python tutorials/02_one_training_step.py            # paper size
# python tutorials/02_one_training_step.py --quick    # tiny, for the tests
# ```
#
# ## A step of the autoencoder on a batch `x` of `B` rows ([algorithm §2](../algorithm.md))
#
# Forward, layer by layer (`W` is `(n_out, n_in)`; `f` is ReLU or sigmoid):
#
# ```text
# z1 = x  W1^T + b1 ; a1 = relu(z1)        # (B, 30)     encoder
# z2 = a1 W2^T + b2 ; a2 = relu(z2)        # (B, 10)     the code
# z3 = a2 W3^T + b3 ; a3 = relu(z3)        # (B, 30)     decoder
# z4 = a3 W4^T + b4 ; y  = sigmoid(z4)     # (B, D)      reconstruction
# ```
#
# Loss, the mean absolute error, and its gradient:
#
# $$L = \frac{1}{BD}\sum |y - x|, \qquad \frac{\partial L}{\partial y} = \frac{\mathrm{sign}(y - x)}{BD}$$
#
# Backward, from the last layer to the first, with $\delta_l = \partial L/\partial z_l$:
#
# $$\delta_4 = \frac{\partial L}{\partial y} \odot y(1 - y), \quad \delta_{l} = (\delta_{l+1} W_{l+1}) \odot [a_l > 0], \quad \frac{\partial L}{\partial W_l} = \delta_l^\top a_{l-1}, \quad \frac{\partial L}{\partial b_l} = \textstyle\sum_b \delta_{l,b}$$
#
# Adam (PyTorch's form, betas (0.5, 0.999)) then moves every parameter. The
# published code builds a *fresh* Adam for every step, so with zero moments
# and $t = 1$ the update is $w \leftarrow w - \eta\, g / (|g| + \epsilon)$: every
# weight moves by nearly the learning rate *against* the sign of its gradient. This script writes all of that in ten lines of NumPy,
# checks it against `minievo.kernels.reference` (the readable oracle), the
# Numba kernels (`minievo.kernels.cpu`) and central finite differences, times
# both backends, and draws the gradients and the two backends' training curves.


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

from minievo.data import generate_binary_clustering  # noqa: E402
from minievo.engine import Engine, loss_and_gradients  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402

TITLE = "Tutorial 02: one training step by hand, then the same step in the kernels."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def relu(z):
    return np.maximum(z, 0.0)


# %%
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# %%
def step_by_hand(pair, x):
    """Forward, L1 and backward of the default autoencoder, written out."""
    enc, dec = pair.encoder, pair.decoder
    W = [enc.weight(0), enc.weight(1), dec.weight(0), dec.weight(1)]
    b = [enc.bias(0), enc.bias(1), dec.bias(0), dec.bias(1)]
    # forward
    a0 = x  # (B, D)
    a1 = relu(a0 @ W[0].T + b[0])  # (B, 30)
    a2 = relu(a1 @ W[1].T + b[1])  # (B, 10)
    a3 = relu(a2 @ W[2].T + b[2])  # (B, 30)
    y = sigmoid(a3 @ W[3].T + b[3])  # (B, D)
    loss = np.abs(y - x).mean()
    # backward
    d4 = np.sign(y - x) / y.size * y * (1 - y)  # (B, D)    dL/dz4
    d3 = (d4 @ W[3]) * (a3 > 0)  # (B, 30)   dL/dz3
    d2 = (d3 @ W[2]) * (a2 > 0)  # (B, 10)
    d1 = (d2 @ W[1]) * (a1 > 0)  # (B, 30)
    grads = [(d.T @ a, d.sum(0)) for d, a in ((d1, a0), (d2, a1), (d3, a2), (d4, a3))]
    return loss, grads


# %%
def finite_difference(pair, x, net, index, h=1e-3):
    """Central difference ``(L(p + h) - L(p - h)) / 2h`` of the L1 loss in one parameter.

    The network is float32; the loss is accumulated in float64, and ``h`` is
    large enough that float32 rounding of the parameter does not dominate.
    """

    def loss_at(value):
        saved = net.params[index]
        net.params[index] = value
        loss = loss_and_gradients(pair, x, backend="numpy").loss
        net.params[index] = saved
        return loss

    p = float(net.params[index])
    return (loss_at(p + h) - loss_at(p - h)) / (2 * h)


# %%
def main(quick: bool, out: Path) -> Path:
    n_dim, rows = (50, 5) if quick else (1000, 5)
    rng = np.random.default_rng(2)
    data = generate_binary_clustering(4, 20, n_dim, rng=rng)
    pair = make_autoencoder("default", n_dim, rng)
    x = data.train[:rows]  # (5, D)

    # 1. by hand vs the reference vs the Numba kernels
    loss, grads = step_by_hand(pair, x)
    ref = loss_and_gradients(pair, x, backend="numpy")
    fast = loss_and_gradients(pair, x, backend="numba")
    print(f"L1 by hand {loss:.7f}, reference {ref.loss:.7f}, numba {fast.loss:.7f}")
    assert abs(loss - ref.loss) < 1e-6 and abs(fast.loss - ref.loss) < 1e-5
    for l, ((gw, _gb), (rw, _rb), (nw, _nb)) in enumerate(
        zip(grads, ref.encoder + ref.decoder, fast.encoder + fast.decoder)
    ):
        print(
            f"layer {l}: dW {gw.shape} max |hand - ref| {np.abs(gw - rw).max():.2e}, "
            f"max |numba - ref| {np.abs(nw - rw).max():.2e}, |dW| max {np.abs(rw).max():.2e}"
        )
        scale = np.abs(rw).max() + 1e-12
        assert np.abs(gw - rw).max() <= 1e-4 * scale and np.abs(nw - rw).max() <= 1e-3 * scale

    # 2. finite differences on a few decoder biases (smooth enough away from ties)
    last_bias = ref.decoder[-1][1]  # (D,) dL/db4
    bias_offset = pair.decoder.layout[-1, 3]
    for k in range(3):
        numeric = finite_difference(pair, x, pair.decoder, bias_offset + k)
        analytic = last_bias[k]
        index = bias_offset + k
        print(f"decoder param {index}: finite difference {numeric:+.3e}, backprop {analytic:+.3e}")
        assert abs(numeric - analytic) <= 0.05 * abs(analytic) + 1e-7, (numeric, analytic)

    # 3. timing of one whole training step (forward + L1 + backward + Adam)
    timings = {}
    curves = {}
    for backend in ("numpy", "numba"):
        net = pair.copy()
        engine = Engine(net, max_rows=rows, backend=backend)
        order = np.arange(data.train.shape[0])
        engine.train_epoch(net, data.train, order, rows, 1e-3, fresh=True, record=False)  # warm-up
        net = pair.copy()
        start = time.perf_counter()
        losses = [
            engine.train_epoch(net, data.train, order, rows, 1e-3, fresh=True, record=False).mean()
            for _ in range(5 if quick else 20)
        ]
        n_steps = len(losses) * -(-data.train.shape[0] // rows)
        timings[backend] = (time.perf_counter() - start) / n_steps * 1e6
        curves[backend] = losses
        print(f"{backend}: {timings[backend]:.1f} µs per training step")
    # the same steps on both backends: the same losses up to float32 rounding, which
    # the sign-like fresh-Adam steps can amplify over many epochs
    gap = np.abs(np.subtract(curves["numpy"], curves["numba"]))
    print(f"largest difference of the two curves: {gap.max():.1e} (first epoch {gap[0]:.1e})")
    assert gap[0] < 1e-4 and gap.max() < 0.01, gap
    assert timings["numba"] < timings["numpy"], timings
    print(
        f"numba is {timings['numpy'] / timings['numba']:.1f}x faster than the reference here "
        f"(benchmarks/ measures this properly)"
    )

    # 4. figure: gradient magnitudes per layer, and the two backends' curves
    fig, (ax_g, ax_c) = plt.subplots(1, 2, figsize=(11, 4))
    names = ["enc W1", "enc W2", "dec W3", "dec W4"]
    ax_g.bar(names, [np.abs(w).mean() for w, _ in ref.encoder + ref.decoder])
    ax_g.set(yscale="log", ylabel="mean |dL/dW|", title="gradient size per layer")
    for backend, style in (("numpy", "-o"), ("numba", "--x")):
        ax_c.plot(curves[backend], style, label=f"{backend} ({timings[backend]:.0f} µs/step)")
    ax_c.set(xlabel="epoch", ylabel="mean batch L1", title="same steps, two backends")
    ax_c.legend()
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "02_one_training_step.png"
    fig.savefig(path, dpi=100)
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
