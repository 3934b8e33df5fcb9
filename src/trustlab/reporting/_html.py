"""The self-contained HTML report of a run folder.

:func:`write_report` reads only the files in the folder (``run.json``, the
result JSON files, CSV tables and PNG plots) and renders ``report.html`` with
the jinja2 templates shipped in ``trustlab/reporting/templates``. Plots are
embedded as base64 data URIs and the CSS is inline, so the page has no
external resources and can be mailed or archived as one file.

A result document (``trustlab.results`` schema) is headlined generically
(:mod:`trustlab.reporting._document`): a sentence that says what happened,
arms x parts with better/worse marked, groups, details, and a glossary. Result
files from before the schema keep their old per-command headline
(:mod:`trustlab.reporting._legacy`); any other JSON, and every JSON file in
full, is rendered by a generic JSON-to-tables walk. The file list links to
the files beside the report.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from trustlab._errors import DataError
from trustlab.reporting._document import GLOSSARY, document_tables, headline_sentence, is_document
from trustlab.reporting._legacy import LEGACY_HEADLINES
from trustlab.reporting._tables import (
    Cell,
    Section,
    Table,
    _scalar,
    fmt,
    fmt_seconds,
    generic_tables,
    humanize,
    key_values,
)

REPORT_NAME = "report.html"
#: Rows of a CSV file shown in the report before it is cut.
MAX_CSV_ROWS = 40
_TEMPLATES = Path(__file__).parent / "templates"

#: Captions of the plots the commands write; other files get a caption from their name.
CAPTIONS = {
    "by_group.png": "Selection rate, accuracy, TPR and FPR of each group on the test split.",
    "mitigate.png": "Baseline against the mitigated model, metric by metric, on the test split.",
    "trials.png": "Every trial of the search as a point (validation accuracy, validation unfairness), "
                  "with the baseline, the chosen rows and the random control marked.",
    "best_so_far.png": "Best validation unfairness found so far against the number of black-box trainings.",
}  # fmt: skip

#: Result file headlined for each command kind.
MAIN_FILE = {
    "audit": "audit.json",
    "mitigate": "mitigate.json",
    "poison": "summary.json",
    "privacy": "summary.json",
    "backdoor-train": "train.json",
    "backdoor-scan": "scan.json",
    "backdoor-unlearn": "unlearn.json",
}

#: Keys of ``run.json`` shown in "What was run" (in this order, when present).
RUN_KEYS = ("kind", "dataset", "data", "sensitive", "privileged", "learner", "method",
            "seed", "split", "study_name", "storage")  # fmt: skip
#: Keys shown under "Cost" (from ``run.json``, else from the main result file).
COST_KEYS = ("trainings", "wall_seconds", "cores", "fit_seconds", "n_trials", "workers")
COST_LABELS = {"trainings": "models trained", "wall_seconds": "wall time", "cores": "CPU cores",
               "fit_seconds": "fitting time", "n_trials": "trials", "workers": "worker processes"}  # fmt: skip


# --------------------------------------------------------------------------- folder


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return struct.unpack(">II", data[16:24])


def _read_csv(path: Path, first: str | None = None) -> Table:
    """A CSV file as a table; the column called ``first`` (the label column) is moved to the front."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        order = list(range(len(header)))
        if first in header:
            i = header.index(first)
            order = [i] + [j for j in order if j != i]
        header = [header[j] for j in order]
        rows, n = [], 0
        for row in reader:
            n += 1
            if n <= MAX_CSV_ROWS:
                rows.append([_csv_cell(row[j]) if j < len(row) else Cell("") for j in order])
    note = f"first {MAX_CSV_ROWS} of {n:,} rows" if n > MAX_CSV_ROWS else f"{n:,} rows"
    return Table(header, rows, path.name, note, row_header=False, cls="csv")


def _csv_cell(text: str) -> Cell:
    try:
        return fmt(int(text))
    except ValueError:
        pass
    try:
        return fmt(float(text))
    except ValueError:
        return Cell(text)


def _load_json(path: Path) -> tuple[Any, str]:
    try:
        return json.loads(path.read_text()), ""
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"could not read {path.name}: {exc}"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    return f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"


