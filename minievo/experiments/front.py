r"""The loss–size front: non-dominated trials and the 2-D hypervolume.

A trial is a point :math:`p = (s, \ell)`: a network size ``s`` (parameters)
and a final loss :math:`\ell`, both to be minimised. ``p`` dominates ``q``
when :math:`p_s \le q_s`, :math:`p_\ell \le q_\ell` and ``p != q``. The
hypervolume of a set ``P`` against a reference point :math:`r = (r_s, r_\ell)`
is the area of what ``P`` dominates inside the box below ``r``:

.. math::

    HV(P; r) = \left| \bigcup_{p \in P,\ p < r} [p_s, r_s] \times [p_\ell, r_\ell] \right|

Points not strictly below ``r`` in both coordinates add nothing. Sorting the
front by size (losses then fall) makes it a sum of rectangles:
:math:`HV = \sum_i (s_{i+1} - s_i)(r_\ell - \ell_i)` with :math:`s_{n+1} = r_s`.
"""

from __future__ import annotations

import numpy as np


def non_dominated(points) -> np.ndarray:
    """``(n,)`` bool: which of ``points (n, 2)`` no other point dominates."""
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    no_worse = np.all(p[:, None, :] <= p[None, :, :], axis=2)  # [a, b]: a is no worse than b
    better = np.any(p[:, None, :] < p[None, :, :], axis=2)
    dominated = np.any(no_worse & better, axis=0)
    return ~dominated


def hypervolume_2d(points, reference) -> float:
    """Area dominated by ``points (n, 2)`` (size, loss) below ``reference`` (module docstring)."""
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    r_size, r_loss = (float(v) for v in reference)
    p = p[(p[:, 0] < r_size) & (p[:, 1] < r_loss)]
    if p.size == 0:
        return 0.0
    p = p[np.lexsort((p[:, 1], p[:, 0]))]  # by size, then loss
    area, best_loss = 0.0, r_loss
    for i, (size, loss) in enumerate(p):
        best_loss = min(best_loss, loss)  # the lowest loss at this size or smaller
        next_size = p[i + 1, 0] if i + 1 < len(p) else r_size
        area += (next_size - size) * (r_loss - best_loss)
    return float(area)
