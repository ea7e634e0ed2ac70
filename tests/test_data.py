"""Tests of minievo.data: the binary clustering problem (docs/algorithm.md §1)."""

import json
import math
import pickle

import numpy as np
import pytest

from minievo import data
from minievo.data import (
    DataFileError,
    Dataset,
    batch_order,
    first_batch,
    generate_binary_clustering,
    iterate_batches,
    load_dataset,
    load_or_generate,
    parse_dataset_name,
    sample_rows,
    save_dataset,
)


def make(n_clusters=3, n_examples_per_cluster=7, n_dim=20, seed=0, **kwargs):
    return generate_binary_clustering(
        n_clusters, n_examples_per_cluster, n_dim, rng=np.random.default_rng(seed), **kwargs
    )


def arrays_of(ds):
    return {key: getattr(ds, key) for key in data.REQUIRED_ARRAYS if key != "params"}


def assert_same_arrays(a, b):
    for key, value in arrays_of(a).items():
        other = getattr(b, key)
        assert value.dtype == other.dtype, key
        np.testing.assert_array_equal(value, other, err_msg=key)


def within(observed, p, n, n_se=6.0):
    """Is a frequency within n_se standard errors of a Bernoulli(p) mean of n draws?"""
    se = math.sqrt(p * (1 - p) / n)
    return abs(observed - p) <= n_se * se


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def test_shapes_dtypes_and_binary_values():
    ds = make(3, 7, 20)
    for split in data.SPLITS:
        x = getattr(ds, split)
        labels = getattr(ds, f"{split}_labels")
        assert x.shape == (21, 20)
        assert x.dtype == np.float32
        assert set(np.unique(x)) <= {0.0, 1.0}
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(labels, np.tile(np.arange(3), 7))  # r mod K, published
    assert ds.centroids.shape == (3, 20) and ds.centroids.dtype == np.float32
    assert ds.n_dim == 20 and ds.n_clusters == 3
    assert ds.name == "binary_clustering_3_7_20"
    assert ds.params == {
        "n_clusters": 3,
        "n_examples_per_cluster": 7,
        "n_dim": 20,
        "noise_probability": 0.05,
        "p_one": 0.75,
        "seed": None,
    }


def test_centroid_bit_frequency_matches_p_one():
    p_one = 0.3
    ds = make(200, 1, 500, p_one=p_one)
    n = ds.centroids.size
    assert within(ds.centroids.mean(), p_one, n)
    # The default is the published Binomial(2, 0.5) != 0 frequency, 0.75.
    default = make(200, 1, 500)
    assert within(default.centroids.mean(), 0.75, n)


def test_flip_frequency_matches_noise_probability():
    q = 0.1
    ds = make(100, 10, 500, noise_probability=q)
    for split in data.SPLITS:
        x = getattr(ds, split)
        flipped = x != ds.centroids[getattr(ds, f"{split}_labels")]  # (n_rows, n_dim)
        assert within(flipped.mean(), q, flipped.size), split


def test_extreme_probabilities():
    ds = make(4, 5, 30, noise_probability=0.0, p_one=1.0)
    assert np.all(ds.centroids == 1) and np.all(ds.train == 1)
    ds = make(4, 5, 30, noise_probability=1.0, p_one=1.0)
    assert np.all(ds.test == 0)


def test_labels_match_nearest_centroid_at_low_noise():
    ds = make(10, 20, 200, noise_probability=0.02)
    for split in data.SPLITS:
        x = getattr(ds, split)
        hamming = np.abs(x[:, None, :] - ds.centroids[None, :, :]).sum(axis=2)  # (n, K)
        np.testing.assert_array_equal(hamming.argmin(axis=1), getattr(ds, f"{split}_labels"))


