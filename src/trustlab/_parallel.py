"""Embarrassingly parallel maps through joblib, with an optional Dask cluster.

``parallel_map(fn, items, n_jobs=2)`` runs on local processes (loky);
``scheduler="tcp://host:8786"`` sends the same tasks to a Dask distributed
cluster through joblib's ``dask`` backend, so sweeps (seeds x budgets x
learners, shadow models) scale out without code changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from trustlab._errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def _dask_backend(scheduler: str) -> Iterator[None]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError(
            "--scheduler needs dask[distributed]: pip install 'trustlab[distributed]'"
        ) from None
    import joblib

    try:
        client = Client(scheduler, timeout="10s")
    except Exception as exc:  # unreachable address, wrong protocol
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    try:
        with joblib.parallel_backend("dask"):
            yield
    finally:
        client.close()


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    n_jobs: int = 1,
    scheduler: str | Any | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[R]:
    """Apply ``fn`` to every item, in order, in parallel.

    Parameters
    ----------
    fn : callable
        A picklable function (module level) of one argument.
    items : iterable
        The arguments, one call each.
    n_jobs : int
        Local worker processes (``1`` runs in this process, no pickling).
    scheduler : str or dask Client, optional
        Address of a Dask scheduler (``tcp://...``) or a ``Client``; then the
        tasks run on that cluster and ``n_jobs`` is ignored.
    progress : callable, optional
        Called with the number of finished items after each one (in order).

    Returns
    -------
    list
        ``[fn(item) for item in items]``.
    """
    items = list(items)
    if n_jobs == 1 and scheduler is None:
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if progress:
                progress(i + 1)
        return out
    from joblib import Parallel, delayed

    if scheduler is None:
        ctx: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        jobs = n_jobs
    elif isinstance(scheduler, str):
        ctx = _dask_backend(scheduler)
        jobs = -1
    else:  # a dask Client the caller manages
        import joblib

        ctx = joblib.parallel_backend("dask")
        jobs = -1
    with ctx:
        out = []
        gen = Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(item) for item in items)
        for i, result in enumerate(gen):
            out.append(result)
            if progress:
                progress(i + 1)
    return out
