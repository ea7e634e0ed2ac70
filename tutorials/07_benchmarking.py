# %% [markdown]
# # Tutorial 07: how fast are the kernels? Benchmarking a kernel against its reference.
#
# Run it:
#
# ```bash
# python tutorials/07_benchmarking.py            # paper size, about a minute
# python tutorials/07_benchmarking.py --quick    # a few seconds, rougher numbers
# ```
#
# Every numerical operation of minievo exists twice with the same signature:
# the NumPy reference (`minievo.kernels.reference`, written to be read) and
# the Numba kernel (`minievo.kernels.cpu`, written to be fast). Measuring the
# second against the first, on the same inputs, is how we know the fast path is
# worth its complexity. Four habits make such numbers trustworthy:
#
# 1. **Check before you time.** A fast kernel that computes something else is
#    not fast. Every measurement below first asserts that both backends agree.
# 2. **Keep compilation out.** The first call of a Numba function compiles it
#    (tens of seconds for the whole training step on a fresh machine) or loads
#    it from the on-disk cache (`cache=True`, a fraction of a second). Call
#    once before timing; section 1 shows the difference.
# 3. **Repeat, and report the median and the IQR.** One timing is one sample
#    of a noisy process: other programs, frequency scaling, cache state. We
#    time `repeat` batches of `number` calls each, divide by `number`,
#    and report the **median** of the batches (robust to the odd slow one) and
#    the **IQR**, the spread of the middle half (when it is a large fraction
#    of the median, the machine was busy: measure again). The minimum is a
#    lower bound a busy machine rarely reaches twice.
# 4. **Compare ratios, on one core.** Absolute times depend on the machine; the
#    ratio `median(reference) / median(kernel)` travels better. NumPy's BLAS
#    may use every core while the kernels use one, so for a fair comparison
#    run with `OPENBLAS_NUM_THREADS=1` (this script sets it) and, on Linux,
#    `taskset -c 0`.
#
# The timer is plain `timeit` with `time.perf_counter`; the benchmark suite
# (`pytest benchmarks/`, see `benchmarks/README.md`) measures the same
# operations with pytest-benchmark and can save and compare baselines.
#
# Read the table with the loops of `cpu.py` in mind: a product whose
# innermost loop runs over 1000 contiguous numbers (the first encoder layer)
# vectorises well; one over 30 (the last decoder layer stored as PyTorch does,
# `(1000, 30)`) does not, and BLAS beats the plain loops there. Stored
# transposed, as `train_epoch` stores it for the length of an epoch, the
# same layer is fast again. What counts in the end is the training step.
#
# The figure `07_benchmarks.png` shows every operation's median for both
# backends on a log scale, with the IQR as error bars and the speed-up written
# above each pair.


# %%
import argparse
import os
import sys
import time
import timeit
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core against one core (habit 4)

import matplotlib  # noqa: E402

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minievo.engine import Engine  # noqa: E402
from minievo.kernels import Adam, cpu  # noqa: E402
from minievo.kernels import reference as ref  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402

BACKENDS = {"numpy": ref, "numba": cpu}
LR, BETAS, EPS = 1e-5, (0.5, 0.999), 1e-8


# --------------------------------------------------------------------------
# The timer
# --------------------------------------------------------------------------

TITLE = "Tutorial 07: how fast are the kernels? Benchmarking a kernel against its reference."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def measure(fn, repeat, min_time):
    """Seconds per call of ``fn()``: ``repeat`` samples, each the mean of ``number`` calls.

    ``number`` doubles until one batch lasts ``min_time`` seconds, so that the
    clock's resolution and the loop's own cost vanish in the average.
    """
    fn()  # warm-up (compiles if needed)
    timer = timeit.Timer(fn, timer=time.perf_counter)
    number = 1
    while timer.timeit(number) < min_time:
        number *= 2
    return np.array(timer.repeat(repeat=repeat, number=number)) / number


# %%
def summary(samples):
    """Median and interquartile range of the samples."""
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return median, q3 - q1


# --------------------------------------------------------------------------
# The operations: (name, {backend: zero-argument function}), checked first
# --------------------------------------------------------------------------