def test_every_row_has_its_own_noise():
    ds = make(10, 10, 400)
    masks = {
        split: getattr(ds, split) != ds.centroids[getattr(ds, f"{split}_labels")]
        for split in data.SPLITS
    }
    for split, mask in masks.items():
        # No repeated rows within a split (the published test set repeats each
        # of its n_examples_per_cluster noise masks over all clusters).
        assert np.unique(mask, axis=0).shape[0] == mask.shape[0], split
        assert np.unique(getattr(ds, split), axis=0).shape[0] == mask.shape[0], split
    assert not np.array_equal(masks["train"], masks["test"])
    assert not np.array_equal(masks["test"], masks["validation"])
    # Row i of cluster 0 and row i of cluster 1 do not share a flip pattern.
    assert not np.array_equal(masks["test"][:10], masks["test"][10:20])


def test_same_seed_same_arrays_different_seed_different():
    a, b, c = make(seed=1), make(seed=1), make(seed=2)
    assert_same_arrays(a, b)
    assert not np.array_equal(a.centroids, c.centroids)
    assert not np.array_equal(a.train, c.train)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_examples_per_cluster": -3}, "n_examples_per_cluster"),
        ({"n_dim": 2.5}, "n_dim"),
        ({"n_dim": True}, "n_dim"),
        ({"noise_probability": 1.5}, r"noise_probability.*\[0, 1\].*1\.5"),
        ({"noise_probability": float("nan")}, "noise_probability"),
        ({"p_one": -0.1}, r"p_one.*-0\.1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"n_clusters": 2, "n_examples_per_cluster": 2, "n_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_binary_clustering(rng=np.random.default_rng(0), **args)


def test_rng_is_required_to_be_a_generator():
    with pytest.raises(ValueError, match="Generator"):
        generate_binary_clustering(2, 2, 4, rng=0)


def test_dataset_rejects_inconsistent_arrays():
    ds = make()
    bad = dict(arrays_of(ds), train=ds.train[:, :5])
    with pytest.raises(ValueError, match="n_dim"):
        Dataset(params=ds.params, **bad)


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, sizes",
    [
        ("binary_clustering_10_100_1000", (10, 100, 1000)),
        ("binary_clustering_50_100_4000", (50, 100, 4000)),
        ("binary_clustering_1_1_1", (1, 1, 1)),
    ],
)
def test_parse_dataset_name(name, sizes):
    assert parse_dataset_name(name) == sizes
    assert data.dataset_name(*sizes) == name


@pytest.mark.parametrize(
    "name",
    [
        "binary_clustering_10_100",
        "binary_clustering_10_100_1000_5",
        "clustering_10_100_1000",
        "binary_clustering_a_100_1000",
        "binary_clustering_0_100_1000",
        " binary_clustering_10_100_1000",
        "",
        None,
    ],
)
def test_parse_dataset_name_rejects(name):
    with pytest.raises(ValueError, match=r"binary_clustering_\{n_clusters\}.*e\.g\."):
        parse_dataset_name(name)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    ds = make(4, 5, 30, noise_probability=0.2, p_one=0.6)
    path = save_dataset(ds, tmp_path / "ds.npz")
    loaded = load_dataset(path)
    assert_same_arrays(ds, loaded)
    assert loaded.params == ds.params
    assert [p.name for p in tmp_path.iterdir()] == ["ds.npz"]  # no temp left over


def write_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def valid_arrays():
    ds = make(3, 4, 10)
    arrays = {k: v.copy() for k, v in arrays_of(ds).items()}
    arrays["params"] = np.array(json.dumps(ds.params))
    arrays["format_version"] = np.array(data.FORMAT_VERSION)
    return arrays


def corrupt_non_binary(arrays):
    arrays["train"][2, 3] = 0.5
    return arrays


def corrupt_shape(arrays):
    arrays["test"] = arrays["test"][:, :7]
    return arrays


def corrupt_missing(arrays):
    del arrays["validation_labels"]
    return arrays


def corrupt_labels_length(arrays):
    arrays["train_labels"] = arrays["train_labels"][:-1]
    return arrays


def corrupt_label_range(arrays):
    arrays["test_labels"][5] = 3
    return arrays


def corrupt_dtype(arrays):
    arrays["train"] = arrays["train"].astype(np.float64)
    return arrays


