"""The population of a coevolution run: its centers, learning rates and engines (docs/algorithm.md §4).

``population_size`` cells sit on a ring; each holds a *center* (an encoder and
a decoder) and its own learning rate :math:`\\eta_i`. Between epochs the
whole state of a run is a :class:`Population`; :func:`checkpoint_population`
saves it and :func:`restore_population` reads it back. No generator state is
saved: every draw is a function of (seed, epoch, cell)
(:mod:`~minievo.training.streams`).
"""

from __future__ import annotations

import queue
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..engine import Engine
from ..network import Autoencoder, make_autoencoder
from .checkpoint import load_checkpoint, save_checkpoint
from .records import StatsWriter
from .runs import records_activations
from .streams import init_generator


@dataclass
class Population:
    """The state of a coevolution run between epochs.

    ``centers[i]`` is cell ``i``'s (encoder, decoder) pair and
    ``learning_rates[i]`` its learning rate (``all_vs_all``: all entries hold
    the one shared rate).
    """

    centers: list
    learning_rates: list
    next_epoch: int = 0
    fe_cnt: int = 0
    elapsed: float = 0.0


def initial_population(config, n_dim: int) -> Population:
    """``population_size`` freshly initialised centers, all at ``config.learning_rate``."""
    rng = init_generator(config.seed)
    record_rows = config.batch_size if records_activations(config) else 0
    centers = [
        make_autoencoder(config.environment, n_dim, rng, record_rows, config.activation_signal)
        for _ in range(config.population_size)
    ]
    return Population(centers, [float(config.learning_rate)] * config.population_size)


def make_engine(config, pair: Autoencoder) -> Engine:
    """An engine (kernels + workspace) for pairs of ``pair``'s shape.

    Its training workspace holds one batch; whole-set evaluations use the
    engine's own chunked workspace (:data:`minievo.engine.EVAL_CHUNK`).
    """
    return Engine(
        pair,
        max_rows=config.batch_size,
        backend=config.backend,
        betas=config.adam_betas,
        eps=config.adam_eps,
        noise_std=config.denoising_noise_std,
    )


class EnginePool:
    """One engine per worker thread: a thread borrows one for a whole visit."""

    def __init__(self, config, pair: Autoencoder, n_engines: int):
        self._free = queue.SimpleQueue()
        for _ in range(n_engines):
            self._free.put(make_engine(config, pair))

    @contextmanager
    def borrow(self):
        engine = self._free.get()
        try:
            yield engine
        finally:
            self._free.put(engine)


def replace_center(
    population: Population, cell: int, center: Autoencoder, learning_rate: float
) -> None:
    """Step 7: the trained pair becomes the cell's center, always (even when worse)."""
    population.centers[cell] = center
    population.learning_rates[cell] = learning_rate


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def _network_name(cell: int, part: str) -> str:
    return f"cell{cell:03d}_{part}"


def checkpoint_population(
    out_dir, writer: StatsWriter, population: Population, config, elapsed: float
) -> None:
    """Save every center (with Adam state), the learning rates and counters, atomically.

    Activation records are empty at epoch boundaries in ``lipi_simple``;
    in ``epoch-node`` and ``all_vs_all`` they persist until the next pruning
    and are stored with the networks (``MLP.state_dict``). No generator state is needed: every draw is a
    function of (seed, epoch, cell) (:mod:`~minievo.training.streams`).
    """
    writer.sync()
    state = {
        "variant": config.cell_evaluation,
        "seed": config.seed,
        "population_size": config.population_size,
        "next_epoch": population.next_epoch,
        "fe_cnt": population.fe_cnt,
        "elapsed": elapsed,
        "stats_bytes": writer.n_bytes,
        "learning_rates": [float(lr) for lr in population.learning_rates],
        "rngs": "counter-based: SeedSequence(seed, spawn_key=(kind, epoch, cell))",
    }
    networks = {}
    for cell, center in enumerate(population.centers):
        networks[_network_name(cell, "encoder")] = center.encoder
        networks[_network_name(cell, "decoder")] = center.decoder
    save_checkpoint(out_dir, state, networks, moments=config.optimizer_state != "fresh")


def restore_population(out_dir, config, kind: str) -> tuple[Population, int]:
    """The population saved by :func:`checkpoint_population`, and the stats byte count.

    Raises
    ------
    ValueError
        When the checkpoint belongs to a run with another variant, seed or
        population size.
    """
    record_rows = config.batch_size if records_activations(config) else 0
    state, networks, _ = load_checkpoint(out_dir, record_rows)
    path = Path(out_dir) / "checkpoint.npz"
    for key, expected in (
        ("variant", config.cell_evaluation),
        ("seed", config.seed),
        ("population_size", config.population_size),
    ):
        if state.get(key) != expected:
            raise ValueError(
                f"{path}: checkpoint has {key}={state.get(key)!r} but the "
                f"configuration has {expected!r}; cannot resume"
            )
    try:
        centers = [
            Autoencoder(
                networks[_network_name(c, "encoder")], networks[_network_name(c, "decoder")], kind
            )
            for c in range(config.population_size)
        ]
    except KeyError as err:
        raise ValueError(f"{path}: checkpoint lacks network {err.args[0]!r}") from None
    population = Population(
        centers,
        [float(lr) for lr in state["learning_rates"]],
        int(state["next_epoch"]),
        int(state["fe_cnt"]),
        float(state["elapsed"]),
    )
    return population, int(state["stats_bytes"])
