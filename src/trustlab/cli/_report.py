"""``trustlab report DIR``: regenerate a run folder's HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from trustlab.cli._app import app, console


@app.command("report")
def report_cmd(
    folder: Path = typer.Argument(..., help="A folder written by a trustlab command (it has run.json)."),
) -> None:
    """Write DIR/report.html again from the files in DIR: one self-contained page."""
    from trustlab.reporting import write_report

    path = write_report(folder)
    console.print(f"wrote {path}", soft_wrap=True, highlight=False, markup=False)
