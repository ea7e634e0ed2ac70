"""One run from a configuration: data, training, and everything written to its folder.

A run folder holds::

    config.json            the full configuration (written first), with the
                           defaults it started from and every notice
    stats.jsonl            one record per epoch (canonical) or cell visit (coevolution)
    checkpoint.npz         the last resumable state (see checkpoint.py)
    final_autoencoder.npz  canonical training: the network after the last epoch
    best_autoencoder.npz   coevolution: the final center with the lowest test L1
    centers/               every center pair, when save_all_centers is set
    figures/*.png          curves drawn from stats.jsonl
    summary.json           test loss, wall time, pruned counts, the files above

``minievo run --resume DIR`` (:func:`resume`) reads ``config.json`` back and
continues from ``checkpoint.npz``; with ``epochs`` larger than the run's it
extends the run (see :func:`resume`). A folder that holds records but neither a
checkpoint nor a summary (a run killed before its first checkpoint, or run with
``checkpoint_every=0``) is started again by :func:`run`; ``force=True``
starts again over a checkpoint or a finished run too.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from ..data import dataset_sizes, load_or_generate
from ..io import FileFormatError, FolderLock, atomic_write_json, remove_stale_temporaries
from ..network import autoencoder_specs
from ..pruning import get_schedule
from ..training.canonical import train_canonical
from ..training.checkpoint import (
    CHECKPOINT_FILE,
    checkpoint_progress,
    checkpoint_records,
    checkpoint_state,
    drop_checkpoint,
    verify_checkpoint,
)
from ..training.coevolution import train_coevolution
from ..training.lockstep import train_lockstep
from ..training.progress import compile_notice
from ..training.records import STATS_FILE, check_stats, pruned_counts, read_stats
from ..training.variants import variant_of
from .config import Config, ConfigError

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
BEST_FILE = "best_autoencoder.npz"  # coevolution: best final center on the test set
FINAL_FILE = "final_autoencoder.npz"  # canonical: the one network after the last epoch
#: Bytes held per parameter of every center: parameters, mask, gradient and
#: two Adam moments, float32 each (minievo.network.MLP).
BYTES_PER_PARAM = 5 * 4

# matplotlib is not thread-safe: runs sharing a process (a thread pool sweep,
# synchronous workers) draw their figures one at a time.
_PLOT_LOCK = threading.Lock()


def default_out_dir() -> Path:
    """``runs/run-YYYYmmdd-HHMMSS`` under the working folder."""
    return Path("runs") / time.strftime("run-%Y%m%d-%H%M%S")


def load_dataset_for(config: Config):
    """The dataset a config names, generated into the cache on first use."""
    return load_or_generate(
        config.dataset_name,
        cache_dir=config.data_dir,
        seed=config.effective_data_seed,
        noise_probability=config.noise_probability,
        p_one=config.p_one,
    )


def network_file(config: Config) -> str:
    """The saved network's file name: what it is, best or final."""
    return FINAL_FILE if config.is_canonical else BEST_FILE


def run(
    config: Config,
    out_dir=None,
    *,
    resume: bool = False,
    workers: int = 1,
    force: bool = False,
    notify=None,
    figures: bool = True,
    dataset=None,
):
    """Train as ``config`` says and write the run folder; returns a ``RunResult``.

    The run holds the folder's lock (:class:`~minievo.io.FolderLock`) while it
    writes: a second writer on the same folder is refused
    (:class:`~minievo.io.FolderInUseError`, naming the holder's process id).

    Parameters
    ----------
    config : Config
    out_dir : path, optional
        Run folder; ``None`` writes nothing (records, checkpoints, figures off).
    resume : bool
        Continue the run in ``out_dir`` from its checkpoint.
    workers : int
        Threads for the cells of an epoch (``update="synchronous"`` only;
        more than one with the asynchronous update is refused).
    force : bool
        Start again in a folder that holds a checkpoint or a finished run.
    notify : callable, optional
        Called with one line for each thing the user should know (a folder
        started again, kernels compiling).
    figures : bool
        Draw the run's figures (``figures/*.png``); a sweep of many tiny jobs
        may skip them (``minievo report`` draws the study's).
    dataset : Dataset, optional
        The dataset ``config`` names, already loaded (by :func:`resume`'s checks).
    """
    notify = notify or (lambda line: None)
    check_workers(config, workers)
    check_memory(config)
    check_scale(config)
    if out_dir is None:
        dataset = dataset if dataset is not None else load_dataset_for(config)
        return train(config, dataset, None, resume=resume, workers=workers, notify=notify)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(20, "not a folder", str(out_dir))
    with FolderLock(out_dir, "run folder"):  # one writer: held until the outputs are written
        if not resume:
            prepare_new_folder(out_dir, force, notify)
            config.save(out_dir / CONFIG_FILE)
        dataset = dataset if dataset is not None else load_dataset_for(config)
        result = train(config, dataset, out_dir, resume=resume, workers=workers, notify=notify)
        write_outputs(config, result, out_dir, figures=figures)
        if not config.keep_checkpoint:  # finished: the results are written
            drop_checkpoint(out_dir)
    return result


