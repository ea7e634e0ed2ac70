"""Every speed target of the project in one run, as ratios measured side by side.

Usage (from the repository root; one core, as the targets are stated)::

    taskset -c 1 python benchmarks/targets.py              # everything (~3 min when quiet)
    taskset -c 1 python benchmarks/targets.py --epochs 40  # a shorter lipi_simple trial
    taskset -c 1 python benchmarks/targets.py --cold       # also time a cold compilation
    taskset -c 1 python benchmarks/targets.py --skip trial,peers

Each line prints the measured medians, the ratio and the target, and ``ok``
or ``MISSED``. Ratios are what hold between machines; absolute times on a
shared machine drift, so compare only numbers of one run. The NumPy reference
and the Numba kernels get the same inputs (the kernel benchmarks in
``bench_kernels.py`` check that they agree; this script only times).

What is measured
----------------
* ``step``: one training step at paper size (1000-30-10-30-1000, batch 5)
  inside ``Engine.train_epoch`` over 1000 rows, fresh and persistent Adam,
  reference / Numba (targets >= 10x and >= 8x);
* ``large step``: the same at batch 100 x 4000 dims (target >= 3x);
* with the steps, the ``sgemm`` peak of the core (float32, 2000^3, OpenBLAS,
  one thread) and, per step target, the best ratio this core allows: the
  reference's step time over the step's products alone at that peak
  (:func:`product_flops`), as if everything else were free;
* ``visit``: the ``lipi_simple`` cell visits of one epoch (epoch 201) of the
  main setting, and their share outside the 200 training steps each (target
  <= 15%), with the default job's test loss every 10th epoch (epoch 201 has
  none) and with the test loss every visit (``test_loss_every=1``);
* ``epoch-node``: a visit of ``epoch-node`` / one of ``lipi_simple``
  (target <= 1.5);
* ``trial``: a whole ``lipi_simple`` trial (records, checkpoints, final
  evaluation included) / (steps x the step time of this run) (target <= 1.25),
  and the checkpoints' share of the trial time (<= 2%) and bytes (<= 100 MB);
* ``peers``: ``benchmarks/bench_peers.py`` if PyTorch and/or JAX are installed;
* ``--cold``: first-run compilation: the default 1-epoch job of population 3
  in a fresh subprocess with an empty Numba cache minus the same run with the
  cache filled, in CPU seconds (the issue's baseline: about 30 s; target: half);
* ``--sweep``: ``minievo sweep`` of 8 jobs of about 7 s on 2 worker processes
  against 1, jobs per second (target >= 1.8x; needs two otherwise idle
  cores); and, with 12 jobs of about 1 s, 1 worker process taking job after
  job (the sweep's way) against a process per job (``JOBS_PER_PROCESS = 1``,
  as sweeps ran before). About 6 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from minievo.cli import DEFAULT_JOB  # noqa: E402
from minievo.data import generate_binary_clustering  # noqa: E402
from minievo.engine import Engine  # noqa: E402
from minievo.experiments.config import Config  # noqa: E402
from minievo.network import make_autoencoder  # noqa: E402
from minievo.training import coevolution as co  # noqa: E402
from minievo.training import population as pop  # noqa: E402
from minievo.training import streams as st  # noqa: E402
from minievo.training import visit as cv  # noqa: E402

#: The main setting: the default job (``minievo run`` without options; regrow masks, a
#: fresh Adam per step, the test loss every 10th epoch), seed 1, no progress bar.
MAIN = {**DEFAULT_JOB, "seed": 1, "progress": False}


def median_time(fn, repeats: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    return interleaved({"fn": fn}, repeats)[0]["fn"]


def interleaved(fns: dict, repeats: int):
    """Time every function of ``fns`` once per round, round after round.

    Returns ``(medians, rounds)``: the median seconds of each, and the list of
    per-round ``{name: seconds}``. On a shared machine the load drifts between
    rounds far more than within one, so a ratio is taken per round
    (:func:`round_ratio`), not between medians of separate runs.
    """
    for fn in fns.values():
        fn()  # compile / warm up
    rounds = []
    for _ in range(repeats):
        times = {}
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - start
        rounds.append(times)
    medians = {name: float(np.median([r[name] for r in rounds])) for name in fns}
    return medians, rounds


def round_ratio(rounds, num: str, den: str) -> float:
    """Median over the rounds of ``time[num] / time[den]``."""
    return float(np.median([r[num] / r[den] for r in rounds]))


def report(name: str, value: float, target: str, holds: bool, detail: str = "") -> None:
    print(f"{name:44s} {value:9.2f}  target {target:8s} {'ok' if holds else 'MISSED':6s} {detail}")


def step_times(n_dim: int, batch: int, fresh: bool, repeats: int):
    """Seconds per step inside ``Engine.train_epoch`` over 1000 rows, per backend,
    interleaved: ``(medians per step, numpy / numba per round)``."""
    rng = np.random.default_rng(0)
    data = generate_binary_clustering(10, 100, n_dim, rng=rng).train
    order = rng.permutation(data.shape[0]).astype(np.int64)
    pair = make_autoencoder("default", n_dim, rng, record_rows=0)
    n_steps = -(-data.shape[0] // batch)
    fns = {}
    for backend in ("numpy", "numba"):
        engine, trained = Engine(pair, batch, backend), pair.copy()
        fns[backend] = lambda engine=engine, trained=trained: engine.train_epoch(
            trained, data, order, batch, 1e-5, fresh=fresh, record=False
        )
    medians, rounds = interleaved(fns, repeats)
    return {k: v / n_steps for k, v in medians.items()}, round_ratio(rounds, "numpy", "numba")


def product_flops(n_dim: int, batch: int) -> int:
    """Floating-point operations of the matrix products of one training step of the
    ``n_dim``-30-10-30-``n_dim`` autoencoder on ``batch`` rows: every layer's
    forward product and weight gradient, and the input gradient of all but the
    encoder's first layer (2 operations per multiply-add)."""
    layers = [(n_dim, 30), (30, 10), (10, 30), (30, n_dim)]  # (n_in, n_out)
    macs = sum(2 * n_in * n_out for n_in, n_out in layers)  # forward + weight gradient
    macs += sum(n_in * n_out for n_in, n_out in layers[1:])  # input gradients
    return 2 * batch * macs


