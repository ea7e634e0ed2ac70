"""The loss–size front (minievo.experiments.front) against brute force on random point sets."""

import numpy as np
import pytest

from minievo.experiments.front import hypervolume_2d, non_dominated


def _brute_hypervolume(points, reference):
    """Cover the box below ``reference`` by the grid of all coordinates; count covered cells."""
    p = np.asarray(points, dtype=float)
    xs = np.unique(np.append(p[:, 0], reference[0]))
    ys = np.unique(np.append(p[:, 1], reference[1]))
    xs, ys = xs[xs <= reference[0]], ys[ys <= reference[1]]
    area = 0.0
    for x0, x1 in zip(xs[:-1], xs[1:]):
        for y0, y1 in zip(ys[:-1], ys[1:]):
            if np.any((p[:, 0] <= x0) & (p[:, 1] <= y0)):
                area += (x1 - x0) * (y1 - y0)
    return area


def _brute_non_dominated(points):
    p = [tuple(q) for q in points]
    return np.array([not any(o[0] <= q[0] and o[1] <= q[1] and o != q for o in p) for q in p])


@pytest.mark.parametrize("seed", range(30))
def test_hypervolume_and_front_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    points = rng.random((n, 2)) * [1000, 0.4]
    if seed % 3 == 0:  # ties in both coordinates
        points = np.round(points * [0.01, 20]) / [0.01, 20]
    reference = (800.0, 0.27)
    assert hypervolume_2d(points, reference) == pytest.approx(
        _brute_hypervolume(points, reference), rel=1e-12, abs=1e-12
    )
    np.testing.assert_array_equal(non_dominated(points), _brute_non_dominated(points))


def test_hypervolume_known_answers():
    assert hypervolume_2d([(1, 1)], (3, 2)) == 2.0
    assert hypervolume_2d([(1, 1), (2, 0)], (3, 2)) == 2.0 + 1.0
    assert hypervolume_2d([(3, 1), (1, 2)], (3, 2)) == 0.0  # on the reference: nothing
    assert hypervolume_2d(np.empty((0, 2)), (3, 2)) == 0.0
