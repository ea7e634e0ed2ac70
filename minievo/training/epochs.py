"""The epochs of a coevolution run: every cell visited once (docs/algorithm.md §4 "Order of updates").

An epoch visits every cell once, in an order reshuffled every epoch (index
order in epoch 0, :func:`~minievo.training.streams.visit_order`); each visit is
:func:`~minievo.training.visit.visit_cell` and its record goes through
:class:`VisitLog`. ``all_vs_all`` visits every ordered (encoder, decoder)
pair instead (:func:`run_all_vs_all_epoch`).

Update modes
------------
``asynchronous`` (default, docs/algorithm.md §4): a cell visited later in an epoch reads
the centers already replaced earlier in that epoch. ``synchronous``: every
cell reads the centers as they were at the start of the epoch; the visits are
then independent and run on ``workers`` threads (the Numba kernels release the
GIL; every thread has its own :class:`~minievo.engine.Engine`). Records are
written in visit order either way.
"""

from __future__ import annotations

import itertools
import math
import time

from ..engine import Engine
from .population import EnginePool, Population, replace_center
from .streams import epoch_streams, visit_order, visit_streams
from .visit import mutate_learning_rate, visit_all_vs_all_pair, visit_cell


class VisitLog:
    """Writes one record per visit, adding ``fe_cnt``, ``timestamp`` and ``wall_time``."""

    def __init__(self, writer, population: Population, start: float):
        self.writer, self.population, self.start = writer, population, start
        self.best_loss = math.inf  # lowest min_replacement_loss so far (progress display)

    def write(self, record: dict) -> None:
        self.population.fe_cnt += 1
        record["fe_cnt"] = self.population.fe_cnt
        record["timestamp"] = time.time()
        record["wall_time"] = time.perf_counter() - self.start
        self.best_loss = min(self.best_loss, record.get("min_replacement_loss", math.inf))
        if self.writer is not None:
            self.writer.write(record)


def run_asynchronous_epoch(
    config, dataset, population: Population, epoch: int, engine: Engine, log: VisitLog
) -> None:
    """Visit every cell; each visit sees the centers replaced before it in this epoch."""
    for cell in visit_order(config.seed, epoch, config.population_size):
        cell = int(cell)
        visit = visit_cell(
            config,
            dataset,
            population.centers,
            cell,
            population.learning_rates[cell],
            epoch,
            engine,
            visit_streams(config.seed, epoch, cell),
        )
        replace_center(population, cell, visit.center, visit.learning_rate)
        log.write(visit.record)


def run_synchronous_epoch(
    config,
    dataset,
    population: Population,
    epoch: int,
    engines: EnginePool,
    log: VisitLog,
    executor=None,
) -> None:
    """Visit every cell against the centers of the start of the epoch, then replace them all.

    With an ``executor`` the visits run concurrently; the outcome is the same
    as serially (the generators depend on (epoch, cell) only). If a visit
    fails, the records of the visits before it (in visit order) are written
    and its error is raised.
    """
    snapshot = list(population.centers)
    learning_rates = list(population.learning_rates)

    def visit(cell):
        with engines.borrow() as engine:
            return visit_cell(
                config,
                dataset,
                snapshot,
                cell,
                learning_rates[cell],
                epoch,
                engine,
                visit_streams(config.seed, epoch, cell),
            )

    cells = [int(c) for c in visit_order(config.seed, epoch, config.population_size)]
    if executor is None:
        outcomes = (_call(visit, cell) for cell in cells)
    else:
        futures = [executor.submit(visit, cell) for cell in cells]
        outcomes = (_result(f) for f in futures)
    visits = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            for done in visits:
                log.write(done.record)
            raise outcome
        visits.append(outcome)
    for done in visits:
        replace_center(population, done.cell, done.center, done.learning_rate)
        log.write(done.record)


def _call(fn, arg):
    try:
        return fn(arg)
    except Exception as err:  # handed back to keep the records before it
        return err


def _result(future):
    try:
        return future.result()
    except Exception as err:
        return err


def run_all_vs_all_epoch(
    config, dataset, population: Population, epoch: int, engine: Engine, log: VisitLog
) -> None:
    """Train every encoder with every decoder once (``order x order``), then mutate the shared rate."""
    n = config.population_size
    order = [int(c) for c in visit_order(config.seed, epoch, n)]
    learning_rate = population.learning_rates[0]
    for a, b in itertools.product(order, order):
        log.write(
            visit_all_vs_all_pair(
                config,
                dataset,
                population,
                a,
                b,
                learning_rate,
                epoch,
                engine,
                visit_streams(config.seed, epoch, a * n + b),
            )
        )
    new_rate = mutate_learning_rate(
        learning_rate, epoch_streams(config.seed, epoch)["mutate"], config
    )
    population.learning_rates = [new_rate] * n
