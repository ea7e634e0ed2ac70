"""One run from a configuration: data, training, and everything written to its folder.

A run folder holds::

    config.json            the full configuration (written first)
    stats.jsonl            one record per epoch (canonical) or cell visit (coevolution)
    checkpoint.npz         the last resumable state (see checkpoint.py)
    best_autoencoder.npz   the returned network: weights, masks, Adam state
    centers/               every center pair, when save_all_centers is set
    figures/*.png          curves drawn from stats.jsonl
    summary.json           test loss, wall time, pruned counts, the files above

``minievo run --resume DIR`` (:func:`resume`) reads ``config.json`` back and
continues from ``checkpoint.npz``.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from ..data import load_or_generate
from ..io import atomic_write_json
from .config import Config, ConfigError
from .records import read_stats

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
BEST_FILE = "best_autoencoder.npz"

# matplotlib is not thread-safe: runs sharing a process (a thread pool sweep,
# synchronous workers) draw their figures one at a time.
_PLOT_LOCK = threading.Lock()


def default_out_dir() -> Path:
    """``runs/run-YYYYmmdd-HHMMSS`` under the working folder."""
    return Path("runs") / time.strftime("run-%Y%m%d-%H%M%S")


def load_dataset_for(config: Config):
    """The dataset a config names, generated into the cache on first use."""
    return load_or_generate(config.dataset_name, cache_dir=config.data_dir,
                            seed=config.effective_data_seed,
                            noise_probability=config.noise_probability, p_one=config.p_one)


def run(config: Config, out_dir=None, *, resume: bool = False, workers: int = 1):
    """Train as ``config`` says and write the run folder; returns a ``RunResult``.

    Parameters
    ----------
    config : Config
    out_dir : path, optional
        Run folder; ``None`` writes nothing (records, checkpoints, figures off).
    resume : bool
        Continue the run in ``out_dir`` from its checkpoint.
    workers : int
        Threads for the cells of an epoch (``update="synchronous"`` only).
    """
    if out_dir is not None:
        out_dir = Path(out_dir)
        if not resume and (out_dir / "stats.jsonl").exists():
            raise FileExistsError(f"{out_dir} already holds a run; choose another --out, "
                                  f"or continue it with --resume {out_dir}")
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            config.save(out_dir / CONFIG_FILE)
    dataset = load_dataset_for(config)
    if config.backend == "cuda":  # [lockstep/GPU] trials on the device: training/lockstep.py
        if workers != 1:
            raise ConfigError(f"workers={workers}: backend 'cuda' runs the cells on the GPU; "
                              "allowed: workers=1")
        from ..training.lockstep import train_lockstep
        result = train_lockstep([(config, out_dir)], dataset, resume=resume)[0]
    elif config.is_canonical:
        from ..training.canonical import train_canonical
        result = train_canonical(config, dataset, out_dir, resume=resume)
    else:
        from ..training.coevolution import train_coevolution
        result = train_coevolution(config, dataset, out_dir, resume=resume, workers=workers)
    if out_dir is not None:
        write_outputs(config, result, out_dir)
    return result


def resume(run_dir, *, workers: int = 1):
    """Continue the interrupted run in ``run_dir`` with the configuration saved there."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not path.exists():
        raise ConfigError(f"{run_dir} is not a run folder: {CONFIG_FILE} is missing")
    return run(Config.from_file(path), run_dir, resume=True, workers=workers)


def write_outputs(config: Config, result, out_dir: Path) -> dict:
    """Save the returned network, the figures and ``summary.json``."""
    result.best.save(out_dir / BEST_FILE)
    records = read_stats(out_dir)
    with _PLOT_LOCK:
        if config.is_canonical:
            from .plots import plot_canonical
            figures = plot_canonical(records, out_dir)
        else:
            from ..training.coevolution_plots import plot_coevolution
            figures = plot_coevolution(records, out_dir / "figures")
    best = result.best
    summary = {
        "cell_evaluation": config.cell_evaluation, "epochs": result.epochs,
        "test_loss": result.test_loss, "wall_time_s": result.wall_time,
        "n_records": len(records),
        "n_pruned_encoder": best.encoder.n_pruned, "n_pruned_decoder": best.decoder.n_pruned,
        "n_zero_encoder": best.encoder.n_zero, "n_zero_decoder": best.decoder.n_zero,
        "n_params_encoder": best.encoder.n_params, "n_params_decoder": best.decoder.n_params,
        "files": {"config": CONFIG_FILE, "stats": "stats.jsonl", "best": BEST_FILE,
                  "figures": [str(Path(f).relative_to(out_dir)) for f in figures]},
    }
    atomic_write_json(out_dir / SUMMARY_FILE, summary)
    return summary
