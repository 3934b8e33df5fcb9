"""The CLI starts fast (nothing heavy imported) and Ctrl-C ends with one line and exit code 130."""

import subprocess
import sys
import textwrap

import pytest

from trustlab.cli import main

HEAVY = ("torch", "optuna", "fairlearn", "sklearn", "matplotlib", "pandas", "xgboost", "lightgbm")


def _run(code: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, **kw)  # fmt: skip


def test_import_trustlab_cli_imports_nothing_heavy():
    proc = _run(f"""
        import sys
        import trustlab.cli
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_of_the_fairness_commands_imports_nothing_heavy():
    proc = _run("""
        import sys
        from trustlab.cli import main
        assert main(["audit", "--help"]) == 0
        print(sorted(m for m in ("torch", "optuna", "fairlearn", "sklearn") if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_app_attribute_loads_every_command():
    import trustlab.cli

    names = {c.name for c in trustlab.cli.app.registered_commands}
    assert {"audit", "mitigate", "datasets", "report"} <= names


def test_ctrl_c_is_one_line_exit_130_and_nothing_is_left(tmp_path):
    out = tmp_path / "out"
    proc = _run(f"""
        import os, signal, sys, time
        # Ctrl-C as in a terminal: pytest-xdist workers ignore SIGINT and children inherit that
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import trustlab.fairness as fairness

        def interrupted(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)

        fairness.audit_document = interrupted
        from trustlab.cli import main
        sys.exit(main(["audit", "--dataset", "german", "--learner", "logreg", "--out", {str(out)!r}]))
    """)
    assert proc.returncode == 130, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("interrupted: nothing was written"), proc.stderr
    assert "run the same command again" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_writing_leaves_no_staging_folder(tmp_path, monkeypatch, capsys):
    import trustlab.reporting as reporting

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reporting, "write_report", interrupt)
    out = tmp_path / "out"
    assert main(["audit", "--dataset", "german", "--learner", "logreg", "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("interrupted:") and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module", ["_fairness", "_demo", "_report", "_common", "_app"])
def test_my_command_modules_import_only_light_things_at_top(module):
    proc = _run(f"""
        import sys
        import trustlab.cli.{module}
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
