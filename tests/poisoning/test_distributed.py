"""The poisoning search spread over processes on a real PostgreSQL study.

``trustlab poison ... --storage URL --study-name NAME`` creates the study and
works on it; ``trustlab worker --storage URL --study-name NAME`` processes join.
The learner is logistic regression made slow on purpose (only when it trains
on poisoned data, i.e. in a trial) so that trials overlap between processes
and a worker can be killed in the middle of one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from trustlab.poisoning import open_storage  # noqa: E402
from trustlab.results import validate_result  # noqa: E402

N_TRAIN = 560  # rows of german's training split (seed 0): trials train on more
TRIALS = 8
LEARNER = "slowlearn:SlowLogReg"
COMMON = ["--dataset", "german", "--learner", LEARNER, "--budget", "0.05", "--seed", "0"]

SLOW_LEARNER = textwrap.dedent('''
    """Logistic regression that sleeps (and can wait for marker files) in a trial's fit,
    i.e. when it fits more than SLOW_ABOVE rows."""
    import os
    import time
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression


    class SlowLogReg(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            if len(X) > int(os.environ.get("SLOW_ABOVE", "1000000000")):
                marker = os.environ.get("SLOW_MARKER")
                if marker:  # say "this process is inside a trial"
                    Path(marker).write_text(str(os.getpid()))
                gate = [Path(p) for p in os.environ.get("SLOW_WAIT_FOR", "").split(os.pathsep) if p]
                deadline = time.monotonic() + 300
                while not all(p.exists() for p in gate) and time.monotonic() < deadline:
                    time.sleep(0.2)  # hold this trial until the other processes are in one
                time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
            return super().fit(X, y, sample_weight=sample_weight)
''')


@pytest.fixture(scope="module")
def learner_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("learner")
    (path / "slowlearn.py").write_text(SLOW_LEARNER)
    return path


def _cli(args: list[str], learner_path: Path, *, slow: float = 0.2, **env: str) -> subprocess.Popen:
    """Start ``trustlab ARGS`` in a new process (the learner module on its path)."""
    full = {**os.environ, "PYTHONPATH": os.pathsep.join([str(learner_path), os.environ.get("PYTHONPATH", "")]),
            "SLOW_ABOVE": str(N_TRAIN), "SLOW_SECONDS": str(slow), "OMP_NUM_THREADS": "1",
            "PYTHONWARNINGS": "ignore", "TRUSTLAB_HEARTBEAT_GRACE": "8", **env}  # fmt: skip
    code = "import sys; from trustlab.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    _STARTED.append(proc)
    return proc


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left() -> Any:
    """Kill what a failed test left running (creator, workers), by process id."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"timed out:\n{out[-3000:]}") from None
    assert proc.returncode == 0, out[-3000:]
    return out


def _wait_for_study(url: str, name: str, creator: subprocess.Popen, timeout: float = 120) -> optuna.Study:
    """The study once the creating command has stored its configuration."""
    deadline = time.monotonic() + timeout
    while True:
        assert creator.poll() is None, creator.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the study was never created"
        try:
            study = optuna.load_study(study_name=name, storage=open_storage(url))
            if "trustlab_cli" in study.user_attrs:
                return study
        except KeyError:
            pass
        time.sleep(0.5)


def _shape(obj: Any) -> Any:
    """The key structure of a JSON value (what a format comparison should compare)."""
    if isinstance(obj, dict):
        return {k: _shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shape(obj[0])] if obj else []
    return "leaf"


@pytest.fixture(scope="module")
def single_process(learner_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same search in one process, in memory: the reference format."""
    out = tmp_path_factory.mktemp("single") / "out"
    _finish(_cli(["poison", *COMMON, "--trials", "3", "--out", str(out)], learner_path))
    return out


def _counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials() if t.state == TrialState.COMPLETE]


def _assert_same_format(out: Path, ref: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref.iterdir())
    got, want = (json.loads((d / "summary.json").read_text()) for d in (out, ref))
    validate_result(got)
    assert _shape(got["arms"]) == _shape(want["arms"])
    assert set(got) == set(want) and set(got["details"]) == set(want["details"])
    for name in ("trials.csv", "poison.csv"):
        assert list(pd.read_csv(out / name).columns) == list(pd.read_csv(ref / name).columns), name
    run = json.loads((out / "run.json").read_text())
    assert run["kind"] == "poison" and run["storage"] is True
    assert (out / "report.html").stat().st_size > 10_000


def test_two_workers_share_one_study(pg_readme_url: str, learner_path: Path, single_process: Path,
                                     tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "out"
    markers = [tmp_path / f"worker-{i}-in-a-trial" for i in range(2)]
    # the creator holds its first trial until both workers are inside one: all three take part
    creator = _cli(["poison", *COMMON, "--trials", str(TRIALS), "--storage", pg_readme_url,
                    "--study-name", "shared", "--out", str(out)], learner_path,
                   SLOW_WAIT_FOR=os.pathsep.join(map(str, markers)))  # fmt: skip
    study = _wait_for_study(pg_readme_url, "shared", creator)
    workers = [_cli(["worker", "--storage", pg_readme_url, "--study-name", "shared"], learner_path,
                    SLOW_MARKER=str(m)) for m in markers]  # fmt: skip
    logs = [_finish(w) for w in workers]
    _finish(creator)

    done = _counted(study)
    assert len(done) == TRIALS, [(t.number, t.state.name) for t in study.get_trials()]
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    ran = [int(log.split("worker ran ")[1].split()[0]) for log in logs]
    assert all(n >= 1 for n in ran), f"the workers ran {ran} trials"
    trials = pd.read_csv(out / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() == TRIALS
    assert sorted(trials.loc[trials["state"] == "COMPLETE", "trial"]) == sorted(t.number for t in done)
    _assert_same_format(out, single_process)


def test_a_killed_worker_loses_no_trial(pg_readme_url: str, learner_path: Path, single_process: Path,
                                        tmp_path: Path) -> None:  # fmt: skip
    out, marker = tmp_path / "out", tmp_path / "victim-in-a-trial"
    creator = _cli(["poison", *COMMON, "--trials", str(TRIALS), "--storage", pg_readme_url,
                    "--study-name", "kill", "--out", str(out)], learner_path,
                   SLOW_WAIT_FOR=str(marker))  # fmt: skip
    study = _wait_for_study(pg_readme_url, "kill", creator)
    victim = _cli(["worker", "--storage", pg_readme_url, "--study-name", "kill"], learner_path,
                  slow=300, SLOW_MARKER=str(marker))  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():  # the victim is inside a trial's fit
        assert victim.poll() is None, victim.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the victim never started a trial"
        time.sleep(0.2)
    running = study.get_trials(states=(TrialState.RUNNING,))
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    helper = _cli(["worker", "--storage", pg_readme_url, "--study-name", "kill"], learner_path)
    _finish(helper)
    _finish(creator)

    trials = study.get_trials()
    assert len(_counted(study)) == TRIALS, [(t.number, t.state.name, t.system_attrs) for t in trials]
    lost = [t for t in trials if t.state == TrialState.FAIL and "error" not in t.user_attrs]
    assert lost, "the killed worker's trial was not failed by its missing heartbeat"
    assert {t.number for t in lost} <= {t.number for t in running}
    for t in lost:  # each lost trial was queued again with its parameters
        retries = [r for r in trials if r.system_attrs.get("failed_trial") == t.number]
        assert retries and all(r.params == t.params for r in retries), t.number
    assert not study.get_trials(states=(TrialState.RUNNING,))
    _assert_same_format(out, single_process)
