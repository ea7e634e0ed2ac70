"""The reading edition: both papers' algorithm in plain NumPy, to read in one sitting.

[H24] Hemberg, Toutouh, O'Reilly, *Cooperative Spatial Topologies for Autoencoder
Training*, GECCO 2024 (Lipi-AE). [J25] Jorgensen, Hemberg, Toutouh, O'Reilly, *Guiding
Evolutionary AutoEncoder Training with Activation-Based Pruning Operators*, GECCO 2025,
arXiv:2505.05138. docs/algorithm.md states the algorithm; every function here cites its
section. Read top to bottom:

1. ``networks.py``: per-layer arrays, initialisation, forward beside backward, L1, Adam (§2);
2. ``pruning.py``: the seven schedules as one table, RANDOM, VARIANCE, CONJUNCTIVE (§5);
3. ``lipi_ae.py``: the ring, the eight steps of a cell visit, the variants, a run (§3, §4).

The fast engine (``minievo.training`` on the Numba kernels) computes the same numbers:
``tests/test_reading_edition.py`` runs both side by side, and with ``backend="numpy"``
every record and every final parameter is equal to the bit. The engine imports its pure
parts from here (the ring, the schedules, the stream keys, the operators' node rules).

The three switches that change numbers are visible branches: fresh or persistent Adam
(``networks.adam``), regrow or persistent masks (``pruning.apply_masks``), pre-activation
or hook-output signal (``networks.forward``). Left out, and where it lives instead:
the denoising and variational environments (``minievo.network``, ``minievo.engine``);
``shuffle_data=False``, synchronous updates and threads (``minievo.training``); records'
cadences (test loss, training L1), ``fe_cnt`` and time keys (``minievo.training.records``);
checkpoints, resume, signals and progress (``minievo.training.coevolution``); NaN checks;
argument checks and plug-in operators (``minievo.pruning``); the GPU
(``minievo.training.lockstep``); the published file format and key names
(``minievo.experiments``); data generation (``minievo.data``).
"""

from .lipi_ae import run, train_canonical, visit  # noqa: F401 (the entry points)
