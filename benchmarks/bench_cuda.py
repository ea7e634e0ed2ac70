"""GPU throughput of the lockstep kernels, against the CPU kernels in the same run.

Run on a machine with an NVIDIA GPU (``pip install -e ".[cuda]"``)::

    python benchmarks/bench_cuda.py                      # P = 10 .. 10,000, 2-epoch study
    python benchmarks/bench_cuda.py --study-epochs 400   # the whole main comparison

It skips (exit status 0, one line) when no GPU is usable; it never runs in
the simulator (simulated timings mean nothing). Three measurements:

1. **Pair-steps per second** at paper size (1000-bit rows, the ``default``
   networks 1000-30-10-30-1000, batch 5, fresh Adam): ``P`` pairs each take
   one Adam step per batch of a 1000-row pass
   (:meth:`minievo.kernels.cuda.DevicePairs.train_pass`), for
   ``P = 10, 100, 1000, 10000``; against one CPU core running
   :func:`minievo.kernels.cpu.train_epoch` on one pair, the same steps.
   Goal of the issue: >= 1e6 pair-steps/s at P >= 1000.
2. **Fraction of the memory bandwidth**: bytes a pair-step must move (a
   model, not a counter: parameters read by the forward pass and again by
   the backward pass, the gradient written and read, mask read, parameters
   read and written by Adam: ``28 n_params`` bytes fresh, ``44 n_params``
   persistent) times pair-steps/s, over the peak
   ``2 x memory clock x bus width`` read from the device attributes (or
   ``--peak-gbs``).
3. **The papers' main comparison** on the GPU: 9 variants x 30 trials of
   ``lipi_simple`` with population 10 on ``binary_clustering_10_100_1000``,
   all 270 trials in lockstep (:func:`minievo.experiments.lockstep_sweep.run_lockstep_sweep`).
   The 9 variants are the three prune operators (random, variance,
   conjunctive) times three schedules (fixed, exponential, final_n) at the
   presets' settings (checkpoints on the default cadence, every 60 s); the work per epoch does
   not depend on which nine. By
   default ``--study-epochs 2`` is measured and the 400-epoch time is printed
   as a *projection* (labelled so); ``--study-epochs 400`` measures it.

No number from this script is in the README unless it was measured on a GPU.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from minievo.kernels.cuda import cuda_problem, simulator_enabled  # noqa: E402 (after the path set-up above)

PAPER_DIM, PAPER_ROWS, BATCH = 1000, 1000, 5
SIZES = (10, 100, 1000, 10000)


def bytes_per_pair_step(n_params: int, fresh: bool) -> int:
    """The memory traffic model of one pair-step (module docstring, item 2)."""
    return (28 if fresh else 44) * n_params


def peak_bandwidth(override_gbs):
    """Peak DRAM bandwidth in bytes/s: ``2 x clock (kHz) x 1e3 x bus width / 8``."""
    if override_gbs:
        return override_gbs * 1e9, "given by --peak-gbs"
    from numba import cuda

    dev = cuda.get_current_device()
    try:
        clock_khz, bus_bits = dev.MEMORY_CLOCK_RATE, dev.GLOBAL_MEMORY_BUS_WIDTH
    except AttributeError:
        return None, "device attributes unavailable; pass --peak-gbs"
    return (
        2.0 * clock_khz * 1e3 * bus_bits / 8,
        f"{dev.name.decode() if isinstance(dev.name, bytes) else dev.name} attributes",
    )


def paper_pairs(n: int, rng):
    from minievo.network import make_autoencoder

    return [make_autoencoder("default", PAPER_DIM, rng) for _ in range(n)]


def gpu_pair_steps(P: int, data, repeats: int) -> float:
    """Pair-steps per second of ``P`` lanes over one pass (median of ``repeats``)."""
    from numba import cuda

    from minievo.kernels.cuda import DevicePairs

    template = paper_pairs(1, np.random.default_rng(0))[0]
    dev = DevicePairs(
        template.encoder.layout, template.decoder.layout, P, P, BATCH, 0, {"train": data}
    )
    dev.upload_many(range(P), [template.encoder] * P, [template.decoder] * P)
    rng = np.random.default_rng(1)
    orders = np.stack([rng.permutation(PAPER_ROWS) for _ in range(P)])
    slots = np.arange(P)
    args = (
        slots,
        slots,
        orders,
        BATCH,
        [1e-5] * P,
        np.zeros(P, np.int64),
        np.ones(P, bool),
        np.zeros(P, bool),
    )
    dev.train_pass(*args)  # compile, warm up
    times = []
    for _ in range(repeats):
        cuda.synchronize()
        start = time.perf_counter()
        dev.train_pass(*args)
        cuda.synchronize()
        times.append(time.perf_counter() - start)
    return P * (PAPER_ROWS // BATCH) / float(np.median(times))


def cpu_pair_steps(data, repeats: int) -> float:
    """Pair-steps per second of :func:`minievo.kernels.cpu.train_epoch` on one core."""
    from minievo.engine import Engine

    pair = paper_pairs(1, np.random.default_rng(0))[0]
    engine = Engine(pair, BATCH, backend="numba")
    order = np.random.default_rng(1).permutation(PAPER_ROWS)
    engine.train_epoch(pair, data, order, BATCH, 1e-5, fresh=True, record=False)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.train_epoch(pair, data, order, BATCH, 1e-5, fresh=True, record=False)
        times.append(time.perf_counter() - start)
    return (PAPER_ROWS // BATCH) / float(np.median(times))


def main_comparison_jobs(epochs: int, root: Path):
    from minievo.experiments.config import Config
    from minievo.experiments.presets import PRESET_DEFAULTS

    base = {k: v for k, v in PRESET_DEFAULTS.items() if k != "trials"}
    jobs = []
    for v, (method, schedule) in enumerate(
        (m, s)
        for m in ("random", "variance", "conjunctive")
        for s in ("fixed", "exponential", "final_n")
    ):
        for seed in range(1, 31):
            config = Config(
                **{
                    **base,
                    "cell_evaluation": "lipi_simple",
                    "population_size": 10,
                    "epochs": epochs,
                    "prune_method": method,
                    "prune_schedule": schedule,
                    "seed": seed,
                    "backend": "cuda",
                    "progress": False,
                }
            )
            jobs.append((config, root / f"v{v:03d}-s{seed:03d}"))
    return jobs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peak-gbs", type=float, help="peak memory bandwidth, GB/s")
    parser.add_argument("--study-epochs", type=int, default=2)
    parser.add_argument("--skip-study", action="store_true")
    args = parser.parse_args(argv)
    problem = cuda_problem()
    if problem is not None or simulator_enabled():
        print(f"bench_cuda: skipped: {problem or 'the simulator is on (timings meaningless)'}")
        return 0
    rng = np.random.default_rng(0)
    data = (rng.random((PAPER_ROWS, PAPER_DIM)) < 0.5).astype(np.float32)
    pair = paper_pairs(1, rng)[0]
    n_params = pair.encoder.n_params + pair.decoder.n_params
    peak, source = peak_bandwidth(args.peak_gbs)
    cpu = cpu_pair_steps(data, args.repeats)
    print(f"CPU (numba, 1 thread): {cpu:12.0f} pair-steps/s")
    print(f"peak bandwidth: {peak / 1e9 if peak else float('nan'):.0f} GB/s ({source})")
    print(f"{'P':>6} {'pair-steps/s':>14} {'x CPU':>8} {'GB/s':>8} {'of peak':>8}")
    for P in args.sizes:
        rate = gpu_pair_steps(P, data, args.repeats)
        moved = rate * bytes_per_pair_step(n_params, fresh=True)
        frac = f"{moved / peak:8.1%}" if peak else "     n/a"
        print(f"{P:6d} {rate:14.0f} {rate / cpu:8.1f} {moved / 1e9:8.1f} {frac}")
    if not args.skip_study:
        from minievo.experiments.lockstep_sweep import run_lockstep_sweep

        with tempfile.TemporaryDirectory() as tmp:
            jobs = main_comparison_jobs(args.study_epochs, Path(tmp))
            start = time.perf_counter()
            run_lockstep_sweep(jobs)
            wall = time.perf_counter() - start
        print(f"main comparison, 9 variants x 30 trials x {args.study_epochs} epochs: {wall:.1f} s")
        if args.study_epochs != 400:
            print(
                f"  projection to 400 epochs (not a measurement): "
                f"{wall / args.study_epochs * 400 / 60:.1f} min"
            )
    return 0


def bench_cuda_lockstep(benchmark):
    """``pytest benchmarks/bench_cuda.py``: P = 1000 pair-steps, skipped without a GPU."""
    import pytest

    if cuda_problem() is not None or simulator_enabled():
        pytest.skip("no usable CUDA device")
    data = (np.random.default_rng(0).random((PAPER_ROWS, PAPER_DIM)) < 0.5).astype(np.float32)
    benchmark.pedantic(gpu_pair_steps, args=(1000, data, 1), rounds=3)


if __name__ == "__main__":
    sys.exit(main())
