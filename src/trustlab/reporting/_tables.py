"""Formatted tables for the HTML report: cells, matrices, and a generic walk over any JSON value."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

#: Items of a JSON list shown before it is cut.
MAX_LIST_ITEMS = 30
#: Rows of any other table shown before it is cut.
MAX_TABLE_ROWS = 200
#: Nesting depth of the generic JSON walk before values are shown as text.
MAX_DEPTH = 4


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


