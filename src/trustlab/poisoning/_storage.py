"""Where a poisoning study lives: optuna storages, heartbeats, and the trials that use the budget."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.trial import TrialState

from trustlab._errors import ConfigError


@contextmanager
def quiet_experimental() -> Iterator[None]:
    """Silence optuna's ExperimentalWarning around the heartbeat API we rely on (not the user's concern)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def open_storage(storage: Any) -> Any:
    """An optuna storage for a URL (heartbeats on, stale trials retried); objects and ``None`` pass through.

    Raises
    ------
    ConfigError
        If the URL cannot be opened (bad URL, unreachable server, wrong credentials).
    """
    if storage is None:
        return None
    if not isinstance(storage, str):
        return storage  # an optuna storage object
    try:
        with quiet_experimental():
            return optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=5,
                grace_period=20,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
    except Exception as exc:  # bad URL, unreachable server, wrong credentials
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot open storage {storage!r}: {msg}") from None


def counted_trials(study: optuna.Study) -> int:
    """Trials that use the budget: completed ones and learner failures.

    Trials failed by a heartbeat (a killed worker) do not count: optuna
    retries them. Trials skipped because the budget was already used do not count.
    """
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if t.state == TrialState.COMPLETE or "error" in t.user_attrs:
            n += 1
    return n
