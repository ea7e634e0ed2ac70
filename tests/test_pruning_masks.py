"""Pruned entries through training, copying and saving (docs/algorithm.md §5 "Mask semantics").

persistent: a pruned entry stays exactly 0.0, and so do its Adam moments,
whatever happens next; regrow (published): entries are zeroed once and
training brings them back.
"""

import numpy as np
import pytest

from minievo.engine import Engine
from minievo.network import Autoencoder, make_autoencoder
from minievo.pruning import prune_pair

N_DIM, ROWS = 24, 5


def setup(seed=0):
    rng = np.random.default_rng(seed)
    pair = make_autoencoder("default", N_DIM, rng, record_rows=ROWS)
    data = (rng.random((40, N_DIM)) < 0.7).astype(np.float32)
    return pair, data, rng


def train(pair, data, backend, epochs, fresh, lr=1e-2):
    engine = Engine(pair, ROWS, backend=backend)
    for epoch in range(epochs):
        order = np.random.default_rng(100 + epoch).permutation(data.shape[0])
        engine.train_epoch(pair, data, order, ROWS, lr, fresh=fresh, record=True)


def assert_pruned_entries_are_zero(pair, masks):
    for net, mask in zip((pair.encoder, pair.decoder), masks):
        np.testing.assert_array_equal(net.mask, mask)
        pruned = mask == 0.0
        assert pruned.any()
        assert np.all(net.params[pruned] == 0.0)
        assert np.all(net.adam_m[pruned] == 0.0)
        assert np.all(net.adam_v[pruned] == 0.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("fresh", [False, True], ids=["persistent_adam", "fresh_adam"])
@pytest.mark.parametrize("method", ["random", "variance"])
def test_persistent_masks_survive_training(backend, fresh, method):
    pair, data, rng = setup()
    train(pair, data, backend, 1, fresh)  # records for VARIANCE, Adam state
    prune_pair(pair, method, rng, amount=0.3, mask_mode="persistent")
    masks = (pair.encoder.mask.copy(), pair.decoder.mask.copy())
    before = (pair.encoder.params.copy(), pair.decoder.params.copy())
    train(pair, data, backend, 5, fresh)  # 40 steps at a large lr
    assert_pruned_entries_are_zero(pair, masks)
    assert not np.array_equal(pair.encoder.params, before[0])  # the rest did train


def test_persistent_masks_survive_copy_and_save_load(tmp_path):
    pair, data, rng = setup(1)
    train(pair, data, "numpy", 1, False)
    prune_pair(pair, "conjunctive", rng, test_data=data, lexi_threshold=0.3, lexi_rows=20)
    prune_pair(pair, "random", rng, amount=0.2)
    masks = (pair.encoder.mask.copy(), pair.decoder.mask.copy())

    copy = pair.copy()
    assert_pruned_entries_are_zero(copy, masks)
    train(copy, data, "numba", 3, False)
    assert_pruned_entries_are_zero(copy, masks)
    assert_pruned_entries_are_zero(pair, masks)  # the original is independent

    path = tmp_path / "pruned.npz"
    copy.save(path)
    loaded = Autoencoder.load(path, record_rows=ROWS)
    assert_pruned_entries_are_zero(loaded, masks)
    assert loaded.encoder.n_pruned == copy.encoder.n_pruned > 0
    train(loaded, data, "numpy", 2, False)
    assert_pruned_entries_are_zero(loaded, masks)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_regrow_entries_come_back_after_training(backend):
    pair, data, rng = setup(2)
    train(pair, data, backend, 1, False)
    result = prune_pair(pair, "random", rng, amount=0.3, mask_mode="regrow")
    zeroed = pair.encoder.params == 0.0
    # the count reported is the zeros at pruning time
    assert result.n_pruned_encoder == int(zeroed.sum()) == pair.encoder.n_zero > 0
    assert np.all(pair.encoder.mask == 1.0) and pair.encoder.n_pruned == 0
    train(pair, data, backend, 2, False)
    regrown = np.count_nonzero(pair.encoder.params[zeroed])
    assert regrown > 0.5 * zeroed.sum()  # most moved off zero (dead ReLUs get no gradient)
    assert pair.encoder.n_zero < result.n_pruned_encoder
