"""The ring topology, best-case fitness and tournament selection (docs/algorithm.md §4 steps 1-3)."""

import numpy as np
import pytest

from minievo.training.ring import best_case_fitness, neighbourhood_indices, select_by_tournament


@pytest.mark.parametrize(
    "cell, population, radius, expected",
    [
        (0, 1, 1, [0, 0, 0]),  # population 1: the cell itself 2r+1 times
        (0, 1, 2, [0, 0, 0, 0, 0]),
        (0, 2, 1, [0, 1, 1]),  # both neighbours are the other cell
        (1, 2, 1, [1, 0, 0]),
        (0, 3, 1, [0, 1, 2]),
        (2, 3, 1, [2, 0, 1]),
        (1, 3, 2, [1, 2, 0, 0, 2]),  # beyond what Config allows; the function still wraps
        (0, 10, 1, [0, 1, 9]),
        (5, 10, 1, [5, 6, 4]),
        (0, 10, 2, [0, 1, 9, 2, 8]),
        (9, 10, 2, [9, 0, 8, 1, 7]),
    ],
)
def test_neighbourhood_indices_follow_the_published_order(cell, population, radius, expected):
    got = neighbourhood_indices(cell, population, radius)
    assert got.tolist() == expected
    assert got.dtype == np.int64 and got.shape == (2 * radius + 1,)


def test_every_cell_appears_in_as_many_neighbourhoods_as_it_has_entries():
    # on a ring of 10 with radius 2 each cell is in exactly 5 neighbourhoods
    counts = np.bincount(
        np.concatenate([neighbourhood_indices(c, 10, 2) for c in range(10)]), minlength=10
    )
    assert counts.tolist() == [5] * 10


@pytest.mark.parametrize(
    "cell, population, radius, message",
    [
        (3, 3, 1, "not on a ring"),
        (-1, 3, 1, "not on a ring"),
        (0, 0, 1, "population_size"),
        (0, 3, 0, "radius"),
    ],
)
def test_neighbourhood_indices_reject_bad_arguments(cell, population, radius, message):
    with pytest.raises(ValueError, match=message):
        neighbourhood_indices(cell, population, radius)


def test_best_case_fitness_is_the_best_partner():
    losses = np.array([[0.5, 0.2, 0.9], [0.4, 0.8, 0.7], [0.6, 0.3, 0.1]])
    encoder, decoder = best_case_fitness(losses)
    np.testing.assert_array_equal(encoder, [0.2, 0.4, 0.1])
    np.testing.assert_array_equal(decoder, [0.4, 0.2, 0.1])


def test_best_case_fitness_rejects_non_matrices():
    with pytest.raises(ValueError, match="2-d"):
        best_case_fitness(np.zeros(3))


class ScriptedGenerator:
    """Stands in for a Generator: ``integers`` returns the scripted contestants."""

    def __init__(self, *draws):
        self.draws = list(draws)

    def integers(self, low, high, size):
        draw = np.asarray(self.draws.pop(0))
        assert draw.shape == (size,) and np.all((low <= draw) & (draw < high))
        return draw


def test_tournament_lower_loss_wins_in_either_order():
    losses = np.array([0.3, 0.1, 0.2])
    assert select_by_tournament(losses, ScriptedGenerator([0, 1])) == 1
    assert select_by_tournament(losses, ScriptedGenerator([1, 0])) == 1
    assert select_by_tournament(losses, ScriptedGenerator([2, 0])) == 2


def test_tournament_ties_go_to_the_second_draw():
    losses = np.array([0.5, 0.5, 0.1])
    assert select_by_tournament(losses, ScriptedGenerator([0, 1])) == 1
    assert select_by_tournament(losses, ScriptedGenerator([1, 0])) == 0
    assert select_by_tournament(losses, ScriptedGenerator([2, 2])) == 2


def test_tournament_with_a_seeded_generator_draws_two_indices_with_replacement():
    losses = np.array([0.7, 0.7, 0.2, 0.7])
    rng = np.random.default_rng(3)
    expected_draws = np.random.default_rng(3)
    for _ in range(50):
        a, b = expected_draws.integers(0, 4, size=2)
        expected = a if losses[a] < losses[b] else b  # the published rule
        assert select_by_tournament(losses, rng) == expected


def test_tournament_larger_sizes_keep_the_tie_rule():
    losses = np.array([0.5, 0.2, 0.2])
    assert select_by_tournament(losses, ScriptedGenerator([0, 1, 2]), size=3) == 2
    assert select_by_tournament(losses, ScriptedGenerator([2, 1, 0]), size=3) == 1


def test_tournament_rejects_empty_losses():
    with pytest.raises(ValueError, match="non-empty"):
        select_by_tournament(np.array([]), np.random.default_rng(0))
