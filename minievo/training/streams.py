"""Randomness of a coevolution run: generators that depend only on (seed, epoch, cell).

Every random draw of a visit comes from generators that depend only on
``(seed, epoch, cell)``: :func:`visit_streams` builds them from
``SeedSequence(seed)`` with a ``spawn_key`` of the epoch and the cell. The
results therefore do not depend on thread scheduling (synchronous serial and
parallel runs are identical) and a resumed run needs no generator state, only
the epoch it stopped at. Within a visit, separate streams serve the data
order, the tournament, the partners, the input noise, pruning and the
learning-rate mutation, so switching one operator off leaves the others' draws
unchanged (docs/algorithm.md §4).

The stream names, the keys and the visit order are defined once, in the reading
edition (:mod:`minievo.paper.lipi_ae`); this module adds generators built on first
use, which draw the same numbers.
"""

from __future__ import annotations

import numpy as np

from ..paper.lipi_ae import EPOCH as _EPOCH
from ..paper.lipi_ae import EPOCH_STREAMS, VISIT_STREAMS, visit_order  # noqa: F401 (re-exported)
from ..paper.lipi_ae import INIT as _INIT
from ..paper.lipi_ae import VISIT as _VISIT


class Streams(dict):
    """Named generators of one key, each built on its first use.

    Stream ``names[i]`` is the generator of ``SeedSequence(seed,
    spawn_key=key + (i,))``, exactly the ``i``-th child that
    ``SeedSequence(seed, spawn_key=key).spawn(len(names))`` gives, so
    building only the streams a visit reads (a ``lipi_simple`` visit never
    reads ``partners``) draws the same numbers as building them all.
    """

    def __init__(self, seed: int, key: tuple, names):
        super().__init__()
        self._seed, self._key = seed, tuple(key)
        self._index = {name: i for i, name in enumerate(names)}

    def __missing__(self, name: str) -> np.random.Generator:
        child = np.random.SeedSequence(self._seed, spawn_key=self._key + (self._index[name],))
        generator = self[name] = np.random.default_rng(child)
        return generator


def init_generator(seed: int) -> np.random.Generator:
    """Generator that draws the initial networks of every cell, in cell order."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_INIT,)))


def visit_streams(seed: int, epoch: int, cell: int) -> Streams:
    """The generators of one cell visit (:data:`VISIT_STREAMS`), a function of its key only.

    For ``all_vs_all`` ``cell`` is ``a * population_size + b`` for the pair
    (encoder ``a``, decoder ``b``).
    """
    return Streams(seed, (_VISIT, epoch, cell), VISIT_STREAMS)


def epoch_streams(seed: int, epoch: int) -> Streams:
    """The generators of one epoch (:data:`EPOCH_STREAMS`)."""
    return Streams(seed, (_EPOCH, epoch), EPOCH_STREAMS)
