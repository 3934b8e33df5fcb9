"""The Typer application object and consoles shared by all command modules."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="trustlab",
    help="Fairness audit and mitigation, constructive poisoning, privacy and backdoor security.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
console_err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Fairness audit and mitigation, constructive poisoning, privacy and backdoor security.

    Every command writes one folder (--out) only when it succeeds: result JSON
    files in one versioned schema (trustlab/results/SCHEMA.md), CSV tables,
    plots and report.html.
    """
