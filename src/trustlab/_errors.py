"""Exceptions raised by trustlab for bad input.

Every error a user can cause by giving bad input is a subclass of
:class:`TrustlabError`; the CLI turns any of them into one line on stderr and
exit code 2. Programming errors (bugs) stay ordinary exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class TrustlabError(Exception):
    """Base class for all user-facing input errors."""


class DataError(TrustlabError, ValueError):
    """A dataset, file, column or label is missing or malformed."""


class DataNotInstalledError(DataError, FileNotFoundError):
    """A built-in dataset's files are not installed."""


class LearnerError(TrustlabError, ValueError):
    """An estimator name or ``module:Class`` spec cannot be resolved or used."""


class ConfigError(TrustlabError, ValueError):
    """An option has an invalid value (budget, metric, sampler, storage, ...)."""


class ModelFileError(TrustlabError, ValueError):
    """A saved model file cannot be loaded or does not match the data."""


def check_choice(what: str, value: Any, options: Iterable[Any]) -> None:
    """Raise :class:`ConfigError` ``unknown <what> <value>; choose from ...`` unless ``value`` is an option."""
    options = list(options)
    if value not in options:
        raise ConfigError(f"unknown {what} {value!r}; choose from {', '.join(map(str, options))}")
