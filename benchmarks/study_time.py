"""How long the papers' whole study takes on this machine, measured variant by variant.

Usage (from the repository root; one core, as a sweep worker runs)::

    taskset -c 1 python benchmarks/study_time.py                 # every preset (~10 min)
    taskset -c 1 python benchmarks/study_time.py --presets main_comparison,lexi_prob
    taskset -c 1 python benchmarks/study_time.py --validate      # also one whole trial

A whole study is about 2,100 trials; running it to see how long it takes is
the question itself. This script times every *distinct* variant of the
presets (a variant that two presets share is timed once) as ``minievo sweep``
runs a job (:func:`minievo.experiments.sweep.run_job`: run folder, records,
checkpoint, summary and the job's figures), after a one-epoch warm-up
(compilation, dataset file), at two short lengths, and extrapolates::

    per_epoch = (t(b) - t(a)) / (b - a)     # a: --a (2); b - a: 10, 20, ... epochs
    fixed     = t(a) - a * per_epoch        # set-up, final evaluation, outputs
    trial     = fixed + epochs * per_epoch  # the preset's epochs

``b - a`` is a multiple of 10 epochs that takes at least ``--span`` seconds
(3; found by lengthening it), so that the jitter of the fixed part (figures, files: tenths of
a second) is small beside it, and so that it holds whole periods of the
presets' test-loss and stats cadence (every 10th epoch), as a whole trial
does. What a short run cannot show: a pruning schedule that acts late in a
trial (``prune_after``, ``final_n``) changes no array size (pruning masks
weights), so it costs the same per epoch. ``--validate`` runs one whole trial of the main setting (the
default job) and prints it beside its extrapolation.

``minievo sweep`` runs jobs in worker processes, each up to
``JOBS_PER_PROCESS`` (100) jobs; what starting one adds (Python, the imports,
the compiled kernels from Numba's cache) is measured once, as a 1-epoch job
sent to a new worker process minus the same job in-process, and added once
per 100 trials of a preset.

The table lists, per preset: variants, trials, the core-hours of one pass of
the preset (variants shared with another preset counted in both, as two
separate ``minievo sweep`` runs would run them), and the whole study in
core-hours and in hours on two workers (a sweep on two workers measured
1.88x one in ``targets.py --sweep``; here the division is by 2, an upper
bound of the speed-up). Absolute times differ between machines by up to 2x.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minievo.cli import DEFAULT_JOB  # noqa: E402
from minievo.experiments.config import Config  # noqa: E402
from minievo.experiments.presets import (  # noqa: E402
    expand_preset,
    list_presets,
    preset_variant_names,
)
from minievo.experiments.sweep import (  # noqa: E402
    _WORKER_CODE,
    JOBS_PER_PROCESS,
    run_job,
    variant_names,
    worker_environment,
)


def variant_key(config: Config) -> tuple:
    """What makes two variants cost the same: every setting but the trial count."""
    settings = config.to_dict()
    settings.pop("trials", None)
    return tuple(sorted((k, repr(v)) for k, v in settings.items()))


def job_seconds(config: Config, epochs: int, root: Path) -> float:
    """Wall seconds of one ``minievo sweep`` job of ``config`` cut to ``epochs``."""
    short = config.replace(epochs=epochs, trials=1, progress=False)
    out = Path(tempfile.mkdtemp(dir=root))
    start = time.perf_counter()
    run_job(short.to_dict(), str(out))
    return time.perf_counter() - start


def trial_model(config: Config, a: int, span_s: float, root: Path) -> tuple[float, float, int]:
    """``(fixed seconds, seconds per epoch, b)`` of one trial of ``config``, from two short jobs
    of ``a`` and ``b`` epochs; ``b - a`` is a multiple of 10 epochs long enough to take about
    ``span_s`` seconds, so that the set-up's jitter (figures, files) is small beside it."""
    job_seconds(config, 1, root)  # warm-up: compilation, dataset file
    t_a = job_seconds(config, a, root)
    tens = 1
    while True:  # lengthen b until it adds span_s (a noisy first guess only grows it 8x)
        b = min(a + 10 * tens, max(config.epochs, a + 10))
        t_b = job_seconds(config, b, root)
        added = t_b - t_a
        if added >= span_s or b == max(config.epochs, a + 10):
            break
        tens = min(8 * tens, math.ceil(1.2 * tens * span_s / max(added, 1e-9)))
    per_epoch = (t_b - t_a) / (b - a)
    return max(t_a - a * per_epoch, 0.0), per_epoch, b


