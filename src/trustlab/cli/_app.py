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
