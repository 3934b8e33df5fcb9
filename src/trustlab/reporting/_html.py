"""The self-contained HTML report of a run folder.

:func:`write_report` reads only the files in the folder (``run.json``, the
result JSON files, CSV tables and PNG plots) and renders ``report.html`` with
the jinja2 templates shipped in ``trustlab/reporting/templates``. Plots are
embedded as base64 data URIs and the CSS is inline, so the page has no
external resources and can be mailed or archived as one file.

Known command kinds (``audit``, ``mitigate``, ``poison``, ``privacy``,
``backdoor-scan`` ...) get a headline table built for them; any other kind,
and every JSON file in full, is rendered by a generic JSON-to-tables walk.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from trustlab._errors import DataError

REPORT_NAME = "report.html"
#: Rows of a CSV file shown in the report before it is cut.
MAX_CSV_ROWS = 40
#: Items of a JSON list shown before it is cut.
MAX_LIST_ITEMS = 30
#: Rows of any other table shown before it is cut.
MAX_TABLE_ROWS = 200
#: Nesting depth of the generic JSON walk before values are shown as text.
MAX_DEPTH = 4

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


# --------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A rendered table: header, rows of formatted cells, optional title and note."""

    columns: list[str]
    rows: list[list[Cell]]
    title: str = ""
    note: str = ""
    row_header: bool = True
    kv: bool = False
    cls: str = ""

    @property
    def numeric(self) -> list[bool]:
        """Per column: are all its cells numbers (then its header is right-aligned too)."""
        return [bool(self.rows) and all(len(r) > i and r[i].num for r in self.rows)
                for i in range(len(self.columns))]  # fmt: skip


@dataclass
class Cell:
    """One formatted table cell; ``num`` right-aligns it, ``cls`` adds a CSS class."""

    text: str
    num: bool = False
    cls: str = ""


@dataclass
class Section:
    """A titled group of tables (one per JSON file in "All results")."""

    title: str
    tables: list[Table] = field(default_factory=list)
    note: str = ""


def fmt(value: Any) -> Cell:
    """Format one JSON value as a table cell.

    Floats get four decimals (or thousands separators when large), integers
    thousands separators, ``None`` an em dash, lists a short joined text.
    """
    if value is None:
        return Cell("—", num=True, cls="na")
    if isinstance(value, bool):
        return Cell("yes" if value else "no")
    if isinstance(value, int):
        return Cell(f"{value:,}", num=True)
    if isinstance(value, float):
        if not math.isfinite(value):
            return Cell(str(value), num=True, cls="na")
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-4):
            return Cell(f"{value:.3g}", num=True)
        if abs(value) >= 1000:
            return Cell(f"{value:,.1f}", num=True)
        return Cell(f"{value:.4f}", num=True)
    if isinstance(value, list | tuple):
        shown = ", ".join(fmt(v).text for v in value[:MAX_LIST_ITEMS])
        more = f" … ({len(value)} items)" if len(value) > MAX_LIST_ITEMS else ""
        return Cell(f"[{shown}{more}]")
    if isinstance(value, dict):
        return Cell(json.dumps(value, default=str)[:300])
    return Cell(str(value))


def fmt_delta(new: Any, old: Any) -> Cell:
    """The signed difference ``new - old`` of two numbers (an em dash otherwise)."""
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (new, old))
    if not ok or not math.isfinite(new - old):
        return fmt(None)
    return Cell(f"{new - old:+.4f}", num=True, cls="delta")


