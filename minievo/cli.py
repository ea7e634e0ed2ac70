"""minievo trains autoencoders by spatial coevolution (Lipi-AE) with activation-guided pruning.

Examples::

    minievo run                      # the default job (see DEFAULT_JOB) on a generated dataset
    minievo run --config params.json --epochs 10 --out runs/mine
    minievo run --resume runs/mine   # continue an interrupted run
    minievo run --resume runs/mine --epochs 800   # extend a run to 800 epochs
    minievo data --name binary_clustering_10_100_1000 --seed 1
    minievo inspect runs/mine        # or a saved .npz network
    minievo compact runs/mine        # the pruned network as a smaller dense one
    minievo presets
    minievo sweep --preset lexi_prob --trials 2 --set epochs=10 --workers 2 --out runs/lexi
    minievo sweep --preset lexi_prob --trials 2 --scheduler local --workers 2 --out runs/lexi
    minievo report runs/lexi         # report.md, CSV files, figures
    minievo reproduce --trials 2 --epochs 20 --workers 2   # the papers' main comparison

Errors in the input (a config key, a data file, an impossible value, a folder
that cannot be written) are printed as one line naming the problem, with exit
status 2; no traceback. Internal errors keep their traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path

from . import __version__
from .experiments import config as _config
from .experiments import presets as _presets
from .kernels import RUN_BACKENDS

#: The README's default job (docs/algorithm.md §7), defined once in
#: :data:`minievo.experiments.presets.DEFAULT_JOB` (``minievo.default_job()`` from Python).
DEFAULT_JOB = _presets.DEFAULT_JOB

#: Flags of ``minievo run`` named otherwise than ``--<field-name>`` (kept names).
FLAG_ALIASES = {"dataset_name": ("--dataset",)}
#: Fields with their own options in ``minievo run`` (``--out``, ``--no-progress``,
#: ``--save-all-centers``, ``--plugin``), not generated from the field.
OWN_OPTIONS = ("out_dir", "progress", "save_all_centers", "plugins")


def config_flags() -> list[tuple[str, str, object]]:
    """``(flag, field, rule)`` of every configuration field that ``minievo run`` takes as a flag.

    Generated from the configuration's fields (:data:`~minievo.experiments.config.FIELD_RULES`,
    :data:`~minievo.experiments.config.FIELD_HELP`): ``--epochs`` sets ``epochs``,
    ``--prune-method`` sets ``prune_method``, ...; :data:`FLAG_ALIASES` keeps
    older names (``--dataset`` for ``--dataset-name``).
    """
    from .experiments.config import FIELD_RULES, Config

    return [
        ("--" + key.replace("_", "-"), key, FIELD_RULES[key])
        for key in Config.field_names()
        if key not in OWN_OPTIONS
    ]


def _flag_help(key: str, rule) -> str:
    """``what it means; allowed: ...; default: ...`` for the flag of ``key``."""
    import dataclasses

    from .experiments.config import FIELD_HELP, Config

    default = DEFAULT_JOB.get(key, {f.name: f.default for f in dataclasses.fields(Config)}[key])
    if default is None:
        shown = "from the other settings"
    elif isinstance(default, bool):
        shown = str(default).lower()
    else:
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    allowed = "" if isinstance(default, bool) else f"; allowed: {rule.describe()}"
    text = f"{FIELD_HELP[key]}{allowed}; default: {shown}"
    return text.replace("%", "%%")


#: The argument groups of ``minievo run --help``, in order, and the configuration
#: fields in each (every field of :func:`config_flags` is in one; the command's own
#: options join them in :func:`build_parser`).
FLAG_GROUPS = {
    "data": ("dataset_name", "data_dir", "noise_probability", "p_one", "data_seed"),
    "network": ("environment", "denoising_noise_std"),
    "training": (
        "cell_evaluation",
        "epochs",
        "learning_rate",
        "batch_size",
        "seed",
        "trials",
        "shuffle_data",
        "optimizer_state",
        "adam_betas",
        "adam_eps",
        "semantics",
    ),
    "coevolution": ("population_size", "radius", "update", "lr_mutation_std", "lr_min", "lr_max"),
    "pruning": (
        "prune_method",
        "prune_schedule",
        "prune_probability",
        "prune_amount",
        "lexi_threshold",
        "lexi_rows",
        *_config.BASELINE_FIELDS,
        "mask_mode",
        "activation_signal",
    ),
    "records": (
        "calculate_test_loss",
        "stats_every",
        "test_loss_every",
        "checkpoint_every",
        "checkpoint_seconds",
        "keep_checkpoint",
    ),
    "execution": ("backend",),
}


class BooleanFlag(argparse.Action):
    """``--x`` sets true, ``--no-x`` false; the older ``--x true|false`` still works.

    A value given to ``--x`` is stored as written, so that the configuration's
    rule checks it (``shuffle_data: 'maybe' is not a boolean; allowed: true or false``).
    """

    def __init__(self, option_strings, dest, default=None, help=None, **kwargs):
        negative = ["--no-" + name[2:] for name in option_strings if name.startswith("--")]
        super().__init__(
            list(option_strings) + negative,
            dest,
            nargs="?",
            default=default,
            metavar="true|false",
            help=help,
            **kwargs,
        )

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string.startswith("--no-"):
            if values is not None:
                parser.error(
                    f"{option_string} takes no value (got {values!r}); "
                    f"write {option_string}, or --{option_string[5:]} {values}"
                )
            values = False
        setattr(namespace, self.dest, True if values is None else values)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, with a boolean flag shown as ``--x, --no-x``."""

    def _format_action_invocation(self, action):
        if isinstance(action, BooleanFlag):
            return ", ".join(action.option_strings)
        return super()._format_action_invocation(action)