# %%
def operations(n_dim, batch_size, n_rows):
    rng = np.random.default_rng(0)
    pair = make_autoencoder("default", n_dim, rng, record_rows=batch_size)
    for net in (pair.encoder, pair.decoder):  # 20% pruned, like after pruning
        net.apply_mask((rng.random(net.n_params) >= 0.2).astype(np.float32))
    data = (rng.random((n_rows, n_dim)) < 0.75).astype(np.float32)
    x = data[:batch_size]  # (B, n_dim)
    enc, dec = pair.encoder, pair.decoder
    ops = []

    # dense layers: the first encoder layer (1000-long rows) and the last
    # decoder layer (30-long rows: the hard case for vectorised loops)
    h = np.maximum(x @ enc.weight(0).T + enc.bias(0), 0)  # (B, 30)
    for label, W, b, inp in (
        ("dense fwd enc 0", enc.weight(0), enc.bias(0), x),
        ("dense fwd dec 1", dec.weight(1), dec.bias(1), h),
    ):
        outs = {name: np.empty((batch_size, W.shape[0]), np.float32) for name in BACKENDS}
        ops.append(
            (
                label,
                {
                    name: (
                        lambda m=m, o=outs[name], W=W, b=b, inp=inp: m.dense_forward(inp, W, b, o)
                    )
                    for name, m in BACKENDS.items()
                },
                lambda outs=outs: outs,
            )
        )
    # the same product with the layer stored transposed, (30, n_dim), as
    # train_epoch stores it: now the innermost loop runs over n_dim, not 30
    W1t = np.ascontiguousarray(dec.weight(1).T)
    outs_t = {name: np.empty((batch_size, n_dim), np.float32) for name in BACKENDS}
    ops.append(
        (
            "dense fwd dec 1\n(transposed)",
            {
                "numpy": lambda: ref.dense_forward(h, dec.weight(1), dec.bias(1), outs_t["numpy"]),
                "numba": lambda: cpu._dense_forward_t(h, W1t, dec.bias(1), outs_t["numba"]),
            },
            lambda: outs_t,
        )
    )
    d = rng.standard_normal((batch_size, n_dim)).astype(np.float32)
    W1 = dec.weight(1)
    grads = {
        name: (np.empty_like(W1), np.empty(n_dim, np.float32), np.empty_like(h))
        for name in BACKENDS
    }

    def backward(m, dW, db, dx):
        m.dense_backward_params(h, d, dW, db)
        m.dense_backward_input(W1, d, dx)

    ops.append(
        (
            "dense bwd dec 1",
            {name: (lambda m=m, g=grads[name]: backward(m, *g)) for name, m in BACKENDS.items()},
            lambda: grads,
        )
    )

    # L1 loss and its gradient
    y = 1 / (1 + np.exp(-rng.standard_normal((batch_size, n_dim)))).astype(np.float32)
    d_y = {name: np.empty_like(y) for name in BACKENDS}
    ops.append(
        (
            "L1 loss",
            {name: (lambda m=m, g=d_y[name]: m.l1_loss(y, x, g)) for name, m in BACKENDS.items()},
            lambda: d_y,
        )
    )

    # masked Adam over a buffer the size of the whole autoencoder
    params = np.concatenate([enc.params, dec.params])
    mask = np.concatenate([enc.mask, dec.mask])
    g = rng.standard_normal(params.size).astype(np.float32) * 1e-3
    adam = {
        name: [params.copy(), np.zeros_like(params), np.zeros_like(params)] for name in BACKENDS
    }
    ops.append(
        (
            "Adam persistent",
            {
                name: (
                    lambda m=m, s=adam[name]: m.adam_update(
                        s[0], g, mask, s[1], s[2], 10, Adam(LR, *BETAS, EPS, False)
                    )
                )
                for name, m in BACKENDS.items()
            },
            lambda: {k: v[0] for k, v in adam.items()},
        )
    )
    fresh = {name: params.copy() for name in BACKENDS}
    ops.append(
        (
            "Adam fresh",
            {
                name: (
                    lambda m=m, p=fresh[name]: m.adam_fresh_update(
                        p, g, mask, Adam(LR, *BETAS, EPS, True)
                    )
                )
                for name, m in BACKENDS.items()
            },
            lambda: fresh,
        )
    )

    # the real training loop: one call trains on every batch of the data;
    # we report it per step (one step = forward, L1, backward, masked Adam)
    order = rng.permutation(n_rows).astype(np.int64)
    engines = {name: Engine(pair, batch_size, name) for name in BACKENDS}
    pairs = {name: pair.copy() for name in BACKENDS}
    losses = {}

    def epoch(name):
        losses[name] = engines[name].train_epoch(
            pairs[name], data, order, batch_size, LR, fresh=False, record=True
        )

    n_steps = -(-n_rows // batch_size)
    ops.append(
        (
            f"train step\n(epoch / {n_steps})",
            {name: (lambda name=name: epoch(name)) for name in BACKENDS},
            lambda: losses,
            n_steps,
        )
    )

    # a cell's neighbourhood evaluation: 3 encoders x 3 decoders on one batch
    cells = [pair.copy() for _ in range(3)]
    evals = {}

    def neighbourhood(name):
        evals[name] = [
            engines[name].evaluate(type(pair)(e.encoder, c.decoder), x, record=True)
            for e in cells
            for c in cells
        ]

    ops.append(
        (
            "3x3 evaluation",
            {name: (lambda name=name: neighbourhood(name)) for name in BACKENDS},
            lambda: evals,
        )
    )
    return ops


# %%
def _flat(value):
    """One float64 vector from an array, a list of numbers or a tuple of arrays."""
    parts = value if isinstance(value, tuple) else (value,)
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in parts])


