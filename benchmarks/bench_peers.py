"""minievo's training pass against the same pass written in PyTorch and in JAX (optional).

The pass: 200 steps over 1000 rows in batches of 5 of the paper's
1000-30-10-30-1000 autoencoder (ReLU, ReLU | ReLU, sigmoid), L1 loss, a fresh
Adam (betas 0.5, 0.999; eps 1e-8) for every step as the published code, and
the pruning masks applied to the gradients and the parameters. Written as a
user of each framework would write it:

* PyTorch: a lean loop, ``torch.optim.Adam`` created for every step (as the
  published code), one thread;
* JAX: one ``jax.jit``-compiled ``lax.scan`` over the 200 batches, the fresh
  Adam step written out (with zero moments and ``t = 1`` it is
  ``lr * g / (|g| + eps)`` up to Adam's rounding);
* minievo: ``Engine.train_epoch`` with the Numba kernels.

Neither framework is a dependency: each is skipped when it is not installed.
Run ``python benchmarks/bench_peers.py`` (or ``benchmarks/targets.py``, which
includes it); in a separate environment, e.g.::

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install torch jax jaxlib numpy numba scipy
    PYTHONPATH=. taskset -c 1 /tmp/peers/bin/python benchmarks/bench_peers.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from minievo.data import generate_binary_clustering  # noqa: E402
from minievo.engine import Engine  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402

LR, BETAS, EPS, BATCH = 1e-5, (0.5, 0.999), 1e-8, 5


def problem(seed: int = 0):
    """Data ``(1000, 1000)``, a row order, and one initial pair (20% of it pruned)."""
    rng = np.random.default_rng(seed)
    data = generate_binary_clustering(10, 100, 1000, rng=rng).train
    pair = make_autoencoder("default", 1000, rng, record_rows=0)
    for net in (pair.encoder, pair.decoder):
        net.apply_mask((rng.random(net.n_params) > 0.2).astype(np.float32))
    return data, rng.permutation(data.shape[0]).astype(np.int64), pair


def layers(pair):
    """``[(W (n_out, n_in), b, W mask, b mask, activation)]`` of encoder then decoder."""
    out = []
    for net in (pair.encoder, pair.decoder):
        for l, act in enumerate(net.spec.activations):
            out.append(
                (
                    net.weight(l).copy(),
                    net.bias(l).copy(),
                    net.weight(l, net.mask).copy(),
                    net.bias(l, net.mask).copy(),
                    act,
                )
            )
    return out


def _per_step(run, n_steps: int):
    """``run`` (one pass) and its step count: timed by :func:`summary_lines`."""
    return run, n_steps


def time_minievo(data, order, pair):
    engine, trained = Engine(pair, BATCH, "numba"), pair.copy()
    return _per_step(
        lambda: engine.train_epoch(trained, data, order, BATCH, LR, fresh=True, record=False),
        order.shape[0] // BATCH,
    )


def time_torch(data, order, pair):
    import torch

    torch.set_num_threads(1)
    params, masks, acts = [], [], []
    for W, b, mW, mb, act in layers(pair):
        params += [torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)]
        masks += [torch.tensor(mW), torch.tensor(mb)]
        acts.append(act)
    x_all = torch.tensor(data)
    batches = [torch.tensor(order[i : i + BATCH]) for i in range(0, order.shape[0], BATCH)]

    def forward(x):
        for l, act in enumerate(acts):
            x = torch.nn.functional.linear(x, params[2 * l], params[2 * l + 1])
            x = torch.relu(x) if act == "relu" else torch.sigmoid(x)
        return x

    def epoch():
        for rows in batches:
            x = x_all[rows]
            optimizer = torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS)  # fresh, as published
            loss = torch.nn.functional.l1_loss(forward(x), x)
            loss.backward()
            with torch.no_grad():
                for p, m in zip(params, masks):
                    p.grad.mul_(m)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():
                for p, m in zip(params, masks):
                    p.mul_(m)

    return _per_step(epoch, len(batches))


def time_jax(data, order, pair):
    import jax
    import jax.numpy as jnp

    spec = layers(pair)
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b, _, _, _ in spec]
    masks = [(jnp.asarray(mW), jnp.asarray(mb)) for _, _, mW, mb, _ in spec]
    acts = tuple(act for *_, act in spec)
    n_batches = order.shape[0] // BATCH
    batches = jnp.asarray(data[order[: n_batches * BATCH]].reshape(n_batches, BATCH, -1))

    def loss_fn(ps, x):
        h = x
        for (W, b), act in zip(ps, acts):
            h = h @ W.T + b
            h = jax.nn.relu(h) if act == "relu" else jax.nn.sigmoid(h)
        return jnp.mean(jnp.abs(h - x))

    def step(ps, x):
        loss, grads = jax.value_and_grad(loss_fn)(ps, x)

        def fresh_adam(p, g, m):  # zero moments, t = 1
            g = g * m
            m1, v1 = (1 - BETAS[0]) * g, (1 - BETAS[1]) * g * g
            m_hat, v_hat = m1 / (1 - BETAS[0]), v1 / (1 - BETAS[1])
            return (p - LR * m_hat / (jnp.sqrt(v_hat) + EPS)) * m

        ps = jax.tree_util.tree_map(fresh_adam, ps, grads, masks)
        return ps, loss

    @jax.jit
    def epoch(ps, xs):
        return jax.lax.scan(step, ps, xs)

    state = {"params": params}

    def run():
        state["params"], losses = epoch(state["params"], batches)
        losses.block_until_ready()

    return _per_step(run, n_batches)


def summary_lines(repeats: int = 9) -> list[str]:
    """One line per installed peer: µs per step and minievo's speed-up over it.

    The passes run in rounds (minievo, PyTorch, JAX, again), and each ratio is
    the median of the per-round ratios: on a shared machine the load drifts
    between rounds far more than within one.
    """
    data, order, pair = problem()
    passes = {"minievo": time_minievo(data, order, pair)}
    lines = []
    for name, timer, module in (("PyTorch", time_torch, "torch"), ("JAX", time_jax, "jax")):
        try:
            __import__(module)
        except ImportError:
            lines.append(f"{'peers: ' + name:44s} not installed, skipped")
            continue
        passes[name] = timer(data, order, pair)
    for run, _ in passes.values():
        run()  # compile / warm up
    rounds = []
    for _ in range(repeats):
        per_step = {}
        for name, (run, n_steps) in passes.items():
            start = time.perf_counter()
            run()
            per_step[name] = (time.perf_counter() - start) / n_steps
        rounds.append(per_step)
    ours = float(np.median([r["minievo"] for r in rounds]))
    lines.insert(0, f"{'peers: minievo (numba) step':44s} {ours * 1e6:9.1f} us")
    for name in passes:
        if name == "minievo":
            continue
        theirs = float(np.median([r[name] for r in rounds]))
        ratio = float(np.median([r[name] / r["minievo"] for r in rounds]))
        target = "" if name == "PyTorch" else f"target >= 3x {'ok' if ratio >= 3 else 'MISSED'}"
        lines.append(
            f"{'peers: ' + name + ' step / minievo step':44s} {ratio:9.2f}  {target} "
            f"{theirs * 1e6:.1f} / {ours * 1e6:.1f} us"
        )
    return lines


if __name__ == "__main__":
    for line in summary_lines():
        print(line)