def _metavar(rule) -> str:
    """A short placeholder for a flag's value: N (integer), X (number), DIR, NAME."""
    from .experiments.validation import Integer, Number, OptionalPath

    for kind, name in ((Integer, "N"), (Number, "X"), (OptionalPath, "DIR")):
        if isinstance(rule, kind):
            return name
    return "NAME"


def _add_config_flags(run: argparse.ArgumentParser, groups: dict) -> None:
    from .experiments.validation import Boolean

    group_of = {key: name for name, keys in FLAG_GROUPS.items() for key in keys}
    for _, key, rule in config_flags():
        names = ("--" + key.replace("_", "-"),) + FLAG_ALIASES.get(key, ())
        if isinstance(rule, Boolean):
            extra = {"action": BooleanFlag}
        elif key == "adam_betas":
            extra = {"nargs": 2, "metavar": ("BETA1", "BETA2"), "type": rule.cli_type}
        else:
            extra = {"metavar": _metavar(rule), "type": rule.cli_type}
        groups[group_of[key]].add_argument(
            *names, dest=f"cfg_{key}", help=_flag_help(key, rule), **extra
        )


#: Negative numbers as option values (``--learning-rate -1e-5``): argparse's own
#: pattern misses exponents and would read ``-1e-5`` as an unknown flag.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _accept_negative_numbers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser._negative_number_matcher = _NEGATIVE_NUMBER
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _accept_negative_numbers(
        argparse.ArgumentParser(
            prog="minievo",
            description=__doc__.split("\n")[0],
            epilog="`minievo COMMAND --help` describes each command; see README.md.",
        )
    )
    parser.add_argument("--version", action="version", version=f"minievo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_run_command(sub)
    _add_data_command(sub)
    inspect = sub.add_parser("inspect", help="sparsity report of a saved autoencoder")
    inspect.add_argument(
        "file",
        type=Path,
        help="a saved network (.npz: final_autoencoder, "
        "best_autoencoder, centers/cell_*) or a run folder",
    )

    sub.add_parser(
        "presets", help="list the papers' experiment grids", description="List the presets."
    )

    add_compact_command(sub)
    add_study_commands(sub)
    return parser


def _add_run_command(sub) -> None:
    """``minievo run``: the configuration's keys as flags in groups, and the run's own options."""
    run = _accept_negative_numbers(
        sub.add_parser(
            "run",
            help="train (canonical or coevolution) and write a run folder",
            usage="%(prog)s [--config FILE] [--out DIR] [--resume DIR] [OPTION ...]",
            description="Train one configuration and write a run folder. The default "
            "job, then --config's keys, then the flags, then --set; every flag below "
            "sets the configuration key of its name (docs/configuration.md).",
            formatter_class=HelpFormatter,
        )
    )
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="JSON or TOML configuration (published "
        "params.json works); its keys override the default job's",
    )
    run.add_argument("--out", type=Path, metavar="DIR", help="run folder (default runs/run-<time>)")
    run.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run in DIR; with "
        "--epochs N (more than it has done), extend it to N epochs",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="start again in an --out folder "
        "that holds a checkpoint or a finished run (its results are deleted)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any configuration key (value parsed as JSON, else a string); repeatable",
    )
    groups = {name: run.add_argument_group(name) for name in FLAG_GROUPS}
    _add_config_flags(run, groups)
    groups["pruning"].add_argument(
        "--plugin",
        action="append",
        dest="plugins",
        metavar="MODULE_OR_FILE",
        help="import this module or .py file first (it registers pruning "
        "operators or schedules: docs/extending.md); repeatable, recorded in "
        "the configuration's plugins",
    )
    groups["records"].add_argument(
        "--save-all-centers",
        action=BooleanFlag,
        help="save every cell's final autoencoder (default: false)",
    )
    groups["execution"].add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for the cells of an epoch (update=synchronous only; default 1)",
    )
    # the name before issue 22 (`sweep --workers` counts processes): still accepted
    groups["execution"].add_argument(
        "--workers", type=int, dest="old_workers", help=argparse.SUPPRESS
    )
    _add_progress_flag(groups["execution"])


