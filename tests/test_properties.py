"""Property tests (hypothesis) of the small pure pieces of the algorithm.

The ring (docs/algorithm.md §4 step 1), the tournament (§4 step 3), the
CONJUNCTIVE lexicase filter (§5 What), the schedules (§5 When) and the
configuration round trip. Each property is checked on generated inputs; the
example counts are modest so the file runs in a few seconds.
"""

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from minievo.experiments.config import (  # noqa: E402
    ACTIVATION_SIGNALS,
    CELL_EVALUATIONS,
    ENVIRONMENTS,
    MASK_MODES,
    PRUNE_METHODS,
    PRUNE_SCHEDULES,
    UPDATES,
    Config,
)
from minievo.pruning.operators import lexicase_filter, passing_nodes  # noqa: E402
from minievo.pruning.schedules import SCHEDULES, prune_probability, should_prune  # noqa: E402
from minievo.training.ring import neighbourhood_indices, select_by_tournament  # noqa: E402

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------
# The ring: neighbourhood indices
# --------------------------------------------------------------------------


@st.composite
def ring_and_cell(draw):
    n = draw(st.integers(1, 40))
    r = draw(st.integers(1, 6))
    i = draw(st.integers(0, n - 1))
    return n, r, i


@FAST
@given(ring_and_cell())
def test_neighbourhood_size_range_and_first_entry(args):
    n, r, i = args
    nb = neighbourhood_indices(i, n, r)
    assert nb.shape == (2 * r + 1,)
    assert ((0 <= nb) & (nb < n)).all()
    assert nb[0] == i


@FAST
@given(ring_and_cell())
def test_neighbourhood_is_the_translated_neighbourhood_of_cell_0(args):
    n, r, i = args
    assert (neighbourhood_indices(i, n, r) == (neighbourhood_indices(0, n, r) + i) % n).all()


@FAST
@given(ring_and_cell(), st.data())
def test_neighbourhood_is_symmetric_with_multiplicity(args, data):
    # j appears in N(i) as often as i appears in N(j), small rings included
    n, r, i = args
    j = data.draw(st.integers(0, n - 1))
    count_j_in_i = int(np.count_nonzero(neighbourhood_indices(i, n, r) == j))
    count_i_in_j = int(np.count_nonzero(neighbourhood_indices(j, n, r) == i))
    assert count_j_in_i == count_i_in_j


@FAST
@given(ring_and_cell())
def test_neighbourhood_has_distinct_cells_when_the_ring_is_large_enough(args):
    n, r, i = args
    nb = neighbourhood_indices(i, n, r)
    if n >= 2 * r + 1:
        assert len(set(nb.tolist())) == 2 * r + 1
        # exactly the cells within ring distance r
        distance = np.minimum((np.arange(n) - i) % n, (i - np.arange(n)) % n)
        assert set(nb.tolist()) == set(np.flatnonzero(distance <= r).tolist())


# --------------------------------------------------------------------------
# The tournament
# --------------------------------------------------------------------------

# Few distinct values so that ties are frequent.
losses_strategy = hnp.arrays(
    np.float64, st.integers(1, 9), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])
)


@FAST
@given(losses_strategy, st.integers(0, 2**32 - 1))
def test_tournament_winner_is_the_lower_loss_and_ties_go_to_the_second(losses, seed):
    winner = select_by_tournament(losses, np.random.default_rng(seed))
    a, b = np.random.default_rng(seed).integers(0, losses.shape[0], size=2)  # the same draws
    assert 0 <= winner < losses.shape[0]
    assert winner in (a, b)
    assert losses[winner] == min(losses[a], losses[b])
    if losses[a] == losses[b]:
        assert winner == b


@FAST
@given(losses_strategy, st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_tournament_of_any_size_picks_a_best_contestant(losses, seed, size):
    winner = select_by_tournament(losses, np.random.default_rng(seed), size=size)
    drawn = np.random.default_rng(seed).integers(0, losses.shape[0], size=size)
    assert winner in drawn
    assert losses[winner] == losses[drawn].min()
    assert winner == drawn[losses[drawn] == losses[drawn].min()][-1]  # ties: the last draw


# --------------------------------------------------------------------------
# CONJUNCTIVE: passing nodes and the lexicase filter
# --------------------------------------------------------------------------

passes_strategy = hnp.arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 10)))


