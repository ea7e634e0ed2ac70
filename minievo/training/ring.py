"""The ring of Lipi-AE: who a cell's neighbours are, and how one of them is chosen.

docs/algorithm.md §4 places ``population_size`` cells on a ring. Cell ``i`` sees its own
center and the centers of the cells ``i ± 1 … i ± radius`` (mod n), so a
neighbourhood always holds ``2·radius + 1`` encoders and as many decoders;
encoder ``k`` and decoder ``k`` come from the same cell.

Every (encoder, decoder) combination of the neighbourhood is evaluated on one
batch, giving a loss matrix ``L`` of shape ``(K, K)`` with ``K = 2r + 1``
(rows: encoders, columns: decoders). The "best case" solution concept scores
each network by its best partner:

.. math::

    f^{E}_k = \\min_j L_{kj}, \\qquad f^{D}_j = \\min_k L_{kj}.

Selection is a size-2 tournament on the encoder fitness :math:`f^E`; the
winning index gives the encoder and the decoder of the same cell.

Nothing here touches networks: these are the pure index and number
operations, tested on their own (``tests/test_ring.py``). Each is defined once,
in the reading edition (:mod:`minievo.paper.lipi_ae`); the functions here check
their arguments, for callers outside the algorithm, and delegate to it.
"""

from __future__ import annotations

import numpy as np

from ..paper import lipi_ae


def neighbourhood_indices(cell: int, population_size: int, radius: int) -> np.ndarray:
    """Cells whose centers form cell ``cell``'s neighbourhood (docs/algorithm.md §4 step 1).

    The order is that of the published ``get_neighbors``: the cell itself,
    then for ``d = 1 … radius`` the right neighbour ``(i + d) mod n`` and the
    left neighbour ``(i - d) mod n``:

    .. math::

        N(i) = (i,\\; i+1,\\; i-1,\\; i+2,\\; i-2,\\; \\dots,\\; i+r,\\; i-r) \\bmod n.

    Parameters
    ----------
    cell : int
        Index of the visited cell, in ``[0, population_size)``.
    population_size : int
        Number of cells on the ring, >= 1.
    radius : int
        Neighbourhood radius, >= 1.

    Returns
    -------
    numpy.ndarray of int64, shape (2 * radius + 1,)
        Always ``2r + 1`` entries. On small rings indices repeat, as in the
        published code: population 1 gives the cell itself ``2r + 1`` times,
        population 2 with radius 1 gives ``(i, j, j)`` with ``j`` the other cell.

    Examples
    --------
    >>> neighbourhood_indices(0, 10, 2).tolist()
    [0, 1, 9, 2, 8]
    """
    if population_size < 1:
        raise ValueError(f"population_size must be >= 1, got {population_size}")
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    if not 0 <= cell < population_size:
        raise ValueError(f"cell {cell} is not on a ring of {population_size} cells")
    return lipi_ae.neighbourhood(cell, population_size, radius)  # (2r+1,)


def best_case_fitness(loss_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoder and decoder fitness under the "best case" solution concept (docs/algorithm.md §4 step 2).

    Parameters
    ----------
    loss_matrix : numpy.ndarray, shape (K_enc, K_dec)
        ``loss_matrix[k, j]`` is the loss of encoder ``k`` with decoder ``j``.

    Returns
    -------
    encoder_fitness : numpy.ndarray, shape (K_enc,)
        :math:`f^E_k = \\min_j L_{kj}` (lower is better).
    decoder_fitness : numpy.ndarray, shape (K_dec,)
        :math:`f^D_j = \\min_k L_{kj}`.
    """
    loss_matrix = np.asarray(loss_matrix)
    if loss_matrix.ndim != 2 or 0 in loss_matrix.shape:
        raise ValueError(
            f"loss_matrix must be a non-empty 2-d array, got shape {loss_matrix.shape}"
        )
    return lipi_ae.best_case_fitness(loss_matrix)


def select_by_tournament(losses: np.ndarray, rng: np.random.Generator, size: int = 2) -> int:
    """Index chosen by a tournament over ``losses`` (docs/algorithm.md §4 step 3).

    Draw ``size`` indices uniformly *with replacement*; the one with the
    lowest loss wins. A tie goes to the later draw: this is the published
    rule ``idx = a if L[a] < L[b] else b`` for ``size = 2``, applied left to
    right for larger tournaments.

    Parameters
    ----------
    losses : numpy.ndarray, shape (K,)
        Fitness of each candidate, lower is better.
    rng : numpy.random.Generator
        Draws the ``size`` contestants (one ``rng.integers(0, K, size)`` call).
    size : int, default 2

    Returns
    -------
    int
        The winning index.
    """
    losses = np.asarray(losses)
    if losses.ndim != 1 or losses.shape[0] == 0:
        raise ValueError(f"losses must be a non-empty 1-d array, got shape {losses.shape}")
    if size < 1:
        raise ValueError(f"tournament size must be >= 1, got {size}")
    return lipi_ae.tournament(losses, rng, size)
