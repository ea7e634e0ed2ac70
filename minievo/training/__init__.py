"""Training loops: canonical (one autoencoder) and spatial coevolution (Lipi-AE).

A run's records (:mod:`~minievo.training.records`) and checkpoints
(:mod:`~minievo.training.checkpoint`) belong here too: a training loop
imports nothing from :mod:`minievo.experiments` (``.importlinter``).
"""