def _add_data_command(sub) -> None:
    """``minievo data``: generate a dataset into the cache or a file."""
    data = _accept_negative_numbers(
        sub.add_parser(
            "data",
            help="generate a binary clustering dataset",
            description="Generate a dataset into the cache (or --out), as a run would.",
        )
    )
    data.add_argument(
        "--name",
        default="binary_clustering_10_100_1000",
        help="binary_clustering_<clusters>_<rows per cluster>_<dimensions> "
        "(default binary_clustering_10_100_1000)",
    )
    data.add_argument("--seed", type=int, default=1, help="seed of the dataset (default 1)")
    data.add_argument(
        "--noise-probability",
        type=float,
        default=0.05,
        help="probability of flipping each bit of a noisy copy (default 0.05)",
    )
    data.add_argument(
        "--p-one",
        type=float,
        default=0.75,
        help="probability that a centroid bit is 1 (default 0.75)",
    )
    data.add_argument(
        "--data-dir",
        type=Path,
        help="folder of generated datasets (default $MINIEVO_DATA_DIR or "
        "~/.cache/minievo/data; run's --data-dir)",
    )
    # the name before issue 22: one name per concept, as `minievo run --data-dir`
    data.add_argument("--cache-dir", type=Path, dest="data_dir", help=argparse.SUPPRESS)
    data.add_argument("--out", type=Path, help="write to this .npz instead of the cache")


def _add_progress_flag(parser) -> None:
    parser.add_argument(
        "--progress",
        action=BooleanFlag,
        help="a progress bar on a terminal, plain lines in a log (default: true; "
        "--no-progress prints neither)",
    )


def _switch(args, dest: str) -> bool | None:
    """A :class:`BooleanFlag`'s value as a bool (None: not given); a bad value is a ConfigError."""
    from .experiments.validation import Boolean

    value = getattr(args, dest)
    return None if value is None else Boolean()(dest, value)


def _parse_set(items) -> dict:
    from .experiments.config import ConfigError

    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values


def config_from_args(args):
    """The run's Config: the default job, then the file's keys, then flags, then ``--set``.

    ``minievo run`` and ``minievo run --config FILE`` start from the same
    defaults, :data:`DEFAULT_JOB` (recorded as ``defaults: "default job"`` in
    ``config.json``); ``Config()`` in Python starts from the dataclass
    defaults (``defaults: "Config()"``).
    """
    from .experiments.config import ConfigError, merge_with_defaults, read_config_file

    changes = _config_changes(args)
    if _switch(args, "progress") is not None:
        changes["progress"] = _switch(args, "progress")
    if not args.config:
        return merge_with_defaults(DEFAULT_JOB, changes, "default job")
    data = read_config_file(args.config)
    try:  # the file alone first, so that its errors name the file and flags' errors do not
        merge_with_defaults(DEFAULT_JOB, data, "default job")
    except ConfigError as error:
        raise ConfigError(f"{args.config}: {error}") from error
    # the file's keys, then the flags: only given keys, so a flag that changes
    # semantics or environment resolves the fields that depend on them afresh
    return merge_with_defaults(DEFAULT_JOB, [data, changes], "default job")


def _config_changes(args) -> dict:
    """Configuration keys set by flags and ``--set`` (progress excluded)."""
    changes = {
        key: getattr(args, f"cfg_{key}")
        for _, key, _ in config_flags()
        if getattr(args, f"cfg_{key}") is not None
    }
    if args.plugins:
        changes["plugins"] = args.plugins
    changes.update(_parse_set(args.set))
    if _switch(args, "save_all_centers") is not None:
        changes["save_all_centers"] = _switch(args, "save_all_centers")
    return changes


def _resume_conflicts(args) -> list[str]:
    """Options that would change a resumed run's configuration (only --epochs may)."""
    given = [
        flag
        for flag, key, _ in config_flags()
        if key != "epochs" and getattr(args, f"cfg_{key}") is not None
    ]
    given += [f"--set {item}" for item in args.set]
    given += [
        flag
        for flag, value in (
            ("--config", args.config),
            ("--out", args.out),
            ("--save-all-centers", args.save_all_centers is not None),
            ("--plugin", args.plugins),
            ("--force", args.force),
        )
        if value
    ]
    return given


