"""Run the worked examples and keep their output for the guides.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python docs/render_examples.py [NAME ...]

Each ``examples/NAME.py`` runs in a subprocess with its plots going to
``docs/assets/examples/``; its printed output is saved as
``docs/examples/NAME.txt``. The guides include both (pymdownx.snippets), so
commit them after a change to an example or to the numbers it prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["fairness_audit", "poisoning_frontier", "privacy_audit", "backdoor_security"]


def main(names: list[str]) -> int:
    """Run the named examples (default: all four); return the number that failed."""
    plots = ROOT / "docs" / "assets" / "examples"
    texts = ROOT / "docs" / "examples"
    plots.mkdir(parents=True, exist_ok=True)
    texts.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "MPLBACKEND": "Agg", "COLUMNS": "100"}
    failed = 0
    for name in names or EXAMPLES:
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"),
                               "docs/assets/examples"], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        if proc.returncode:
            failed += 1
            print(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        (texts / f"{name}.txt").write_text(proc.stdout)
        print(f"{name}: ok")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
