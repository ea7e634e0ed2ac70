"""Tests of minievo.pruning.records: VARIANCE scores from running records (docs/algorithm.md §5)."""

import numpy as np
import pytest

from minievo.engine import Engine
from minievo.kernels import reference
from minievo.network import MLP, Autoencoder, MLPSpec, init_mlp, make_autoencoder
from minievo.pruning import NoRecordsError, node_keep_probabilities, variance_scores
from minievo.pruning.records import position_std

SPEC = MLPSpec((6, 5, 3), ("relu", "sigmoid"))
ROWS = 4


def recorded_passes(net, batch_sizes, rng):
    """Run ``record=True`` forwards of random batches; return every pass's z per layer."""
    work = np.zeros(ROWS * net.spec.n_nodes, dtype=np.float32)
    stored = [[] for _ in range(net.spec.n_layers)]
    for size in batch_sizes:
        x = rng.standard_normal((size, net.spec.n_in)).astype(np.float32)
        a = x
        for l in range(net.spec.n_layers):  # the direct computation
            z = a @ net.weight(l).T + net.bias(l)
            stored[l].append(z.astype(np.float64))
            a = np.maximum(z, 0) if l == 0 else 1 / (1 + np.exp(-z))
        reference.mlp_forward(net.arrays, x, work, True)  # the running sums
    return stored


def direct_scores(passes, ddof):
    """s_j = sum over positions of np.std over the passes that reached the position."""
    n_out = passes[0].shape[1]
    total = np.zeros(n_out)
    for b in range(ROWS):
        at_b = np.array([z[b] for z in passes if z.shape[0] > b])  # (n_b, n_out)
        if len(at_b) > ddof:
            total += np.std(at_b, axis=0, ddof=ddof)
    return total


@pytest.mark.parametrize("ddof", [0, 1])
def test_scores_from_running_sums_equal_std_of_stored_passes(ddof):
    rng = np.random.default_rng(0)
    net = init_mlp(SPEC, rng, record_rows=ROWS)
    stored = recorded_passes(net, [4, 4, 3, 2, 4, 1, 4], rng)  # batches of different sizes
    for l in range(SPEC.n_layers):
        got = variance_scores(net, l, ddof=ddof)
        assert got.shape == (SPEC.sizes[l + 1],)
        np.testing.assert_allclose(got, direct_scores(stored[l], ddof), rtol=1e-9)


def test_default_ddof_is_the_population_std_of_the_published_code():
    rng = np.random.default_rng(1)
    net = init_mlp(SPEC, rng, record_rows=ROWS)
    stored = recorded_passes(net, [4, 4, 4], rng)
    np.testing.assert_allclose(variance_scores(net, 0), direct_scores(stored[0], 0), rtol=1e-9)
    assert not np.allclose(variance_scores(net, 0), direct_scores(stored[0], 1))


def test_positions_never_reached_do_not_count():
    rng = np.random.default_rng(2)
    net = init_mlp(SPEC, rng, record_rows=ROWS)
    recorded_passes(net, [2, 2, 2], rng)  # positions 2, 3 never reached
    std, used = position_std(net, 0)
    assert used.tolist() == [True, True, False, False]
    assert np.all(std[2:] == 0.0)


def test_constant_passes_score_exactly_zero_and_are_always_kept():
    rng = np.random.default_rng(3)
    net = init_mlp(SPEC, rng, record_rows=ROWS)
    work = np.zeros(ROWS * SPEC.n_nodes, dtype=np.float32)
    x = rng.standard_normal((ROWS, 6)).astype(np.float32)
    for _ in range(7):  # the same batch 7 times
        reference.mlp_forward(net.arrays, x, work, True)
    for l in range(SPEC.n_layers):
        assert np.all(variance_scores(net, l) == 0.0)
        assert np.all(node_keep_probabilities(variance_scores(net, l)) == 1.0)


def test_keep_probabilities_are_min_max_scaled_one_minus_score():
    np.testing.assert_allclose(node_keep_probabilities([0.0, 1.0, 3.0, 4.0]), [1, 0.75, 0.25, 0])
    np.testing.assert_allclose(node_keep_probabilities([2.0, 5.0]), [1.0, 0.0])
    # the least varying node is always kept, the most varying always pruned
    t = node_keep_probabilities(np.random.default_rng(4).random(30) * 10)
    assert t.max() == 1.0 and t.min() == 0.0 and np.all((t >= 0) & (t <= 1))


def test_keep_probabilities_all_equal_follow_the_published_unscaled_rule():
    np.testing.assert_array_equal(node_keep_probabilities([0.0, 0.0, 0.0]), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(node_keep_probabilities([0.25, 0.25]), [0.75, 0.75])
    np.testing.assert_array_equal(node_keep_probabilities([3.0, 3.0]), [0.0, 0.0])  # clipped


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [1.0, np.nan]])
def test_keep_probabilities_reject_bad_scores(bad):
    with pytest.raises(ValueError):
        node_keep_probabilities(bad)


