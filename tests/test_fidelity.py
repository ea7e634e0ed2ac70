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


# ---------------------------------------------------------------------------
# 2. row order: clusters interleaved; old files are not reused silently
# ---------------------------------------------------------------------------

def test_row_r_belongs_to_cluster_r_mod_n_clusters():
    ds = generate_binary_clustering(4, 6, 200, noise_probability=0.05,
                                    rng=np.random.default_rng(3))
    for split in ("train", "test", "validation"):
        x, labels = getattr(ds, split), getattr(ds, f"{split}_labels")
        np.testing.assert_array_equal(labels, np.arange(24) % 4)
        # the row really is a noisy copy of that centroid: its nearest one
        distance = np.abs(x[:, None, :] - ds.centroids[None, :, :]).sum(axis=2)   # (N, K)
        np.testing.assert_array_equal(distance.argmin(axis=1), np.arange(24) % 4)
    # an unshuffled batch of K rows holds every cluster once
    assert sorted(ds.train_labels[:4]) == [0, 1, 2, 3]


def old_format_file(path):
    """A dataset file as minievo wrote it before format 2: no version, grouped rows."""
    from minievo.data import save_dataset
    from minievo.io import load_npz
    ds = generate_binary_clustering(3, 4, 10, rng=np.random.default_rng(0))
    save_dataset(ds, path)
    arrays = dict(load_npz(path))
    del arrays["format_version"]
    for split in ("train", "test", "validation"):
        order = np.argsort(arrays[f"{split}_labels"], kind="stable")
        arrays[split], arrays[f"{split}_labels"] = arrays[split][order], arrays[f"{split}_labels"][order]
    np.savez(path, **arrays)
    return path


def test_an_old_format_file_is_refused_with_a_way_out(tmp_path):
    from minievo.data import DataFileError, load_dataset
    path = old_format_file(tmp_path / "old.npz")
    with pytest.raises(DataFileError, match="format version 1.*minievo data --name") as info:
        load_dataset(path)
    assert "old.npz" in str(info.value)


def test_an_old_cached_file_is_regenerated_with_a_notice(tmp_path, capsys):
    from minievo.data import cache_file_name, load_dataset, load_or_generate
    name = "binary_clustering_3_4_10"
    path = tmp_path / cache_file_name(name, 1)
    old_format_file(path)
    ds = load_or_generate(name, cache_dir=tmp_path, seed=1)
    assert "format 1" in capsys.readouterr().err
    np.testing.assert_array_equal(ds.train_labels, np.arange(12) % 3)
    np.testing.assert_array_equal(load_dataset(path).train, ds.train)   # rewritten
