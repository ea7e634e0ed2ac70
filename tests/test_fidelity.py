"""Fidelity to the published code: counts, row order, configuration, denoising, records."""
import numpy as np
import pytest

from minievo.data import generate_binary_clustering
from minievo.experiments.config import Config
from minievo.experiments.records import pruned_counts, read_stats
from minievo.network import Autoencoder, make_autoencoder
from minievo.pruning import prune_pair
from minievo.training import coevolution as co


@pytest.fixture(scope="module")
def dataset():
    return generate_binary_clustering(3, 10, 20, rng=np.random.default_rng(0))


def tiny(**changes):
    values = dict(dataset_name="binary_clustering_3_10_20", population_size=3, epochs=3,
                  batch_size=4, learning_rate=1e-3, backend="numpy", progress=False)
    values.update(changes)
    return Config(**values)


# ---------------------------------------------------------------------------
# 1. the published pruned count: zeros at the last pruning event
# ---------------------------------------------------------------------------

def test_regrow_count_is_kept_through_copies_regrowth_and_saving(tmp_path):
    pair = make_autoencoder("default", 20, np.random.default_rng(0))
    prune_pair(pair, "random", np.random.default_rng(1), amount=0.3, mask_mode="regrow")
    at_prune = pair.encoder.n_zero
    assert at_prune > 0 and pair.encoder.n_pruned_at_last_prune == at_prune
    pair.encoder.params[pair.encoder.params == 0.0] = 0.01          # every zero regrows
    assert pair.encoder.n_zero == 0
    counts = pruned_counts(pair, "regrow")
    assert counts["n_pruned_encoder"] == at_prune                 # the published count
    assert counts["n_zero_encoder"] == 0
    assert counts["n_active_encoder"] == pair.encoder.n_params
    copy = pair.copy()
    assert copy.encoder.n_pruned_at_last_prune == at_prune
    pair.save(tmp_path / "ae.npz")
    assert Autoencoder.load(tmp_path / "ae.npz").encoder.n_pruned_at_last_prune == at_prune
    # persistent masks: the published key counts the masked entries
    assert pruned_counts(pair, "persistent")["n_pruned_encoder"] == 0


def test_regrow_records_keep_the_count_of_the_last_pruning_event(dataset, tmp_path):
    config = tiny(epochs=4, prune_method="random", prune_schedule="fixed",
                  prune_probability=0.5, prune_amount=0.2, mask_mode="regrow")
    co.train_coevolution(config, dataset, tmp_path)
    records = read_stats(tmp_path)
    last = {}                    # cell -> its center's count at its last pruning event
    checked = 0
    for r in records:
        cell = r["node_idx"]
        if r["pruned"]:
            last[cell] = r["n_pruned_encoder"]
            assert r["n_pruned_encoder"] == r["n_zero_encoder"]     # counted at pruning time
        elif cell in last and r["selected_cell"] == cell:
            # a visit without pruning that kept the cell's own (pruned) center
            assert r["n_pruned_encoder"] == last[cell]
            checked += 1
        if not r["pruned"] and r["selected_cell"] != cell:
            last.pop(cell, None)                # a neighbour's copy, with its own count
        assert r["n_zero_encoder"] + r["n_active_encoder"] == 20 * 30 + 30 + 30 * 10 + 10
    assert any(r["pruned"] for r in records)
    assert any(not r["pruned"] and r["n_pruned_encoder"] > r["n_zero_encoder"]
               for r in records), "zeros regrew but the published count stayed"
    assert checked > 0