def train(config: Config, dataset, out_dir, *, resume: bool, workers: int, notify):
    """Hand the run to its training loop: lockstep on the GPU, canonical or coevolution."""
    if config.backend == "cuda":  # trials on the device: training/lockstep.py
        if workers != 1:
            raise ConfigError(
                f"workers={workers}: backend 'cuda' runs the cells on the GPU; allowed: workers=1"
            )
        return train_lockstep([(config, out_dir)], dataset, resume=resume)[0]
    compiling = compile_notice(config.backend)
    if compiling:
        notify(compiling)
    if config.is_canonical:
        return train_canonical(config, dataset, out_dir, resume=resume)
    return train_coevolution(config, dataset, out_dir, resume=resume, workers=workers)


def check_workers(config: Config, workers: int) -> None:
    """Refuse ``workers`` > 1 where it cannot apply (asynchronous, canonical, all_vs_all)."""
    if workers < 1:
        raise ConfigError(
            f"workers (minievo run --threads): {workers} is out of range; allowed: integers >= 1"
        )
    if workers == 1:
        return
    if config.is_canonical:
        raise ConfigError(
            f"workers={workers} (--threads) with cell_evaluation=ann_canonical: canonical "
            "training has one network; allowed: workers=1"
        )
    if config.update != "synchronous":
        raise ConfigError(
            f"workers={workers} (--threads) with update={config.update!r}: the cells of an "
            "asynchronous epoch depend on each other; --update synchronous "
            "uses workers"
        )
    if variant_of(config).all_pairs:
        raise ConfigError(
            f"workers={workers} (--threads) with cell_evaluation=all_vs_all: its visits "
            "train shared networks; allowed: workers=1"
        )


def estimate_memory(config: Config) -> int:
    """Bytes the population's networks need (parameters, masks, gradients, Adam moments)."""
    _, n_dim = dataset_sizes(config.dataset_name)
    n_params = sum(spec.n_params for spec in autoencoder_specs(config.environment, n_dim))
    return config.population_size * n_params * BYTES_PER_PARAM


def available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes, or None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(config: Config) -> None:
    """Refuse a population whose networks alone would not fit in the available memory."""
    need, have = estimate_memory(config), available_memory()
    if have is not None and need > have:
        raise ConfigError(
            f"population_size={config.population_size}: the networks alone need about "
            f"{need / 2**30:.1f} GiB and {have / 2**30:.1f} GiB of memory is available; "
            "use a smaller population_size or dataset"
        )


#: Bytes of one line of ``stats.jsonl`` (about 350 measured; an upper bound here).
BYTES_PER_RECORD = 400
#: Multiply-adds per second one core sustains in the training step (a low estimate:
#: the default job's 2.4e11 multiply-adds take about 30 s with the Numba kernels).
MULTIPLY_ADDS_PER_S = 2e9
#: A run estimated beyond either limit is refused unless :data:`FORCE_VARIABLE` is set.
MAX_ESTIMATED_SECONDS = 30 * 24 * 3600
MAX_ESTIMATED_BYTES = 2**40
FORCE_VARIABLE = "MINIEVO_ALLOW_HUGE_RUNS"


def estimate_cost(config: Config) -> tuple[float, int]:
    """``(seconds, bytes of records)`` a run of ``config`` takes, roughly (one core).

    Seconds: each epoch trains every cell on every training row (forward and
    backward, 3 multiply-adds per parameter, once per neighbour in the
    coevolution); bytes: one record per epoch (canonical) or per cell visit.
    """
    rows, n_dim = dataset_sizes(config.dataset_name)
    n_params = sum(spec.n_params for spec in autoencoder_specs(config.environment, n_dim))
    cells = 1 if config.is_canonical else config.population_size
    neighbours = 1 if config.is_canonical else 2 * config.radius + 1
    seconds = config.epochs * cells * neighbours * rows * n_params * 3 / MULTIPLY_ADDS_PER_S
    return seconds, config.epochs * cells * BYTES_PER_RECORD