def cmd_run(args, where: dict) -> int:
    from .experiments import run as runner
    from .experiments.config import ConfigError

    def notify(line):
        print(f"minievo: {line}", file=sys.stderr)

    threads = _run_threads(args)
    if args.resume:
        conflicts = _resume_conflicts(args)
        if conflicts:
            raise ConfigError(
                f"--resume {args.resume} continues the run with its saved "
                f"config.json; {conflicts[0]} would change it (only --epochs, "
                "--threads and --progress/--no-progress go with --resume)"
            )
        out = where["out"] = args.resume
        print(f"resuming {out}", file=sys.stderr)
        result = runner.resume(
            out,
            workers=threads,
            epochs=args.cfg_epochs,
            notify=notify,
            progress=_switch(args, "progress"),
        )
    else:
        config = config_from_args(args)
        for notice in config.notices:
            print(f"notice: {notice}", file=sys.stderr)
        out = where["out"] = args.out or config.out_dir or runner.default_out_dir()
        print(
            f"minievo: {config.cell_evaluation}, population {config.population_size}, "
            f"{config.epochs} epochs on {config.dataset_name} -> {out}",
            file=sys.stderr,
        )
        result = runner.run(config, out, workers=threads, force=args.force, notify=notify)
    summary = json.loads((Path(out) / runner.SUMMARY_FILE).read_text())
    print(
        f"test L1 of the {summary['network']}: {result.test_loss:.5f} "
        f"({result.wall_time:.1f} s of training)"
    )
    print(f"records:  {Path(out) / 'stats.jsonl'}")
    print(f"network:  {Path(out) / summary['files']['network']}")
    for fig in summary["files"]["figures"]:
        print(f"figure:   {Path(out) / fig}")
    return 0


def _run_threads(args) -> int:
    """``run --threads``, or the older ``run --workers`` (a notice says the new name)."""
    from .experiments.config import ConfigError

    if args.old_workers is not None and args.threads is not None:
        raise ConfigError(
            "--workers is the older name of --threads in `minievo run`; give only --threads"
        )
    if args.old_workers is not None:
        print(
            "notice: `minievo run --workers` is now --threads (threads for the cells of an "
            "epoch; `sweep --workers` counts processes); --workers still works",
            file=sys.stderr,
        )
    flag, threads = (
        ("--threads", args.threads) if args.old_workers is None else ("--workers", args.old_workers)
    )
    if threads is not None and threads < 1:
        raise ConfigError(f"{flag}: {threads} is out of range; allowed: integers >= 1")
    return 1 if threads is None else threads


def cmd_data(args) -> int:
    from .data import (
        DIGITS_NAMES,
        cache_file_name,
        default_cache_dir,
        generate_binary_clustering,
        load_or_generate,
        parse_dataset_name,
        save_dataset,
    )

    _check_data_args(args)
    if args.name in DIGITS_NAMES:  # read from scikit-learn, split with the seed
        dataset = load_or_generate(args.name, seed=args.seed)
        path = save_dataset(dataset, args.out) if args.out else "scikit-learn (not cached)"
    elif args.out:
        import numpy as np

        c, n, d = parse_dataset_name(args.name)
        dataset = generate_binary_clustering(
            c,
            n,
            d,
            noise_probability=args.noise_probability,
            p_one=args.p_one,
            rng=np.random.default_rng(args.seed),
        )
        path = save_dataset(dataset, args.out)
    else:
        dataset = load_or_generate(
            args.name,
            cache_dir=args.data_dir,
            seed=args.seed,
            noise_probability=args.noise_probability,
            p_one=args.p_one,
        )
        path = Path(args.data_dir or default_cache_dir()) / cache_file_name(
            args.name, args.seed, noise_probability=args.noise_probability, p_one=args.p_one
        )
    print(
        f"{path}: train {dataset.train.shape}, test {dataset.test.shape}, "
        f"validation {dataset.validation.shape}, {dataset.n_clusters} clusters"
    )
    return 0


def _check_data_args(args) -> None:
    """The dataset name, probabilities and seed, checked as a run's configuration checks them."""
    from .experiments.config import Config, ConfigError

    if args.out and args.data_dir:
        raise ConfigError(
            "--out writes the dataset to one file, --data-dir into the cache folder: give one"
        )

    Config(
        dataset_name=args.name,
        noise_probability=args.noise_probability,
        p_one=args.p_one,
        data_seed=args.seed,
        batch_size=1,
    )