def process_start_seconds(root: Path, repeats: int = 3) -> float:
    """What starting one of ``minievo sweep``'s worker processes costs (Python, the imports,
    the compiled kernels from Numba's cache): the median wall time of a 1-epoch default job
    sent to a new worker process (:func:`~minievo.experiments.sweep.worker_loop`) minus the
    same job in-process. A worker runs up to ``JOBS_PER_PROCESS`` jobs."""
    job = Config.from_dict({**DEFAULT_JOB, "epochs": 1, "progress": False})
    job_seconds(job, 1, root)  # warm-up (compilation, dataset)
    inside, outside = [], []
    for _ in range(repeats):
        inside.append(job_seconds(job, 1, root))
        task = {"config": job.to_dict(), "out": tempfile.mkdtemp(dir=root), "figures": True}
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=worker_environment(1),
            text=True,
        )
        reply, _ = proc.communicate(json.dumps(task) + "\n")
        outside.append(time.perf_counter() - start)
        if not json.loads(reply)["ok"]:
            raise RuntimeError(f"the worker process failed; see {task['out']}/worker.log")
    return max(statistics.median(outside) - statistics.median(inside), 0.0)


def cpu_model() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="", help="comma-separated preset names (default: all)")
    parser.add_argument("--a", type=int, default=2, help="the shorter job's epochs (default 2)")
    parser.add_argument(
        "--span", type=float, default=3.0, help="seconds the longer job adds (default 3)"
    )
    parser.add_argument(
        "--validate", action="store_true", help="also run one whole trial of the default job"
    )
    args = parser.parse_args(argv)
    names = [n for n in args.presets.split(",") if n] or list(list_presets())
    unknown = [n for n in names if n not in list_presets()]
    if unknown:
        parser.error(f"unknown preset {unknown[0]!r}; allowed: " + ", ".join(list_presets()))
    if args.a < 1:
        parser.error(f"--a {args.a}: the shorter job needs at least 1 epoch")
    if not args.span > 0:
        parser.error(f"--span {args.span}: a positive number of seconds")

    print(f"# {cpu_model()}, Python {platform.python_version()}, one job at a time")
    models: dict[tuple, tuple[float, float, int]] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start_s = process_start_seconds(root)
        print(
            f"  a worker process: {start_s:.2f} s to start, one per {JOBS_PER_PROCESS} jobs "
            "(added to each preset)"
        )
        for name in names:
            seconds, trials = 0.0, 0
            variants = expand_preset(name)
            labels = variant_names(variants, preset_variant_names(name, variants))
            for config, label in zip(variants, labels):
                key = variant_key(config)
                if key not in models:
                    models[key] = trial_model(config, args.a, args.span, root)
                    fixed, per_epoch, b = models[key]
                    print(
                        f"  {name:22s} {label:48s} "
                        f"{per_epoch:7.3f} s/epoch + {fixed:5.1f} s -> "
                        f"{fixed + config.epochs * per_epoch:7.1f} s per trial "
                        f"({config.epochs} epochs; timed {args.a} and {b})",
                        flush=True,
                    )
                fixed, per_epoch, _ = models[key]
                seconds += config.trials * (fixed + config.epochs * per_epoch)
                trials += config.trials
            seconds += start_s * math.ceil(trials / JOBS_PER_PROCESS)
            rows.append((name, len(variants), trials, seconds / 3600))
        if args.validate:
            config = Config.from_dict({**DEFAULT_JOB, "progress": False})
            fixed, per_epoch, _ = trial_model(config, args.a, args.span, root)
            estimate = fixed + config.epochs * per_epoch
            measured = job_seconds(config, config.epochs, root)
            print(
                f"\nvalidate: the default job ({config.epochs} epochs): "
                f"measured {measured:.1f} s, extrapolated {estimate:.1f} s "
                f"({estimate / measured:.2f}x)"
            )

    print(f"\n{'preset':22s} {'variants':>8s} {'trials':>7s} {'core-hours':>11s}")
    for name, n_variants, trials, hours in rows:
        print(f"{name:22s} {n_variants:8d} {trials:7d} {hours:11.2f}")
    total = sum(r[3] for r in rows)
    print(
        f"{'total':22s} {sum(r[1] for r in rows):8d} {sum(r[2] for r in rows):7d} {total:11.2f}"
        f"   (two workers: about {total / 2:.1f} hours)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
