"""Tests of minievo.pruning.operators: random, VARIANCE, CONJUNCTIVE (docs/algorithm.md §5 "What")."""

import math

import numpy as np
import pytest

from minievo.data import sample_rows
from minievo.network import MLP, Autoencoder, MLPSpec, init_mlp, make_autoencoder
from minievo.pruning import (
    NoRecordsError,
    conjunctive_masks,
    lexicase_filter,
    passing_nodes,
    prune_pair,
    random_mask,
    resolve_method,
    variance_mask,
)
from minievo.pruning.operators import layer_signals


def tensors(net, buf):
    """Every weight matrix and bias vector of ``buf`` in the layout of ``net``."""
    for l in range(net.spec.n_layers):
        yield net.weight(l, buf)
        yield net.bias(l, buf)


# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------
def test_resolve_method_names_and_aliases():
    assert [resolve_method(m) for m in ("random", "variance", "conjunctive")] == [
        "random",
        "variance",
        "conjunctive",
    ]
    assert resolve_method("activation") == "variance"
    assert resolve_method("lexicase") == "conjunctive"


@pytest.mark.parametrize(
    "bad, hint", [("lexicas", "lexicase"), ("Random", "random"), ("roulette", None), (None, None)]
)
def test_unknown_method_lists_allowed_names_and_suggests(bad, hint):
    with pytest.raises(
        ValueError, match="allowed: random, variance, conjunctive, magnitude, activation, lexicase"
    ) as info:
        resolve_method(bad)
    assert repr(bad) in str(info.value)
    if hint:
        assert f"did you mean {hint!r}" in str(info.value)


# --------------------------------------------------------------------------
# random
# --------------------------------------------------------------------------
@pytest.mark.parametrize("amount", [0.1, 0.25, 0.5, 0.0, 1.0])
def test_random_masks_round_amount_times_n_per_tensor(amount):
    rng = np.random.default_rng(0)
    net = init_mlp(MLPSpec((40, 10, 6), ("relu", "relu")), rng)
    before = net.params.copy()
    mask = random_mask(net, amount, rng, mask_mode="regrow")
    assert mask.dtype == np.float32 and mask.shape == (net.n_params,)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    for tensor in tensors(net, mask):
        # Python round halves to even like PyTorch: 0.25 * 10 = 2.5 -> 2, 0.25 * 6 = 1.5 -> 2
        assert tensor.size - np.count_nonzero(tensor) == round(amount * tensor.size)
    np.testing.assert_array_equal(net.params, before)  # the network is untouched


def test_random_persistent_draws_among_active_entries_only():
    rng = np.random.default_rng(1)
    net = init_mlp(MLPSpec((40, 10, 6), ("relu", "relu")), rng)
    old = (rng.random(net.n_params) < 0.6).astype(np.float32)  # 40% already pruned
    net.apply_mask(old)
    mask = random_mask(net, 0.3, rng, mask_mode="persistent")
    assert np.all(mask[old == 0.0] == 1.0)  # never draws a pruned entry
    for active, drawn in zip(tensors(net, net.mask.copy()), tensors(net, mask)):
        n_active = int(active.sum())
        assert drawn.size - np.count_nonzero(drawn) == round(0.3 * n_active)


