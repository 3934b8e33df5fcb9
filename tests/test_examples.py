"""The four worked examples under ``examples/`` run with their small settings and write their plots.

Each runs in its own subprocess (one thread) on a fresh output folder; it must finish within a
wall-clock timeout, use under a minute of CPU time, and use only the public API.
"""

from __future__ import annotations

import ast
import os
import re
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["fairness_audit", "poisoning_frontier", "privacy_audit", "backdoor_security"]
#: Plots each example must write into its output folder.
PLOTS = {
    "fairness_audit": ["fairness_groups.png", "fairness_repairs.png"],
    "poisoning_frontier": ["poisoning_curve.png", "frontier.png"],
    "privacy_audit": ["privacy_roc.png", "privacy_risk.png"],
    "backdoor_security": ["backdoor_triggers.png", "backdoor_norms.png"],
}
CPU_SECONDS = 60  # "under a minute on one core"
WALL_TIMEOUT = 600  # generous: the machine may be shared


def test_every_example_is_listed() -> None:
    """A new example must be added here (and to a guide); a listed one must exist."""
    assert sorted(p.stem for p in (ROOT / "examples").glob("*.py")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_uses_public_api_and_is_a_notebook(name: str) -> None:
    """Jupytext percent cells, and no import of a private trustlab module or name."""
    src = (ROOT / "examples" / f"{name}.py").read_text()
    assert src.count("\n# %%") >= 3, "jupytext percent format: cells start with '# %%'"
    bad = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trustlab"):
            mod = node.module or ""
            if any(part.startswith("_") for part in mod.split(".")):
                bad.append(mod)
            bad += [f"{mod}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            bad += [a.name for a in node.names
                    if a.name.startswith("trustlab") and any(p.startswith("_") for p in a.name.split("."))]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            bad.append(f".{node.attr}")
    assert not bad, f"{name} uses private names: {bad}"
    guide = "\n".join(p.read_text() for p in (ROOT / "docs" / "guides").glob("*.md"))
    assert f'--8<-- "examples/{name}.py"' in guide, f"{name} is not included in a guide"
    assert f'--8<-- "docs/examples/{name}.txt"' in guide, f"{name}'s output is not shown in a guide"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name: str, tmp_path: Path) -> None:
    """The example runs in a subprocess with its small settings and writes its plots."""
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "TRUSTLAB_EXAMPLES_OUT": str(out)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=WALL_TIMEOUT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    for plot in PLOTS[name]:
        path = out / plot
        assert path.exists() and path.stat().st_size > 1000, f"{name} did not write {plot}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < CPU_SECONDS, f"{name} used {cpu:.0f} s of CPU (limit {CPU_SECONDS} s on one core)"
    # The guide shows the output committed in docs/examples/; say so when it no longer matches
    # (a warning, not a failure: the last digits may differ between machines).
    shown = (ROOT / "docs" / "examples" / f"{name}.txt").read_text().splitlines()
    if [ln for ln in shown if "plots written" not in ln] != \
            [ln for ln in proc.stdout.splitlines() if "plots written" not in ln]:
        warnings.warn(f"docs/examples/{name}.txt differs from the example's output: "
                      f"run docs/render_examples.py {name}", stacklevel=1)


def readme_commands(path: Path) -> list[str]:
    """Every command of the fenced ``bash`` blocks of ``path``, in order (continuations joined)."""
    commands: list[str] = []
    for block in re.findall(r"^```bash[ \t]*\n(.*?)^```", path.read_text(), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                commands.append(line.strip())
    return commands


def test_newcomer_path(tmp_path: Path) -> None:
    """The README's ``bash`` commands, run in order in a fresh folder, all succeed.

    The set-up commands (``make demo`` / ``make test``) belong in a ``shell`` block: ``make test``
    runs this test. ``TRUSTLAB_NEWCOMER_README`` points the test at another file (e.g. a draft).
    """
    readme = Path(os.environ.get("TRUSTLAB_NEWCOMER_README") or ROOT / "README.md")
    commands = readme_commands(readme)
    assert commands, f"{readme.name} has no fenced bash block with the newcomer's commands"
    recursive = [c for c in commands if re.match(r"make\b.*\b(test|check)\b", c)]
    assert not recursive, (f"{readme.name}'s bash blocks run {recursive}, which runs this test; put the "
                           "set-up commands in a ```shell block")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for cmd in commands:
        proc = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=WALL_TIMEOUT)
        assert proc.returncode == 0, f"`{cmd}` failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    for out in re.findall(r"--out\s+(\S+)", " ".join(commands)):
        assert (tmp_path / out / "report.html").exists() or any((tmp_path / out).rglob("report.html")), \
            f"{out} has no report.html"
