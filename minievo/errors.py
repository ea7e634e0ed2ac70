"""Errors shared by every layer of minievo (the bottom layer: it imports nothing).

:class:`ConfigError` lives here, not in :mod:`minievo.experiments.config`,
because the training loops refuse settings they cannot run (for example the
lockstep trials of :mod:`minievo.training.lockstep`) and must not import the
experiments layer above them.
"""


class ConfigError(ValueError):
    """A configuration key or value is not valid; the message says which and why."""
