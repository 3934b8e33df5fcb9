"""The HTML report: self-contained, one headline per command kind, regenerable."""

from __future__ import annotations

import base64
import json
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _report_folders import POISON, make_folder

from trustlab import DataError
from trustlab.cli import main
from trustlab.reporting import write_report
from trustlab.reporting._html import MAX_CSV_ROWS


class Page(HTMLParser):
    """Collects every URL-bearing attribute, the images and the tables by caption."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.images: list[dict[str, str]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self._caption: str | None = None
        self._in_caption = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._table: list[list[str]] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        for key in ("src", "href", "srcset", "poster", "data", "action"):
            if key in a:
                self.urls.append((tag, key, a[key]))
        if tag == "img":
            self.images.append(a)
        elif tag == "figcaption":
            self._in_caption, self._caption = True, ""
        elif tag == "table":  # the first table of a caption wins ("All results" repeats some)
            self._table = []
            self.tables.setdefault(self._caption or f"table {len(self.tables)}", self._table)
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            assert self._table is not None
            self._table.append(self._row)
            self._row = None
        elif tag == "figure":
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self._caption = (self._caption or "") + data.strip()
        if self._cell is not None:
            self._cell.append(data)


def _page(folder: Path) -> Page:
    return Page((folder / "report.html").read_text())


def _assert_self_contained(page: Page, folder: Path | None = None) -> None:
    """Only data: URIs, anchors, and (in the file list) links to files beside the report."""
    from urllib.parse import unquote

    for tag, key, url in page.urls:
        if folder is not None and tag == "a" and "/" not in url and ":" not in url and not url.startswith("#"):
            assert (folder / unquote(url)).is_file(), f"link to a missing file {url!r}"
            continue
        assert url.startswith(("data:", "#")), f"<{tag} {key}={url[:60]!r}> points outside the page"
    assert "script" not in page.tags and "iframe" not in page.tags


def _row(table: list[list[str]], first: str) -> list[str]:
    return next(r for r in table if r and r[0] == first)


def test_audit_command_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    assert main(["audit", "--dataset", "german", "--learner", "logreg", "--out", str(out)]) == 0
    page = _page(out)
    _assert_self_contained(page, out)
    assert len(page.images) == 1
    img = page.images[0]
    assert img["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(img["src"].split(",", 1)[1]) == (out / "by_group.png").read_bytes()
    assert "Selection rate" in img["alt"]
    groups = page.tables["Groups, privileged vs the rest (test split)"]
    assert groups[0][:3] == ["group · arm", "n", "selection rate"]
    audit = json.loads((out / "audit.json").read_text())
    test = audit["arms"]["baseline"]["test"]
    for g, r in test["by_group"].items():
        assert _row(groups, f"{g} · baseline")[1] == f"{r['n']:,}"
    assert "by_group.csv" in page.tables
    html = (out / "report.html").read_text()
    spd = abs(test["fairness"]["statistical_parity_difference"])
    assert f"|SPD| {spd:.3f} (selection rate male" in html  # the headline sentence
    assert "sign convention" in html and "privileged minus unprivileged" in html  # the glossary
    assert '<a href="audit.json">audit.json</a>' in html  # the file list links
    assert _row(page.tables["Labels and groups"], "privileged (sex)")[1].startswith("male — dataset default")
    run = json.loads((out / "run.json").read_text())
    assert html_escape(run["command"]) in html and run["command"].startswith("trustlab")
    assert "scikit-learn" in html  # the versions


def test_report_command_regenerates_identically(mitigate_dir: Path, capsys: pytest.CaptureFixture) -> None:
    first = write_report(mitigate_dir).read_text()
    (mitigate_dir / "report.html").unlink()
    assert main(["report", str(mitigate_dir)]) == 0
    assert (mitigate_dir / "report.html").read_text() == first
    assert "report.html" in capsys.readouterr().out
    page = _page(mitigate_dir)
    _assert_self_contained(page, mitigate_dir)
    head = page.tables["Baseline against mitigation (test split)"]
    assert head[0] == ["metric", "baseline", "reweighing", "change"]
    assert _row(head, "accuracy")[1:] == ["0.7700", "0.7700", "+0.0000"]
    assert "mitigate.csv" in page.tables
    assert not list(mitigate_dir.glob(".report-*")), "temporary file left behind"


@pytest.mark.parametrize("make", ["missing", "no_run_json", "bad_run_json"])
def test_report_bad_folder_is_one_line_exit_2(tmp_path: Path, make: str,
                                              capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    folder = tmp_path / "out"
    if make != "missing":
        folder.mkdir()
        (folder / "audit.json").write_text("{}")
    if make == "bad_run_json":
        (folder / "run.json").write_text("{not json")
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    with pytest.raises(DataError):
        write_report(folder)


def test_poison_headline_compares_three_arms(poison_dir: Path) -> None:
    page = _page(write_report(poison_dir).parent)
    _assert_self_contained(page, poison_dir)
    test = page.tables["Test split"]
    assert test[0] == ["metric", "baseline", "poisoned", "random control", "poisoned − baseline"]
    spd = _row(test, "statistical parity difference")
    t = POISON["poisoned"]["test"]["statistical_parity_difference"]
    b = POISON["baseline"]["test"]["statistical_parity_difference"]
    assert spd[2] == f"{t:.4f}" and spd[4] == f"{t - b:+.4f}"
    assert len(test) == 1 + 7
    assert "Validation split (searched on)" in page.tables
    assert len(page.images) == 2
    html = (poison_dir / "report.html").read_text()
    assert "61" in page.tables.get("Search", [[""]])[-1] or "61" in html
    assert "12.5 s" in html  # the cost, readable


def test_privacy_headline_lists_every_attack(privacy_dir: Path) -> None:
    page = _page(write_report(privacy_dir).parent)
    attacks = page.tables["Membership inference attacks"]
    assert attacks[0][:3] == ["model", "attack", "AUC"]
    assert [r[:2] for r in attacks[1:]] == [["biased", "loss threshold"], ["biased", "shadow"],
                                           ["fair", "loss threshold"], ["fair", "shadow"]]  # fmt: skip
    models = page.tables["Models (test split)"]
    assert models[0] == ["metric", "biased", "fair"]
    assert _row(models, "statistical parity difference")[1:] == ["0.2100", "0.0400"]
    by_group = page.tables["Attacks by group"]
    assert by_group[0] == ["model · attack", "male auc", "female auc"]
    assert _row(by_group, "biased · shadow")[1:] == ["0.6200", "0.6000"]
    assert "1 min 15 s" in (privacy_dir / "report.html").read_text()


def test_backdoor_scan_marks_the_flagged_label(scan_dir: Path) -> None:
    page = _page(write_report(scan_dir).parent)
    labels = page.tables["Reverse-engineered trigger per label"]
    assert len(labels) == 11
    assert labels[0][:3] == ["label", "trigger L1 norm", "attack success"]
    assert labels[0][-2:] == ["anomaly index", ""] and "steps" in labels[0]
    assert _row(labels, "7")[-2:] == ["3.4000", "flagged"]
    assert _row(labels, "3")[-1] == ""
    assert "1 h 06 min" in (scan_dir / "report.html").read_text()


def test_unknown_kind_renders_every_value(tmp_path: Path) -> None:
    result = {"clean_accuracy": 0.91, "attack_success_rate": 0.034, "epochs": 12,
              "before": {"clean_accuracy": 0.93, "attack_success_rate": 0.99},
              "after": {"clean_accuracy": 0.91, "attack_success_rate": 0.034},
              "history": [{"epoch": i, "loss": 1 / (i + 1)} for i in range(50)],
              "deep": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}},
              "tags": ["x", "y"], "missing": None,
              "per_row": {f"row{i}": i for i in range(500)},
              "many": {f"m{i}": {"inner": {"v": i}} for i in range(100)}}  # fmt: skip
    folder = make_folder(tmp_path / "u", "backdoor-unlearn", {"unlearn.json": result}, pngs=0)
    (folder / "broken.json").write_text("{")
    (folder / "not_a_plot.png").write_text("text")
    page = _page(write_report(folder).parent)
    _assert_self_contained(page, folder)
    html = (folder / "report.html").read_text()
    side = next(t for t in page.tables.values() if t and t[0][1:] == ["clean accuracy", "attack success rate"])
    assert _row(side, "before")[1:] == ["0.9300", "0.9900"]
    hist = page.tables["history"]
    assert len(hist) == 1 + 30 and "first 30 of 50 items" in html
    assert "could not read broken.json" in html and "not_a_plot.png is not a PNG" in html
    assert "x, y" in html and "—" in html
    assert len(page.tables["per_row"]) == 200 and "first 200 of 500 rows" in html
    assert "70 more entries not shown" in html
    assert not page.images


def test_long_csv_is_cut(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "c", "sweep", {}, pngs=0, trainings=100)
    rows = "\n".join(f"{i},{i / 7}" for i in range(100))
    (folder / "sweep.csv").write_text("seed,score\n" + rows + "\n")
    page = _page(write_report(folder).parent)
    table = page.tables["sweep.csv"]
    assert len(table) == 1 + MAX_CSV_ROWS
    assert table[1] == ["0", "0.0000"]
    assert f"first {MAX_CSV_ROWS} of 100 rows" in (folder / "report.html").read_text()


def test_templates_ship_with_the_package() -> None:
    from importlib.resources import files

    templates = files("trustlab.reporting") / "templates"
    assert (templates / "report.html").is_file()


def _eval(spd: float, acc: float) -> dict:
    g = {"n": 100, "selection_rate": 0.5, "accuracy": acc, "tpr": 0.6, "fpr": 0.2}
    return {"overall": {"accuracy": acc, "balanced_accuracy": acc - 0.05},
            "fairness": {"statistical_parity_difference": spd, "disparate_impact": 1 - spd,
                         "equalized_odds_difference": abs(spd), "equal_opportunity_difference": spd,
                         "fpr_difference": spd, "fnr_difference": -spd},
            "by_group": {"male": g, "female": dict(g, n=50)}}  # fmt: skip


def test_any_result_document_gets_sentence_arms_and_better_worse(tmp_path: Path) -> None:
    from trustlab.results import result_document, write_result

    doc = result_document(
        "poison", seed=0, positive={"value": ">50K", "rule": "dataset default"},
        privileged={"attribute": "sex", "value": "male", "rule": "dataset default"},
        data={"dataset": "adult", "sensitive": "sex", "n_train": 10, "n_val": 5, "n_test": 5},
        cost={"wall_seconds": 75.0, "trainings": 61},
        arms={"baseline": {"test": _eval(0.137, 0.851), "validation": _eval(0.14, 0.85)},
              "intervention": {"test": _eval(-0.032, 0.847), "validation": _eval(0.03, 0.846)},
              "control": {"test": _eval(0.121, 0.850)}},
        details={"trials": [{"trial": 1, "value": 0.2}, {"trial": 2, "value": 0.1}], "budget": 0.05},
    )  # fmt: skip
    folder = tmp_path / "run"
    folder.mkdir()
    write_result(folder / "summary.json", doc)
    from trustlab._io import write_run_json

    write_run_json(folder, kind="poison", argv=["trustlab", "poison"], dataset="adult")
    write_report(folder)
    page = _page(folder)
    _assert_self_contained(page, folder)
    html = (folder / "report.html").read_text()
    assert "|SPD| 0.137 → 0.032; the random control 0.121; accuracy 0.851 → 0.847" in html
    test = page.tables["Test split"]
    assert test[0] == ["metric", "baseline", "intervention", "random control", "intervention − baseline",
                       "random control − baseline"]  # fmt: skip
    spd = _row(test, "statistical parity difference")
    assert spd[1:4] == ["0.1370", "-0.0320", "0.1210"]
    assert spd[4] == "-0.1690 better" and spd[5] == "-0.0160 better"
    assert _row(test, "accuracy")[4] == "-0.0040 worse"
    assert _row(test, "disparate impact")[4].endswith("better")  # 0.863 -> 1.032: closer to 1
    assert "Validation split (searched or fit on)" in page.tables
    assert "1 min 15 s" in html and "61" in html  # the cost from the document
    assert any(t and t[0][:2] == ["trial", "value"] for t in page.tables.values())  # details as a table


def test_the_label_column_of_a_csv_is_shown_first(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "p", "poison", {}, pngs=0, target="hired")
    (folder / "poison.csv").write_text("x,city,hired\n0.5,a,granted\n1.5,b,rejected\n")
    write_report(folder)
    table = _page(folder).tables["poison.csv"]
    assert table[0] == ["hired", "x", "city"] and table[1] == ["granted", "0.5000", "a"]
