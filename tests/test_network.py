"""Networks: shapes, PyTorch-like initialisation, masks, copies, save/load."""

import numpy as np
import pytest

from minievo.network import MLP, Autoencoder, MLPSpec, autoencoder_specs, init_mlp, make_autoencoder


@pytest.mark.parametrize(
    "env, enc_sizes, dec_sizes",
    [
        ("default", (100, 30, 10), (10, 30, 100)),
        ("small", (100, 30, 2), (2, 30, 100)),
        ("large", (100, 60, 30, 10), (10, 30, 60, 100)),
        ("variational", (100, 30, 20), (10, 30, 100)),
    ],
)
def test_environment_shapes(env, enc_sizes, dec_sizes):
    enc, dec = autoencoder_specs(env, 100)
    assert enc.sizes == enc_sizes and dec.sizes == dec_sizes
    assert dec.activations[-1] == "sigmoid"


def test_default_parameter_count_matches_spec():
    enc, dec = autoencoder_specs("default", 1000)
    assert enc.n_params + dec.n_params == 61_670  # 1000-30-10-30-1000 with biases


def test_init_is_uniform_in_pytorch_bound():
    rng = np.random.default_rng(0)
    net = init_mlp(MLPSpec((400, 50, 3), ("relu", "sigmoid")), rng)
    for l, n_in in enumerate((400, 50)):
        bound = 1 / np.sqrt(n_in)
        w, b = net.weight(l), net.bias(l)
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        # a uniform draw fills the interval: its std is bound / sqrt(3)
        assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert net.params.dtype == np.float32


def test_views_share_the_flat_buffer():
    net = init_mlp(MLPSpec((5, 4, 3), ("relu", "relu")), np.random.default_rng(1))
    net.weight(1)[2, 3] = 7.0
    assert 7.0 in net.params
    assert net.weight(0).shape == (4, 5) and net.bias(1).shape == (3,)


def test_copy_is_independent_and_starts_with_empty_records():
    net = init_mlp(MLPSpec((5, 4), ("relu",)), np.random.default_rng(1), record_rows=2)
    net.rec_sum += 1.0
    other = net.copy()
    other.params[0] += 1.0
    other.mask[1] = 0.0
    assert net.params[0] != other.params[0] and net.mask[1] == 1.0
    assert not other.rec_sum.any() and net.rec_sum.all()


def test_apply_mask_zeroes_params_and_moments():
    net = init_mlp(MLPSpec((5, 4), ("relu",)), np.random.default_rng(1))
    net.adam_m[:] = 1.0
    mask = np.ones(net.n_params, np.float32)
    mask[[0, 3, 7]] = 0
    net.apply_mask(mask)
    assert net.n_pruned == 3
    assert not net.params[[0, 3, 7]].any() and not net.adam_m[[0, 3, 7]].any()


def test_save_load_round_trip_keeps_masks(tmp_path):
    pair = make_autoencoder("default", 30, np.random.default_rng(2))
    mask = np.ones(pair.encoder.n_params, np.float32)
    mask[::3] = 0
    pair.encoder.apply_mask(mask)
    pair.save(tmp_path / "ae.npz")
    back = Autoencoder.load(tmp_path / "ae.npz")
    assert np.array_equal(back.encoder.params, pair.encoder.params)
    assert np.array_equal(back.encoder.mask, mask)
    assert back.kind == "plain" and back.decoder.spec == pair.decoder.spec
    assert not list(tmp_path.glob("*.tmp"))


def test_load_rejects_truncated_and_missing_files(tmp_path):
    pair = make_autoencoder("small", 20, np.random.default_rng(2))
    path = tmp_path / "ae.npz"
    pair.save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="ae.npz"):
        Autoencoder.load(path)
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        Autoencoder.load(tmp_path / "nothere.npz")


@pytest.mark.parametrize(
    "sizes, acts, match",
    [
        ((10,), (), "at least"),
        ((10, 0), ("relu",), "positive"),
        ((10, 5), ("relu", "relu"), "one activation per layer"),
        ((10, 5), ("tanh",), "unknown activation"),
    ],
)
def test_bad_specs_name_the_problem(sizes, acts, match):
    with pytest.raises(ValueError, match=match):
        MLPSpec(sizes, acts)


def test_bad_params_shape_and_mask_values():
    spec = MLPSpec((3, 2), ("relu",))
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        MLP(spec, params=np.zeros(5))
    with pytest.raises(ValueError, match="0 or 1"):
        MLP(spec, mask=np.full(8, 0.5))


def test_mismatched_pair_is_rejected():
    rng = np.random.default_rng(0)
    enc = init_mlp(MLPSpec((20, 10), ("relu",)), rng)
    dec = init_mlp(MLPSpec((5, 20), ("sigmoid",)), rng)
    with pytest.raises(ValueError, match="does not fit"):
        Autoencoder(enc, dec)