def corrupt_params(arrays):
    arrays["params"] = np.array("{not json")
    return arrays


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (corrupt_non_binary, r"'train'.*1 other value.*0\.5.*\(2, 3\)"),
        (corrupt_shape, r"'test'.*n_dim 7"),
        (corrupt_missing, r"missing.*validation_labels.*required"),
        (corrupt_labels_length, r"'train_labels'.*rows"),
        (corrupt_label_range, r"'test_labels'.*outside \[0, 3\).*index 5"),
        (corrupt_dtype, r"'train'.*float32.*float64"),
        (corrupt_params, r"params unreadable"),
    ],
)
def test_bad_contents_raise_data_file_error(tmp_path, corrupt, message):
    path = write_npz(tmp_path / "bad_contents.npz", corrupt(valid_arrays()))
    with pytest.raises(DataFileError, match=message) as info:
        load_dataset(path)
    assert "bad_contents.npz" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="not found") as info:
        load_dataset(tmp_path / "nowhere.npz")
    assert "nowhere.npz" in str(info.value)


def test_truncated_file(tmp_path):
    path = save_dataset(make(), tmp_path / "whole.npz")
    content = path.read_bytes()
    for cut in (len(content) // 2, len(content) - 10, 40):
        truncated = tmp_path / "truncated.npz"
        truncated.write_bytes(content[:cut])
        with pytest.raises(DataFileError, match="truncated") as info:
            load_dataset(truncated)
        assert "truncated.npz" in str(info.value)


@pytest.mark.parametrize("content", [b"garbage bytes, not an archive" * 10, b""])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(DataFileError) as info:
        load_dataset(path)
    assert "garbage.npz" in str(info.value)


def test_npy_file_is_not_a_dataset(tmp_path):
    path = tmp_path / "single.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(DataFileError, match=r"\.npy array") as info:
        load_dataset(path)
    assert "single.npy" in str(info.value)


def test_data_file_error_pickles():
    err = pickle.loads(pickle.dumps(DataFileError("/x/y.npz", "broken")))
    assert isinstance(err, ValueError)
    assert err.path == "/x/y.npz" and err.problem == "broken"
    assert str(err) == str(DataFileError("/x/y.npz", "broken"))


# --------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------

NAME = "binary_clustering_3_4_10"


def test_load_or_generate_caches(tmp_path, monkeypatch):
    first = load_or_generate(NAME, cache_dir=tmp_path, seed=5)
    path = tmp_path / "binary_clustering_3_4_10_seed5.npz"
    assert path.is_file()
    assert first.params["seed"] == 5

    def fail(*args, **kwargs):
        raise AssertionError("regenerated instead of loading the cache")

    monkeypatch.setattr(data, "generate_binary_clustering", fail)
    mtime = path.stat().st_mtime_ns
    second = load_or_generate(NAME, cache_dir=tmp_path, seed=5)
    assert path.stat().st_mtime_ns == mtime
    assert_same_arrays(first, second)
    assert second.params == first.params


def test_load_or_generate_is_deterministic(tmp_path):
    a = load_or_generate(NAME, cache_dir=tmp_path / "a", seed=1)
    b = load_or_generate(NAME, cache_dir=tmp_path / "b", seed=1)
    c = load_or_generate(NAME, cache_dir=tmp_path / "a", seed=2)
    assert_same_arrays(a, b)
    assert not np.array_equal(a.train, c.train)
    # Same draws as generating directly from default_rng(seed).
    assert_same_arrays(a, make(3, 4, 10, seed=1))


def test_load_or_generate_file_names_never_collide(tmp_path):
    load_or_generate(NAME, cache_dir=tmp_path)
    noisy = load_or_generate(NAME, cache_dir=tmp_path, noise_probability=0.2)
    dense = load_or_generate(NAME, cache_dir=tmp_path, p_one=0.5)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            "binary_clustering_3_4_10_seed0.npz",
            "binary_clustering_3_4_10_seed0_noise0.2.npz",
            "binary_clustering_3_4_10_seed0_pone0.5.npz",
        ]
    )
    assert noisy.params["noise_probability"] == 0.2 and dense.params["p_one"] == 0.5


