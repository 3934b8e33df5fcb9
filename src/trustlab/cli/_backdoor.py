"""``trustlab backdoor train|scan|unlearn|demo``: thin over :mod:`trustlab.backdoor`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from trustlab._errors import ConfigError, DataError
from trustlab.cli._app import app, console
from trustlab.cli._common import finish_report

backdoor_app = typer.Typer(
    help="Backdoor security: BadNets injection, Neural Cleanse scan, unlearning / pruning.",
    no_args_is_help=True,
)
app.add_typer(backdoor_app, name="backdoor")

DATASET_OPT = typer.Option(None, "--dataset", help="Built-in image data: mnist5k (default) or digits.")
DATA_OPT = typer.Option(None, "--data",
                        help="Your own IDX files as IMAGES,LABELS (idx: prefix optional); not with --dataset.")
OUT_OPT = typer.Option(..., "--out", help="Output folder (written only if the command succeeds).")
MODEL_OPT = typer.Option(..., "--model", help="model.pt (with model.json beside it) or a TorchScript file.")
THREADS_OPT = typer.Option(None, "--threads", min=1,
                           help="torch threads (default: all cores; use 1 where other jobs hold the cores).")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")
SPLIT_SEED_OPT = typer.Option(
    None, "--split-seed", help="Seed of the train/val/test split (default: the one in model.json, else 0)."
)


#: Share of the data in the defender's clean set of models whose model.json predates --clean-size.
_OLD_CLEAN_SIZE = 0.1


def image_spec(dataset: str | None, data: str | None) -> str:
    """The :func:`trustlab.datasets.load_images` spec of ``--dataset`` / ``--data``.

    Parameters
    ----------
    dataset : str or None
        A built-in image data set (``mnist5k``, ``digits``); ``None`` with ``data`` also
        ``None`` means ``mnist5k``.
    data : str or None
        The user's IDX files, ``IMAGES,LABELS`` (an ``idx:`` prefix is accepted). A built-in
        name is accepted here too, as older versions of this command took it.

    Returns
    -------
    str
        ``mnist5k``, ``digits`` or ``idx:IMAGES,LABELS``.

    Raises
    ------
    ConfigError
        Both options given, an unknown built-in name, or ``data`` that is not a pair of files.
    """
    from trustlab.datasets import IMAGE_DATASETS

    if dataset is not None and data is not None:
        raise ConfigError("give one of --dataset NAME or --data IMAGES,LABELS, not both")
    if dataset is not None:
        if dataset not in IMAGE_DATASETS:
            raise ConfigError(f"unknown --dataset {dataset!r}; choose one of {', '.join(sorted(IMAGE_DATASETS))} "
                              "or give your own files with --data IMAGES,LABELS")  # fmt: skip
        return dataset
    if data is None:
        return "mnist5k"
    if data in IMAGE_DATASETS or data.startswith("idx:"):
        return data
    if "," not in data:
        raise ConfigError(f"--data takes your IDX files as IMAGES,LABELS, got {data!r}; for built-in "
                          f"data use --dataset ({', '.join(sorted(IMAGE_DATASETS))})")  # fmt: skip
    return f"idx:{data}"


def _split(data: str, seed: int, clean_size: float):
    from trustlab.backdoor import defender_split
    from trustlab.datasets import load_images

    return defender_split(load_images(data), seed=seed, clean_size=clean_size)


def _load(model_path: Path, split) -> tuple[Any, Any]:
    from trustlab.backdoor import check_model, load_model

    model, info = load_model(model_path)
    check_model(model, info, image_shape=split.train.image_shape, n_classes=split.train.n_classes)
    return model, info


def _split_meta(model_path: Path, given: int | None) -> tuple[int, float]:
    """Split seed (``given`` or model.json's, else 0) and the clean-set size the model was trained with."""
    meta_path = Path(model_path).with_name("model.json") if not Path(model_path).is_dir() else Path(
        model_path, "model.json"
    )
    try:
        meta = json.loads(meta_path.read_text())
        seed = int(meta.get("split_seed", 0))
        clean_size = float(meta.get("clean_size", _OLD_CLEAN_SIZE))
    except (OSError, ValueError, TypeError, AttributeError):
        seed, clean_size = 0, _OLD_CLEAN_SIZE
    return (seed if given is None else given), clean_size


def _document(command: str, split, *, seed: int, wall: float, trainings: int,
              details: dict[str, Any], **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A result document (``trustlab.results``) for a backdoor command; numbers in ``details``."""
    from trustlab.results import result_document

    return result_document(
        command, seed=seed, positive=None, privileged=None,
        data={"dataset": split.train.name, "sensitive": None, "n_train": len(split.train),
              "n_val": len(split.val), "n_test": len(split.test),
              "n_val_is": "the defender's clean set (disjoint from the training data)"},
        cost={"wall_seconds": wall, "trainings": trainings}, arms={}, details=details, **extra,
    )  # fmt: skip


def _table(title: str, rows: dict[str, Any]):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in rows.items():
        table.add_row(k, "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)))
    return table


# ------------------------------------------------------------------ train


def run_train(*, data: str, trigger: str, target: int, poison_rate: float, clean: bool, seed: int,
              epochs: int, out: Path, progress: bool, threads: int | None = None,
              clean_size: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Body of ``backdoor train``; returns ``train.json``."""
    from trustlab.backdoor import (
        DEFAULT_CLEAN_SIZE,
        check_target,
        parse_trigger,
        save_model,
        train_model,
        use_all_cores,
    )

    t0 = time.perf_counter()
    clean_size = DEFAULT_CLEAN_SIZE if clean_size is None else clean_size
    split = _split(data, seed, clean_size)
    trig = None
    if not clean:
        trig = parse_trigger(trigger, image_shape=split.train.image_shape)
        check_target(target, split.train.n_classes)
        if not 0.0 < poison_rate < 1.0:
            raise ConfigError(f"--poison-rate must be in (0, 1), got {poison_rate}")
    if epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    threads = use_all_cores(threads)
    res = train_model(split, trigger=trig, target=None if clean else target,
                      poison_rate=poison_rate, epochs=epochs, seed=seed, progress=progress)  # fmt: skip
    from trustlab._io import write_run_json
    from trustlab.results import staged_output, write_result

    res.report["clean_size"] = clean_size
    doc = _document("backdoor-train", split, seed=seed, wall=time.perf_counter() - t0, trainings=1,
                    details=res.report)  # fmt: skip
    with staged_output(out) as stage:
        save_model(res.model, stage, trigger=res.trigger, target=res.target,
                   extra={"dataset": split.train.name, "split_seed": seed,
                          "clean_size": clean_size, "epochs": epochs})  # fmt: skip
        write_result(stage / "train.json", doc)
        write_run_json(stage, kind="backdoor-train", dataset=split.train.name, seed=seed,
                       wall_seconds=time.perf_counter() - t0, threads=threads,
                       trigger=res.report["trigger"], target=res.target)  # fmt: skip
        finish_report(stage)
    console.print(_table(f"backdoor train ({'clean' if clean else trigger})", {
        "clean accuracy (test)": res.report["clean_accuracy"],
        "attack success rate (test)": res.report["asr"],
        "poisoned training images": res.report["poisoned_images"],
    }))  # fmt: skip
    console.print(f"wrote {out}/model.pt, model.json, train.json")
    return res.report


@backdoor_app.command("train")
def train_cmd(
    dataset: str | None = DATASET_OPT,
    data: str | None = DATA_OPT,
    trigger: str = typer.Option("square:4@bottom-right", "--trigger",
                                help="square|checkerboard:SIZE@LOC[=VALUE], file:MASK[+PATTERN]@LOC, "
                                     "blend:ALPHA (full-image noise mixed at ALPHA) or "
                                     "sig:AMPLITUDE[,PERIODS] (additive sinusoid)."),
    target: int = typer.Option(3, "--target", help="Target label of the backdoor."),
    poison_rate: float = typer.Option(0.1, "--poison-rate", help="Share of training images poisoned, in (0, 1)."),
    clean: bool = typer.Option(False, "--clean", help="Train without a backdoor."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, the poisoned subset and training."),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs."),
    clean_size: float = typer.Option(
        0.2, "--clean-size",
        help="The defender's clean set, held out from training (the split's validation part): "
             "a share of the data in (0, 1) or an image count. Scan and unlearn use it."),
    out: Path = OUT_OPT,
    progress: bool = PROGRESS_OPT,
    threads: int = THREADS_OPT,
) -> None:
    """Train a small CNN, BadNets-poisoned unless --clean; write model.pt, model.json, train.json."""
    run_train(data=image_spec(dataset, data), trigger=trigger, target=target, poison_rate=poison_rate,
              clean=clean, seed=seed, epochs=epochs, out=out, progress=progress, threads=threads,
              clean_size=clean_size)  # fmt: skip


# ------------------------------------------------------------------ scan


def run_scan(*, model_path: Path, data: str, out: Path, steps: int, mini_batches: int,
             batch_size: int, split_seed: int | None, seed: int, progress: bool,
             threads: int | None = None, references: int = 2,
             eliminate: bool = False) -> dict[str, Any]:  # fmt: skip
    """Body of ``backdoor scan``; returns ``scan.json``."""
    from trustlab.backdoor import (
        calibrate,
        plot_norms,
        plot_triggers,
        reference_norms,
        scan_model,
        use_all_cores,
    )

    t0 = time.perf_counter()
    if references < 1:
        raise ConfigError(f"--references must be >= 1 (clean reference models), got {references}")
    sseed, clean_size = _split_meta(model_path, split_seed)
    split = _split(data, sseed, clean_size)
    model, info = _load(model_path, split)
    threads = use_all_cores(threads)
    options = {"steps": steps, "mini_batches": mini_batches, "batch_size": batch_size}
    result = scan_model(model, split, seed=seed, progress=progress, eliminate=eliminate,
                        **options)  # fmt: skip
    arch = {k: info.meta[k] for k in ("channels", "hidden") if k in info.meta}
    refs, ref_seeds = reference_norms(split, n=references, seed=sseed, progress=progress,
                                      epochs=int(info.meta.get("epochs", 10)), **arch,
                                      eliminate=eliminate, **options)  # fmt: skip
    cal = calibrate(result.l1_norms, refs, labels=result.labels)
    report = result.to_json()
    report["calibration"] = {**cal.to_json(), "reference_seeds": ref_seeds,
                             "reference_training": "clean training split, same architecture"}  # fmt: skip
    report.update({"dataset": split.val.name, "split_seed": sseed, "scanned_on": "val",
                   "clean_size": clean_size, "clean_images": len(split.val),
                   "model": str(model_path), "threads": threads})  # fmt: skip
    from trustlab._io import write_run_json
    from trustlab.results import staged_output, write_result

    doc = _document("backdoor-scan", split, seed=seed, wall=time.perf_counter() - t0,
                    trainings=references, details=report)  # fmt: skip
    with staged_output(out) as stage:
        write_result(stage / "scan.json", doc)
        result.save_arrays(stage / "scan.npz")
        plot_triggers(result, stage / "triggers.png")
        plot_norms(result, stage / "norms.png")
        write_run_json(stage, kind="backdoor-scan", dataset=split.val.name, seed=seed,
                       split_seed=sseed, wall_seconds=time.perf_counter() - t0,
                       scan_seconds=result.seconds, threads=threads, model=str(model_path))  # fmt: skip
        finish_report(stage)
    from rich.table import Table

    table = Table(title=f"Neural Cleanse ({result.seconds:.1f} s, {threads} threads)")
    for col in ("label", "mask L1", "ASR (val)", "MAD index", "MAD flag", "calibrated", "cal. flag"):
        table.add_column(col, justify="right")
    for i, lab in enumerate(result.labels):
        table.add_row(str(lab), f"{result.l1_norms[i]:.1f}", f"{result.asr[i]:.3f}",
                      f"{result.anomaly_index[i]:.2f}", "yes" if lab in result.flagged else "",
                      f"{cal.index[i]:.2f}", "yes" if lab in cal.flagged else "")  # fmt: skip
    console.print(table)
    loo = cal.reference_calibrated_fpr
    console.print(f"MAD rule flagged: {result.flagged or 'none'}; calibrated (>{cal.threshold:g}) "
                  f"flagged: {cal.flagged or 'none'}; on the {references} clean reference model(s) "
                  f"the MAD rule flags {cal.reference_mad_fpr:.0%}"
                  + (f", the calibrated rule {loo:.0%} (leave-one-out)" if loo is not None else "")
                  + f"; wrote {out}/scan.json")  # fmt: skip
    return report


@backdoor_app.command("scan")
def scan_cmd(
    model: Path = MODEL_OPT,
    dataset: str | None = DATASET_OPT,
    data: str | None = DATA_OPT,
    out: Path = OUT_OPT,
    steps: int = typer.Option(60, "--steps", help="Neural Cleanse schedule steps (each --mini-batches updates)."),
    mini_batches: int = typer.Option(5, "--mini-batches", help="Gradient updates per schedule step."),
    batch_size: int = typer.Option(32, "--batch-size", help="Clean images per update (per label)."),
    split_seed: int = SPLIT_SEED_OPT,
    seed: int = typer.Option(0, "--seed", help="Seed of the mask initialisation and batch order."),
    references: int = typer.Option(
        2, "--references",
        help="Clean reference models (trained on the clean training split) that calibrate the "
             "detector; >= 1."),
    eliminate: bool = typer.Option(
        False, "--eliminate/--no-eliminate",
        help="Label elimination: stop optimising labels that are clearly not outliers."),
    progress: bool = PROGRESS_OPT,
    threads: int = THREADS_OPT,
) -> None:
    """Neural Cleanse over all labels on the defender's clean set, calibrated on clean models."""
    run_scan(model_path=model, data=image_spec(dataset, data), out=out, steps=steps, mini_batches=mini_batches,
             batch_size=batch_size, split_seed=split_seed, seed=seed, progress=progress,
             threads=threads, references=references, eliminate=eliminate)  # fmt: skip


# ------------------------------------------------------------------ unlearn


def _read_scan(folder: Path):
    from trustlab.backdoor import cleanse_from_arrays, load_cleanse_arrays

    folder = Path(folder)
    if not (folder / "scan.json").is_file() or not (folder / "scan.npz").is_file():
        raise DataError(f"{folder} is not a scan output (needs scan.json and scan.npz)")
    try:
        scan = json.loads((folder / "scan.json").read_text())
        scan = scan.get("details", scan) if "schema_version" in scan else scan
        # the MAD rule's flags and the calibrated detector's (when the scan has one)
        calibrated = (scan.get("calibration") or {}).get("flagged", [])
        flagged = sorted({int(v) for v in scan["flagged"]} | {int(v) for v in calibrated})
        labels, masks, patterns = load_cleanse_arrays(folder / "scan.npz")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"cannot read the scan in {folder}: {exc}") from None
    if any(f not in labels for f in flagged):
        raise DataError(f"{folder}: flagged labels {flagged} are not among the scanned labels")
    return cleanse_from_arrays(labels, masks, patterns, flagged)


def run_unlearn(*, model_path: Path, scan_dir: Path, data: str, out: Path, method: str,
                fraction: float, epochs: int, lr: float, split_seed: int | None, seed: int,
                progress: bool, threads: int | None = None, rounds: int = 2,
                distill: float = 5.0) -> dict[str, Any]:  # fmt: skip
    """Body of ``backdoor unlearn``; returns ``unlearn.json``."""
    from trustlab.backdoor import mitigate, save_model, use_all_cores

    t0 = time.perf_counter()
    if method not in ("unlearn", "prune"):
        raise ConfigError(f"unknown --method {method!r}; choose unlearn or prune")
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"--fraction must be in (0, 1), got {fraction}")
    if rounds < 1 or distill < 0:
        raise ConfigError(f"--rounds must be >= 1 and --distill >= 0, got {rounds} and {distill}")
    sseed, clean_size = _split_meta(model_path, split_seed)
    split = _split(data, sseed, clean_size)
    model, info = _load(model_path, split)
    scan = _read_scan(scan_dir)
    if scan.masks.shape[1:] != split.val.image_shape[1:]:
        raise DataError(f"the scan's masks {scan.masks.shape[1:]} do not match the data's images")
    threads = use_all_cores(threads)
    options: dict[str, Any] = (
        {"fraction": fraction, "epochs": epochs, "lr": lr, "rounds": rounds, "distill": distill}
        if method == "unlearn"
        else {}
    )
    res, report = mitigate(model, split, scan, method=method, trigger=info.trigger,
                           target=info.target, seed=seed, progress=progress, **options)  # fmt: skip
    report.update({"dataset": split.val.name, "split_seed": sseed, "model": str(model_path),
                   "scan": str(scan_dir), "clean_size": clean_size,
                   "clean_images": len(split.val)})  # fmt: skip
    from trustlab._io import write_run_json
    from trustlab.results import staged_output, write_result

    doc = _document("backdoor-unlearn", split, seed=seed, wall=time.perf_counter() - t0,
                    trainings=0, details=report, method=method)  # fmt: skip
    with staged_output(out) as stage:
        extra = {k: v for k, v in info.meta.items()
                 if k not in ("format", "trigger", "target", "trigger_file")}  # fmt: skip
        extra["mitigation"] = {"method": method, "flagged": report["flagged"],
                               "changed": report["changed"]}  # fmt: skip
        extra["split_seed"] = sseed
        save_model(res.model, stage, trigger=info.trigger, target=info.target, extra=extra)
        write_result(stage / "unlearn.json", doc)
        write_run_json(stage, kind="backdoor-unlearn", dataset=split.val.name, seed=seed,
                       split_seed=sseed, method=method, wall_seconds=time.perf_counter() - t0,
                       threads=threads, model=str(model_path), scan=str(scan_dir))  # fmt: skip
        finish_report(stage)
    if not report["flagged"]:
        console.print("no label flagged: the model is left unchanged")
    console.print(_table(f"backdoor {method} (test split)", {
        k: report[k] for k in ("clean_accuracy_before", "clean_accuracy_after",
                               "asr_before", "asr_after")
    }))  # fmt: skip
    console.print(f"wrote {out}/model.pt, unlearn.json")
    return report