def fmt_seconds(seconds: Any) -> str:
    """``3.1 s``, ``2 min 05 s`` or ``1 h 02 min``."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def humanize(name: str) -> str:
    """``equal_opportunity_difference`` → ``equal opportunity difference``."""
    return str(name).replace("_", " ")


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _flat_dict(v: Any) -> bool:
    return isinstance(v, dict) and bool(v) and all(_scalar(x) for x in v.values())


def matrix(blocks: dict[str, dict[str, Any]], *, title: str = "", transpose: bool | None = None,
           label: str = "") -> Table:  # fmt: skip
    """Table of a dict of flat dicts: one row per outer key, one column per inner key.

    With ``transpose`` (default: when there are many inner keys and few outer
    ones) rows are the inner keys and columns the outer ones.
    """
    inner: list[str] = []
    for block in blocks.values():
        inner.extend(k for k in block if k not in inner)
    outer = list(blocks)
    if transpose is None:
        transpose = len(inner) > 6 and len(outer) <= 4
    if transpose:
        rows = [[Cell(humanize(k))] + [fmt(blocks[o].get(k)) for o in outer] for k in inner[:MAX_TABLE_ROWS]]
        return Table([label, *[humanize(o) for o in outer]], rows, title, _cut_note(len(inner)))
    rows = [[Cell(str(o))] + [fmt(blocks[o].get(k)) for k in inner] for o in outer[:MAX_TABLE_ROWS]]
    return Table([label, *[humanize(k) for k in inner]], rows, title, _cut_note(len(outer)))


def key_values(data: dict[str, Any], *, title: str = "") -> Table:
    """Two-column table of the scalar (and short list) entries of ``data``."""
    rows = [[Cell(humanize(k)), Cell(fmt_seconds(v)) if _is_seconds(k, v) else fmt(v)]
            for k, v in list(data.items())[:MAX_TABLE_ROWS]]  # fmt: skip
    return Table(["", ""], rows, title, _cut_note(len(data)), kv=True)


def _cut_note(n: int) -> str:
    return f"first {MAX_TABLE_ROWS} of {n:,} rows" if n > MAX_TABLE_ROWS else ""


def _is_seconds(key: str, value: Any) -> bool:
    return str(key).endswith("seconds") and isinstance(value, int | float) and not isinstance(value, bool)


def generic_tables(data: Any, title: str = "", depth: int = 0) -> list[Table]:
    """Walk any JSON value into tables.

    Scalars of a dict form one key/value table; a dict of flat dicts (groups,
    models, attacks...) becomes one matrix; a list of flat dicts a table with
    one row per item; deeper dicts recurse with a dotted title path.
    """
    if _scalar(data):
        return [Table(["", "value"], [[Cell(title or "value"), fmt(data)]], "")]
    if isinstance(data, list):
        if data and all(_flat_dict(x) for x in data):
            cols: list[str] = []
            for item in data:
                cols.extend(k for k in item if k not in cols)
            rows = [[fmt(item.get(c)) for c in cols] for item in data[:MAX_LIST_ITEMS]]
            note = f"first {MAX_LIST_ITEMS} of {len(data)} items" if len(data) > MAX_LIST_ITEMS else ""
            return [Table([humanize(c) for c in cols], rows, title, note, row_header=False)]
        return [Table(["", "value"], [[Cell(title or "items"), fmt(data)]], "")]
    tables: list[Table] = []
    scalars = {k: v for k, v in data.items() if _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))}
    if scalars:
        tables.append(key_values(scalars, title=title))
    nested = {k: v for k, v in data.items() if k not in scalars}
    # sibling flat dicts with the same keys (before/after, models, arms) read best side by side
    same_keys: dict[frozenset[str], list[str]] = {}
    for k, v in nested.items():
        if _flat_dict(v):
            same_keys.setdefault(frozenset(v), []).append(k)
    for keys in same_keys.values():
        if len(keys) >= 2:
            tables.append(matrix({k: nested[k] for k in keys}, title=title))
            nested = {k: v for k, v in nested.items() if k not in keys}
    if len(nested) > MAX_LIST_ITEMS:
        left = len(nested) - MAX_LIST_ITEMS
        tables.append(Table(["", ""], [[Cell("…"), Cell(f"{left:,} more entries not shown")]], title, kv=True))
        nested = dict(list(nested.items())[:MAX_LIST_ITEMS])
    for key, value in nested.items():
        sub = f"{title} › {key}" if title else str(key)
        if isinstance(value, dict) and value and all(_flat_dict(v) for v in value.values()) and _shared_keys(value):
            tables.append(matrix(value, title=sub))
        elif depth >= MAX_DEPTH:
            tables.append(Table(["", "value"], [[Cell(str(key)), fmt(value)]], title))
        elif isinstance(value, dict) and not value:
            tables.append(Table(["", "value"], [[Cell(str(key)), Cell("{}")]], title))
        else:
            tables.extend(generic_tables(value, sub, depth + 1))
    return tables


def _shared_keys(blocks: dict[str, dict[str, Any]]) -> bool:
    keys = [set(b) for b in blocks.values()]
    common = set.intersection(*keys)
    return len(common) >= max(1, min(len(k) for k in keys) // 2)


# --------------------------------------------------------------------------- headlines


def _audit(res: dict[str, Any]) -> list[Table]:
    tables = [matrix(res["by_group"], title="Groups on the test split", transpose=False, label="group")]
    overall = {**res.get("overall", {}), **res.get("fairness", {})}
    tables.append(key_values(overall, title="Overall accuracy and fairness (test split)"))
    return tables


def _mitigate(res: dict[str, Any]) -> list[Table]:
    base, mit = res["baseline"], res["mitigated"]
    name = res.get("method", "mitigated")
    rows = []
    for block in ("overall", "fairness"):
        for k, v in base.get(block, {}).items():
            m = mit.get(block, {}).get(k)
            rows.append([Cell(humanize(k)), fmt(v), fmt(m), fmt_delta(m, v)])
    tables = [Table(["metric", "baseline", str(name), "change"], rows, "Baseline against mitigation (test split)")]
    groups = {f"{g} · baseline": r for g, r in base.get("by_group", {}).items()}
    groups.update({f"{g} · {name}": r for g, r in mit.get("by_group", {}).items()})
    if groups:
        tables.append(matrix(groups, title="Groups on the test split", transpose=False, label="group"))
    if isinstance(res.get("changes"), dict):
        tables.extend(generic_tables(res["changes"], f"What {name} changed"))
    return tables


POISON_ARMS = (("baseline", "baseline"), ("poisoned", "poisoned"), ("random_control", "random control"))


def _poison(res: dict[str, Any]) -> list[Table]:
    tables = []
    arms = [(k, label) for k, label in POISON_ARMS if isinstance(res.get(k), dict)]
    for split, title in (("test", "Test split"), ("validation", "Validation split (searched on)")):
        blocks = {label: res[k].get(split) or {} for k, label in arms}
        if not any(blocks.values()):
            continue
        metrics: list[str] = []
        for b in blocks.values():
            metrics.extend(m for m in b if m not in metrics and _scalar(b[m]))
        cols = ["metric", *blocks]
        if "baseline" in blocks and "poisoned" in blocks:
            cols.append("poisoned − baseline")
        rows = []
        for m in metrics:
            row = [Cell(humanize(m))] + [fmt(b.get(m)) for b in blocks.values()]
            if len(cols) > len(blocks) + 1:
                row.append(fmt_delta(blocks["poisoned"].get(m), blocks["baseline"].get(m)))
            rows.append(row)
        tables.append(Table(cols, rows, title))
    info = {k: res[k] for k in ("n_train", "n_poison", "budget", "objective", "trainings", "wall_seconds")
            if k in res and _scalar(res[k])}  # fmt: skip
    if info:
        tables.append(key_values(info, title="Search"))
    if isinstance(res.get("transfer"), dict):
        tables.extend(generic_tables(res["transfer"], "Transfer to other learners"))
    return tables


ATTACK_KEYS = ("auc", "balanced_accuracy", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr")


def _privacy(res: dict[str, Any]) -> list[Table]:
    models = [m for m in ("biased", "fair") if isinstance(res.get(m), dict)]
    models += [m for m, v in res.items() if m not in models and isinstance(v, dict) and "attacks" in v]
    tables = []
    blocks: dict[str, dict[str, Any]] = {}
    for m in models:
        flat = {k: v for k, v in res[m].items() if _scalar(v)}
        for k, v in (res[m].get("fairness") or {}).items():
            if _scalar(v):
                flat[k] = v
        blocks[m] = flat
    if blocks:
        tables.append(matrix(blocks, title="Models (test split)", transpose=True, label="metric"))
    rows = []
    for m in models:
        for name, att in (res[m].get("attacks") or {}).items():
            rows.append([Cell(m), Cell(humanize(name))] + [fmt(att.get(k)) for k in ATTACK_KEYS])
    if rows:
        cols = ["model", "attack", "AUC", "balanced accuracy", "TPR @ 1% FPR", "TPR @ 0.1% FPR"]
        tables.append(Table(cols, rows, "Membership inference attacks"))
    by_group: dict[str, dict[str, Any]] = {}
    for m in models:
        for name, att in (res[m].get("attacks") or {}).items():
            bg = att.get("by_group")
            if isinstance(bg, dict) and bg and all(_flat_dict(v) for v in bg.values()):
                by_group[f"{m} · {humanize(name)}"] = {
                    f"{g} {humanize(k)}": v for g, r in bg.items() for k, v in r.items()
                }
    if by_group:
        tables.append(matrix(by_group, title="Attacks by group", transpose=False, label="model · attack"))
    if "fdmia" in res:
        tables.extend(generic_tables(res["fdmia"], "Fairness-discrepancy MIA"))
    return tables


SCAN_NAMES = {"l1_norm": "trigger L1 norm", "asr": "attack success"}


def _backdoor_scan(res: dict[str, Any]) -> list[Table]:
    flagged = res.get("flagged")
    flagged_set = {str(x) for x in flagged} if isinstance(flagged, list) else (
        {str(flagged)} if _scalar(flagged) and flagged is not None else set())  # fmt: skip
    anomaly = res.get("anomaly_index")
    labels: dict[str, dict[str, Any]] = res["labels"]
    keys: list[str] = [k for k in SCAN_NAMES if any(k in r for r in labels.values())]
    for r in labels.values():
        keys.extend(k for k, v in r.items() if k not in keys and _scalar(v))
    rows = []
    for label, r in labels.items():
        row = [Cell(str(label))] + [fmt(r.get(k)) for k in keys]
        if isinstance(anomaly, dict):
            row.append(fmt(anomaly.get(label)))
        hit = str(label) in flagged_set
        row.append(Cell("flagged" if hit else "", cls="flag" if hit else ""))
        rows.append(row)
    cols = ["label", *[SCAN_NAMES.get(k, humanize(k)) for k in keys],
            *(["anomaly index"] if isinstance(anomaly, dict) else []), ""]  # fmt: skip
    tables = [Table(cols, rows, "Reverse-engineered trigger per label")]
    rest = {k: v for k, v in res.items() if k != "labels" and (_scalar(v) or isinstance(v, list))}
    if rest:
        tables.append(key_values(rest, title="Scan"))
    return tables


HEADLINES: dict[str, Callable[[dict[str, Any]], list[Table]]] = {
    "audit": _audit,
    "mitigate": _mitigate,
    "poison": _poison,
    "privacy": _privacy,
    "backdoor-scan": _backdoor_scan,
}


# --------------------------------------------------------------------------- folder


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return struct.unpack(">II", data[16:24])


def _read_csv(path: Path) -> Table:
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows, n = [], 0
        for row in reader:
            n += 1
            if n <= MAX_CSV_ROWS:
                rows.append([_csv_cell(x) for x in row])
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
    main_name = MAIN_FILE.get(kind)
    if main_name not in results:
        main_name = next(iter(results), None)
    main = results.get(main_name) if main_name else None

    headline: list[Table] = []
    if isinstance(main, dict) and kind in HEADLINES:
        try:
            headline = HEADLINES[kind](main)
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
                csvs.append(_read_csv(p))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                notes.append(f"could not read {p.name}: {exc}")

    what = {k: run[k] for k in RUN_KEYS if k in run}
    what.update({k: v for k, v in run.items() if k not in what and k not in COST_KEYS
                 and k not in ("command", "versions", "captions", "wall_seconds") and _scalar(v)})  # fmt: skip
    if isinstance(what.get("split"), dict):
        what["split"] = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in what["split"].items())
    cost_src = {**(main if isinstance(main, dict) else {}), **run}
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
        "images": images,
        "csvs": csvs,
        "cost": Table(["", ""], cost_rows, kv=True) if cost_rows else None,
        "cards": _cards(run, cost),
        "results": [Section(name, generic_tables(data)) for name, data in results.items()],
        "files": [{"name": p.name, "size": _size(p.stat().st_size)} for p in files if p.name != REPORT_NAME],
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
