"""The ``minievo`` command.

::

    minievo run                      # the default job (see DEFAULT_JOB) on a generated dataset
    minievo run --config params.json --epochs 10 --out runs/mine
    minievo run --resume runs/mine   # continue an interrupted run
    minievo data --name binary_clustering_10_100_1000 --seed 1
    minievo inspect runs/mine/best_autoencoder.npz
    minievo presets
    minievo sweep --preset lexi_prob --trials 2 --set epochs=10 --workers 2 --out runs/lexi

Errors in the input (a config key, a data file, an impossible value) are
printed as one line naming the problem, with exit status 2; no traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: The README's default job: one trial of the papers' main coevolutionary
#: setting (SPEC §7: lipi_simple, population 10, radius 1, batch 5, 400 epochs,
#: learning rate 1e-5, 1000 rows x 1000 bits, random pruning with probability
#: 0.5 and amount 0.1 on the exponential schedule, published ``regrow`` masks and
#: a fresh Adam per step). About a minute on one core (benchmarks/end_to_end.py),
#: plus the kernels' one-time compilation. Persistent masks would not do here:
#: random pruning removes 10% of the *remaining* weights at every event, and
#: after the ~120 events of a trial almost nothing is left.
DEFAULT_JOB = {
    "cell_evaluation": "lipi_simple", "population_size": 10, "radius": 1, "batch_size": 5,
    "dataset_name": "binary_clustering_10_100_1000", "prune_method": "random",
    "prune_schedule": "exponential", "prune_probability": 0.5, "prune_amount": 0.1,
    "epochs": 400, "learning_rate": 1e-5, "mask_mode": "regrow", "optimizer_state": "fresh",
}

# Command-line flags that set a configuration key: (flag, key, type).
CONFIG_FLAGS = [
    ("--epochs", "epochs", int), ("--seed", "seed", int),
    ("--population-size", "population_size", int), ("--radius", "radius", int),
    ("--batch-size", "batch_size", int), ("--learning-rate", "learning_rate", float),
    ("--cell-evaluation", "cell_evaluation", str), ("--environment", "environment", str),
    ("--dataset", "dataset_name", str), ("--data-dir", "data_dir", str),
    ("--prune-method", "prune_method", str), ("--prune-schedule", "prune_schedule", str),
    ("--prune-probability", "prune_probability", float),
    ("--prune-amount", "prune_amount", float), ("--lexi-threshold", "lexi_threshold", float),
    ("--mask-mode", "mask_mode", str), ("--optimizer-state", "optimizer_state", str),
    ("--update", "update", str), ("--backend", "backend", str),
    ("--checkpoint-every", "checkpoint_every", int),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minievo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train (canonical or coevolution) and write a run folder")
    run.add_argument("--config", type=Path, help="JSON or TOML configuration (published params.json works)")
    run.add_argument("--out", type=Path, help="run folder (default runs/run-<time>)")
    run.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR")
    for flag, key, kind in CONFIG_FLAGS:
        run.add_argument(flag, dest=f"cfg_{key}", type=kind, help=f"configuration key {key}")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="any configuration key (value parsed as JSON, else a string); repeatable")
    run.add_argument("--save-all-centers", action="store_true", help="save every center pair")
    run.add_argument("--workers", type=int, default=1,
                     help="threads for the cells of an epoch (update=synchronous only)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    data = sub.add_parser("data", help="generate a binary clustering dataset")
    data.add_argument("--name", default="binary_clustering_10_100_1000")
    data.add_argument("--seed", type=int, default=1)
    data.add_argument("--noise-probability", type=float, default=0.05)
    data.add_argument("--p-one", type=float, default=0.75)
    data.add_argument("--cache-dir", type=Path, help="cache folder (default $MINIEVO_DATA_DIR "
                      "or ~/.cache/minievo/data)")
    data.add_argument("--out", type=Path, help="write to this .npz instead of the cache")

    inspect = sub.add_parser("inspect", help="sparsity report of a saved autoencoder")
    inspect.add_argument("file", type=Path)

    sub.add_parser("presets", help="list the papers' experiment grids")

    sweep = sub.add_parser("sweep", help="run every variant x trial of a preset or a config")
    source = sweep.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset name (see `minievo presets`)")
    source.add_argument("--config", type=Path, help="one configuration; runs its `trials` seeds")
    sweep.add_argument("--trials", type=int, help="trials per variant (default: the preset's)")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override on every variant (e.g. epochs=4); repeatable")
    sweep.add_argument("--workers", type=int, default=1, help="parallel jobs (processes)")
    sweep.add_argument("--backend", help="kernels: numba (default), numpy, or cuda (all trials "
                       "in lockstep on one GPU)")  # [lockstep/GPU]
    sweep.add_argument("--out", type=Path, required=True, help="sweep folder (resumable)")
    return parser


def _parse_set(items) -> dict:
    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values


def config_from_args(args):
    """The run's Config: the file (or the default job), then flags, then ``--set``."""
    from .experiments.config import Config
    base = Config.from_file(args.config) if args.config else Config.from_dict(DEFAULT_JOB)
    changes = {key: getattr(args, f"cfg_{key}") for _, key, _ in CONFIG_FLAGS
               if getattr(args, f"cfg_{key}") is not None}
    changes.update(_parse_set(args.set))
    if args.save_all_centers:
        changes["save_all_centers"] = True
    if args.no_progress:
        changes["progress"] = False
    return base.replace(**changes) if changes else base


