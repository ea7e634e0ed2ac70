"""Shared fixtures: tiny datasets and configs so every test runs in seconds."""

import numpy as np
import pytest

from minievo.data import generate_binary_clustering
from minievo.experiments.config import Config

TINY_DATASET = "binary_clustering_3_10_40"
TINY_RUN_DATASET = "binary_clustering_3_10_20"
# What the tiny coevolution runs of test_fidelity, test_coevolution and test_cadence share;
# each module adds its own epoch count (and anything else) through ``tiny_config``.
TINY_RUN = dict(
    dataset_name=TINY_RUN_DATASET,
    population_size=3,
    batch_size=4,
    learning_rate=1e-3,
    backend="numpy",
    progress=False,
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private dataset cache, also exported as MINIEVO_DATA_DIR."""
    path = tmp_path / "data"
    monkeypatch.setenv("MINIEVO_DATA_DIR", str(path))
    return path


@pytest.fixture
def tiny_dataset():
    return generate_binary_clustering(3, 10, 40, rng=np.random.default_rng(0))


@pytest.fixture
def canonical_config(data_dir):
    return Config.from_dict(
        {
            "cell_evaluation": "ann_canonical",
            "epochs": 4,
            "dataset_name": TINY_DATASET,
            "data_dir": str(data_dir),
            "learning_rate": 1e-3,
            "batch_size": 4,
            "progress": False,
        }
    )


@pytest.fixture(scope="module")
def dataset():
    """The dataset that ``tiny_config`` names (3 clusters of 10 examples, 20 bits, seed 0),
    built once per module: the runs only read it."""
    return generate_binary_clustering(3, 10, 20, rng=np.random.default_rng(0))


def tiny_config(*, epochs: int, **changes) -> Config:
    """The Config of a tiny run on ``dataset``: ``TINY_RUN`` with ``changes`` over it.

    ``epochs`` has no default (Config's 400 would make a tiny run long); a module fixes
    its own with ``tiny = functools.partial(tiny_config, epochs=...)``.
    """
    return Config(**{**TINY_RUN, "epochs": epochs, **changes})


def tiny_sweep_args(out, *extra) -> list[str]:
    """``minievo sweep`` arguments of a tiny one-epoch ``prune_after_base`` sweep (3 jobs of
    one trial on ``TINY_DATASET``) into ``out``, with ``extra`` options before ``--out``."""
    return [
        "sweep",
        "--preset",
        "prune_after_base",
        "--trials",
        "1",
        "--set",
        "epochs=1",
        "--set",
        f"dataset_name={TINY_DATASET}",
        "--set",
        "batch_size=4",
        *extra,
        "--out",
        str(out),
        "--no-progress",
    ]


def tiny_sweep_variants(data_dir, trials=2, epochs=2, **extra):
    """Two variants of ``lexi_threshold`` (random and conjunctive pruning) cut to a tiny
    run on ``TINY_DATASET``: population 2, batch 4, ``epochs`` epochs, ``trials`` seeds."""
    from minievo.experiments.presets import expand_preset

    return expand_preset(
        "lexi_threshold",
        trials=trials,
        overrides={
            "epochs": epochs,
            "dataset_name": TINY_DATASET,
            "data_dir": str(data_dir),
            "batch_size": 4,
            "population_size": 2,
            "progress": False,
            **extra,
        },
    )[:2]


def tiny_pruned_canonical_args(out) -> list[str]:
    """``minievo run`` arguments of a 2-epoch canonical run on ``TINY_DATASET`` that prunes
    half of every tensor at every epoch (a saved network with zeros, in seconds)."""
    return [
        "run", "--cell-evaluation", "ann_canonical", "--epochs", "2",
        "--dataset", TINY_DATASET, "--batch-size", "4",
        "--prune-method", "random", "--prune-schedule", "fixed",
        "--prune-probability", "1", "--prune-amount", "0.5",
        "--out", str(out), "--no-progress",
    ]  # fmt: skip
