"""End-to-end timing: a whole trial of the papers' main setting, and how cost scales.

Usage (from the repository root, one core as in the issue's targets)::

    taskset -c 0 python benchmarks/end_to_end.py                 # lipi_simple + canonical, 400 epochs
    taskset -c 0 python benchmarks/end_to_end.py --epochs 40     # a shorter look
    taskset -c 0 python benchmarks/end_to_end.py --scaling       # the README's scaling table

It prints, for each run: training steps per second, time per trial, and the
process's peak resident memory (``ru_maxrss``: everything, Python, NumPy,
Numba and LLVM included). The kernels are compiled (or loaded from Numba's
cache) by a short warm-up run first, so the times are steady-state; the
warm-up time is printed separately as the first-call cost.

A ``lipi_simple`` trial of the main setting (docs/algorithm.md §8) is population 10 x 400
epochs x 200 batches = 800,000 Adam steps of a 1000-30-10-30-1000 autoencoder
on 5 rows, plus 4,000 neighbourhood evaluations of 9 pairs; the published
PyTorch code takes about half an hour.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np

from minievo.data import batch_order, generate_binary_clustering
from minievo.engine import Engine
from minievo.experiments.config import Config
from minievo.experiments.run import load_dataset_for, run
from minievo.network import make_autoencoder

MAIN_SETTING = {
    "cell_evaluation": "lipi_simple",
    "population_size": 10,
    "radius": 1,
    "batch_size": 5,
    "dataset_name": "binary_clustering_10_100_1000",
    "prune_method": "random",
    "prune_schedule": "exponential",
    "prune_probability": 0.5,
    "prune_amount": 0.1,
    "learning_rate": 1e-5,
    "calculate_test_loss": True,
    "progress": False,
    "seed": 1,
}


def peak_memory_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_run(config: Config) -> float:
    """Wall seconds of one run, written to a temporary folder as a user's run would be."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run(config, os.path.join(out, "run"))
        return time.perf_counter() - start


def trial(epochs: int, backend: str) -> None:
    config = Config.from_dict({**MAIN_SETTING, "epochs": epochs, "backend": backend})
    load_dataset_for(config)  # generate/cache the data outside the timing
    start = time.perf_counter()
    time_run(config.replace(epochs=1, population_size=3, calculate_test_loss=False))
    print(
        f"warm-up (compile or load cached kernels + a tiny run): "
        f"{time.perf_counter() - start:.1f} s"
    )
    rows = config.dataset_shape[0] * config.dataset_shape[1]
    for name, cfg in (
        ("lipi_simple", config),
        (
            "ann_canonical",
            config.replace(
                cell_evaluation="ann_canonical", population_size=1, optimizer_state="persistent"
            ),
        ),
    ):
        seconds = time_run(cfg)
        steps = cfg.population_size * epochs * -(-rows // cfg.batch_size)
        print(
            f"{name:14s} {epochs} epochs, population {cfg.population_size}: {seconds:7.1f} s "
            f"per trial, {steps / seconds:9.0f} steps/s ({seconds / steps * 1e6:.1f} µs/step "
            f"incl. evaluations, pruning, records), peak memory {peak_memory_mb():.0f} MiB"
        )


def step_time(n_dim: int, batch: int, backend: str, n_rows: int = 1000) -> float:
    """Median µs per training step inside Engine.train_epoch (fresh Adam, as the coevolution)."""
    rng = np.random.default_rng(0)
    data = generate_binary_clustering(10, n_rows // 10, n_dim, rng=rng).train
    pair = make_autoencoder("default", n_dim, rng, record_rows=0)
    engine = Engine(pair, max_rows=batch, backend=backend)
    order = batch_order(data.shape[0], rng)
    engine.train_epoch(pair, data, order, batch, 1e-5, fresh=True, record=False)  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        engine.train_epoch(pair, data, order, batch, 1e-5, fresh=True, record=False)
        times.append((time.perf_counter() - start) / -(-data.shape[0] // batch))
    return float(np.median(times)) * 1e6


def scaling(backend: str) -> None:
    print("time per training step (µs, median of 5 passes over 1000 rows):")
    print("| dims | batch 5 | batch 20 | batch 100 |")
    print("|---|---|---|---|")
    for n_dim in (1000, 4000):
        cells = [f"{step_time(n_dim, b, backend):.0f}" for b in (5, 20, 100)]
        print(f"| {n_dim} | " + " | ".join(cells) + " |")
    print("\ntime per epoch of lipi_simple (s, main setting; (run of 6 epochs - run of 1) / 5,")
    print("so start-up and the final evaluation cancel; median of 3):")
    print("| population | s per epoch | ms per cell visit |")
    print("|---|---|---|")
    for population in (5, 10, 20):
        config = Config.from_dict(
            {**MAIN_SETTING, "population_size": population, "backend": backend}
        )
        per_epoch = float(
            np.median(
                [
                    (time_run(config.replace(epochs=6)) - time_run(config.replace(epochs=1))) / 5
                    for _ in range(3)
                ]
            )
        )
        print(f"| {population} | {per_epoch:.3f} | {per_epoch / population * 1e3:.1f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--backend", default="numba", choices=("numba", "numpy"))
    parser.add_argument("--scaling", action="store_true", help="print the scaling tables only")
    args = parser.parse_args(argv)
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"CPU affinity {sorted(os.sched_getaffinity(0))}"
    )
    if args.scaling:
        scaling(args.backend)
    else:
        trial(args.epochs, args.backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
