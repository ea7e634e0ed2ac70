"""Folders written by the published code, read as a sweep: ``minievo report`` on the papers' runs.

The published experiment runner (ALFA-group/lipizzaner-ae-prune,
``aes_lipi/utilities/gecco_25_experiments.py``) writes one folder per trial,

``trial_{i}_{variant}_{timestamp}/``, e.g.
``trial_0_ce_lipi_simple_po_5_ep_400_en_AutoencoderBinaryClustering_da_binary_clustering_10_100_1000_pr_random_pr_exponential_pr_0.5_pr_0.1_2025-01-20_10:00:00.123456``

(``{variant}`` joins ``{key[:2]}_{value}`` of the grid's axes; ``{timestamp}`` is
``%Y-%m-%d_%H:%M:%S.%f``), holding ``params.json`` (the trial's flat
parameters) and ``stats.jsonl`` (one record per cell visit, written by
``plot_stats`` at the end of the run). :func:`read_published` reads the
folders directly under a root into report variants, grouped by ``{variant}``
and ordered by it, trials by ``rng_seed``; ``minievo report ROOT`` uses it when
``ROOT`` has no ``jobs.json`` but has such folders.

Keys read
---------
``params.json``: every key, through :meth:`Config.from_dict
<minievo.experiments.config.Config.from_dict>` (the published names and
values: ``environment`` class names, ``prune_method`` ``"lexicase"``,
``"activation"``, ``"None"``, ``rng_seed``, ``no_shuffle_data``,
``keep_pruned_zero``; keys that do not apply, such as ``timestamp``,
``output_dir`` or ``visualize``, are ignored); ``rng_seed`` is the trial's seed,
``environment`` and ``dataset_name`` give the parameter count.

``stats.jsonl``: ``iteration`` and ``node_idx`` of every record; at the last
epoch ``mean_L1`` (the final L1, mean over cells) and ``n_pruned_encoder``,
``n_pruned_decoder`` (the published-count capacity, and the capacity: the
published code records no non-zero count); ``mean_L1``, ``n_pruned_*`` of
every epoch for the curves; ``timestamp`` (first to last: the wall time).
Other keys (``learning_rate``, ``min_selection_loss``, ``min_replacement_loss``,
``fe_cnt``, ``id``) are not used. ``test_loss`` is not read: the published
code computes it on the first test batch of each cell, not on the returned
network and the whole test set (docs/algorithm.md §6), so the report's test L1
is left empty for these folders, and so are the compact network's numbers
(structural capacity, live units, FLOPs), which need the weights.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..io import FileFormatError
from ..network import autoencoder_specs
from .config import Config, ConfigError

__all__ = ["PARAMS_FILE", "STATS_FILE", "TRIAL_FOLDER", "is_published_folder", "read_published"]

PARAMS_FILE = "params.json"
STATS_FILE = "stats.jsonl"
#: ``trial_{i}_{variant}_{timestamp}``
TRIAL_FOLDER = re.compile(
    r"^trial_(?P<trial>\d+)_(?P<variant>.+)_(?P<timestamp>\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}(\.\d+)?)$"
)


def _trial_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and TRIAL_FOLDER.match(p.name))


def is_published_folder(root) -> bool:
    """Whether ``root`` holds trial folders of the published code (``trial_*_*_{timestamp}``
    with a ``params.json``)."""
    root = Path(root)
    return root.is_dir() and any((p / PARAMS_FILE).exists() for p in _trial_folders(root))


def _read_records(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise FileFormatError(f"{path}: line {number} is not JSON") from None
            if not isinstance(record, dict) or "iteration" not in record:
                raise FileFormatError(f"{path}: line {number} has no 'iteration'")
            records.append(record)
    if not records:
        raise FileFormatError(f"{path}: no records")
    return records


def _read_trial(folder: Path, config: Config, job: str):
    from .report import METRICS, Trial, _active, _curves, _last_epoch_records, _mean

    records = _read_records(folder / STATS_FILE)
    encoder, decoder = autoencoder_specs(config.environment, _n_dim(config))
    n_enc, n_dec = encoder.n_params, decoder.n_params
    total = n_enc + n_dec
    last = _last_epoch_records(records)
    cells_l1 = [r["mean_L1"] for r in last if r.get("mean_L1") is not None]
    active_enc = _mean(_active(r, "encoder", n_enc) for r in last)
    active_dec = _mean(_active(r, "decoder", n_dec) for r in last)
    published = _mean(
        1 - (r["n_pruned_encoder"] + r["n_pruned_decoder"]) / total
        for r in last
        if r.get("n_pruned_encoder") is not None and r.get("n_pruned_decoder") is not None
    )
    for r in records:
        r["_active_encoder"] = _active(r, "encoder", n_enc)
        r["_active_decoder"] = _active(r, "decoder", n_dec)
    times = [r["timestamp"] for r in records if isinstance(r.get("timestamp"), (int, float))]
    metrics = dict.fromkeys(METRICS)  # the compact-network metrics need weights: none here
    metrics |= {
        "final_L1": _mean(cells_l1),
        "test_L1": None,
        "capacity": None
        if active_enc is None or active_dec is None
        else (active_enc + active_dec) / total,
        "capacity_published": published,
        "active_encoder": active_enc,
        "active_decoder": active_dec,
        "wall_time_s": (max(times) - min(times)) if len(times) > 1 else None,
        "published_params": None if published is None else published * total,
        "n_params": total,
    }
    curves = _curves(records, ("mean_L1", "_active_encoder", "_active_decoder"))
    return Trial(job, config.seed, metrics, cells_l1, curves)


def _n_dim(config: Config) -> int:
    from ..data import dataset_sizes

    return dataset_sizes(config.dataset_name)[1]


def read_published(root) -> list:
    """The published code's trial folders under ``root`` as report variants.

    A folder without ``params.json`` is skipped; one without ``stats.jsonl``
    (a run that did not finish: the published code writes it at the end) is
    listed as missing, one with unreadable records as unreadable, with the
    reason; a ``params.json`` that is not a published configuration raises
    :class:`~minievo.io.FileFormatError` naming it.
    """
    from .report import Variant

    root = Path(root)
    variants: dict[str, Variant] = {}
    for folder in _trial_folders(root):
        params_path = folder / PARAMS_FILE
        if not params_path.exists():
            continue
        name = TRIAL_FOLDER.match(folder.name)["variant"]
        job = folder.name
        try:
            params = json.loads(params_path.read_text(encoding="utf-8"))
            if not isinstance(params, dict):
                raise ValueError("not a JSON object")
            config = Config.from_dict({**params, "trials": 1})
        except (OSError, ValueError, ConfigError) as err:
            raise FileFormatError(f"{params_path}: {err}") from None
        variant = variants.setdefault(name, Variant(name, config.to_dict()))
        if not (folder / STATS_FILE).exists():
            variant.jobs.append((job, config.seed, "missing stats.jsonl (not finished)", None))
            continue
        try:
            variant.trials.append(_read_trial(folder, config, job))
        except (OSError, ValueError, KeyError, FileFormatError) as err:
            variant.jobs.append((job, config.seed, "unreadable", f"{type(err).__name__}: {err}"))
            continue
        variant.jobs.append((job, config.seed, "done", None))
    for variant in variants.values():
        variant.trials.sort(key=lambda t: t.seed)
        variant.jobs.sort(key=lambda j: j[1])
    return [variants[n] for n in sorted(variants)]