@FAST
@given(passes_strategy)
def test_lexicase_result_passes_every_row_it_considered(passes):
    result = lexicase_filter(passes)
    assert result.shape == (passes.shape[1],)
    assert not (result & ~passes[0]).any()  # a subset of the first row's nodes
    # Either it stopped at <= 1 node, or it used every row: then it is their AND.
    if np.count_nonzero(result) > 1:
        assert (result == passes.all(axis=0)).all()
    # Stopping: the rows considered are a prefix; replaying that prefix gives the result.
    remaining = passes[0].copy()
    for row in passes[1:]:
        if np.count_nonzero(remaining) <= 1:
            break
        assert np.count_nonzero(remaining & row) <= np.count_nonzero(remaining)
        remaining &= row
    assert (remaining == result).all()


@FAST
@given(passes_strategy, st.data())
def test_lexicase_is_equivariant_under_node_permutations(passes, data):
    perm = np.asarray(data.draw(st.permutations(range(passes.shape[1]))))
    assert (lexicase_filter(passes[:, perm]) == lexicase_filter(passes)[perm]).all()


@FAST
@given(passes_strategy, st.data())
def test_lexicase_ignores_a_repeated_row_and_rows_after_it_stopped(passes, data):
    result = lexicase_filter(passes)
    k = data.draw(st.integers(0, passes.shape[0] - 1))
    repeated = np.insert(passes, k + 1, passes[k], axis=0)  # row k twice in a row
    assert (lexicase_filter(repeated) == result).all()
    if np.count_nonzero(result) <= 1:
        extra = data.draw(hnp.arrays(np.bool_, (3, passes.shape[1])))
        assert (lexicase_filter(np.vstack([passes, extra])) == result).all()


small_ints = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 8), st.integers(1, 8)),
    elements=st.integers(-20, 20).map(float),
)


@FAST
@given(small_ints, st.floats(0.0, 1.0), st.integers(-3, 3), st.integers(-5, 5))
def test_passing_nodes_is_invariant_under_positive_affine_maps_of_a_row(
    values, threshold, log_scale, shift
):
    # exact in float64: small integers, a power-of-two scale, an integer shift
    scaled = values * 2.0**log_scale + shift
    assert (passing_nodes(scaled, threshold) == passing_nodes(values, threshold)).all()


@FAST
@given(small_ints, st.floats(1e-6, 1.0))
def test_passing_nodes_lowest_node_passes_unless_the_row_is_constant(values, threshold):
    passes = passing_nodes(values, threshold)
    for row, p in zip(values, passes):
        if row.min() == row.max():
            assert not p.any()
        else:
            assert p[np.argmin(row)]
            assert not p[np.argmax(row)]  # scaled to 1, never below threshold <= 1


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------


@st.composite
def schedule_args(draw):
    T = draw(st.integers(0, 500))
    t = draw(st.integers(0, T))
    p = draw(st.floats(0.0, 1.0))
    n = draw(st.integers(1, 21))
    return p, t, T, n


@FAST
@given(st.sampled_from(SCHEDULES), schedule_args())
def test_schedule_probabilities_lie_in_0_1(schedule, args):
    p, t, T, n = args
    value = prune_probability(schedule, p, t, T, n)
    assert 0.0 <= value <= 1.0


INCREASING = ("fixed", "increase", "population", "exponential", "final_n", "prune_after")


@FAST
@given(st.sampled_from(SCHEDULES), schedule_args())
def test_schedules_are_monotone_in_the_epoch(schedule, args):
    p, t, T, n = args
    if t == T:
        return
    now = prune_probability(schedule, p, t, T, n)
    later = prune_probability(schedule, p, t + 1, T, n)
    if schedule in INCREASING:
        assert later >= now
    else:  # decrease
        assert later <= now


@FAST
@given(schedule_args())
def test_prune_after_and_final_n_rules(args):
    p, t, T, n = args
    assert prune_probability("prune_after", p, t, T, n) == (p if t >= T else 0.0)
    assert prune_probability("final_n", p, t, T, n) == (p if t >= 0.75 * T else 0.0)
    assert math.isclose(
        prune_probability("population", p, t, T, n), prune_probability("increase", p, t, T, n) / n
    )


@FAST
@given(st.integers(1, 300), st.floats(0.0, 1.0))
def test_prune_after_never_fires_in_canonical_training(epochs, p):
    # canonical training passes T = epochs while its epochs stop at epochs - 1
    assert all(prune_probability("prune_after", p, t, epochs, 1) == 0.0 for t in range(epochs))