# %%
def check_agreement(label, results):
    """Habit 1: both backends computed the same thing (float32: rtol 1e-4, see
    tests/test_kernels.py for why)."""
    got = results()
    fast, slow = _flat(got["numba"]), _flat(got["numpy"])
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5 * np.abs(slow).max(), err_msg=label)


# %%
def main():
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="a few seconds, rougher numbers")
    parser.add_argument("--out", default="tutorials/output", help="folder for the figure")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_dim, batch_size = 1000, 5  # the papers' size
    n_rows = 100 if args.quick else 1000
    repeat, min_time = (5, 0.002) if args.quick else (15, 0.05)

    # 1. compilation (habit 2): the first call compiles or loads the kernels
    pair = make_autoencoder("default", n_dim, np.random.default_rng(1), record_rows=batch_size)
    engine = Engine(pair, batch_size, "numba")
    data = (np.random.default_rng(2).random((20, n_dim)) < 0.75).astype(np.float32)
    order = np.arange(20, dtype=np.int64)
    for call in ("first", "second"):
        t0 = time.perf_counter()
        engine.train_epoch(pair, data, order, batch_size, LR, fresh=False, record=True)
        print(f"{call} call of train_epoch (4 steps): {time.perf_counter() - t0:8.4f} s")
    print(
        "  the first call compiled the kernels, or loaded them from the cache in\n"
        "  minievo/kernels/__pycache__; never time it.\n"
    )

    # 2. every operation: check, then time both backends (habits 1, 3, 4)
    rows = []
    print(
        f"{'operation':28s} {'numpy median (IQR)':>24s} {'numba median (IQR)':>24s} "
        f"{'speed-up':>9s}"
    )
    for label, fns, results, *per in operations(n_dim, batch_size, n_rows):
        steps = per[0] if per else 1
        for fn in fns.values():
            fn()
        check_agreement(label, results)
        stats = {}
        for name, fn in fns.items():
            stats[name] = summary(measure(fn, repeat, min_time) / steps)
        ratio = stats["numpy"][0] / stats["numba"][0]
        rows.append((label, stats, ratio))
        cells = "".join(
            f"{m * 1e6:13.1f} us ({iqr / m:5.1%})" for m, iqr in (stats["numpy"], stats["numba"])
        )
        print(f"{label.replace(chr(10), ' '):28s} {cells} {ratio:8.1f}x")
    print(
        "\nThe percentage is the IQR relative to the median: above a few percent,\n"
        "the machine was noisy while measuring; the ratio is the robust number."
    )

    # 3. the figure: medians on a log scale, IQR as error bars, speed-up above
    fig, ax = plt.subplots(figsize=(11, 5))
    pos = np.arange(len(rows))
    width = 0.38
    for k, (name, color) in enumerate((("numpy", "#9e9e9e"), ("numba", "#1f77b4"))):
        medians = np.array([r[1][name][0] for r in rows]) * 1e6
        iqrs = np.array([r[1][name][1] for r in rows]) * 1e6
        ax.bar(
            pos + (k - 0.5) * width,
            medians,
            width,
            yerr=iqrs / 2,
            capsize=3,
            color=color,
            label=f"{name} ({'reference' if name == 'numpy' else 'kernels'})",
        )
    for p, (_, stats, ratio) in zip(pos, rows):
        top = max(stats["numpy"][0], stats["numba"][0]) * 1e6
        ax.text(p, top * 1.25, f"{ratio:.1f}x", ha="center", fontsize=9)
    ax.set_xticks(pos)
    ax.set_xticklabels([r[0] for r in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("median time per call (microseconds, log scale)")
    ax.set_ylim(top=ax.get_ylim()[1] * 3)
    ax.set_title(
        f"NumPy reference vs Numba kernels, batch {batch_size}, {n_dim} dimensions, "
        f"one core{' (quick run)' if args.quick else ''}"
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = out / "07_benchmarks.png"
    fig.savefig(path, dpi=120)
    print(f"\nfigure: {path}")


# %%
if __name__ == "__main__":
    main()
