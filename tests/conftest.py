"""Shared fixtures: tiny datasets and configs so every test runs in seconds."""

import numpy as np
import pytest

from minievo.data import generate_binary_clustering
from minievo.experiments.config import Config

TINY_DATASET = "binary_clustering_3_10_40"


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