def build_context(folder: str | os.PathLike) -> dict[str, Any]:
    """Everything the template needs, read from the files in ``folder`` alone.

    Raises
    ------
    DataError
        If the folder does not exist or has no readable ``run.json``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no such run folder: {folder}")
    run_path = folder / "run.json"
    if not run_path.is_file():
        raise DataError(f"{folder} has no run.json: not a trustlab output folder")
    run, err = _load_json(run_path)
    if not isinstance(run, dict):
        raise DataError(err or f"{run_path} is not a JSON object")
    kind = str(run.get("kind", "run"))
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    results: dict[str, Any] = {}
    notes: list[str] = []
    for p in files:
        if p.suffix == ".json" and p.name != "run.json":
            data, err = _load_json(p)
            if err:
                notes.append(err)
            else:
                results[p.name] = data
    main_name = run.get("result_file") if isinstance(run.get("result_file"), str) else MAIN_FILE.get(kind)
    if main_name not in results:
        main_name = next((n for n, d in results.items() if is_document(d)), next(iter(results), None))
    main = results.get(main_name) if main_name else None

    headline: list[Table] = []
    sentence, warnings, glossary = "", [], []
    if is_document(main):
        try:
            sentence, headline = headline_sentence(main), document_tables(main)
            warnings = [str(w) for w in main.get("warnings") or []]
            glossary = list(GLOSSARY)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            notes.append(f"{main_name} is not a complete result document ({exc!r}); shown in full")
            headline = []
    elif isinstance(main, dict) and kind in LEGACY_HEADLINES:
        try:
            headline = LEGACY_HEADLINES[kind](main)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            notes.append(f"{main_name} does not have the usual {kind} layout ({exc!r}); shown in full")
    if not headline and main is not None:
        headline = generic_tables(main)

    captions = run.get("captions") if isinstance(run.get("captions"), dict) else {}
    images = []
    for p in files:
        if p.suffix.lower() != ".png":
            continue
        data = p.read_bytes()
        size = _png_size(data)
        if size is None:
            notes.append(f"{p.name} is not a PNG file; left out")
            continue
        caption = captions.get(p.name) or CAPTIONS.get(p.name) or humanize(p.stem).capitalize()
        images.append({"name": p.name, "caption": caption, "width": size[0], "height": size[1],
                       "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")})  # fmt: skip

    csvs = []
    for p in files:
        if p.suffix.lower() == ".csv":
            try:
                csvs.append(_read_csv(p, run.get("target") if isinstance(run.get("target"), str) else None))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                notes.append(f"could not read {p.name}: {exc}")

    what = {k: run[k] for k in RUN_KEYS if k in run}
    what.update({k: v for k, v in run.items() if k not in what and k not in COST_KEYS
                 and k not in ("command", "versions", "captions", "wall_seconds") and _scalar(v)})  # fmt: skip
    if isinstance(what.get("split"), dict):
        what["split"] = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in what["split"].items())
    cost_src = {**(main if isinstance(main, dict) else {}),
                **(main.get("cost", {}) if is_document(main) else {}), **run}  # fmt: skip
    cost = {k: cost_src[k] for k in COST_KEYS if k in cost_src and _scalar(cost_src[k])}
    cost_rows = [[Cell(COST_LABELS.get(k, humanize(k))),
                  Cell(fmt_seconds(v)) if k.endswith("seconds") else fmt(v)] for k, v in cost.items()]

    subtitle = " · ".join(str(run[k]) for k in ("dataset", "sensitive", "learner", "method") if run.get(k))
    return {
        "kind": kind,
        "title": f"trustlab {kind}",
        "subtitle": subtitle,
        "command": run.get("command", ""),
        "what": key_values(what),
        "versions": run.get("versions") if isinstance(run.get("versions"), dict) else {},
        "headline": headline,
        "headline_source": main_name,
        "sentence": sentence,
        "warnings": warnings,
        "glossary": glossary,
        "images": images,
        "csvs": csvs,
        "cost": Table(["", ""], cost_rows, kv=True) if cost_rows else None,
        "cards": _cards(run, cost),
        "results": [Section(name, generic_tables(data)) for name, data in results.items()],
        "files": [{"name": p.name, "href": quote(p.name), "size": _size(p.stat().st_size)}
                  for p in files if p.name != REPORT_NAME],  # fmt: skip
        "notes": notes,
    }


def _cards(run: dict[str, Any], cost: dict[str, Any]) -> list[tuple[str, str]]:
    cards = [(k, fmt(run[k]).text) for k in ("dataset", "learner", "method", "seed") if _scalar(run.get(k))
             and run.get(k) is not None]  # fmt: skip
    if "trainings" in cost:
        cards.append(("trainings", fmt(cost["trainings"]).text))
    if "wall_seconds" in cost:
        cards.append(("wall time", fmt_seconds(cost["wall_seconds"])))
    if "cores" in cost:
        cards.append(("cores", fmt(cost["cores"]).text))
    return cards


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_report(folder: str | os.PathLike) -> Path:
    """Render ``folder/report.html`` from the files in ``folder``.

    Parameters
    ----------
    folder : path-like
        A command's output (or staging) folder with ``run.json``, its result
        JSON and CSV files and PNG plots.

    Returns
    -------
    Path
        The written report; it replaces an older one atomically.

    Raises
    ------
    DataError
        If the folder does not exist or has no readable ``run.json``.
    """
    folder = Path(folder)
    html = _environment().get_template("report.html").render(**build_context(folder))
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / REPORT_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / REPORT_NAME
