"""Run folders as the commands write them, built without training anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trustlab._io import write_json, write_run_json
from trustlab.reporting import plot_comparison, plot_group_rates

METRICS = ("accuracy", "balanced_accuracy", "statistical_parity_difference", "disparate_impact",
           "equalized_odds_difference", "equal_opportunity_difference", "fpr_difference")  # fmt: skip
BY_GROUP = {
    "male": {"n": 207, "selection_rate": 0.84, "accuracy": 0.76, "tpr": 0.92, "fpr": 0.65},
    "female": {"n": 93, "selection_rate": 0.72, "accuracy": 0.77, "tpr": 0.88, "fpr": 0.42},
}


def make_folder(folder: Path, kind: str, files: dict[str, Any], pngs: int = 1, **run: Any) -> Path:
    """Write ``run.json``, the JSON ``files`` and ``pngs`` small plots into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_json(folder / name, data)
    for i in range(pngs):
        plot_group_rates(BY_GROUP, folder / f"plot_{i}.png", title=f"{kind} plot {i}")
    write_run_json(folder, kind=kind, argv=["trustlab", kind, "--out", str(folder)],
                   dataset="german", sensitive="sex", privileged="male", learner="logreg", seed=3,
                   **run)  # fmt: skip
    return folder


def _arm(shift: float) -> dict[str, dict[str, float]]:
    return {split: {m: round(0.1 * i + shift + (0.01 if split == "validation" else 0), 6)
                    for i, m in enumerate(METRICS)} for split in ("validation", "test")}  # fmt: skip


POISON = {
    "baseline": _arm(0.0),
    "poisoned": _arm(0.25),
    "random_control": _arm(0.02),
    "n_train": 560,
    "n_poison": 28,
    "trainings": 61,
    "wall_seconds": 12.5,
    "transfer": {"rf": {"statistical_parity_difference": 0.31}, "xgb": {"statistical_parity_difference": 0.27}},
}

PRIVACY = {
    model: {
        "accuracy": acc,
        "fairness": {"statistical_parity_difference": spd, "equalized_odds_difference": spd / 2},
        "attacks": {
            name: {"auc": auc, "balanced_accuracy": auc - 0.02, "tpr_at_1pct_fpr": 0.03,
                   "tpr_at_0_1pct_fpr": 0.004,
                   "by_group": {"male": {"auc": auc + 0.01}, "female": {"auc": auc - 0.01}}}
            for name, auc in (("loss_threshold", 0.58), ("shadow", 0.61))
        },
    }
    for model, acc, spd in (("biased", 0.78, 0.21), ("fair", 0.75, 0.04))
}  # fmt: skip
PRIVACY["fdmia"] = {"gap": 0.05, "by_group": {"male": 0.6, "female": 0.65}}

SCAN = {  # the schema of trustlab.backdoor's CleanseResult.to_json()
    "labels": {str(k): {"l1_norm": 40.0 - (30 if k == 7 else 0) + k, "asr": 0.99,
                        "reached_threshold": True, "steps": 200, "final_cost": 0.01}
               for k in range(10)},
    "anomaly_index": {str(k): 3.4 if k == 7 else 0.5 for k in range(10)},
    "flagged": [7],
    "median_l1_norm": 44.5,
    "seconds": 3.2,
    "config": {"steps": 200, "init_cost": 0.001},
}  # fmt: skip


@pytest.fixture
def poison_dir(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "poison", "poison", {"summary.json": POISON}, pngs=2,
                       trainings=61, wall_seconds=12.5, budget=0.05)  # fmt: skip


@pytest.fixture
def privacy_dir(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "privacy", "privacy", {"summary.json": PRIVACY},
                       trainings=18, wall_seconds=75.0)  # fmt: skip


@pytest.fixture
def scan_dir(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "scan", "backdoor-scan", {"scan.json": SCAN}, wall_seconds=4000.0)


@pytest.fixture
def mitigate_dir(tmp_path: Path) -> Path:
    """A mitigation folder with the real command's layout and a real comparison plot."""
    import pandas as pd

    folder = tmp_path / "mitigate"
    block = {"overall": {"accuracy": 0.77, "balanced_accuracy": 0.67},
             "fairness": {"statistical_parity_difference": 0.12, "disparate_impact": 0.85},
             "by_group": BY_GROUP}  # fmt: skip
    res = {"method": "reweighing", "baseline": block, "mitigated": block, "changes": {"weight_min": 0.85}}
    make_folder(folder, "mitigate", {"mitigate.json": res}, pngs=0, method="reweighing", wall_seconds=1.0)
    table = pd.DataFrame({"baseline": [0.77, 0.12], "mitigated": [0.76, 0.05]},
                         index=["accuracy", "statistical_parity_difference"])  # fmt: skip
    plot_comparison(table, folder / "mitigate.png", title="reweighing")
    table.rename_axis("metric").to_csv(folder / "mitigate.csv")
    return folder