def cmd_run(args) -> int:
    from .experiments import run as runner
    if args.resume:
        print(f"resuming {args.resume}", file=sys.stderr)
        result = runner.resume(args.resume, workers=args.workers)
        out = args.resume
    else:
        config = config_from_args(args)
        for notice in config.notices:
            print(f"notice: {notice}", file=sys.stderr)
        out = args.out or config.out_dir or runner.default_out_dir()
        print(f"minievo: {config.cell_evaluation}, population {config.population_size}, "
              f"{config.epochs} epochs on {config.dataset_name} -> {out}", file=sys.stderr)
        result = runner.run(config, out, workers=args.workers)
    summary = json.loads((Path(out) / runner.SUMMARY_FILE).read_text())
    print(f"test L1 of the best autoencoder: {result.test_loss:.5f} "
          f"({result.wall_time:.1f} s of training)")
    print(f"records:  {Path(out) / 'stats.jsonl'}")
    print(f"network:  {Path(out) / runner.BEST_FILE}")
    for fig in summary["files"]["figures"]:
        print(f"figure:   {Path(out) / fig}")
    return 0


def cmd_data(args) -> int:
    from .data import (generate_binary_clustering, load_or_generate, parse_dataset_name,
                       save_dataset, cache_file_name, default_cache_dir)
    if args.out:
        import numpy as np
        c, n, d = parse_dataset_name(args.name)
        dataset = generate_binary_clustering(c, n, d, noise_probability=args.noise_probability,
                                             p_one=args.p_one, rng=np.random.default_rng(args.seed))
        path = save_dataset(dataset, args.out)
    else:
        dataset = load_or_generate(args.name, cache_dir=args.cache_dir, seed=args.seed,
                                   noise_probability=args.noise_probability, p_one=args.p_one)
        path = Path(args.cache_dir or default_cache_dir()) / cache_file_name(
            args.name, args.seed, noise_probability=args.noise_probability, p_one=args.p_one)
    print(f"{path}: train {dataset.train.shape}, test {dataset.test.shape}, "
          f"validation {dataset.validation.shape}, {dataset.n_clusters} clusters")
    return 0


def cmd_inspect(args) -> int:
    from .network import Autoencoder
    from .pruning.sparsity import format_report
    print(format_report(Autoencoder.load(args.file)))
    return 0


def cmd_presets(args) -> int:
    from .experiments.presets import list_presets
    for name, description in list_presets().items():
        print(f"{name:22s} {description}")
    return 0


def cmd_sweep(args) -> int:
    from .experiments.config import Config
    from .experiments.presets import expand_preset
    from .experiments.sweep import expand_trials, run_sweep
    overrides = _parse_set(args.set)
    if args.backend:  # [lockstep/GPU]
        overrides["backend"] = args.backend
    if args.preset:
        variants = expand_preset(args.preset, trials=args.trials, overrides=overrides)
    else:
        config = Config.from_file(args.config)
        changes = {**overrides, **({"trials": args.trials} if args.trials else {})}
        variants = [config.replace(**changes) if changes else config]
    total = len(expand_trials(variants))
    print(f"{len(variants)} variant(s), {total} job(s) -> {args.out}", file=sys.stderr)
    done = []

    def report(line):
        done.append(line)
        state = "done earlier" if line["skipped"] else f"{line['wall_time_s']:.1f} s"
        print(f"[{len(done)}/{total}] {line['folder']}: test L1 {line['test_loss']:.5f} "
              f"({state})", file=sys.stderr)

    run_sweep(variants, args.out, workers=args.workers, on_result=report)
    print(f"results: {args.out / 'results.jsonl'}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DataFileError
    from .engine import NonFiniteLossError
    from .experiments.config import ConfigError
    commands = {"run": cmd_run, "data": cmd_data, "inspect": cmd_inspect, "presets": cmd_presets,
                "sweep": cmd_sweep}
    try:
        return commands[args.command](args)
    except (ConfigError, DataFileError, NonFiniteLossError, FileExistsError,
            FileNotFoundError, ValueError) as err:
        print(f"minievo: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("minievo: interrupted; continue with `minievo run --resume DIR`", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