def cmd_inspect(args) -> int:
    from .io import FileFormatError
    from .network import Autoencoder
    from .pruning.sparsity import format_report

    path = _network_to_inspect(args.file)
    try:
        pair = Autoencoder.load(path)
    except ValueError as err:  # the messages name the file and the array
        raise FileFormatError(str(err)) from None
    print(format_report(pair))
    return 0


#: What ``minievo inspect`` reads, for its error messages.
INSPECT_ACCEPTS = (
    "inspect reads a saved autoencoder (.npz: final_autoencoder.npz, "
    "best_autoencoder.npz, centers/cell_*.npz) or a run folder"
)


def _network_to_inspect(path: Path) -> Path:
    """The network file behind ``path`` (a run folder or an .npz), or ConfigError saying why not."""
    from .experiments.config import ConfigError
    from .experiments.run import BEST_FILE, FINAL_FILE
    from .io import load_npz

    if path.is_dir():
        for name in (FINAL_FILE, BEST_FILE):
            if (path / name).exists():
                return path / name
        raise ConfigError(
            f"{path}: a folder without {FINAL_FILE} or {BEST_FILE} (not a "
            f"finished run); {INSPECT_ACCEPTS}"
        )
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    if path.suffix.lower() != ".npz":
        kind = {
            ".json": "a JSON file",
            ".jsonl": "a JSON-lines file",
            ".toml": "a TOML file",
            ".txt": "a text file",
            ".png": "an image",
        }.get(path.suffix.lower(), f"a {path.suffix or 'plain'} file")
        raise ConfigError(f"{path}: {kind}, not a network; {INSPECT_ACCEPTS}")
    keys = set(load_npz(path))
    if "state" in keys:
        what = "a checkpoint (the resumable state of a run; resume it with minievo run --resume)"
    elif {"encoder_params", "decoder_params"} <= keys:
        return path
    elif {"train", "test"} <= keys:
        what = "a dataset"
    else:
        what = f"an .npz without a network (arrays: {', '.join(sorted(keys)[:6])})"
    raise ConfigError(f"{path}: {what}, not a saved autoencoder; {INSPECT_ACCEPTS}")


# -- minievo compact (issue #20) -------------------------------------------------
#: What ``minievo compact`` reads, for its error messages.
COMPACT_ACCEPTS = (
    "compact reads a run folder (final_autoencoder.npz or best_autoencoder.npz) or a saved "
    "autoencoder (.npz: final_autoencoder, best_autoencoder, centers/cell_*)"
)


def add_compact_command(sub) -> None:
    compact = sub.add_parser(
        "compact", help="the pruned autoencoder as a smaller dense network (.npz of plain arrays)"
    )
    compact.add_argument("source", type=Path, help="a run folder or a saved autoencoder (.npz)")
    compact.add_argument(
        "--out", type=Path, help="where to write (default: beside the input, NAME_compact.npz)"
    )


def cmd_compact(args) -> int:
    """Compact a saved autoencoder, write it, print widths, parameters and FLOPs."""
    import numpy as np

    from .experiments.config import ConfigError
    from .io import FileFormatError
    from .network import Autoencoder
    from .pruning.compact import compact, masked_chain

    source = args.source
    if not source.exists():
        raise ConfigError(f"{source}: no such file or folder; {COMPACT_ACCEPTS}")
    try:  # the checks of inspect, with compact's list of inputs
        path = _network_to_inspect(source)
        pair = Autoencoder.load(path)
    except (ConfigError, FileFormatError, ValueError, KeyError) as err:
        line = str(err).replace(f"; {INSPECT_ACCEPTS}", "")
        if "arrays: W0," in line:
            line = f"{source}: already a compact network (minievo compact's output)"
        raise ConfigError(f"{line}; {COMPACT_ACCEPTS}") from None
    before, after = masked_chain(pair), compact(pair)
    out = args.out or path.with_name(f"{path.stem}_compact.npz")
    after.save(out)
    nonzero = sum(int(np.count_nonzero(w) + np.count_nonzero(b))
                  for w, b in zip(before.weights, before.biases))  # fmt: skip
    code = (
        ", code = posterior mean (log-variance head dropped)" if pair.kind == "variational" else ""
    )
    print(f"{path}: {pair.kind} autoencoder{code}")
    print(f"widths         {' -> '.join(map(str, before.widths))}  =>  "
          f"{' -> '.join(map(str, after.widths))}")  # fmt: skip
    print(
        f"parameters     {before.n_params} => {after.n_params} "
        f"({after.n_params / before.n_params:.1%}; non-zero in the masked network: {nonzero})"
    )
    print(f"FLOPs/example  {before.flops} => {after.flops} ({after.flops / before.flops:.1%})")
    print(f"wrote {out}")
    return 0