@backdoor_app.command("unlearn")
def unlearn_cmd(
    model: Path = MODEL_OPT,
    scan: Path = typer.Option(..., "--scan", help="Output folder of `trustlab backdoor scan`."),
    dataset: str | None = DATASET_OPT,
    data: str | None = DATA_OPT,
    out: Path = OUT_OPT,
    method: str = typer.Option("unlearn", "--method", help="unlearn (fine-tune) or prune (penultimate neurons)."),
    fraction: float = typer.Option(0.2, "--fraction", help="Share of clean images carrying a reversed trigger."),
    epochs: int = typer.Option(5, "--epochs", help="Fine-tuning epochs per round over the defender's clean set."),
    lr: float = typer.Option(2e-3, "--lr", help="Fine-tuning learning rate (Adam)."),
    rounds: int = typer.Option(2, "--rounds",
                               help="Unlearning rounds; each after the first re-scans the flagged "
                                    "labels and also unlearns what is left."),
    distill: float = typer.Option(5.0, "--distill",
                                  help="Weight of distillation to the original model on unstamped "
                                       "images (0 = off)."),
    split_seed: int = SPLIT_SEED_OPT,
    seed: int = typer.Option(0, "--seed", help="Seed of the stamped subset and batch order."),
    progress: bool = PROGRESS_OPT,
    threads: int = THREADS_OPT,
) -> None:
    """Remove the flagged backdoors (MAD and calibrated flags); report accuracy and ASR on test."""
    run_unlearn(model_path=model, scan_dir=scan, data=image_spec(dataset, data), out=out, method=method,
                fraction=fraction, epochs=epochs, lr=lr, split_seed=split_seed, seed=seed,
                progress=progress, threads=threads, rounds=rounds, distill=distill)  # fmt: skip


