"""Where a poisoning study lives: optuna storages, heartbeats, and the trials that use the budget."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.trial import TrialState

from trustlab._errors import ConfigError, redact


def storage_url(url: str) -> str:
    """A database URL with a driver that is installed.

    SQLAlchemy 2.1 maps ``postgresql://`` (and ``postgres://``) to the psycopg 3
    driver; when only psycopg2 is installed, the URL is mapped to
    ``postgresql+psycopg2://`` so the README's form works as written. Other
    URLs are returned unchanged.
    """
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres"):
        return url
    if importlib.util.find_spec("psycopg") is not None:
        return f"postgresql+psycopg://{rest}"
    if importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2://{rest}"
    raise ConfigError(f"--storage {redact(url)} needs a PostgreSQL driver: pip install 'psycopg2-binary>=2.9'")


@contextmanager
def quiet_experimental() -> Iterator[None]:
    """Silence optuna's ExperimentalWarning around the heartbeat API we rely on (not the user's concern)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def open_storage(storage: Any) -> Any:
    """An optuna storage for a URL (heartbeats on, stale trials retried); objects and ``None`` pass through.

    Parameters
    ----------
    storage : str, optuna storage or None
        A database URL (``sqlite:///...``, ``postgresql://...``), an optuna storage object, or
        ``None`` (in memory).

    Returns
    -------
    optuna.storages.BaseStorage or None
        An ``RDBStorage`` for a URL; ``storage`` itself otherwise.

    Raises
    ------
    ConfigError
        If the URL cannot be opened (bad URL, unreachable server, wrong credentials).
    """
    if storage is None:
        return None
    if not isinstance(storage, str):
        return storage  # an optuna storage object
    url = storage_url(storage)
    grace = heartbeat_grace()
    try:
        with quiet_experimental():
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=max(1, grace // 4),
                grace_period=grace,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
    except Exception as exc:  # bad URL, unreachable server, wrong credentials
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = _password(storage)
        if password:
            msg = msg.replace(password, "***")
        raise ConfigError(f"cannot open storage {redact(storage)!r}: {redact(msg)}") from None


def _password(url: str) -> str:
    """The password of ``scheme://user:password@host/...`` (empty if none)."""
    netloc = url.partition("://")[2].split("/", 1)[0]
    userinfo = netloc.rpartition("@")[0]
    return userinfo.partition(":")[2] if userinfo else ""


def heartbeat_grace() -> int:
    """Seconds without a heartbeat after which a running trial counts as lost (and is retried).

    20 by default; ``TRUSTLAB_HEARTBEAT_GRACE`` (a positive integer) changes it, e.g. in tests that
    kill a worker on purpose. Workers beat every quarter of it.

    Raises
    ------
    ConfigError
        If the variable is not a positive integer.
    """
    text = os.environ.get("TRUSTLAB_HEARTBEAT_GRACE", "20")
    try:
        grace = int(text)
    except ValueError:
        grace = 0
    if grace < 1:
        raise ConfigError(f"TRUSTLAB_HEARTBEAT_GRACE must be a positive integer of seconds, got {text!r}")
    return grace


def counted_trials(study: optuna.Study) -> int:
    """Trials that use the budget: completed ones and learner failures.

    Trials failed by a heartbeat (a killed worker) do not count: optuna
    retries them. Trials skipped because the budget was already used do not count.

    Parameters
    ----------
    study : optuna.Study
        The search's study.

    Returns
    -------
    int
        Completed trials plus failed trials that recorded a learner ``error``.
    """
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if t.state == TrialState.COMPLETE or "error" in t.user_attrs:
            n += 1
    return n