def cmd_presets(args) -> int:
    from .experiments.presets import list_presets

    for name, description in list_presets().items():
        print(f"{name:22s} {description}")
    return 0


#: OS errors that come from the user's environment (a path, a full disk), not a bug.
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.ENOENT,
    errno.EDQUOT,
    errno.ENAMETOOLONG,
}


def _os_error_line(err: OSError, out=None) -> str | None:
    """One line for an OSError about a path or the disk, None for anything else."""
    if err.errno is None and isinstance(err, (FileNotFoundError, FileExistsError)):
        return str(err)  # raised by minievo with a whole sentence
    if err.errno not in _ENVIRONMENT_ERRNOS and err.filename is None:
        return None
    if err.filename is None:
        where = f" (writing into {out})" if out is not None else ""
        return f"{err.strerror or err}{where}"
    path = err.filename if err.filename2 is None else f"{err.filename} -> {err.filename2}"
    reason = err.strerror or str(err)
    hint = {
        errno.ENOTDIR: " (a part of the path is a file, not a folder)",
        errno.EEXIST: " (a file is in the way of a folder)",
        errno.ENOSPC: " (the disk is full; files written so far are complete: free "
        "space, then run again; --resume continues from a checkpoint)",
    }.get(err.errno, "")
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = f" ({_where_to_write_instead(err.filename, out)})"
    return f"{path}: {reason}{hint}"


