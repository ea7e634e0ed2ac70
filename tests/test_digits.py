"""The handwritten digits (minievo.digits, docs/datasets.md): loading, split, refusals, runs."""

import builtins

import numpy as np
import pytest

from minievo.cli import main
from minievo.data import dataset_sizes, load_or_generate
from minievo.digits import digits_split_sizes
from minievo.errors import ConfigError
from minievo.experiments.config import Config
from minievo.network import ENVIRONMENTS, autoencoder_specs, make_autoencoder

pytest.importorskip("sklearn", reason="the digits need scikit-learn: pip install -e '.[datasets]'")


@pytest.fixture(scope="module")
def digits():
    return load_or_generate("digits", seed=1)


def test_digits_rows_are_64_pixels_in_the_unit_interval(digits):
    for split in (digits.train, digits.test, digits.validation):
        assert split.dtype == np.float32 and split.shape[1] == 64
        assert split.min() == 0.0 and split.max() == 1.0
    assert np.unique(digits.train * 16 % 1).tolist() == [0.0]  # levels / 16, nothing else
    assert digits.name == "digits" and digits.n_clusters == 10 and digits.image_shape == (8, 8)


def test_split_sizes_are_three_to_one_to_one_and_stratified(digits):
    sizes = {"train": 1079, "test": 359, "validation": 359}
    assert digits_split_sizes() == sizes
    assert dataset_sizes("digits") == (1079, 64)
    for split, n in sizes.items():
        labels = getattr(digits, f"{split}_labels")
        assert labels.shape == (n,)
        counts = np.bincount(labels, minlength=10)  # (10,)
        assert counts.max() - counts.min() <= 6  # about 180 images a class, split 3:1:1
    assert np.bincount(digits.train_labels).sum() == 1079


def test_split_is_fixed_by_the_seed_and_disjoint(digits):
    again = load_or_generate("digits", seed=1)
    other = load_or_generate("digits", seed=2)
    assert np.array_equal(again.train, digits.train) and np.array_equal(again.test, digits.test)
    assert not np.array_equal(other.train, digits.train)
    rows = [set(map(bytes, s)) for s in (digits.train, digits.test, digits.validation)]
    # the bundled images hold no exact duplicate across these splits
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])


def test_digits_binary_is_thresholded_at_half_ink():
    binary = load_or_generate("digits_binary", seed=1)
    grey = load_or_generate("digits", seed=1)
    assert set(np.unique(binary.train).tolist()) == {0.0, 1.0}
    assert np.array_equal(binary.train, (grey.train >= 0.5).astype(np.float32))


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_every_environment_builds_at_64_inputs(environment):
    enc, dec = autoencoder_specs(environment, 64)
    assert enc.n_in == 64 and dec.n_out == 64
    pair = make_autoencoder(environment, 64, np.random.default_rng(0))
    assert pair.n_dim == 64


def test_config_accepts_digits_and_checks_batch_size_against_its_rows():
    assert Config(dataset_name="digits").dataset_name == "digits"
    with pytest.raises(ConfigError, match="larger than the 1079 training rows of digits"):
        Config(dataset_name="digits", batch_size=1080)


@pytest.mark.parametrize(
    "setting, message",
    [
        (
            {"dataset_name": "mnist"},
            r"'mnist' is not allowed; allowed: .*binary_clustering.*'digits'",
        ),
        ({"dataset_name": "digits", "p_one": 0.5}, "p_one: 0.5 does not apply"),
        ({"dataset_name": "digits", "noise_probability": 0.1}, "noise_probability: 0.1"),
    ],
)
def test_config_refuses_with_one_line(setting, message):
    with pytest.raises(ConfigError, match=message) as error:
        Config(**setting)
    assert "\n" not in str(error.value)


def test_missing_scikit_learn_is_a_one_line_error_and_exit_2(monkeypatch, capsys, tmp_path):
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    expected = "dataset 'digits' needs scikit-learn: pip install -e \".[datasets]\""
    with pytest.raises(ConfigError) as error:
        Config(dataset_name="digits")
    assert str(error.value) == expected
    assert main(["run", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == f"minievo: error: {expected}"


@pytest.mark.parametrize("cell_evaluation", ["ann_canonical", "lipi_simple"])
def test_tiny_runs_on_digits_learn_and_repeat(cell_evaluation, tmp_path):
    from minievo.experiments.run import run

    config = Config(
        dataset_name="digits",
        cell_evaluation=cell_evaluation,
        population_size=3,
        epochs=3,
        batch_size=32,
        learning_rate=1e-3,
        prune_method="conjunctive",  # reads the test rows
        prune_schedule="fixed",
        prune_probability=1.0,
        backend="numpy",
        progress=False,
    )
    first = run(config, tmp_path / "a").test_loss
    assert run(config, tmp_path / "b").test_loss == first  # same config and seed
    assert 0.0 < first < 0.5


def test_data_command_writes_digits_that_load_back(digits, tmp_path, capsys):
    from minievo.data import load_dataset

    path = tmp_path / "digits.npz"
    assert main(["data", "--name", "digits", "--seed", "1", "--out", str(path)]) == 0
    assert "train (1079, 64), test (359, 64)" in capsys.readouterr().out
    again = load_dataset(path)
    assert again.name == "digits" and again.image_shape == (8, 8)
    assert np.array_equal(again.train, digits.train)
    assert np.array_equal(again.validation_labels, digits.validation_labels)
