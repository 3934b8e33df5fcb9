"""Scale-out primitives: parallel_map on local processes and on a Dask cluster, and
optuna's RDB storage on a real PostgreSQL server shared by several processes."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from trustlab._parallel import parallel_map


def _fit(item: tuple[int, float]) -> dict[str, float | int]:
    """One cell of a small sweep (seed x ridge penalty): fit a ridge classifier, score it."""
    import numpy as np

    seed, penalty = item
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 5))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=300) > 0, 1.0, -1.0)
    w = np.linalg.solve(x[:200].T @ x[:200] + penalty * np.eye(5), x[:200].T @ y[:200])
    score = float(np.mean(np.sign(x[200:] @ w) == y[200:]))
    return {"seed": seed, "penalty": penalty, "score": score, "pid": os.getpid()}


SWEEP = [(seed, penalty) for seed in range(4) for penalty in (0.1, 10.0)]


def _strip(rows: list[dict]) -> list[dict]:
    """Results without what legitimately differs between runs (process id, timing)."""
    return [{k: v for k, v in r.items() if k not in ("pid", "fit_seconds")} for r in rows]


def test_parallel_map_local_processes_keeps_order() -> None:
    import cloudpickle

    # loky pickles with cloudpickle: send _fit by value, since this module's name under
    # pytest's import mode need not be importable in the worker processes.
    cloudpickle.register_pickle_by_value(sys.modules[_fit.__module__])
    done: list[int] = []
    serial = parallel_map(_fit, SWEEP)
    par = parallel_map(_fit, SWEEP, n_jobs=2, progress=done.append)
    assert _strip(par) == _strip(serial)
    assert done == list(range(1, len(SWEEP) + 1))
    assert all(r["pid"] == os.getpid() for r in serial)


def test_parallel_map_on_dask_local_cluster() -> None:
    """A seed sweep of the library's audit on a 2-process LocalCluster, by address and by Client."""
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    from trustlab.datasets import load_builtin, split_dataset
    from trustlab.fairness import audit

    ds = load_builtin("german")
    splits = [split_dataset(ds, seed=s, sensitive="sex") for s in range(3)]
    # workers import the task by name, so it comes from the package (a test module's name
    # depends on pytest's import mode, and site-packages may hold an unrelated "tests").
    fn = functools.partial(audit, learner="logreg", sensitive="sex")
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1") as cluster,
          distributed.Client(cluster) as client):  # fmt: skip
        done: list[int] = []
        with distributed.get_task_stream(client) as stream:
            by_address = parallel_map(fn, splits, scheduler=cluster.scheduler_address, progress=done.append)
            by_client = parallel_map(fn, splits, scheduler=client)
        workers = set(client.scheduler_info()["workers"])
    serial = parallel_map(fn, splits)
    assert _strip(by_address) == _strip(serial) == _strip(by_client)
    assert [r["n_train"] for r in serial] == [len(s.train) for s in splits]
    assert done == list(range(1, len(splits) + 1))
    ran_on = {t["worker"] for t in stream.data}
    assert stream.data and ran_on <= workers, "the sweep did not run on the cluster's workers"


# --------------------------------------------------------------------------- optuna on PostgreSQL

WORKER = textwrap.dedent("""
    import os, sys, time
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url, name, n, sleep = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    storage = RDBStorage(url, heartbeat_interval=1, grace_period=3,
                         heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2))
    study = optuna.load_study(study_name=name, storage=storage)

    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        trial.set_user_attr("pid", os.getpid())
        time.sleep(sleep)
        return (x - 1) ** 2

    study.optimize(objective, n_trials=n)
""")


def _worker(url: str, name: str, n: int, sleep: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, url, name, str(n), str(sleep)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _wait(proc: subprocess.Popen, timeout: float = 60) -> None:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out


def test_optuna_rdb_storage_two_processes_and_a_killed_one(pg_url: str) -> None:
    optuna = pytest.importorskip("optuna")
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="shared", storage=pg_url)

    # two processes on one study: every trial lands once, numbered without gaps
    procs = [_worker(pg_url, "shared", 6) for _ in range(2)]
    for p in procs:
        _wait(p)
    trials = study.get_trials()
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted(t.number for t in trials) == list(range(12))
    assert len({t.user_attrs["pid"] for t in trials}) == 2, "both processes ran trials"

    # a process killed mid-trial: its trial goes stale (no heartbeat), is failed and retried
    victim = _worker(pg_url, "shared", 1, sleep=60)
    deadline = time.monotonic() + 30
    while not [t for t in study.get_trials(states=(TrialState.RUNNING,)) if "pid" in t.user_attrs]:
        assert time.monotonic() < deadline and victim.poll() is None, "the victim never started a trial"
        time.sleep(0.2)
    stale = study.get_trials(states=(TrialState.RUNNING,))[0]  # params are set before the pid
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    time.sleep(3.5)  # past the grace period
    _wait(_worker(pg_url, "shared", 2))
    trials = study.get_trials()
    by_number = {t.number: t for t in trials}
    assert by_number[stale.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == stale.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == stale.params, "the retry re-runs the lost trial's parameters"
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 12 + 2


def test_the_readme_postgresql_url_works_with_the_installed_driver(pg_readme_url: str) -> None:
    optuna = pytest.importorskip("optuna")
    from trustlab.poisoning._storage import open_storage, storage_url

    assert pg_readme_url.startswith("postgresql://")  # exactly the README's form
    assert storage_url(pg_readme_url).startswith(("postgresql+psycopg2://", "postgresql+psycopg://"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="readme", storage=open_storage(pg_readme_url))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = optuna.load_study(study_name="readme", storage=open_storage(pg_readme_url))
    assert len(again.trials) == 3


def test_no_error_message_shows_the_password(pg_server, pg_readme_url: str, tmp_path, capsys) -> None:
    from trustlab import ConfigError
    from trustlab.cli import main
    from trustlab.poisoning._storage import open_storage

    wrong = pg_readme_url.replace(pg_server.password, "wrong-secret-4711")
    missing_db = pg_readme_url.rsplit("/", 1)[0] + "/no_such_db"
    for url, secret in ((wrong, "wrong-secret-4711"), (missing_db, pg_server.password)):
        with pytest.raises(ConfigError) as exc:
            open_storage(url)
        assert secret not in str(exc.value) and "***" in str(exc.value), str(exc.value)
        assert main(["worker", "--storage", url, "--study-name", "s"]) == 2
        err = capsys.readouterr().err
        assert secret not in err and len(err.strip().splitlines()) == 1, err