def _where_to_write_instead(filename, out) -> str:
    """The option that moves a write away from a read-only or forbidden path."""
    from .data import default_cache_dir

    path = Path(os.path.abspath(filename))
    inside = [Path(os.path.abspath(out))] if out is not None else []
    if any(path == folder or folder in path.parents for folder in inside):
        return "choose another --out"
    cache = Path(os.path.abspath(default_cache_dir()))
    if path == cache or cache in path.parents:
        return "the dataset cache: set MINIEVO_DATA_DIR, or the data_dir key, to a writable folder"
    return "choose another --out, or a writable data_dir"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded by the study commands
    from .data import DataFileError
    from .engine import NonFiniteLossError
    from .experiments.config import ConfigError
    from .io import FileFormatError, FolderInUseError

    commands = {
        "run": cmd_run,
        "data": cmd_data,
        "inspect": cmd_inspect,
        "presets": cmd_presets,
        "compact": cmd_compact,
        **STUDY_COMMANDS,
    }
    where = {"out": None}  # the run folder, once known (for the Ctrl-C hint)
    previous = _terminate_as_exit()
    try:
        check_environment()
        if args.command == "run":
            return cmd_run(args, where)
        return commands[args.command](args)
    except (ConfigError, DataFileError, FileFormatError, NonFiniteLossError) as err:
        print(f"minievo: error: {err}", file=sys.stderr)
        return 2
    except FolderInUseError as err:
        print(f"minievo: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        line = _os_error_line(err, where["out"])
        if line is None:
            raise
        print(f"minievo: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minievo: interrupted (SIGINT); {_stop_hint(args, where)}", file=sys.stderr)
        return 128 + signal.SIGINT
    except SystemExit as stop:
        if stop.code != 128 + signal.SIGTERM:
            raise
        print(f"minievo: terminated (SIGTERM); {_stop_hint(args, where)}", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def check_environment() -> None:
    """Refuse a bad value of an environment variable minievo reads, before anything starts.

    ``MINIEVO_PROGRESS_SECONDS`` (progress lines), ``MINIEVO_DATA_DIR`` (the
    dataset cache: not a file). ``NUMBA_*`` and thread counts are Numba's own.
    """
    from .errors import ConfigError
    from .training.progress import progress_interval

    progress_interval()
    data_dir = os.environ.get("MINIEVO_DATA_DIR")
    if data_dir is not None and data_dir.strip() == "":
        raise ConfigError(
            "environment variable MINIEVO_DATA_DIR is set but empty; set it to a folder, "
            "or unset it for ~/.cache/minievo/data"
        )
    if (
        data_dir
        and Path(data_dir).expanduser().exists()
        and not Path(data_dir).expanduser().is_dir()
    ):
        raise ConfigError(
            f"environment variable MINIEVO_DATA_DIR={data_dir!r} is a file, not a folder; "
            "set it to a folder, or unset it for ~/.cache/minievo/data"
        )


def _terminate_as_exit():
    """Make SIGTERM raise ``SystemExit(143)`` (the shells' 128 + 15) in the main thread,
    so that :func:`main` names the folder to resume whenever it arrives; returns the
    previous handler (None where none could be set). While a run trains,
    :func:`~minievo.training.checkpoint.stop_requests` takes over: the epoch ends and a
    checkpoint is written first."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum, frame):
        raise SystemExit(128 + signal.SIGTERM)

    return signal.signal(signal.SIGTERM, terminate)


def _stop_hint(args, where) -> str:
    """What to do after a run or sweep was stopped by a signal."""
    if where["out"] is not None:
        return f"continue with `minievo run --resume {where['out']}`"
    folder = getattr(args, "sweep_folder", None)
    if folder is not None:
        return f"finished jobs are kept in {folder}: rerun the same command to run the rest"
    return "nothing was started"


# ---------------------------------------------------------------------------
# The study: sweep, report, reproduce
# ---------------------------------------------------------------------------


def _add_sweep_options(parser, *, default_trials=None) -> None:
    parser.add_argument(
        "--trials",
        type=int,
        metavar="N",
        default=default_trials,
        help="trials per variant (default: the preset's)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=1,
        help="jobs at a time (local processes, or LocalCluster workers)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        default=1,
        help="Numba/BLAS threads per job (default 1: no oversubscription)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on dask.distributed: 'local' (a LocalCluster on 127.0.0.1) "
        "or a scheduler address; workers must see --out (shared file system)",
    )
    parser.add_argument(
        "--new-folder",
        action="store_true",
        help="if --out holds a sweep with other settings, write into the first "
        "free OUT-2, OUT-3, ... instead of refusing",
    )
    _add_progress_flag(parser)
    parser.add_argument(
        "--plugin",
        action="append",
        dest="plugins",
        metavar="MODULE_OR_FILE",
        help="import this module or .py file first, here and in every job (it "
        "registers pruning operators or schedules: docs/extending.md); repeatable",
    )
    parser.add_argument(
        "--backend",
        choices=RUN_BACKENDS,
        help="kernels of every job: numba (default), numpy, or cuda (all "
        "trials of all variants in lockstep on one GPU, in this process)",
    )


#: ``minievo reproduce --help``: what it runs and how long it takes (the times
#: are docs/studies.md's, measured on a shared 2-core Intel Xeon).
REPRODUCE_DESCRIPTION = (
    "Run the papers' main comparison (preset main_comparison: 9 variants, canonical "
    "training and Lipi-AE, with and without pruning) into --out, then write its "
    "report with the papers' values beside minievo's. Default: 30 trials x 400 "
    "epochs, 270 jobs, about 6 core-hours (a trial takes 10 s canonical to about "
    "4 minutes for Lipi-AE at population 10; --trials 10 took about 1 hour with "
    "--workers 2 on two cores, docs/studies.md). "
    "--trials 2 --epochs 40 (18 jobs) takes a few minutes. Interrupted, the same "
    "command runs only the jobs not done."
)


def add_study_commands(sub) -> None:
    """``sweep``, ``report`` and ``reproduce``."""
    sweep = sub.add_parser(
        "sweep",
        help="run every variant x trial of a preset or a config",
        formatter_class=HelpFormatter,
    )
    source = sweep.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset name (see `minievo presets`)")
    source.add_argument("--config", type=Path, help="one configuration; runs its `trials` seeds")
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override on every variant (e.g. epochs=4); repeatable",
    )
    sweep.add_argument("--out", type=Path, required=True, help="sweep folder (resumable)")
    _add_sweep_options(sweep)

    report = sub.add_parser("report", help="report.md, CSV files and figures of a sweep folder")
    report.add_argument(
        "folder",
        type=Path,
        help="a sweep folder (finished, running or failed), or a folder of the published "
        "code's trial_*_{variant}_{timestamp} folders",
    )
    report.add_argument("--out", type=Path, help="where to write (default FOLDER/report)")

    reproduce = sub.add_parser(
        "reproduce",
        help="the papers' main comparison: sweep, then report",
        description=REPRODUCE_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    reproduce.add_argument("--epochs", type=int, help="epochs per trial (default 400)")
    reproduce.add_argument(
        "--out",
        type=Path,
        default=Path("runs/main_comparison"),
        help="sweep folder (default runs/main_comparison)",
    )
    reproduce.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override on every variant; repeatable",
    )
    _add_sweep_options(reproduce, default_trials=None)


def _study_variants(preset, config_file, trials, overrides):
    from .experiments.config import Config
    from .experiments.presets import expand_preset, preset_variant_names

    if preset:
        variants = expand_preset(preset, trials=trials, overrides=overrides)
        return variants, preset_variant_names(preset, variants)
    # the same rule as `minievo run --config`: the file's keys on top of the default job
    config = Config.from_file(config_file, defaults=DEFAULT_JOB, label="default job")
    changes = {**overrides, **({"trials": trials} if trials else {})}
    if "plugins" in changes:  # the file's plug-ins stay; --plugin adds to them
        changes["plugins"] = list(config.plugins) + [
            p for p in changes["plugins"] if p not in config.plugins
        ]
    return [config.replace(**changes) if changes else config], None


def _run_study_sweep(args, variants, names, out: Path) -> int:
    """Run the sweep as the flags say; prints a summary; 0 when every job is done."""
    from .experiments.config import ConfigError
    from .experiments.sweep import expand_trials, next_free_folder, run_sweep

    if args.trials is not None and args.trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {args.trials}")
    if args.workers < 1 or args.threads < 1:
        raise ConfigError(
            f"--workers and --threads must be >= 1, got {args.workers}, {args.threads}"
        )
    if args.scheduler and args.scheduler != "local" and (args.workers, args.threads) != (1, 1):
        raise ConfigError(
            f"--workers/--threads do not apply to the running scheduler "
            f"{args.scheduler} (its workers are started with it); drop them, "
            f"or use --scheduler local"
        )
    if args.new_folder:
        from .experiments.sweep import SweepMismatchError, check_folder

        try:
            if out.exists():
                check_folder(expand_trials(variants, names), out)
        except SweepMismatchError:
            out = next_free_folder(out)
    if args.scheduler:  # a malformed address is refused before anything starts
        from .experiments.sweep import check_scheduler_address

        check_scheduler_address(args.scheduler)
    total = len(expand_trials(variants, names))
    print(f"{len(variants)} variant(s), {total} job(s) -> {out}", file=sys.stderr)
    args.sweep_folder = out
    client = None
    if args.scheduler:
        from .experiments.sweep import dask_client

        client = dask_client(args.scheduler, args.workers, args.threads)
    from .experiments.provenance import record_command

    try:
        outcome = run_sweep(
            variants,
            out,
            names=names,
            workers=args.workers,
            threads=args.threads,
            progress=_switch(args, "progress") is not False,
            executor=client.get_executor() if client else None,
        )
    except (KeyboardInterrupt, SystemExit):
        record_command(out, args.argv)  # an interrupted sweep ran too: name its command
        raise
    finally:
        if client is not None:
            cluster = client.cluster if args.scheduler == "local" else None
            client.close()
            if cluster is not None:
                cluster.close()
    record_command(out, args.argv)  # the report names the command and the code
    print(outcome.summary(), file=sys.stderr)
    print(f"results: {out / 'results.jsonl'}")
    args.sweep_folder = out
    return 1 if outcome.failed else 0


def _study_overrides(args) -> dict:
    """``--set`` pairs, plus ``--backend`` and ``--plugin`` when given.

    The plug-ins are imported here first (so that ``--set prune_method=NAME`` and
    a ``--config`` naming their operator are accepted) and recorded in every
    job's ``plugins``, which each job's process imports again.
    """
    from .experiments.config import ConfigError
    from .pruning.registry import PluginError, load_plugins

    overrides = _parse_set(args.set)
    if args.backend:
        overrides["backend"] = args.backend
    if args.plugins:
        try:
            load_plugins(args.plugins)
        except PluginError as error:
            raise ConfigError(f"--plugin: {error}") from None
        given = overrides.get("plugins", [])
        overrides["plugins"] = list(args.plugins) + ([given] if isinstance(given, str) else given)
    return overrides


def cmd_sweep(args) -> int:
    variants, names = _study_variants(args.preset, args.config, args.trials, _study_overrides(args))
    return _run_study_sweep(args, variants, names, args.out)


def cmd_report(args) -> int:
    from .experiments.report import write_report

    if not args.folder.is_dir():
        raise FileNotFoundError(f"{args.folder}: no such sweep folder")
    from .experiments.provenance import command_line

    report = write_report(args.folder, args.out, command=command_line(args.argv))
    print(report.summary_line())
    print(f"report: {report.path}")
    return 0


def cmd_reproduce(args) -> int:
    from .experiments.report import write_report

    overrides = _study_overrides(args)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    variants, names = _study_variants("main_comparison", None, args.trials, overrides)
    from .experiments.provenance import command_line

    code = _run_study_sweep(args, variants, names, args.out)
    report = write_report(args.sweep_folder, command=command_line(args.argv))
    print(report.summary_line())
    print(f"report: {report.path}")
    return code


STUDY_COMMANDS = {"sweep": cmd_sweep, "report": cmd_report, "reproduce": cmd_reproduce}


if __name__ == "__main__":
    sys.exit(main())
