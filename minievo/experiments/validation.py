"""Value rules of the configuration: each checks one kind of value and says what it allows.

A rule is called as ``rule(name, value)`` and returns the normalised value or
raises :class:`~minievo.errors.ConfigError` with a one-line message naming the
field, the value and what is allowed; :meth:`Rule.describe` gives the same
"allowed" text for the command line's help (:mod:`minievo.cli`). The
configuration (:mod:`minievo.experiments.config`) keeps one table of them,
``FIELD_RULES``; no field repeats a hand-written type check.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError, suggest


class Rule:
    """A check of one value: ``rule(name, value) -> normalised value``."""

    #: The Python type a command-line flag parses its text to (before the check).
    cli_type: Callable[[str], Any] = str

    def __call__(self, name: str, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """What the rule allows, as the error messages say it."""
        raise NotImplementedError  # pragma: no cover - abstract


class Boolean(Rule):
    """``true`` or ``false`` (also the strings, any case)."""

    def __call__(self, name, value):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigError(f"{name}: {value!r} is not a boolean; allowed: true or false")

    def describe(self):
        return "true or false"


class Integer(Rule):
    """An integer (or an integral float) at least ``minimum``; ``optional`` also takes None."""

    cli_type = int

    def __init__(self, minimum: int | None = None, optional: bool = False):
        self.minimum, self.optional = minimum, optional

    def __call__(self, name, value):
        if value is None and self.optional:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{name}: {value!r} is not an integer")
        if not isinstance(value, numbers.Integral):
            if not (math.isfinite(value) and float(value).is_integer()):
                raise ConfigError(f"{name}: {value!r} is not an integer")
        result = int(value)
        if self.minimum is not None and result < self.minimum:
            raise ConfigError(f"{name}: {value!r} is out of range; allowed: {self.describe()}")
        return result

    def describe(self):
        text = "integers" if self.minimum is None else f"integers >= {self.minimum}"
        return text + (" or null" if self.optional else "")


class Number(Rule):
    """A finite real number in an interval; ``low_open``/``high_open`` exclude the ends."""

    cli_type = float

    def __init__(
        self, low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
    ):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def __call__(self, name, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{name}: {value!r} is not a number")
        result = float(value)
        too_low = result <= self.low if self.low_open else result < self.low
        too_high = result >= self.high if self.high_open else result > self.high
        if not math.isfinite(result) or too_low or too_high:
            raise ConfigError(f"{name}: {value!r} is out of range; allowed: {self.describe()}")
        return result

    def describe(self):
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high == math.inf else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


class Choice(Rule):
    """One of some names, case-insensitive, with aliases.

    ``choices`` and ``aliases`` may be callables, read at each check, so that
    names registered after import (pruning operators, schedules) count.
    ``hint`` ends the message of a name not allowed (e.g. how to add one).
    """

    def __init__(
        self,
        choices,
        aliases: Mapping[str, str] | Callable | None = None,
        extra: tuple[str, ...] = (),
        hint: str = "",
    ):
        self._choices, self._aliases, self.extra = choices, aliases or {}, extra
        self.hint = hint

    @property
    def choices(self) -> tuple[str, ...]:
        choices = self._choices() if callable(self._choices) else self._choices
        return tuple(self.extra) + tuple(choices)

    @property
    def aliases(self) -> dict[str, str]:
        return dict(self._aliases() if callable(self._aliases) else self._aliases)

    def __call__(self, name, value):
        choices, aliases = self.choices, self.aliases
        if not isinstance(value, str):
            raise ConfigError(f"{name}: {value!r} is not a string; allowed: {self.describe()}")
        lookup = {c.lower(): c for c in choices}
        lookup.update({a.lower(): c for a, c in aliases.items()})
        key = value.strip().lower()
        if key in lookup:
            return lookup[key]
        raise ConfigError(
            f"{name}: {value!r} is not allowed; allowed: {self.describe()}"
            + self.hint
            + suggest(value, list(choices) + list(aliases))
        )

    def describe(self):
        allowed = ", ".join(self.choices)
        aliases = self.aliases
        if aliases:
            allowed += " (aliases: " + ", ".join(f"{a} -> {c}" for a, c in aliases.items()) + ")"
        return allowed


class OptionalPath(Rule):
    """A non-empty path (``str`` or ``os.PathLike``, stored as ``str``) or None."""

    def __call__(self, name, value):
        if value is None:
            return None
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name}: {value!r} is not a path; allowed: {self.describe()}")
        return value

    def describe(self):
        return "a non-empty string or null"


class Custom(Rule):
    """A rule written as a function ``check(value) -> value`` with its own messages.

    ``description`` is a string or a function returning one (read at each call).
    """

    def __init__(self, check: Callable[[Any], Any], description: str, cli_type=str):
        self.check, self.description, self.cli_type = check, description, cli_type

    def __call__(self, name, value):
        return self.check(value)

    def describe(self):
        return self.description() if callable(self.description) else self.description
