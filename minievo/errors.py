"""Errors and their messages, shared by every layer of minievo (the bottom layer).

:class:`ConfigError` lives here, not in :mod:`minievo.experiments.config`,
because the training loops refuse settings they cannot run (for example the
lockstep trials of :mod:`minievo.training.lockstep`) and must not import the
experiments layer above them.
"""

import difflib


class ConfigError(ValueError):
    """A configuration key or value is not valid; the message says which and why."""


def suggest(word, candidates) -> str:
    """``"; did you mean 'x'?"`` for the candidates closest to ``word``, or ``""``.

    The one "did you mean" helper of minievo (configuration keys and values,
    pruning operators and schedules, presets), appended to an error message
    that already names the bad value and what is allowed.
    """
    matches = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=3, cutoff=0.5)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"
