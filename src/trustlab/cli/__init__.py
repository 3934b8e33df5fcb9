"""The ``trustlab`` command line: thin over the library.

Each capability registers its commands in its own private module
(``_data.py``, ``_poison.py``, ``_privacy.py``, ``_backdoor.py`` ...); this
module builds the Typer app and maps every :class:`~trustlab.TrustlabError`
to one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from trustlab._errors import TrustlabError

# Importing the command modules registers their commands on ``app``.
from trustlab.cli import _fairness  # noqa: F401,E402  (registers commands)
from trustlab.cli._app import app, console_err

for _optional in ("_poison", "_demo", "_privacy", "_backdoor", "_report"):
    try:
        __import__(f"trustlab.cli.{_optional}")
    except ModuleNotFoundError as exc:  # command group not built yet
        if exc.name != f"trustlab.cli.{_optional}":
            raise


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trustlab`` console script.

    Returns the exit code: 0 on success, 2 for bad input (one line on stderr).
    """
    click_exc = _click_exceptions()
    try:
        result = app(args=argv, standalone_mode=False, prog_name="trustlab")
    except TrustlabError as exc:
        console_err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except click_exc.UsageError as exc:  # unknown option, bad value, missing argument
        console_err.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except click_exc.ClickException as exc:
        console_err.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console_err.print("aborted", markup=False)
        return 130
    except KeyboardInterrupt:
        console_err.print("interrupted", markup=False)
        return 130
    return result if isinstance(result, int) else 0


def _click_exceptions() -> object:
    """The click exception module that typer uses (typer >= 0.2x vendors its own click)."""
    try:
        from typer._click import exceptions
    except ImportError:  # older typer on top of the click package
        from click import exceptions
    return exceptions


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


__all__ = ["app", "main"]
