"""Tests of minievo.pruning.schedules: when to prune (docs/algorithm.md §5 "When")."""

import math

import numpy as np
import pytest

from minievo.pruning import SCHEDULES, prune_probability, should_prune

P = 0.5
EPOCHS = 10


def expected(schedule, t, T, n=1, p=P):
    """The docs/algorithm.md §5 table, written out independently of the module."""
    return {
        "fixed": p,
        "increase": p * t / T,
        "decrease": 1 - p * t / T,
        "population": p * t / (T * n),
        "exponential": p * (1 - math.exp(-2 * t / T)),
        "final_n": 0.0 if t < T - 0.25 * T else p,
        "prune_after": 0.0 if t < T else p,
    }[schedule]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(
    "T", [EPOCHS, EPOCHS - 1], ids=["canonical_T=epochs", "coevolution_T=epochs-1"]
)
def test_every_schedule_at_start_middle_and_end(schedule, T):
    for t in (0, T // 2, T):
        got = prune_probability(schedule, P, t, T, n_solutions=3)
        assert got == pytest.approx(expected(schedule, t, T, n=3), abs=1e-15), (schedule, t, T)


def test_hand_computed_values():
    assert prune_probability("fixed", 0.3, 7, 10) == 0.3
    assert prune_probability("increase", 0.5, 5, 10) == 0.25
    assert prune_probability("decrease", 0.5, 0, 10) == 1.0  # decrease starts at 1
    assert prune_probability("decrease", 0.5, 10, 10) == 0.5  # 1 - p at the end
    assert prune_probability("population", 0.6, 5, 10, n_solutions=3) == pytest.approx(0.1)
    assert prune_probability("exponential", 0.5, 10, 10) == pytest.approx(0.5 * (1 - math.exp(-2)))
    assert prune_probability("exponential", 0.5, 0, 10) == 0.0


def test_prune_after_never_fires_in_canonical_training():
    # canonical passes T = epochs and runs t = 0 .. epochs - 1
    fired = [prune_probability("prune_after", 1.0, t, EPOCHS) for t in range(EPOCHS)]
    assert fired == [0.0] * EPOCHS
    # the coevolution passes T = epochs - 1: only the last epoch prunes
    fired = [prune_probability("prune_after", 1.0, t, EPOCHS - 1) for t in range(EPOCHS)]
    assert fired == [0.0] * (EPOCHS - 1) + [1.0]


@pytest.mark.parametrize("T, first_epoch", [(8, 6), (9, 7), (10, 8), (4, 3)])
def test_final_n_boundary(T, first_epoch):
    # prunes from epoch T - 0.25 T on: T=8 -> 6.0, T=9 -> 6.75, T=10 -> 7.5, T=4 -> 3.0
    assert prune_probability("final_n", P, first_epoch - 1, T) == 0.0
    assert prune_probability("final_n", P, first_epoch, T) == P


def test_population_divides_by_the_number_of_solutions():
    one = prune_probability("population", 0.9, 5, 10, n_solutions=1)
    assert prune_probability("population", 0.9, 5, 10, n_solutions=3) == pytest.approx(one / 3)
    # no other schedule depends on n_solutions
    for schedule in set(SCHEDULES) - {"population"}:
        assert prune_probability(schedule, 0.9, 5, 10, 1) == prune_probability(
            schedule, 0.9, 5, 10, 7
        )


def test_final_epoch_zero_reads_progress_as_one():
    # a one-epoch coevolution passes T = 0: the only epoch is the final one
    assert prune_probability("increase", 0.4, 0, 0) == 0.4
    assert prune_probability("decrease", 0.4, 0, 0) == pytest.approx(0.6)
    assert prune_probability("prune_after", 0.4, 0, 0) == 0.4


@pytest.mark.parametrize("bad", ["fixd", "Fixed", "", None, 3])
def test_unknown_schedule_names_the_value_and_allowed_ones(bad):
    with pytest.raises(ValueError, match="allowed: fixed, increase") as info:
        prune_probability(bad, 0.5, 0, 10)
    assert repr(bad) in str(info.value)


def test_unknown_schedule_suggests_the_closest_name():
    with pytest.raises(ValueError, match="did you mean 'exponential'"):
        prune_probability("exponentail", 0.5, 0, 10)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_invalid_probability_raises(bad):
    with pytest.raises(ValueError, match="prune probability") as info:
        prune_probability("fixed", bad, 0, 10)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"t": -1}, "epoch t"),
        ({"T": -2}, "final epoch T"),
        ({"n_solutions": 0}, "n_solutions"),
        ({"t": 1.5}, "epoch t"),
    ],
)
def test_invalid_epochs_and_counts_raise(kwargs, word):
    args = {"t": 0, "T": 10, "n_solutions": 1, **kwargs}
    with pytest.raises(ValueError, match=word):
        prune_probability("fixed", 0.5, **args)


def test_should_prune_frequency_and_one_draw_per_call():
    rng = np.random.default_rng(1)
    n = 4000
    hits = sum(should_prune("increase", 0.6, 5, 10, 1, rng) for _ in range(n))  # p = 0.3
    se = math.sqrt(0.3 * 0.7 / n)
    assert abs(hits / n - 0.3) < 6 * se
    # exactly one uniform draw per call, whatever the probability
    a, b = np.random.default_rng(2), np.random.default_rng(2)
    assert should_prune("prune_after", 1.0, 0, 10, 1, a) is False
    assert should_prune("fixed", 1.0, 0, 10, 1, a) is True
    b.random(2)
    assert a.random() == b.random()
