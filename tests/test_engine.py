"""Engine: whole-data measurements and clear errors for bad input."""

import numpy as np
import pytest

from minievo.engine import EVAL_CHUNK, Engine, loss_and_gradients
from minievo.network import make_autoencoder


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return (rng.random((2 * EVAL_CHUNK + 7, 30)) < 0.5).astype(np.float32)  # not a chunk multiple


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_batch_l1_matches_batch_by_batch_evaluation(data, backend):
    pair = make_autoencoder("default", 30, np.random.default_rng(1))
    engine = Engine(pair, max_rows=4, backend=backend)
    per_batch = engine.batch_l1(pair, data, 4)
    expected = [
        np.abs(engine.reconstruct(pair, data[s : s + 4]) - data[s : s + 4]).mean()
        for s in range(0, data.shape[0], 4)
    ]
    assert per_batch.shape == (-(-data.shape[0] // 4),)
    np.testing.assert_allclose(per_batch, expected, rtol=1e-6)
    assert engine.reconstruction_l1(pair, data) == pytest.approx(
        np.abs(engine.reconstruct(pair, data) - data).mean(), rel=1e-6
    )
    # evaluate() on one batch is the same L1
    assert engine.evaluate(pair, data[:4], record=False) == pytest.approx(expected[0], rel=1e-5)


def test_reconstruction_stays_in_unit_interval(data):
    pair = make_autoencoder("variational", 30, np.random.default_rng(1))
    out = Engine(pair, max_rows=4).reconstruct(pair, data)
    assert out.shape == data.shape and 0.0 <= out.min() and out.max() <= 1.0


def test_bad_inputs_name_the_problem(data):
    pair = make_autoencoder("default", 30, np.random.default_rng(1))
    engine = Engine(pair, max_rows=4)
    with pytest.raises(ValueError, match=r"shape \(B, 30\)"):
        engine.evaluate(pair, data[:4, :20], record=False)
    with pytest.raises(ValueError, match="max_rows 4"):
        engine.evaluate(pair, data[:5], record=False)
    with pytest.raises(ValueError, match="exceeds the engine's max_rows"):
        engine.train_epoch(pair, data, np.arange(data.shape[0]), 8, 1e-3, fresh=True, record=False)
    with pytest.raises(ValueError, match=r"shape \(B, 30\)"):
        loss_and_gradients(pair, data[:3, :10])
    noisy = make_autoencoder("denoising", 30, np.random.default_rng(1))
    with pytest.raises(ValueError, match="needs noise of shape"):
        Engine(noisy, max_rows=4).train_epoch(
            noisy, data, np.arange(data.shape[0]), 4, 1e-3, fresh=True, record=False
        )
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        Engine(pair, max_rows=4, backend="cuda")