# ------------------------------------------------------------------ demo


@backdoor_app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("out/backdoor-demo"), "--out", help="Output folder (train/, scan/, unlearn/)."),
    dataset: str | None = DATASET_OPT,
    data: str | None = DATA_OPT,
    seed: int = typer.Option(0, "--seed", help="Seed of everything."),
    steps: int = typer.Option(60, "--steps", help="Neural Cleanse schedule steps."),
    progress: bool = PROGRESS_OPT,
    threads: int = THREADS_OPT,
) -> None:
    """Plant a 4x4 backdoor in MNIST-5k, find it with Neural Cleanse, unlearn it."""
    out = Path(out)
    data = image_spec(dataset, data)
    run_train(data=data, trigger="square:4@bottom-right", target=3, poison_rate=0.1, clean=False,
              seed=seed, epochs=10, out=out / "train", progress=progress, threads=threads)  # fmt: skip
    run_scan(model_path=out / "train" / "model.pt", data=data, out=out / "scan", steps=steps,
             mini_batches=5, batch_size=32, split_seed=None, seed=seed, progress=progress,
             threads=threads)  # fmt: skip
    run_unlearn(model_path=out / "train" / "model.pt", scan_dir=out / "scan", data=data,
                out=out / "unlearn", method="unlearn", fraction=0.2, epochs=5, lr=2e-3,
                split_seed=None, seed=seed, progress=progress, threads=threads)  # fmt: skip