def test_no_records_raise_a_clear_error():
    rng = np.random.default_rng(5)
    net = init_mlp(SPEC, rng, record_rows=ROWS)
    with pytest.raises(NoRecordsError, match="record=True"):
        variance_scores(net, 0)
    with pytest.raises(NoRecordsError, match="record_rows=0"):
        variance_scores(MLP(SPEC), 0)
    recorded_passes(net, [4], rng)
    assert np.all(variance_scores(net, 0) == 0.0)  # one pass: std 0 (ddof 0)
    with pytest.raises(NoRecordsError):
        variance_scores(net, 0, ddof=1)  # needs two passes
    with pytest.raises(ValueError, match="layer"):
        variance_scores(net, 2)
    with pytest.raises(ValueError, match="ddof"):
        variance_scores(net, 0, ddof=-1)
    assert isinstance(NoRecordsError("x"), ValueError)


def test_records_of_numpy_and_numba_backends_agree():
    rng = np.random.default_rng(6)
    pair = make_autoencoder("default", 24, rng, record_rows=5)
    data = (rng.random((23, 24)) < 0.7).astype(np.float32)  # 4 batches of 5 and one of 3
    pairs = {}
    for backend in ("numpy", "numba"):
        copy = pair.copy()
        engine = Engine(copy, max_rows=5, backend=backend)
        for epoch in range(3):
            order = np.random.default_rng(epoch).permutation(23)
            engine.train_epoch(copy, data, order, 5, 1e-3, fresh=False, record=True)
        engine.evaluate(copy, data[:5], record=True)
        engine.evaluate(copy, data[:5], record=False)
        pairs[backend] = copy
    for name in ("encoder", "decoder"):
        a, b = getattr(pairs["numpy"], name), getattr(pairs["numba"], name)
        np.testing.assert_array_equal(a.rec_count, [16, 16, 16, 13, 13])
        np.testing.assert_array_equal(a.rec_count, b.rec_count)
        # rtol 1e-4 of the size of the summed terms (a sum of z can cancel to ~0)
        scale = np.sqrt(a.rec_count[:, None] * a.rec_sumsq)  # >= sum of |z|
        assert np.all(np.abs(a.rec_sum - b.rec_sum) <= 1e-4 * scale + 1e-7)
        np.testing.assert_allclose(a.rec_sumsq, b.rec_sumsq, rtol=1e-4, atol=1e-7)
        for l in range(a.spec.n_layers):
            np.testing.assert_allclose(
                variance_scores(a, l), variance_scores(b, l), rtol=1e-3, atol=1e-6
            )


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_hook_output_records_relu_outputs(backend):
    """``record_signal="hook_output"`` records max(z, 0) on ReLU layers (the published
    hook's tensor after the in-place ReLU) and z elsewhere; both backends agree."""
    rng = np.random.default_rng(5)
    pair = make_autoencoder("default", 12, rng, record_rows=ROWS, record_signal="hook_output")
    pre = Autoencoder(
        *(
            MLP(net.spec, net.params, net.mask, ROWS)  # same weights, z records
            for net in (pair.encoder, pair.decoder)
        )
    )
    data = (rng.random((3 * ROWS, 12)) < 0.5).astype(np.float32)
    for p in (pair, pre):
        engine = Engine(p, ROWS, backend)
        for start in range(0, data.shape[0], ROWS):
            engine.evaluate(p, data[start : start + ROWS], record=True)
    for hooked, plain in ((pair.encoder, pre.encoder), (pair.decoder, pre.decoder)):
        for l in range(hooked.spec.n_layers):
            relu = hooked.spec.activations[l] == "relu"
            _, sums, _ = hooked.records(l)
            _, pre_sums, _ = plain.records(l)
            if relu:  # the records of ReLU outputs are never negative, the z records are
                assert sums.min() >= 0.0
            else:
                np.testing.assert_allclose(sums, pre_sums, rtol=1e-6)
        assert hooked.layout[:, 6].tolist() == [int(a == "relu") for a in hooked.spec.activations]
    assert pre.encoder.records(0)[1].min() < 0.0  # so the check above can fail


def test_hook_output_variance_scores_are_std_of_relu_outputs():
    rng = np.random.default_rng(6)
    spec = MLPSpec((6, 5, 3), ("relu", "sigmoid"))
    net = init_mlp(spec, rng, record_rows=ROWS, record_signal="hook_output")
    work = np.zeros(ROWS * spec.n_nodes, dtype=np.float32)
    outs = []
    for _ in range(7):
        x = rng.standard_normal((ROWS, 6)).astype(np.float32)
        outs.append(np.maximum(x @ net.weight(0).T + net.bias(0), 0).astype(np.float64))
        reference.mlp_forward(net.arrays, x, work, True)
    expected = np.std(np.array(outs), axis=0).sum(axis=0)  # (5,)
    np.testing.assert_allclose(variance_scores(net, 0), expected, rtol=1e-5, atol=1e-7)


def test_record_signal_survives_copy_and_save(tmp_path):
    pair = make_autoencoder("small", 10, np.random.default_rng(0), record_signal="hook_output")
    assert pair.copy().encoder.record_signal == "hook_output"
    pair.save(tmp_path / "a.npz")
    back = Autoencoder.load(tmp_path / "a.npz")
    assert back.encoder.record_signal == "hook_output"
    assert np.array_equal(back.encoder.layout, pair.encoder.layout)
    with pytest.raises(ValueError, match="unknown record signal"):
        MLP(pair.encoder.spec, record_signal="post")