def test_random_regrow_may_draw_already_zero_entries():
    rng = np.random.default_rng(2)
    net = init_mlp(MLPSpec((40, 10, 6), ("relu", "relu")), rng)
    net.params[: net.n_params // 2] = 0.0  # first half already zero
    mask = random_mask(net, 0.5, rng, mask_mode="regrow")
    w0 = net.weight(0, mask)  # 400 entries, 200 drawn
    assert w0.size - np.count_nonzero(w0) == 200
    assert np.count_nonzero(mask[: net.n_params // 2] == 0.0) > 0


def test_random_draws_are_uniform():
    # every entry of a 20-entry tensor is drawn with probability k / n = 0.25
    rng = np.random.default_rng(3)
    net = MLP(MLPSpec((4, 5), ("relu",)))
    n = 2000
    hits = sum(1.0 - random_mask(net, 0.25, rng, mask_mode="regrow")[:20] for _ in range(n))
    se = math.sqrt(0.25 * 0.75 / n)
    assert np.all(np.abs(hits / n - 0.25) < 6 * se)


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, float("nan"), "0.1"])
def test_invalid_amount_raises(bad):
    net = MLP(MLPSpec((4, 5), ("relu",)))
    with pytest.raises(ValueError, match="prune amount") as info:
        random_mask(net, bad, np.random.default_rng(0), mask_mode="regrow")
    assert repr(bad) in str(info.value)


def test_invalid_mask_mode_raises():
    net = MLP(MLPSpec((4, 5), ("relu",)))
    with pytest.raises(ValueError, match="'keep'.*persistent, regrow"):
        random_mask(net, 0.1, np.random.default_rng(0), mask_mode="keep")


# --------------------------------------------------------------------------
# VARIANCE
# --------------------------------------------------------------------------
def net_with_scores(scores, n_in=50, rows=3):
    """A one-layer MLP whose records give exactly ``scores`` (ddof 0).

    Two passes per position with values m - d and m + d have std d, so
    s_j = rows * d_j.
    """
    scores = np.asarray(scores, dtype=np.float64)
    net = MLP(MLPSpec((n_in, scores.size), ("relu",)), record_rows=rows)
    d = scores / rows
    m = 0.3
    net.rec_count[:] = 2.0
    _, total, total_sq = net.records(0)
    total[:] = 2 * m
    total_sq[:] = (m - d) ** 2 + (m + d) ** 2
    return net


def test_hand_made_records_give_the_intended_scores():
    from minievo.pruning import variance_scores

    np.testing.assert_allclose(
        variance_scores(net_with_scores([0.0, 1.0, 2.0, 4.0]), 0), [0.0, 1.0, 2.0, 4.0], atol=1e-12
    )


def test_variance_prunes_high_variance_nodes_more_often():
    scores = [0.0, 1.0, 2.0, 3.0, 4.0]  # t = 1, .75, .5, .25, 0
    keep = np.array([1.0, 0.75, 0.5, 0.25, 0.0])
    net = net_with_scores(scores)
    rng = np.random.default_rng(4)
    n_draws = 200
    kept = np.zeros((5, 51))  # 50 weights + bias per node
    for _ in range(n_draws):
        mask = variance_mask(net, rng)
        kept += np.hstack([net.weight(0, mask), net.bias(0, mask)[:, None]])
    freq = kept.sum(axis=1) / (n_draws * 51)
    se = np.sqrt(keep * (1 - keep) / (n_draws * 51))
    assert np.all(np.abs(freq - keep) <= 6 * se + 1e-12), freq
    assert np.all(kept[0] == n_draws)  # t = 1: never touched
    assert np.all(kept[4] == 0)  # t = 0: always pruned
    assert np.all(np.diff(freq) < 0)  # more variance, more pruning


def test_variance_draws_per_entry_not_per_node():
    net = net_with_scores([0.0, 2.0, 4.0], n_in=200)  # middle node: t = 0.5
    mask = variance_mask(net, np.random.default_rng(5))
    row = net.weight(0, mask)[1]
    assert 0 < np.count_nonzero(row) < row.size  # thinned, not removed whole


def test_variance_all_equal_scores_prune_nothing_when_zero():
    net = net_with_scores([0.0, 0.0, 0.0])
    assert np.all(variance_mask(net, np.random.default_rng(6)) == 1.0)


def test_variance_needs_records_and_leaves_the_network_alone():
    rng = np.random.default_rng(7)
    net = init_mlp(MLPSpec((8, 4), ("relu",)), rng, record_rows=2)
    with pytest.raises(NoRecordsError):
        variance_mask(net, rng)
    net = net_with_scores([0.0, 1.0, 2.0])
    params, mask, rec = net.params.copy(), net.mask.copy(), net.rec_sum.copy()
    variance_mask(net, rng)
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(net.mask, mask)
    np.testing.assert_array_equal(net.rec_sum, rec)


# --------------------------------------------------------------------------
# CONJUNCTIVE: the pieces
# --------------------------------------------------------------------------
def test_passing_nodes_scale_each_row_and_compare_with_the_threshold():
    values = np.array(
        [
            [0.0, 5.0, 10.0, 1.0],  # scaled 0, .5, 1, .1
            [3.0, 3.0, 3.0, 3.0],  # all equal: passes no node
            [-2.0, -1.0, 0.0, 6.0],
        ]
    )  # scaled 0, .125, .25, 1
    np.testing.assert_array_equal(
        passing_nodes(values, 0.15), [[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 0, 0]]
    )
    np.testing.assert_array_equal(
        passing_nodes(values, 0.05),  # a lower threshold passes fewer
        [[1, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        passing_nodes(values, 0.3), [[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0]]
    )
    assert not passing_nodes(values, 0.0).any()  # scaled < 0 never holds


def rows_passing(*sets, n=5):
    """A (len(sets), n) bool array: row i passes the nodes in sets[i]."""
    out = np.zeros((len(sets), n), dtype=bool)
    for i, s in enumerate(sets):
        out[i, list(s)] = True
    return out


@pytest.mark.parametrize(
    "sets, left",
    [
        (({0, 1, 2}, {0, 1, 3}, {1}, {4}), {1}),  # filtered down to one node: stop there
        (({0, 1}, {0}, {1, 2}), {0}),  # early stop: never reaches {} after {0}
        (({0, 1, 2}, {0, 1, 4}), {0, 1}),  # runs out of rows: the remaining set
        (({0, 1}, {2, 3}, {0}), set()),  # can end empty: nothing pruned
        (({3}, {0, 1}), {3}),  # first row passes one node: that node
        ((set(), {0, 1}), set()),  # first row equal values: nothing
        (({0, 1, 2, 3, 4},), {0, 1, 2, 3, 4}),  # one row: all its nodes
    ],
)
def test_lexicase_filter(sets, left):
    assert set(np.flatnonzero(lexicase_filter(rows_passing(*sets)))) == left


def test_lexicase_filter_rejects_no_rows():
    with pytest.raises(ValueError):
        lexicase_filter(np.zeros((0, 3), dtype=bool))


# --------------------------------------------------------------------------
# CONJUNCTIVE on a hand-made autoencoder
# --------------------------------------------------------------------------
def hand_made_pair():
    """Encoder 4 -> 4 (identity weights, so z = x) -> 2; decoder 2 -> 3 -> 4."""
    rng = np.random.default_rng(8)
    enc = init_mlp(MLPSpec((4, 4, 2), ("relu", "relu")), rng)
    dec = init_mlp(MLPSpec((2, 3, 4), ("relu", "sigmoid")), rng)
    enc.weight(0)[...] = np.eye(4)
    enc.bias(0)[...] = 0.0
    return Autoencoder(enc, dec)


def test_conjunctive_prunes_the_nodes_left_by_the_filter():
    pair = hand_made_pair()
    rows = np.array(
        [
            [0, 0, 1, 1],  # encoder layer 0 passes nodes {0, 1}
            [0, 1, 1, 1],  # {0}: one node left, stop
            [1, 0, 1, 1],
        ],
        dtype=np.float32,
    )
    enc_mask, dec_mask = conjunctive_masks(pair, rows, 0.1)
    w, b = pair.encoder.weight(0, enc_mask), pair.encoder.bias(0, enc_mask)
    np.testing.assert_array_equal(w[0], 0.0)  # node 0: whole row ...
    assert b[0] == 0.0  # ... and its bias
    np.testing.assert_array_equal(w[1:], 1.0)
    np.testing.assert_array_equal(b[1:], 1.0)
    # the other layers follow the same rule on their own values
    enc_values, code = layer_signals(pair.encoder, rows)
    dec_values, _ = layer_signals(pair.decoder, code)
    for net, values, mask in (
        (pair.encoder, enc_values, enc_mask),
        (pair.decoder, dec_values, dec_mask),
    ):
        for l, v in enumerate(values):
            chosen = lexicase_filter(passing_nodes(v, 0.1))
            np.testing.assert_array_equal(net.bias(l, mask) == 0.0, chosen)
            np.testing.assert_array_equal(np.all(net.weight(l, mask) == 0.0, axis=1), chosen)


def test_conjunctive_rows_with_equal_activations_pass_no_node():
    pair = hand_made_pair()
    rows = np.array([[1, 1, 1, 1], [0, 0, 1, 1]], dtype=np.float32)  # first row: all equal
    enc_mask, _ = conjunctive_masks(pair, rows, 0.1)
    assert np.all(pair.encoder.weight(0, enc_mask) == 1.0)


def test_conjunctive_threshold_effect():
    pair = hand_made_pair()
    rows = np.array([[0.0, 0.2, 0.5, 1.0]], dtype=np.float32)  # scaled 0, .2, .5, 1
    counts = []
    for threshold in (0.1, 0.3, 0.6, 1.0):
        enc_mask, _ = conjunctive_masks(pair, rows, threshold)
        counts.append(int(np.count_nonzero(pair.encoder.bias(0, enc_mask) == 0.0)))
    assert counts == [1, 2, 3, 3]


def test_conjunctive_hook_output_sees_relu_outputs():
    pair = hand_made_pair()
    pair.encoder.weight(0)[...] = -np.eye(4)  # z = -x, mostly negative
    rows = np.array([[0.0, 0.5, 1.0, 2.0]], dtype=np.float32)  # z = 0, -.5, -1, -2
    pre, _ = conjunctive_masks(pair, rows, 0.3, signal="pre_activation")
    hook, _ = conjunctive_masks(pair, rows, 0.3, signal="hook_output")
    # pre-activations scaled: 1, .75, .5, 0 -> only node 3 passes;
    # ReLU outputs are all 0 -> all equal -> no node passes
    assert (pair.encoder.bias(0, pre) == 0.0).tolist() == [False, False, False, True]
    assert np.all(pair.encoder.bias(0, hook) == 1.0)
    with pytest.raises(ValueError, match="signal"):
        conjunctive_masks(pair, rows, 0.3, signal="post")


def test_conjunctive_draws_rows_with_replacement_from_the_generator():
    pair = hand_made_pair()
    test = (np.random.default_rng(9).random((30, 4)) < 0.5).astype(np.float32)
    a = conjunctive_masks(pair, test, 0.1, np.random.default_rng(10), n_cases=50)
    cases = sample_rows(test, 50, np.random.default_rng(10))
    b = conjunctive_masks(pair, cases, 0.1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_conjunctive_variational_decoder_sees_the_posterior_mean():
    rng = np.random.default_rng(11)
    pair = make_autoencoder("variational", 12, rng)
    rows = (rng.random((40, 12)) < 0.5).astype(np.float32)
    _, dec_before = conjunctive_masks(pair, rows, 0.2)
    z = pair.latent
    last = pair.encoder.spec.n_layers - 1
    pair.encoder.weight(last)[z:] *= -3.0  # change only the log-variance head
    pair.encoder.bias(last)[z:] += 1.0
    _, dec_after = conjunctive_masks(pair, rows, 0.2)
    np.testing.assert_array_equal(dec_before, dec_after)
    pair.encoder.weight(last)[:z] *= -3.0  # the mean head does matter
    _, dec_mean_changed = conjunctive_masks(pair, rows, 0.2)
    assert not np.array_equal(dec_before, dec_mean_changed)


def test_conjunctive_rejects_bad_rows_and_thresholds():
    pair = hand_made_pair()
    with pytest.raises(ValueError, match="rows must have shape"):
        conjunctive_masks(pair, np.zeros((3, 5), np.float32), 0.1)
    with pytest.raises(ValueError, match="lexi_threshold"):
        conjunctive_masks(pair, np.zeros((3, 4), np.float32), 1.5)


# --------------------------------------------------------------------------
# prune_pair
# --------------------------------------------------------------------------
def recorded_pair(seed=12):
    from minievo.engine import Engine

    rng = np.random.default_rng(seed)
    pair = make_autoencoder("default", 20, rng, record_rows=5)
    data = (rng.random((30, 20)) < 0.7).astype(np.float32)
    Engine(pair, 5, backend="numpy").train_epoch(
        pair, data, np.arange(30), 5, 1e-3, fresh=False, record=True
    )
    return pair, data


@pytest.mark.parametrize("method", ["random", "variance", "conjunctive", "activation", "lexicase"])
def test_prune_pair_persistent_counts_only_grow(method):
    pair, data = recorded_pair()
    rng = np.random.default_rng(13)
    previous = {"encoder": pair.encoder.mask.copy(), "decoder": pair.decoder.mask.copy()}
    counts = []
    for _ in range(3):
        result = prune_pair(
            pair, method, rng, amount=0.2, test_data=data, lexi_rows=20, lexi_threshold=0.3
        )
        for name in ("encoder", "decoder"):
            net = getattr(pair, name)
            assert np.all(net.mask <= previous[name])  # masked stays masked
            assert np.all(net.params[net.mask == 0.0] == 0.0)
            assert np.all(net.adam_m[net.mask == 0.0] == 0.0)
            previous[name] = net.mask.copy()
        assert result.n_pruned_encoder == pair.encoder.n_pruned
        assert result.n_pruned_decoder == pair.decoder.n_pruned
        assert result.n_active_encoder == pair.encoder.n_active
        assert result.n_active_decoder == pair.decoder.n_active
        assert (
            sum(r["pruned_weights"] + r["pruned_biases"] for r in result.encoder_layers)
            == result.n_pruned_encoder
        )
        counts.append(result.n_pruned_encoder + result.n_pruned_decoder)
    assert counts == sorted(counts) and counts[-1] > 0


def test_prune_pair_regrow_zeroes_params_only_and_reports_zeros():
    pair, data = recorded_pair()
    pair.encoder.adam_m[:] = 0.5
    result = prune_pair(pair, "random", np.random.default_rng(14), amount=0.1, mask_mode="regrow")
    for net, reported in (
        (pair.encoder, result.n_pruned_encoder),
        (pair.decoder, result.n_pruned_decoder),
    ):
        assert np.all(net.mask == 1.0)  # no mask: entries may regrow
        assert reported == net.n_zero and net.n_zero > 0
    assert np.all(pair.encoder.adam_m == 0.5)  # Adam moments left alone


def test_prune_pair_argument_errors():
    pair, data = recorded_pair()
    rng = np.random.default_rng(15)
    with pytest.raises(ValueError, match="test_data"):
        prune_pair(pair, "conjunctive", rng)
    with pytest.raises(ValueError, match="did you mean 'variance'"):
        prune_pair(pair, "varaince", rng)
    with pytest.raises(ValueError, match="prune amount"):
        prune_pair(pair, "variance", rng, amount=2.0)
    with pytest.raises(ValueError, match="mask_mode"):
        prune_pair(pair, "random", rng, mask_mode="sticky")
    with pytest.raises(NoRecordsError):
        prune_pair(pair.copy(), "variance", rng)  # copies start without records


def test_prune_pair_without_a_report_prunes_the_same_and_skips_the_layers():
    """``report=False`` (the training loops) changes nothing but the per-layer report."""
    first = make_autoencoder("default", 40, np.random.default_rng(3))
    second = first.copy()
    with_report = prune_pair(first, "random", np.random.default_rng(5), amount=0.3)
    without = prune_pair(second, "random", np.random.default_rng(5), amount=0.3, report=False)
    np.testing.assert_array_equal(first.encoder.params, second.encoder.params)
    np.testing.assert_array_equal(first.decoder.mask, second.decoder.mask)
    assert with_report[:4] == without[:4]
    assert with_report.encoder_layers and without.encoder_layers is None
