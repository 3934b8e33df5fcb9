"""Atomic output folders: nothing half-written on failure.

Commands write into a staging folder next to the requested one; only when the
whole command succeeded are the files moved into place. On any exception the
staging folder is removed and the target folder is left as it was.
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
    """Replace non-finite floats with None so the JSON stays standard."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented, standard JSON (NaN/inf become null)."""
    path = Path(path)
    path.write_text(json.dumps(_clean(data), indent=2, default=_default) + "\n")
    return path


@contextlib.contextmanager
def staged_output(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder whose files are moved into ``out`` on success.

    Parameters
    ----------
    out : path-like
        The final output folder. Created if missing; files already there with
        other names are kept, files with the same names are replaced.
    """
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(stage.iterdir()):
        target = out / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)
    shutil.rmtree(stage, ignore_errors=True)


def versions() -> dict[str, str]:
    """Versions of trustlab and the libraries whose behaviour shapes the numbers."""
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
