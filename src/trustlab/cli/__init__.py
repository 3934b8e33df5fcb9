"""The ``trustlab`` command line: thin over the library.

Each capability registers its commands in its own private module
(``_data.py``, ``_poison.py``, ``_privacy.py``, ``_backdoor.py`` ...); this
module builds the Typer app and maps every :class:`~trustlab.TrustlabError`
to one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

from trustlab._errors import TrustlabError

# Importing the command modules registers their commands on ``app``.
from trustlab.cli import _fairness  # noqa: F401,E402  (registers commands)
from trustlab.cli._app import app, console_err

for _optional in ("_poison", "_privacy", "_backdoor", "_report", "_worker"):
    try:
        __import__(f"trustlab.cli.{_optional}")
    except ModuleNotFoundError as exc:  # command group not built yet
        if exc.name != f"trustlab.cli.{_optional}":
            raise


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trustlab`` console script.

    Returns the exit code: 0 on success, 2 for bad input (one line on stderr).
    """
    try:
        app(args=argv, standalone_mode=False, prog_name="trustlab")
    except TrustlabError as exc:
        console_err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except _click_exceptions() as exc:  # usage errors from click/typer
        exc.show()
        return 2
    except KeyboardInterrupt:
        console_err.print("interrupted", markup=False)
        return 130
    return 0


def _click_exceptions() -> tuple[type[BaseException], ...]:
    import click

    return (click.exceptions.UsageError, click.exceptions.BadParameter)


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


__all__ = ["app", "main"]