def check_scale(config: Config) -> None:
    """Refuse a run whose estimated time or record size is absurd (``epochs`` of 10^12),
    unless the environment variable :data:`FORCE_VARIABLE` is ``1``."""
    if os.environ.get(FORCE_VARIABLE) == "1":
        return
    seconds, size = estimate_cost(config)
    if seconds <= MAX_ESTIMATED_SECONDS and size <= MAX_ESTIMATED_BYTES:
        return
    raise ConfigError(
        f"epochs={config.epochs}, population_size={config.population_size}: the run would "
        f"take about {seconds / 86400:.3g} days on one core and write about "
        f"{size / 2**30:.3g} GiB of records (limits: {MAX_ESTIMATED_SECONDS // 86400} days, "
        f"{MAX_ESTIMATED_BYTES // 2**30} GiB); use fewer epochs, or set {FORCE_VARIABLE}=1 "
        "to run it anyway"
    )


def prepare_new_folder(out_dir: Path, force: bool, notify) -> None:
    """Make ``out_dir`` ready for a new run: refuse to overwrite results, clear a dead start.

    A folder with records but neither a checkpoint nor a summary cannot be
    resumed and holds nothing worth keeping: its files are removed and the
    run starts again (said through ``notify``). A checkpoint or a summary is
    kept unless ``force``.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(20, "not a folder", str(out_dir))
    has_run = (out_dir / STATS_FILE).exists() or (out_dir / CONFIG_FILE).exists()
    if not has_run:
        return
    finished = (out_dir / SUMMARY_FILE).exists()
    resumable = (out_dir / CHECKPOINT_FILE).exists()
    if (finished or resumable) and not force:
        what = "a finished run" if finished else "a run with a checkpoint"
        extend = " --epochs N (more epochs)" if finished else ""
        raise FileExistsError(
            f"{out_dir} already holds {what}; continue it with "
            f"`minievo run --resume {out_dir}{extend}`, start it again with "
            f"--force, or choose another --out"
        )
    why = "--force" if (finished or resumable) else "it has no checkpoint and no summary"
    notify(f"{out_dir}: starting the run again in this folder ({why})")
    clear_run_folder(out_dir)


def clear_run_folder(out_dir: Path) -> None:
    """Remove what a run writes in ``out_dir`` (and nothing else)."""
    for name in (CONFIG_FILE, STATS_FILE, CHECKPOINT_FILE, SUMMARY_FILE, BEST_FILE, FINAL_FILE):
        (out_dir / name).unlink(missing_ok=True)
    for folder in ("figures", "centers"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)
    remove_stale_temporaries(out_dir)


def resume(
    run_dir,
    *,
    workers: int = 1,
    epochs: int | None = None,
    notify=None,
    progress: bool | None = None,
    figures: bool = True,
):
    """Continue the interrupted run in ``run_dir`` with the configuration saved there.

    Parameters
    ----------
    epochs : int, optional
        A new total number of epochs, larger than the epochs already done.
        The run continues as if it had been configured with ``epochs`` from
        its checkpoint on: the pruning schedule's ``T`` and canonical
        training's learning-rate steps follow the new total from that epoch,
        so the result differs from a fresh run of ``epochs`` epochs. The new
        total and a notice saying so are written to ``config.json``.
    progress : bool, optional
        Override the saved ``progress`` (display only, not saved).
    """
    run_dir = Path(run_dir)
    notify = notify or (lambda line: None)
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir() or not path.exists():
        raise ConfigError(f"{run_dir} is not a run folder: {CONFIG_FILE} is missing")
    with FolderLock(run_dir, "run folder"):
        # verify before touching: everything the run will read, before any byte changes
        config, dataset = verify_run_folder(run_dir)
        done = checkpoint_progress(run_dir)
        changed = extend_config(config, run_dir, epochs) if epochs is not None else config
        check_scale(changed)
        removed = remove_stale_temporaries(run_dir)
        if removed:
            notify(f"{run_dir}: removed {len(removed)} temporary file(s) of an interrupted write")
        if changed.epochs != config.epochs:
            config = changed
            (run_dir / SUMMARY_FILE).unlink(missing_ok=True)  # no longer the run's summary
            config.save(path)
            notify(config.notices[-1])
        elif epochs is None and done >= config.epochs:
            notify(
                f"{run_dir}: the run has done all its {config.epochs} epochs; nothing to "
                "train (extend it with --epochs N); writing its outputs again"
            )
        if progress is not None:
            config = config.replace(progress=progress)
        return run(
            config,
            run_dir,
            resume=True,
            workers=workers,
            notify=notify,
            figures=figures,
            dataset=dataset,
        )


def verify_run_folder(run_dir: Path):
    """Read and check what resuming ``run_dir`` needs; returns ``(config, dataset)``.

    ``config.json``, every array of the checkpoint (:func:`verify_checkpoint`),
    the checkpoint against the configuration, ``stats.jsonl`` against the
    length and the record count the checkpoint recorded (:func:`check_stats`,
    :func:`~minievo.training.checkpoint.checkpoint_records`), and the dataset.
    Writes nothing in the folder; raises an error naming the file and what is
    wrong with it.
    """
    config = Config.from_file(run_dir / CONFIG_FILE)
    if not (run_dir / CHECKPOINT_FILE).exists():
        raise ConfigError(
            f"{run_dir} has no checkpoint (killed before its first one, or checkpoint_every=0): "
            f"nothing to resume; `minievo run --config {run_dir / CONFIG_FILE} --out {run_dir}` "
            "starts it again in the same folder"
        )
    try:
        state = verify_checkpoint(run_dir)
        check_checkpoint_matches(config, run_dir, state)
        records = checkpoint_records(run_dir, state, config.is_canonical)
        check_stats(run_dir, state["stats_bytes"], records)
    except FileFormatError as err:
        raise FileFormatError(
            f"{err}; the folder is left as it was (start the run again with "
            f"`minievo run --config {run_dir / CONFIG_FILE} --out {run_dir} --force`)"
        ) from None
    return config, load_dataset_for(config)


def check_checkpoint_matches(config: Config, run_dir: Path, state: dict | None = None) -> None:
    """Refuse a checkpoint written by another variant, seed or population than ``config.json``."""
    path = run_dir / CHECKPOINT_FILE
    state = checkpoint_state(run_dir) if state is None else state
    for key, expected in (
        ("variant", config.cell_evaluation),
        ("seed", config.seed),
        ("population_size", config.population_size),
    ):
        if key in state and state[key] != expected:
            raise ConfigError(
                f"{path}: checkpoint has {key}={state[key]!r} but "
                f"{run_dir / CONFIG_FILE} has {expected!r}; cannot resume"
            )


def extend_config(config: Config, run_dir: Path, epochs: int) -> Config:
    """``config`` with a new total of ``epochs``, checked against the epochs already done."""
    done = checkpoint_progress(run_dir)
    if not isinstance(epochs, int) or epochs <= done:
        raise ConfigError(
            f"--epochs {epochs}: {run_dir} has already done {done} epochs; "
            f"allowed: more than {done} (its config has {config.epochs})"
        )
    if epochs == config.epochs:
        return config
    if config.pruning_enabled and get_schedule(config.prune_schedule).rewinds:
        raise ConfigError(
            f"--epochs {epochs}: the rounds of {config.prune_schedule!r} are fixed by the "
            f"run's epochs ({config.epochs}) and some have been trained; allowed: "
            f"{config.epochs} (start a new run for more epochs)"
        )
    notice = (
        f"epochs changed from {config.epochs} to {epochs} on resume at epoch {done}: "
        f"from there the pruning schedule and the learning-rate steps follow "
        f"T = {epochs}, so the result differs from a fresh {epochs}-epoch run"
    )
    changed = config.replace(epochs=epochs)
    return Config.from_dict(
        {
            **changed.to_dict(),
            "defaults": config.defaults,
            "notices": list(config.notices) + [notice],
        }
    )


def pruned_summary(best, mask_mode: str) -> dict:
    """The returned pair's pruning counts under the records' names (``records.pruned_counts``)."""
    return {
        "mask_mode": mask_mode,
        **pruned_counts(best, mask_mode),
        "n_pruned_definition": (
            "zeros at the network's last pruning event (regrow masks, as published)"
            if mask_mode == "regrow"
            else "entries whose mask is 0 (persistent masks)"
        ),
    }


def write_outputs(config: Config, result, out_dir: Path, *, figures: bool = True) -> dict:
    """Save the returned network, the figures (unless ``figures`` is False) and ``summary.json``."""
    network = network_file(config)
    result.best.save(out_dir / network)
    records = read_stats(out_dir)
    with _PLOT_LOCK:
        if not figures:
            drawn = []
        elif config.is_canonical:
            from .plots import plot_canonical

            drawn = plot_canonical(records, out_dir, config.mask_mode)
        else:
            from .coevolution_plots import plot_coevolution

            drawn = plot_coevolution(records, out_dir / "figures", config.mask_mode)
    best = result.best
    summary = {
        "cell_evaluation": config.cell_evaluation,
        "epochs": result.epochs,
        "network": (
            "final network (after the last epoch)"
            if config.is_canonical
            else "best center (the final center with the lowest test L1)"
        ),
        "defaults": config.defaults,
        "notices": list(config.notices),
        "test_loss": result.test_loss,
        "wall_time_s": result.wall_time,
        "n_records": len(records),
        **pruned_summary(best, config.mask_mode),
        "n_params_encoder": best.encoder.n_params,
        "n_params_decoder": best.decoder.n_params,
        "files": {
            "config": CONFIG_FILE,
            "stats": "stats.jsonl",
            "network": network,
            "figures": [str(Path(f).relative_to(out_dir)) for f in drawn],
        },
    }
    atomic_write_json(out_dir / SUMMARY_FILE, summary)
    return summary
