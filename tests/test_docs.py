"""The documentation site: a strict offline build, and every public name documented.

The build needs the ``docs`` extra (mkdocs-material, mkdocstrings[python]). Without it the
tests skip, unless the ``CI`` environment variable is set: under CI a missing generator fails.

Docstring debt: ``docs/docstring_debt.txt`` lists the public names whose docstrings still lack
a summary line, a Parameters section (or an entry with a description in it for a public
parameter) or a Returns section (one ``name: problem`` per line). A problem that is not listed fails
:func:`test_public_names_documented`, so new public names must be documented; a listed problem
that has been fixed fails too (delete its line), so the list only shrinks.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _require import missing  # tests/ is on sys.path (conftest.py)

import trustlab

ROOT = Path(__file__).resolve().parents[1]
DEBT_FILE = ROOT / "docs" / "docstring_debt.txt"
#: Names created at run time that static analysis cannot see; documented by hand in the API page.
RUNTIME_NAMES = {"trustlab.cli.app"}


def _need(module: str) -> None:
    """Skip when ``module`` is missing, except under CI, where that is a failure."""
    if importlib.util.find_spec(module) is None:
        missing(f"{module} is not installed (pip install -e '.[docs]'): the docs cannot be built")


def public_packages() -> list[str]:
    """``trustlab`` and every subpackage whose name does not start with ``_``."""
    subs = [m.name for m in pkgutil.iter_modules(trustlab.__path__) if m.ispkg and not m.name.startswith("_")]
    return ["trustlab"] + [f"trustlab.{s}" for s in sorted(subs)]


def public_names() -> list[str]:
    """Every ``package.name`` in every public package's ``__all__``."""
    out = []
    for pkg in public_packages():
        mod = importlib.import_module(pkg)
        assert hasattr(mod, "__all__"), f"{pkg} has no __all__"
        out += [f"{pkg}.{name}" for name in mod.__all__]
    return out


