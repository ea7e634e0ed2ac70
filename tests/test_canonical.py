"""Canonical training (docs/algorithm.md §3): records, reproducibility, resume, NaN handling."""

import json

import numpy as np
import pytest

from minievo.engine import Engine, NonFiniteLossError
from minievo.experiments.config import ConfigError
from minievo.experiments.run import resume, run
from minievo.network import Autoencoder
from minievo.training.canonical import step_learning_rate
from minievo.training.records import read_stats


def _stable(records):
    return [{k: v for k, v in r.items() if k not in ("timestamp", "wall_time")} for r in records]


def test_step_learning_rate_schedule():
    # 8 epochs: multiply by 0.1 every 2 epochs
    assert [step_learning_rate(1.0, e, 8) for e in (0, 1, 2, 3, 7)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.001]
    )
    assert step_learning_rate(1.0, 2, 3) == pytest.approx(0.01)  # epochs // 4 == 0 -> every epoch


def test_run_writes_records_config_network_and_figure(canonical_config, tmp_path):
    result = run(canonical_config, tmp_path / "run")
    out = tmp_path / "run"
    records = read_stats(out)
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    for key in (
        "learning_rate",
        "min_batch_loss",
        "mean_L1",
        "std_L1",
        "test_loss",
        "n_pruned_encoder",
        "n_pruned_decoder",
        "fe_cnt",
        "timestamp",
    ):
        assert key in records[0]
    assert json.loads((out / "config.json").read_text())["epochs"] == 4
    assert (out / "figures" / "loss.png").stat().st_size > 1000
    saved = Autoencoder.load(out / "final_autoencoder.npz")
    assert np.array_equal(saved.encoder.params, result.best.encoder.params)
    # the returned test loss is the saved network's L1 on the whole test set
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_loss"] == pytest.approx(result.test_loss)


def test_training_reduces_the_loss(canonical_config):
    result = run(canonical_config.replace(epochs=30, learning_rate=3e-3), None)
    start = run(canonical_config.replace(epochs=1, learning_rate=1e-12), None)
    assert result.test_loss < start.test_loss - 0.05


def test_same_seed_same_numbers_different_seed_different(canonical_config, tmp_path):
    a = run(canonical_config, tmp_path / "a")
    b = run(canonical_config, tmp_path / "b")
    c = run(canonical_config.replace(seed=2), tmp_path / "c")
    assert _stable(read_stats(tmp_path / "a")) == _stable(read_stats(tmp_path / "b"))
    assert np.array_equal(a.best.encoder.params, b.best.encoder.params)
    assert not np.array_equal(a.best.encoder.params, c.best.encoder.params)


def test_numpy_and_numba_backends_agree(canonical_config):
    a = run(canonical_config.replace(backend="numpy"), None)
    b = run(canonical_config.replace(backend="numba"), None)
    np.testing.assert_allclose(a.best.decoder.params, b.best.decoder.params, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize(
    "prune",
    [
        {"prune_method": "random", "prune_schedule": "fixed", "prune_probability": 1.0},
        {"prune_method": "variance", "prune_schedule": "fixed", "prune_probability": 1.0},
        {"prune_method": "conjunctive", "prune_schedule": "fixed", "prune_probability": 1.0},
    ],
)
def test_resume_equals_uninterrupted(canonical_config, tmp_path, monkeypatch, prune):
    config = canonical_config.replace(checkpoint_every=1, **prune)  # after every epoch
    straight = run(config, tmp_path / "straight")
    # interrupt after epoch 2 by failing inside the third epoch, then resume
    calls = {"n": 0}
    original = Engine.train_epoch

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "train_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        run(config, tmp_path / "resumed")
    assert len(read_stats(tmp_path / "resumed")) == 2
    monkeypatch.setattr(Engine, "train_epoch", original)
    resumed = resume(tmp_path / "resumed")
    assert _stable(read_stats(tmp_path / "resumed")) == _stable(read_stats(tmp_path / "straight"))
    assert np.array_equal(resumed.best.encoder.params, straight.best.encoder.params)
    assert np.array_equal(resumed.best.decoder.mask, straight.best.decoder.mask)


@pytest.mark.parametrize("method", ["variance", "conjunctive"])
def test_activation_signal_reaches_the_operators(canonical_config, method):
    """The published hook's signal changes what the activation-guided operators prune."""
    config = canonical_config.replace(
        prune_method=method, prune_schedule="fixed", prune_probability=1.0, epochs=3
    )
    pre = run(config, None).best
    hooked = run(config.replace(activation_signal="hook_output"), None).best
    assert hooked.encoder.record_signal == "hook_output"
    assert not np.array_equal(pre.encoder.mask, hooked.encoder.mask)


def test_nan_loss_stops_with_epoch_and_keeps_records(canonical_config, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = Engine.train_epoch

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        losses = original(self, *args, **kwargs)
        if calls["n"] == 3:
            losses[1] = np.nan
        return losses

    monkeypatch.setattr(Engine, "train_epoch", poisoned)
    with pytest.raises(NonFiniteLossError, match="epoch 2"):
        run(canonical_config, tmp_path / "nan")
    assert [r["iteration"] for r in read_stats(tmp_path / "nan")] == [0, 1]


def test_existing_run_folder_is_not_overwritten(canonical_config, tmp_path):
    run(canonical_config, tmp_path / "r")
    with pytest.raises(FileExistsError, match="--resume"):
        run(canonical_config, tmp_path / "r")


def test_resume_without_checkpoint_is_a_clear_error(canonical_config, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    canonical_config.save(out / "config.json")
    with pytest.raises(ConfigError, match="no checkpoint.*starts it again"):
        resume(out)


def test_read_stats_skips_a_partial_last_line(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text('{"iteration": 0}\n{"iteration": 1}\n{"iterat')
    assert read_stats(path) == [{"iteration": 0}, {"iteration": 1}]
    path.write_text('{"iteration": 0}\nbroken\n{"iteration": 2}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_stats(path)
