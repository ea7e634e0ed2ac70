"""Cadences: checkpoints (by elapsed time, by epochs, at the end, on SIGINT; resume stays
exact) and the records' test loss."""

import functools
import json
import os
import signal

import numpy as np
import pytest
from conftest import tiny_config

from minievo.experiments.config import Config, ConfigError
from minievo.experiments.run import run
from minievo.io import load_npz
from minievo.training import coevolution as co
from minievo.training import epochs as ep
from minievo.training import population as pop
from minievo.training import visit as cv
from minievo.training.checkpoint import CheckpointCadence
from minievo.training.records import read_stats

VOLATILE = ("timestamp", "wall_time")


# this module's tiny runs: 4 epochs, random pruning at probability 0.5
tiny = functools.partial(tiny_config, epochs=4, prune_method="random", prune_probability=0.5)


def stable(records):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def saved_state(folder):
    return json.loads(str(load_npz(folder / "checkpoint.npz")["state"]))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_cadence_by_time_by_epochs_and_at_the_end():
    clock = FakeClock()
    by_time = CheckpointCadence(every=0, seconds=60.0, epochs=10, clock=clock)
    clock.now = 59.0
    assert not by_time.due(1)
    clock.now = 60.0
    assert by_time.due(2)
    by_time.done()
    clock.now = 100.0
    assert not by_time.due(3)  # 40 s since the last one
    assert by_time.due(3, stopping=True)  # a signal asks for one now
    assert by_time.due(10)  # the last epoch, always
    by_epochs = CheckpointCadence(every=3, seconds=0.0, epochs=10, clock=clock)
    assert [e for e in range(1, 11) if by_epochs.due(e)] == [3, 6, 9, 10]
    never = CheckpointCadence(every=0, seconds=0.0, epochs=10, clock=clock)
    assert not any(never.due(e, stopping=True) for e in range(1, 11))


def test_default_is_by_time_and_bad_values_are_refused():
    config = Config()
    assert (config.checkpoint_every, config.checkpoint_seconds, config.keep_checkpoint) == (
        0,
        60.0,
        True,
    )
    with pytest.raises(ConfigError, match="checkpoint_seconds"):
        Config(checkpoint_seconds=-1)


