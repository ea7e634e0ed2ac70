"""What pruning buys at inference: the masked dense, the compact dense and a CSR network.

For each network, one reconstruction forward pass is timed at batch 1 and at
batch 1000 in three representations:

* **masked**: the trained dense matrices, zeros included (what minievo trains);
* **compact**: :func:`minievo.pruning.compact.compact`: units without input folded
  into the next bias, units without output removed; smaller dense matrices;
* **CSR**: the masked matrices as ``scipy.sparse.csr_array`` (zeros dropped), one
  sparse-times-dense product per layer.

Networks: the saved networks of a sweep folder (``--runs``, e.g. a short
``main_comparison`` sweep; one per variant, its first seed) and synthetic
paper-size networks (1000-30-10-30-1000) with 0-99% of weights zeroed at random
(*unstructured*) or 0-99% of every hidden and code layer's units removed
(*whole-unit*: their incoming and outgoing weights zeroed). The three outputs are
checked to agree before anything is timed. Representations alternate round by
round and the median per call is kept, so ratios hold on a shared machine::

    taskset -c 1 python benchmarks/bench_inference.py --runs /tmp/main100 > table.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from minievo.network import Autoencoder, make_autoencoder
from minievo.pruning.compact import ACTIVATION_FUNCTIONS, compact, masked_chain

SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
BATCHES = (1, 1000)
N_DIM = 1000


def csr_forward(layers, x):
    """``layers``: ``(csr (n_out, n_in), b, activation)``; ``x (B, n_in)`` -> ``(B, n_out)``."""
    a = x.T  # (n_in, B): sparse @ dense keeps the sparse matrix on the left
    for w, b, act in layers:
        a = ACTIVATION_FUNCTIONS[act](w @ a + b[:, None])
    return a.T


def representations(pair: Autoencoder):
    masked, small = masked_chain(pair), compact(pair)
    csr = [
        (sparse.csr_array(w), b, act)
        for w, b, act in zip(masked.weights, masked.biases, masked.activations)
    ]
    return (
        {
            "masked": masked.forward,
            "compact": small.forward,
            "CSR": lambda x: csr_forward(csr, x),
        },
        masked,
        small,
    )


def check_agree(forwards, x):
    ref = forwards["masked"](x)
    for name, f in forwards.items():
        diff = float(np.max(np.abs(f(x) - ref)))
        assert diff <= 1e-5, f"{name} differs from the masked network by {diff}"


def time_per_call(forwards, x, rounds: int, target_s: float = 0.02) -> dict:
    """Median seconds per call of each forward, alternating them round by round."""
    calls = {}
    for name, f in forwards.items():  # calls per round so that a round lasts ~target_s
        start = time.perf_counter()
        f(x)
        calls[name] = max(1, int(target_s / max(time.perf_counter() - start, 1e-7)))
    samples = {name: [] for name in forwards}
    for _ in range(rounds):
        for name, f in forwards.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                f(x)
            samples[name].append((time.perf_counter() - start) / calls[name])
    return {name: float(np.median(s)) for name, s in samples.items()}


def unstructured(pair, rng, s):
    for net in (pair.encoder, pair.decoder):
        for l in range(net.spec.n_layers):
            w = net.weight(l)
            w[rng.random(w.shape) < s] = 0.0
    return pair


def whole_unit(pair, rng, s):
    """Remove ``round(s * width)`` units of every hidden and code layer (weights in and out)."""
    chain = [(net, l) for net in (pair.encoder, pair.decoder) for l in range(net.spec.n_layers)]
    for i, (net, l) in enumerate(chain[:-1]):
        width = net.spec.sizes[l + 1]
        dead = rng.choice(width, size=int(round(s * width)), replace=False)
        net.weight(l)[dead, :] = 0.0
        nxt, m = chain[i + 1]
        nxt.weight(m)[:, dead] = 0.0
    return pair


def networks(runs: Path | None):
    rng = np.random.default_rng(0)
    if runs is not None:
        for folder in sorted(p for p in runs.iterdir() if p.is_dir() and p.name != "report"):
            seeds = sorted(folder.glob("seed-*"))
            for name in ("best_autoencoder.npz", "final_autoencoder.npz"):
                if seeds and (seeds[0] / name).exists():
                    yield f"run: {folder.name}", Autoencoder.load(seeds[0] / name)
                    break
    for kind, make in (("unstructured", unstructured), ("whole-unit", whole_unit)):
        for s in SPARSITIES:
            if kind == "whole-unit" and s == 0.0:
                continue  # the same network as unstructured 0%
            yield f"{kind} {s:.0%}", make(make_autoencoder("default", N_DIM, rng), rng, s)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, help="a sweep folder of finished runs")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)
    head = ["network", "zero weights", "units", "params masked → compact"]
    for b in BATCHES:
        head += [
            f"batch {b}: masked / compact / CSR (µs)",
            f"batch {b}: masked÷compact, masked÷CSR",
        ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, pair in networks(args.runs):
        forwards, masked, small = representations(pair)
        zeros = 1 - sum(np.count_nonzero(w) for w in masked.weights) / sum(
            w.size for w in masked.weights
        )
        units = f"{sum(masked.widths[1:-1])} → {sum(small.widths[1:-1])}"
        row = [name, f"{zeros:.1%}", units, f"{masked.n_params:,} → {small.n_params:,}"]
        for b in BATCHES:
            x = (rng.random((b, pair.n_dim)) < 0.27).astype(np.float32)
            check_agree(forwards, x)
            t = time_per_call(forwards, x, args.rounds)
            row.append(" / ".join(f"{t[k] * 1e6:.1f}" for k in ("masked", "compact", "CSR")))
            row.append(f"{t['masked'] / t['compact']:.2f}× / {t['masked'] / t['CSR']:.2f}×")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
