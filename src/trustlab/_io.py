"""Atomic output folders: nothing half-written on failure.

:func:`prepare_out` checks the requested folder before any work.
Commands then write into a staging folder next to it; only when the whole
command succeeded is the staging folder renamed into place. On any exception
(Ctrl-C included) the staging folder is removed and the target folder is left
as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trustlab._errors import redact


def _default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """Replace non-finite floats with None so the JSON stays standard; redact URL passwords."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, str):
        return redact(obj) if "://" in obj else obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def json_ready(data: Any) -> Any:
    """``data`` as standard JSON values (numpy scalars and arrays converted, NaN/inf as ``None``)."""
    return json.loads(json.dumps(_clean(data), default=_default))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented, standard JSON (NaN/inf become null).

    Numpy scalars and arrays are converted, and the passwords of URLs in strings are redacted.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced if it exists).
    data : object
        JSON-like data.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    path.write_text(json.dumps(_clean(data), indent=2, default=_default) + "\n")
    return path


#: Output folders checked by :func:`prepare_out`, with the ``overwrite`` decision.
_PREPARED: dict[Path, bool] = {}


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


def prepare_out(out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check an output folder before any work is done; create nothing.

    The folder must not be a file, must not lie under a file, and its nearest
    existing parent must accept a new folder. An existing non-empty folder is
    refused unless ``overwrite``; then it must be a trustlab output folder (it
    has ``run.json``) and is replaced whole, atomically, when the command
    succeeds (:func:`staged_output` remembers the decision).

    Parameters
    ----------
    out : path-like
        The requested output folder.
    overwrite : bool
        Replace an existing non-empty output folder.

    Returns
    -------
    Path
        ``out`` as a :class:`~pathlib.Path`.

    Raises
    ------
    ConfigError
        With one line saying what is wrong and what to do.
    """
    from trustlab._errors import ConfigError

    out = Path(out).expanduser()
    if not out.name or out.name in (".", ".."):
        out = _key(out)
    if out.is_symlink() and not out.exists():
        raise ConfigError(f"--out {out} is a broken symbolic link")
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"--out {out} is a file, not a folder; choose a folder path")
        if any(out.iterdir()):
            if not overwrite:
                raise ConfigError(f"--out {out} already exists and is not empty; add --overwrite to "
                                  "replace it whole, or choose a new folder")  # fmt: skip
            cwd = _key(Path.cwd())
            if _key(out) == cwd or _key(out) in cwd.parents:
                raise ConfigError(f"--out {out} is the current folder or above it; refusing to replace it")
            if not (out / "run.json").is_file():
                raise ConfigError(f"--out {out} is not a trustlab output folder (no run.json); "
                                  "refusing to replace it, choose a new folder")  # fmt: skip
    nearest = _key(out).parent
    while not nearest.exists() and not nearest.is_symlink():
        nearest = nearest.parent
    if not nearest.is_dir():
        raise ConfigError(f"--out {out} lies under {nearest}, which is a file")
    try:
        probe = tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=nearest)
        os.rmdir(probe)
    except OSError as exc:
        raise ConfigError(f"--out {out} cannot be created: {nearest} is not writable "
                          f"({exc.strerror or type(exc).__name__})") from None  # fmt: skip
    _PREPARED[_key(out)] = overwrite
    return out


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while files are moved or removed; deliver it afterwards."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _move_into_place(stage: Path, out: Path, overwrite: bool | None) -> None:
    from trustlab._errors import ConfigError

    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder; choose a folder path")
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        os.replace(stage, out)  # one rename: atomic (an empty folder is replaced too)
        return
    if overwrite is None:  # legacy callers: merge, same names replaced
        for item in sorted(stage.iterdir()):
            target = out / item.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)
        return
    if not overwrite or not out.is_dir():
        raise ConfigError(f"--out {out} already exists and is not empty; add --overwrite to "
                          "replace it whole, or choose a new folder")  # fmt: skip
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(old)
    os.replace(out, old)
    try:
        os.replace(stage, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_output(out: str | os.PathLike, *, overwrite: bool | None = None) -> Iterator[Path]:
    """Yield a staging folder that becomes ``out`` when the block succeeds.

    The staging folder (``.NAME.staging-*`` beside ``out``) is removed on any
    failure, Ctrl-C included, and never left behind; Ctrl-C is held back while
    the files are moved into place.

    Parameters
    ----------
    out : path-like
        The final output folder; check it first with :func:`prepare_out`.
    overwrite : bool, optional
        ``True``: an existing folder is replaced whole (renamed aside, the
        staging folder renamed into place, the old one removed). ``False``:
        an existing non-empty folder is an error. ``None`` (default): the
        decision given to :func:`prepare_out` for this folder; if it was never
        checked, files are merged into an existing folder (older behaviour).

    Yields
    ------
    pathlib.Path
        The staging folder to write the outputs into.

    Raises
    ------
    ConfigError
        If ``out`` is a file, or an existing non-empty folder is not to be replaced.
    """
    out = Path(out)
    if overwrite is None:
        overwrite = _PREPARED.get(_key(out))
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=parent))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
        yield stage
        with _sigint_deferred():
            _move_into_place(stage, out, overwrite)
    finally:
        with _sigint_deferred():
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)


def versions() -> dict[str, str]:
    """Versions of trustlab and the libraries whose behaviour shapes the numbers.

    Returns
    -------
    dict of str to str
        ``python`` and every installed one of trustlab, numpy, pandas, scikit-learn,
        fairlearn, optuna, xgboost(-cpu), lightgbm, torch and opacus.
    """
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for dist in ("trustlab", "numpy", "pandas", "scikit-learn", "fairlearn", "optuna",
                 "xgboost-cpu", "xgboost", "lightgbm", "torch", "opacus"):  # fmt: skip
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def write_run_json(folder: str | os.PathLike, *, kind: str, argv: list[str] | None = None,
                   **fields: Any) -> Path:  # fmt: skip
    """Write ``folder/run.json``: what was run, on what, with which versions.

    Every CLI command writes one; ``trustlab report DIR`` reads it to title the
    HTML report. ``kind`` names the command (``audit``, ``mitigate``,
    ``poison``, ``privacy``, ``backdoor-train`` ...); ``fields`` carry the
    dataset, learner, seed, cost (``wall_seconds``, ``trainings``) and so on.
    """
    import sys

    argv = list(sys.argv) if argv is None else argv
    data = {
        "kind": kind,
        "command": " ".join(["trustlab", *argv[1:]]) if argv else "trustlab",
        "cores": os.cpu_count(),
        "versions": versions(),
        **fields,
    }
    return write_json(Path(folder) / "run.json", data)