def sgemm_peak(repeats: int) -> float:
    """Float32 operations per second of OpenBLAS's ``sgemm`` on one core
    (2000 x 2000 x 2000, median): what this core reaches on large products."""
    a = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
    seconds = median_time(lambda: np.dot(a, a), max(3, repeats // 3))
    return 2 * 2000**3 / seconds


def bound_detail(reference_seconds: float, n_dim: int, batch: int, peak: float) -> str:
    """The best ratio to the reference this core allows: the step's products alone
    at the sgemm peak, everything else free."""
    best = product_flops(n_dim, batch) / peak
    return f"; at most {reference_seconds / best:.1f}x here (products alone at the sgemm peak)"


def steps(args) -> float:
    peak = sgemm_peak(args.repeats)
    print(
        f"{'sgemm peak of this core (GFLOP/s)':44s} {peak / 1e9:9.1f}  "
        f"(a paper-size step: {product_flops(1000, 5) / 1e6:.2f} MFLOP of products)"
    )
    fresh_step = None
    for fresh, target in ((True, 10.0), (False, 8.0)):
        t, ratio = step_times(1000, 5, fresh, args.repeats)
        report(
            f"step paper, {'fresh' if fresh else 'persistent'} Adam (numpy/numba)",
            ratio,
            f">= {target:g}x",
            ratio >= target,
            f"{t['numpy'] * 1e6:.1f} / {t['numba'] * 1e6:.1f} us"
            + bound_detail(t["numpy"], 1000, 5, peak),
        )
        if fresh:
            fresh_step = t["numba"]
    t, ratio = step_times(4000, 100, True, max(3, args.repeats // 2))
    report(
        "step batch 100 x 4000 dims (numpy/numba)",
        ratio,
        ">= 3x",
        ratio >= 3.0,
        f"{t['numpy'] * 1e6:.0f} / {t['numba'] * 1e6:.0f} us"
        + bound_detail(t["numpy"], 4000, 100, peak),
    )
    return fresh_step


def epoch_of_visits(config, dataset, epoch: int):
    """A function that visits every cell of ``epoch`` once, in visit order.

    The centers are not replaced, so every call does the same work: the
    visits of one epoch, pruning events included as often as the schedule
    draws them at ``epoch`` (timing one cell alone would count a pruning
    event in every visit or in none).
    """
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    cells = [int(c) for c in st.visit_order(config.seed, epoch, config.population_size)]

    def visit_all():
        for cell in cells:
            cv.visit_cell(
                config,
                dataset,
                population.centers,
                cell,
                population.learning_rates[cell],
                epoch,
                engine,
                st.visit_streams(config.seed, epoch, cell),
            )

    return visit_all, population, engine


def visits(args) -> None:
    dataset = generate_binary_clustering(10, 100, 1000, rng=np.random.default_rng(1))
    fns = {}
    epoch = MAIN["epochs"] // 2 + 1  # not a multiple of test_loss_every
    for variant, changes in (
        ("lipi_simple", {}),
        ("epoch-node", {}),
        ("test loss every visit", {"test_loss_every": 1}),
    ):
        evaluation = "epoch-node" if variant == "epoch-node" else "lipi_simple"
        config = Config(**{**MAIN, **changes, "cell_evaluation": evaluation})
        fns[variant], population, engine = epoch_of_visits(config, dataset, epoch)
        if variant == "lipi_simple":  # the 200 steps of each of the epoch's visits alone
            pair = population.centers[3].copy()
            order = np.random.default_rng(2).permutation(1000).astype(np.int64)

            def steps(engine=engine, pair=pair, order=order, n=config.population_size):
                for _ in range(n):
                    engine.train_epoch(
                        pair, dataset.train, order, 5, 1e-5, fresh=True, record=False
                    )

            fns["200 steps"] = steps
    times, rounds = interleaved(fns, args.repeats)
    n_cells = MAIN["population_size"]
    for variant, label in (
        ("lipi_simple", "visit: share outside the 200 steps (%)"),
        ("test loss every visit", "  the same with test_loss_every=1 (%)"),
    ):
        share = 1.0 - 1.0 / round_ratio(rounds, variant, "200 steps")
        report(
            label,
            100 * share,
            "<= 15%",
            share <= 0.15,
            f"visit {times[variant] * 1e3 / n_cells:.2f} ms, "
            f"200 steps {times['200 steps'] * 1e3 / n_cells:.2f} ms (mean of an epoch's visits)",
        )
    ratio = round_ratio(rounds, "epoch-node", "lipi_simple")
    report(
        "epoch-node / lipi_simple per visit",
        ratio,
        "<= 1.5x",
        ratio <= 1.5,
        f"{times['epoch-node'] * 1e3 / n_cells:.2f} / {times['lipi_simple'] * 1e3 / n_cells:.2f} ms",
    )


def trial(args, step_seconds: float) -> None:
    from minievo.experiments import run as run_module

    config = Config(**{**MAIN, "epochs": args.epochs})
    run_module.load_dataset_for(config)
    spent = {"seconds": 0.0, "bytes": 0, "writes": 0}
    original = co.checkpoint_population

    def timed_checkpoint(out_dir, *rest):
        start = time.perf_counter()
        original(out_dir, *rest)
        spent["seconds"] += time.perf_counter() - start
        spent["bytes"] += (Path(out_dir) / "checkpoint.npz").stat().st_size
        spent["writes"] += 1

    co.checkpoint_population = timed_checkpoint
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_module.run(config.replace(epochs=1, population_size=3), Path(tmp) / "warm")
            spent.update(seconds=0.0, bytes=0, writes=0)  # count the trial's only
            start = time.perf_counter()
            run_module.run(config, Path(tmp) / "run")
            seconds = time.perf_counter() - start
    finally:
        co.checkpoint_population = original
    # the load of a shared machine drifts over a trial: time the step again right
    # after it and hold the trial to the faster of the two (the stricter ratio)
    step_seconds = min(step_seconds, step_times(1000, 5, True, args.repeats)[0]["numba"])
    n_steps = config.population_size * config.epochs * 200
    ratio = seconds / (n_steps * step_seconds)
    report(
        f"trial lipi_simple {config.epochs} epochs / (steps x step)",
        ratio,
        "<= 1.25x",
        ratio <= 1.25,
        f"{seconds:.1f} s for {n_steps} steps of {step_seconds * 1e6:.1f} us",
    )
    share = spent["seconds"] / seconds
    report(
        "checkpoints: share of the trial (%)",
        100 * share,
        "<= 2%",
        share <= 0.02,
        f"{spent['writes']} writes, {spent['bytes'] / 1e6:.1f} MB",
    )


def peers(args) -> None:
    import bench_peers

    for line in bench_peers.summary_lines(repeats=args.repeats):
        print(line)


def _timed(command, env) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, of the child processes) of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cold(args) -> None:
    """The default job's first run with an empty Numba cache, and again with the cache
    filled: their difference is the compilation. CPU seconds are reported beside the
    wall seconds because on a shared machine the wall time mostly measures the others."""
    runs = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as work:
        for i in range(args.cold_repeats):
            cache = Path(work) / f"cache{i}"
            env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
            for name in ("cold", "warm"):
                runs[name].append(
                    _timed(
                        [
                            sys.executable,
                            "-m",
                            "minievo",
                            "run",
                            "--epochs",
                            "1",
                            "--population-size",
                            "3",
                            "--no-progress",
                            "--out",
                            str(Path(work) / f"{name}{i}"),
                        ],
                        env,
                    )
                )
    wall = {k: float(np.median([w for w, _ in v])) for k, v in runs.items()}
    cpu = {k: float(np.median([c for _, c in v])) for k, v in runs.items()}
    compile_cpu = cpu["cold"] - cpu["warm"]
    report(
        "cold first run: compilation (CPU s)",
        compile_cpu,
        "<= 15 s",
        compile_cpu <= 15.0,
        f"cold run {wall['cold']:.1f} s wall / {cpu['cold']:.1f} s CPU, cached run "
        f"{wall['warm']:.1f} s / {cpu['warm']:.1f} s; before issue 12 about 30 s",
    )


#: ``minievo sweep`` with one worker process per job (``JOBS_PER_PROCESS = 1``), as before
#: the sweep's worker processes took job after job: the ``--sweep`` baseline.
_ONE_PROCESS_PER_JOB = (
    "import sys; from minievo.experiments import sweep; sweep.JOBS_PER_PROCESS = 1; "
    "from minievo.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _sweep_rates(work: Path, jobs: dict, arms: dict, rounds: int):
    """Jobs per second and CPU seconds per job of each arm, rounds interleaved.

    ``jobs``: the sweep's ``--config`` (``trials`` jobs); ``arms``: name ->
    (workers, the command's first arguments after ``python``)."""
    config = work / f"job-{len(list(work.iterdir()))}.json"
    config.write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = []
    for r in range(rounds):
        rate, cpu = {}, {}
        for name, (workers, command) in arms.items():
            folder = work / f"{config.stem}-{r}-{len(rate)}"
            wall, cpu[name] = _timed(
                [sys.executable, *command, "sweep", "--config", str(config), "--out", str(folder)]
                + ["--workers", str(workers), "--no-progress"],
                env,
            )
            rate[name] = jobs["trials"] / wall
        out.append((rate, cpu))
    return out


def sweep(args) -> None:
    """``minievo sweep`` on 1 and on 2 worker processes (target >= 1.8x the jobs per
    second), and on 1 worker process taking job after job against a process per job."""
    command = ["-m", "minievo"]
    with tempfile.TemporaryDirectory() as tmp:
        # jobs of about 7 s (population 3, 300 epochs), as the lighter jobs of a study
        # (5-600 s): what a sweep pays once (its process, each worker's start, about 2 s)
        # is small beside 8 of them, as in a study of many jobs
        scaling = _sweep_rates(
            Path(tmp),
            {"population_size": 3, "epochs": 300, "trials": 8},
            {"1": (1, command), "2": (2, command)},
            args.sweep_repeats,
        )
        # short jobs (10 epochs, about 1 s), where a process per job costs the most
        reuse = _sweep_rates(
            Path(tmp),
            {"population_size": 3, "epochs": 10, "trials": 12},
            {"reused": (1, command), "per job": (1, ["-c", _ONE_PROCESS_PER_JOB])},
            args.sweep_repeats,
        )

    ratio = float(np.median([rate["2"] / rate["1"] for rate, _ in scaling]))
    rates = {a: float(np.median([rate[a] for rate, _ in scaling])) for a in ("1", "2")}
    cpu = {a: float(np.median([c[a] for _, c in scaling])) / 8 for a in ("1", "2")}
    report(
        "sweep: 2 workers / 1 worker (jobs/s)",
        ratio,
        ">= 1.8",
        ratio >= 1.8,
        f"{rates['2']:.3f} / {rates['1']:.3f} jobs/s (8 jobs of ~7 s); CPU s per job "
        f"{cpu['1']:.2f} (1 worker), {cpu['2']:.2f} (2 workers); needs 2 idle cores",
    )
    gain = float(np.median([rate["reused"] / rate["per job"] for rate, _ in reuse]))
    rates = {a: float(np.median([rate[a] for rate, _ in reuse])) for a in ("reused", "per job")}
    cpu = {a: float(np.median([c[a] for _, c in reuse])) / 12 for a in ("reused", "per job")}
    report(
        "sweep: worker reused / a process per job",
        gain,
        "-",
        True,
        f"{rates['reused']:.3f} / {rates['per job']:.3f} jobs/s on 1 worker (12 jobs of ~1 s); "
        f"CPU s per job {cpu['reused']:.2f} / {cpu['per job']:.2f}",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=400, help="epochs of the timed trial")
    parser.add_argument("--repeats", type=int, default=9, help="repeats per median")
    parser.add_argument("--cold", action="store_true", help="also time a cold compilation")
    parser.add_argument("--cold-repeats", type=int, default=3, help="cold/cached run pairs")
    parser.add_argument(
        "--sweep", action="store_true", help="also time a sweep on 1 and on 2 worker processes"
    )
    parser.add_argument("--sweep-repeats", type=int, default=3, help="rounds of the sweep")
    parser.add_argument("--skip", default="", help="comma-separated: steps,visits,trial,peers")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in open("/proc/cpuinfo")
                if line.startswith("model name")
            ),
            "unknown CPU",
        )
        if os.path.exists("/proc/cpuinfo")
        else "unknown CPU"
    )
    print(
        f"{cpu}; python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"CPU affinity {sorted(os.sched_getaffinity(0))}"
    )
    step_seconds = steps(args) if "steps" not in skip else None
    if "visits" not in skip:
        visits(args)
    if "trial" not in skip:
        trial(args, step_seconds or step_times(1000, 5, True, args.repeats)[0]["numba"])
    if "peers" not in skip:
        peers(args)
    if args.cold:
        cold(args)
    if args.sweep:
        sweep(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