def _page(pkg: str) -> str:
    return "trustlab" if pkg == "trustlab" else pkg.split(".", 1)[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site once, in strict mode, into a temporary folder."""
    _need("mkdocs")
    _need("mkdocstrings_handlers.python")
    _need("material")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    return out


def test_docs_build_strict(site: Path) -> None:
    """Every page of the navigation is built (a broken link or reference already failed the build)."""
    for page in ["index", "getting-started", "guides/fairness", "guides/poisoning", "guides/privacy",
                 "guides/backdoor", "results", "scaling", "conventions", "cli", "benchmarks"]:
        html = (site / f"{page}.html").read_text()
        assert "<h1" in html, page
    # offline: no page loads a script, a style sheet or a font from the network
    for page in site.rglob("*.html"):
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', page.read_text())
        assert not remote, f"{page.relative_to(site)} loads {remote}"
    # the result schema is included from the package, not copied
    schema_head = (ROOT / "src/trustlab/results/SCHEMA.md").read_text().splitlines()[0].lstrip("# ")
    assert schema_head.split("(")[0].strip() in (site / "results.html").read_text()


def test_every_package_has_an_api_page() -> None:
    """A new public package without an API page (or outside the navigation) fails."""
    nav = (ROOT / "mkdocs.yml").read_text()
    for pkg in public_packages():
        page = ROOT / "docs" / "api" / f"{_page(pkg)}.md"
        assert page.exists(), f"no API page for {pkg}: add {page.relative_to(ROOT)} with '::: {pkg}'"
        assert re.search(rf"^::: {re.escape(pkg)}\s*$", page.read_text(), re.M), page
        assert f"api/{_page(pkg)}.md" in nav, f"api/{_page(pkg)}.md is not in mkdocs.yml's nav"


def test_every_public_name_in_api_reference(site: Path) -> None:
    """Each name of each ``__all__`` has its anchor on its package's API page."""
    missing = []
    for pkg in public_packages():
        html = (site / "api" / f"{_page(pkg)}.html").read_text()
        ids = set(re.findall(r'id="([^"]+)"', html))
        missing += [f"{pkg}.{n}" for n in importlib.import_module(pkg).__all__ if f"{pkg}.{n}" not in ids]
    assert not missing, f"not in the API reference: {missing}"


def cli_commands() -> list[str]:
    """Every ``trustlab`` command, sub-commands as ``group name``."""
    import typer.main

    from trustlab.cli import load_commands

    def walk(group: object, prefix: list[str]) -> list[str]:
        out = []
        for name, sub in group.commands.items():  # type: ignore[attr-defined]
            out += walk(sub, [*prefix, name]) if hasattr(sub, "commands") else [" ".join([*prefix, name])]
        return out

    return walk(typer.main.get_command(load_commands()), [])


def test_every_command_on_the_command_line_page() -> None:
    """A new command (or sub-command) must appear on docs/cli.md as ``trustlab <command>``."""
    page = (ROOT / "docs" / "cli.md").read_text()
    commands = cli_commands()
    assert "audit" in commands and "backdoor scan" in commands
    patterns = {c: r"trustlab\s+" + r"\s+".join(map(re.escape, c.split())) + r"(\s|$)" for c in commands}
    missing = [c for c, pat in patterns.items() if not re.search(pat, page, re.M)]
    assert not missing, f"commands not on docs/cli.md: {missing}"


def _problems() -> dict[str, set[str]]:
    """``name -> {problem}`` for every public name whose docstring is incomplete."""
    _need("griffe")
    import griffe

    loader = griffe.GriffeLoader(search_paths=[str(ROOT / "src")], docstring_parser=griffe.Parser.numpy)
    root = loader.load("trustlab")
    loader.resolve_aliases(implicit=False, external=False)
    problems: dict[str, set[str]] = {}
    for full in public_names():
        if full in RUNTIME_NAMES:
            continue
        pkg, name = full.rsplit(".", 1)
        try:
            obj = (root if pkg == "trustlab" else root[pkg.split(".", 1)[1]])[name]
            obj = obj.final_target if obj.is_alias else obj
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            problems[full] = {"not found by static analysis"}
            continue
        doc = obj.docstring
        if doc is None or not doc.value.strip() or not doc.value.strip().splitlines()[0].strip():
            problems[full] = {"no docstring with a summary line"}
            continue
        if obj.kind.value not in ("function", "class"):
            continue
        sections = {s.kind.value for s in doc.parse(griffe.Parser.numpy)}
        if obj.kind.value == "class":
            init = obj.members.get("__init__")
            params = [p for p in init.parameters if p.name not in ("self", "cls")] if init is not None else []
            returns = None
        else:
            params = [p for p in obj.parameters if p.name not in ("self", "cls")]
            returns = obj.returns
        found = set()
        if params and not sections & {"parameters", "other parameters"}:
            found.add("no Parameters section")
        elif params:
            entries = [p for s in doc.parse(griffe.Parser.numpy)
                       if s.kind.value in ("parameters", "other parameters") for p in s.value]  # fmt: skip
            documented = {p.name.lstrip("*") for p in entries}
            found |= {f"parameter {p.name!r} not in Parameters" for p in params
                      if not p.name.startswith("_") and p.name not in documented}  # fmt: skip
            found |= {f"parameter {p.name.lstrip('*')!r} has no description" for p in entries
                      if not (p.description or "").strip()}  # fmt: skip
        if obj.kind.value == "function" and str(returns) != "None" and not sections & {"returns", "yields"}:
            found.add("no Returns section")
        if found:
            problems[full] = found
    return problems


def _debt() -> dict[str, set[str]]:
    debt: dict[str, set[str]] = {}
    if DEBT_FILE.exists():
        for line in DEBT_FILE.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, problem = line.partition(":")
                debt.setdefault(name.strip(), set()).add(problem.strip())
    return debt


def test_public_names_documented() -> None:
    """Summary line, Parameters and Returns for every public name, beyond the listed debt."""
    problems, debt = _problems(), _debt()
    new = sorted(f"{n}: {p}" for n, ps in problems.items() for p in ps if p not in debt.get(n, set()))
    fixed = sorted(f"{n}: {p}" for n, ps in debt.items() for p in ps if p not in problems.get(n, set()))
    assert not new, "public names with incomplete docstrings (numpydoc):\n" + "\n".join(new)
    assert not fixed, f"fixed, delete these lines from {DEBT_FILE.name}:\n" + "\n".join(fixed)


def write_debt() -> None:  # pragma: no cover - maintenance helper
    """Rewrite ``docs/docstring_debt.txt`` from the current problems (``python tests/test_docs.py``)."""
    lines = [f"{n}: {p}" for n, ps in sorted(_problems().items()) for p in sorted(ps)]
    DEBT_FILE.write_text(
        "# Public names whose docstrings are incomplete (tests/test_docs.py). Fix the docstring,\n"
        "# then delete the line. Regenerate: .venv/bin/python tests/test_docs.py\n" + "\n".join(lines) + "\n"
    )
    print(f"{len(lines)} problems written to {DEBT_FILE}")


if __name__ == "__main__":  # pragma: no cover
    write_debt()