def test_load_or_generate_uses_env_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIEVO_DATA_DIR", str(tmp_path / "env"))
    assert data.default_cache_dir() == tmp_path / "env"
    load_or_generate(NAME)
    assert (tmp_path / "env" / "binary_clustering_3_4_10_seed0.npz").is_file()


def test_default_cache_dir_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIEVO_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.default_cache_dir() == tmp_path / ".cache" / "minievo" / "data"


def test_load_or_generate_rejects_corrupt_cache(tmp_path):
    (tmp_path / "binary_clustering_3_4_10_seed0.npz").write_bytes(b"junk")
    with pytest.raises(DataFileError, match="binary_clustering_3_4_10_seed0.npz"):
        load_or_generate(NAME, cache_dir=tmp_path)


def test_load_or_generate_rejects_foreign_params(tmp_path):
    other = make(3, 4, 10, noise_probability=0.3)
    save_dataset(other, tmp_path / "binary_clustering_3_4_10_seed0.npz")
    with pytest.raises(DataFileError, match="delete the file"):
        load_or_generate(NAME, cache_dir=tmp_path)


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"seed": 1.5}, {"noise_probability": 2.0}])
def test_load_or_generate_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        load_or_generate(NAME, cache_dir=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------


def row_ids(n_rows):
    return np.arange(n_rows, dtype=np.float32)[:, None] * np.ones(3, np.float32)  # (n, 3)


def test_iterate_batches_covers_every_row_once_per_pass():
    x = row_ids(23)
    rng = np.random.default_rng(0)
    orders = []
    for _ in range(3):
        batches = list(iterate_batches(x, 5, rng))
        assert [b.shape for b in batches] == [(5, 3)] * 4 + [(3, 3)]
        order = np.concatenate(batches)[:, 0].astype(int)
        np.testing.assert_array_equal(np.sort(order), np.arange(23))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled per pass
    assert not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(23))


def test_iterate_batches_in_order_without_shuffle():
    x = row_ids(10)
    batches = list(iterate_batches(x, 4, None, shuffle=False))
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_batch_order_matches_iterate_batches():
    x = row_ids(12)
    order = batch_order(12, np.random.default_rng(3))
    assert order.dtype == np.int64
    batches = list(iterate_batches(x, 5, np.random.default_rng(3)))
    np.testing.assert_array_equal(np.concatenate(batches), x[order])
    np.testing.assert_array_equal(batch_order(4, None, shuffle=False), np.arange(4))


def test_first_batch_is_first_batch_of_a_fresh_shuffle():
    x = row_ids(30)
    batch = first_batch(x, 5, np.random.default_rng(7))
    expected = next(iterate_batches(x, 5, np.random.default_rng(7)))
    np.testing.assert_array_equal(batch, expected)
    assert len(np.unique(batch[:, 0])) == 5  # distinct rows
    assert first_batch(x, 100, np.random.default_rng(0)).shape == (30, 3)


@pytest.mark.parametrize("batch_size", [0, -2, 2.5, True, "5"])
def test_bad_batch_size(batch_size):
    x = row_ids(10)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch_size"):
        iterate_batches(x, batch_size, rng)
    with pytest.raises(ValueError, match="batch_size"):
        first_batch(x, batch_size, rng)


def test_batches_need_2d_rows_and_a_generator():
    with pytest.raises(ValueError, match="2-D"):
        iterate_batches(np.zeros(5), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        iterate_batches(row_ids(5), 2, None)


def test_sample_rows_with_replacement():
    x = row_ids(4)
    rows = sample_rows(x, 100, np.random.default_rng(0))
    assert rows.shape == (100, 3) and rows.dtype == np.float32
    ids = rows[:, 0].astype(int)
    assert set(ids) == {0, 1, 2, 3}  # 100 draws of 4 rows: repeats, all seen
    np.testing.assert_array_equal(rows, x[ids])
    np.testing.assert_array_equal(rows, sample_rows(x, 100, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="n must"):
        sample_rows(x, 0, np.random.default_rng(0))
