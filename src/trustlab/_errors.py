"""Exceptions raised by trustlab for bad input.

Every error a user can cause by giving bad input is a subclass of
:class:`TrustlabError`; the CLI turns any of them into one line on stderr and
exit code 2. Programming errors (bugs) stay ordinary exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: ``scheme://user:password@`` in any text; the password is group 2.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)([^\s@/]*)(@)")


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


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` URL replaced by ``***``.

    Error messages and result files go through it, so a database URL given on
    the command line never shows its password.
    """
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}***{m.group(3)}", str(text))
