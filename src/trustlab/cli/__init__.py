"""The ``trustlab`` command line: thin over the library, quick to start.

Each capability registers its commands in its own private module
(``_fairness.py``, ``_poison.py``, ``_privacy.py``, ``_backdoor.py`` ...).
Importing this package imports none of them: :func:`main` imports only the
module of the command being run (all of them for ``--help`` or an unknown
name), and ``trustlab.cli.app`` loads them all on first access. Every
:class:`~trustlab.TrustlabError` becomes one line on stderr and exit code 2;
Ctrl-C one line and exit code 130.
"""

from __future__ import annotations

import sys
from typing import Any

from trustlab._errors import TrustlabError

COMMAND_MODULES = ("_fairness", "_poison", "_frontier", "_privacy", "_backdoor", "_demo", "_report")
"""Command modules of :mod:`trustlab.cli`, in ``--help`` order; a missing one (not built yet) is skipped."""
#: Which module registers a command (an unknown command name loads them all).
COMMAND_OWNER = {
    "datasets": "_fairness", "audit": "_fairness", "mitigate": "_fairness",
    "poison": "_poison", "worker": "_poison", "frontier": "_frontier", "privacy": "_privacy", "dp-audit": "_privacy",
    "backdoor": "_backdoor", "demo": "_demo", "report": "_report",
}  # fmt: skip


def load_commands(modules: tuple[str, ...] | list[str] = COMMAND_MODULES) -> Any:
    """Import command modules (registering their commands) and return the Typer app.

    Parameters
    ----------
    modules : sequence of str, default COMMAND_MODULES
        Names of private modules of :mod:`trustlab.cli` (``"_fairness"`` ...); a module that
        does not exist is skipped.

    Returns
    -------
    typer.Typer
        The app, with the commands of the imported modules registered.
    """
    import importlib

    from trustlab.cli._app import app

    for name in modules:
        try:
            importlib.import_module(f"trustlab.cli.{name}")
        except ModuleNotFoundError as exc:  # command group not built yet
            if exc.name != f"trustlab.cli.{name}":
                raise
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command_of(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trustlab`` console script.

    Only the module of the command being run is imported (all of them for ``--help`` or an
    unknown command).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 on success, 2 for bad input (a :class:`~trustlab.TrustlabError` or a
        usage error; one line on stderr), 130 after Ctrl-C (one line: what was kept, how to
        start again or resume), or the code a command exits with.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    owner = COMMAND_OWNER.get(_command_of(argv) or "")
    try:
        app = load_commands([owner] if owner else COMMAND_MODULES)
        import typer

        from trustlab.cli._app import console_err

        click_exc = _click_exceptions()
        try:
            result = app(args=argv, standalone_mode=False, prog_name="trustlab")
        except TrustlabError as exc:
            _one_line(console_err, f"error: {exc}")
            return 2
        except click_exc.UsageError as exc:  # unknown option, bad value, missing argument
            _one_line(console_err, f"error: {exc.format_message()}")
            return 2
        except click_exc.ClickException as exc:
            _one_line(console_err, f"error: {exc.format_message()}")
            return exc.exit_code
        except typer.Abort:
            return _interrupted()
        except typer.Exit as exc:
            if exc.exit_code == 130 and isinstance(exc.__cause__, KeyboardInterrupt):
                return _interrupted()
            return exc.exit_code
        if result == 130:  # typer turns Ctrl-C inside a command into a returned 130
            return _interrupted()
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt:
        return _interrupted()


def _one_line(console: Any, text: str) -> None:
    from trustlab._errors import redact

    console.print(redact(" ".join(str(text).split())), markup=False, highlight=False, soft_wrap=True)


def _interrupted() -> int:
    """Ctrl-C: say so in one line; exit code 130."""
    from trustlab.cli._common import interrupt_hint

    hint = interrupt_hint() or "nothing was written; run the same command again to start over"
    sys.stderr.write(f"interrupted: {hint}\n")
    sys.stderr.flush()
    return 130


def _click_exceptions() -> Any:
    """The click exception module that typer uses (typer >= 0.2x vendors its own click)."""
    try:
        from typer._click import exceptions
    except ImportError:  # older typer on top of the click package
        from click import exceptions
    return exceptions


def _entry() -> None:  # pragma: no cover - console script shim
    code = main()
    if code == 130:  # nothing more after the one line: no second-Ctrl-C traceback, no shutdown noise
        import logging
        import signal
        import warnings

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
    sys.exit(code)


__all__ = ["COMMAND_MODULES", "app", "load_commands", "main"]