def test_time_based_checkpoints_resume_bit_for_bit_without_moments(dataset, tmp_path, monkeypatch):
    # checkpoint_seconds tiny: every epoch boundary is past the deadline, so each writes one
    config = tiny(checkpoint_every=0, checkpoint_seconds=1e-9)
    assert config.optimizer_state == "fresh"
    straight = co.train_coevolution(config, dataset, tmp_path / "straight")
    saved = load_npz(tmp_path / "straight" / "checkpoint.npz")
    assert not any(key.endswith(("_adam_m", "_adam_v")) for key in saved)  # fresh: no moments
    assert any(key.endswith("_params") for key in saved)

    original = cv.visit_cell

    def dies_in_epoch_2(config, dataset, centers, cell, lr, epoch, engine, streams):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(config, dataset, centers, cell, lr, epoch, engine, streams)

    monkeypatch.setattr(ep, "visit_cell", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        co.train_coevolution(config, dataset, tmp_path / "resumed")
    assert saved_state(tmp_path / "resumed")["next_epoch"] == 2
    monkeypatch.setattr(ep, "visit_cell", original)
    resumed = co.train_coevolution(config, dataset, tmp_path / "resumed", resume=True)
    assert stable(read_stats(tmp_path / "resumed")) == stable(read_stats(tmp_path / "straight"))
    assert resumed.test_loss == straight.test_loss
    np.testing.assert_array_equal(resumed.best.encoder.params, straight.best.encoder.params)


def test_a_long_time_cadence_writes_only_the_last_epoch(dataset, tmp_path, monkeypatch):
    config = tiny(checkpoint_every=0, checkpoint_seconds=3600)
    writes = []
    original = pop.checkpoint_population
    monkeypatch.setattr(
        co,
        "checkpoint_population",
        lambda out, w, population, *a: (
            writes.append(population.next_epoch),
            original(out, w, population, *a),
        ),
    )
    co.train_coevolution(config, dataset, tmp_path)
    assert writes == [4]


def test_sigint_finishes_the_epoch_checkpoints_and_resumes_exactly(dataset, tmp_path, monkeypatch):
    config = tiny(checkpoint_every=0, checkpoint_seconds=3600)
    straight = co.train_coevolution(config, dataset, tmp_path / "straight")
    original = cv.visit_cell

    def signals_in_epoch_1(config, dataset, centers, cell, lr, epoch, engine, streams):
        if epoch == 1 and cell == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return original(config, dataset, centers, cell, lr, epoch, engine, streams)

    monkeypatch.setattr(ep, "visit_cell", signals_in_epoch_1)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        co.train_coevolution(config, dataset, tmp_path / "resumed")
    assert saved_state(tmp_path / "resumed")["next_epoch"] == 2  # epoch 1 was finished
    assert len(read_stats(tmp_path / "resumed")) == 6
    assert signal.getsignal(signal.SIGINT) is before  # handler given back
    monkeypatch.setattr(ep, "visit_cell", original)
    resumed = co.train_coevolution(config, dataset, tmp_path / "resumed", resume=True)
    assert stable(read_stats(tmp_path / "resumed")) == stable(read_stats(tmp_path / "straight"))
    assert resumed.test_loss == straight.test_loss


def test_keep_checkpoint_false_drops_it_once_the_run_is_written(tmp_path, data_dir):
    base = dict(
        dataset_name="binary_clustering_3_10_20",
        data_dir=str(data_dir),
        epochs=2,
        population_size=3,
        batch_size=4,
        progress=False,
        backend="numpy",
    )
    run(Config(**base), tmp_path / "kept")
    assert saved_state(tmp_path / "kept")["next_epoch"] == 2
    run(Config(**base, keep_checkpoint=False), tmp_path / "dropped")
    assert (tmp_path / "dropped" / "summary.json").exists()
    assert not (tmp_path / "dropped" / "checkpoint.npz").exists()


def test_test_loss_every_records_it_on_its_epochs_and_the_last(dataset, tmp_path):
    co.train_coevolution(tiny(epochs=4, test_loss_every=3), dataset, tmp_path / "sparse")
    co.train_coevolution(tiny(epochs=4), dataset, tmp_path / "every")
    sparse, every = read_stats(tmp_path / "sparse"), read_stats(tmp_path / "every")
    assert {r["iteration"] for r in sparse if "test_loss" in r} == {0, 3}
    assert all("test_loss" in r for r in every)
    for a, b in zip(sparse, every):  # the cadence changes what is recorded, not the run
        if "test_loss" in a:
            assert a["test_loss"] == b["test_loss"]
        assert a["min_replacement_loss"] == b["min_replacement_loss"]


def test_canonical_records_follow_both_cadences(dataset, tmp_path):
    """Canonical training records test_loss and mean_L1/std_L1/train_L1 on their cadences too
    (each a pass over a whole data set); the cadences change what is recorded, not the run."""
    from minievo.training.canonical import train_canonical

    base = tiny(epochs=5, cell_evaluation="ann_canonical", population_size=1)
    train_canonical(base.replace(stats_every=2, test_loss_every=3), dataset, tmp_path / "sparse")
    train_canonical(base.replace(stats_every=1), dataset, tmp_path / "every")
    sparse, every = read_stats(tmp_path / "sparse"), read_stats(tmp_path / "every")
    assert [r["iteration"] for r in sparse if "test_loss" in r] == [0, 3, 4]
    for key in ("mean_L1", "std_L1", "train_L1"):
        assert [r["iteration"] for r in sparse if key in r] == [0, 2, 4]
        assert all(key in r for r in every)
    assert all("test_loss" in r for r in every)
    for a, b in zip(sparse, every, strict=True):
        assert a["min_batch_loss"] == b["min_batch_loss"]
        assert a["n_active_encoder"] == b["n_active_encoder"]
        for key in set(a) & {"test_loss", "mean_L1", "std_L1", "train_L1"}:
            assert a[key] == b[key]