@FAST
@given(st.sampled_from(SCHEDULES), schedule_args(), st.integers(0, 2**32 - 1))
def test_should_prune_draws_exactly_one_number(schedule, args, seed):
    p, t, T, n = args
    rng, twin = np.random.default_rng(seed), np.random.default_rng(seed)
    decided = should_prune(schedule, p, t, T, n, rng)
    u = twin.random()
    assert decided == (u < prune_probability(schedule, p, t, T, n))
    assert rng.random() == twin.random()  # both streams advanced by one draw


# --------------------------------------------------------------------------
# Configuration round trip
# --------------------------------------------------------------------------

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def configs(draw):
    cell_evaluation = draw(st.sampled_from(CELL_EVALUATIONS))
    population = draw(st.integers(1, 12))
    # a valid configuration: radius, learning rate and batch size within what
    # the configuration's consistency rules allow (each tested in test_config)
    radius = draw(st.integers(1, max(1, (population - 1) // 2)))
    lr_min = draw(st.floats(1e-12, 1e-3, **finite))
    lr_max = draw(st.floats(max(lr_min, 1e-9), 100.0, **finite))
    clusters, per_cluster, n_dim = draw(
        st.tuples(st.integers(1, 60), st.integers(1, 200), st.integers(1, 5000))
    )
    values = {
        "cell_evaluation": cell_evaluation,
        "environment": draw(st.sampled_from(ENVIRONMENTS)),
        "dataset_name": f"binary_clustering_{clusters}_{per_cluster}_{n_dim}",
        "noise_probability": draw(st.floats(0.0, 1.0)),
        "p_one": draw(st.floats(0.0, 1.0)),
        "data_seed": draw(st.none() | st.integers(0, 2**31)),
        "population_size": population,
        "radius": radius,
        "epochs": draw(st.integers(1, 1000)),
        "learning_rate": draw(st.floats(1e-9, min(1.0, lr_max), **finite)),
        "batch_size": draw(st.integers(1, min(500, clusters * per_cluster))),
        "seed": draw(st.integers(0, 2**31)),
        "trials": draw(st.integers(1, 30)),
        "shuffle_data": draw(st.booleans()),
        "calculate_test_loss": draw(st.booleans()),
        "stats_every": draw(st.integers(1, 1000)),
        "optimizer_state": draw(st.none() | st.sampled_from(("fresh", "persistent"))),
        "adam_betas": draw(st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.9999))),
        "adam_eps": draw(st.floats(1e-12, 1e-3, **finite)),
        "lr_mutation_std": draw(st.floats(0.0, 1e-2)),
        "lr_min": lr_min,
        "lr_max": lr_max,
        "update": draw(st.sampled_from(UPDATES)),
        "prune_method": draw(st.none() | st.sampled_from(PRUNE_METHODS)),
        "prune_schedule": draw(st.sampled_from(PRUNE_SCHEDULES)),
        "prune_probability": draw(st.floats(0.0, 1.0)),
        "prune_amount": draw(st.floats(0.0, 1.0)),
        "lexi_threshold": draw(st.floats(0.0, 1.0)),
        "lexi_rows": draw(st.integers(1, 500)),
        "mask_mode": draw(st.sampled_from(MASK_MODES)),
        "activation_signal": draw(st.sampled_from(ACTIVATION_SIGNALS)),
        "checkpoint_every": draw(st.integers(0, 50)),
        "save_all_centers": draw(st.booleans()),
        "progress": draw(st.booleans()),
    }
    # only fields this version of Config has (others keep their defaults)
    known = set(Config.field_names())
    return Config(**{k: v for k, v in values.items() if k in known})


@FAST
@given(configs())
def test_config_round_trips_through_dict_and_json(config):
    assert Config.from_dict(config.to_dict()) == config
    text = json.dumps(config.to_dict())
    assert Config.from_dict(json.loads(text)) == config
    assert Config.from_dict(json.loads(text)).to_dict() == config.to_dict()


@settings(max_examples=15, deadline=None)
@given(configs())
def test_config_round_trips_through_its_file(config):
    with tempfile.TemporaryDirectory() as folder:
        path = config.save(Path(folder) / "config.json")
        assert Config.from_file(path) == config
