"""Build, validate and write the one versioned result document of every command."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from trustlab._errors import TrustlabError
from trustlab._io import json_ready, write_json

SCHEMA_VERSION = "1.0"
"""Version of the result document layout (``schema.json``).

The minor part grows when optional fields are added, the major part when a reader must change.
"""

ARMS = ("baseline", "intervention", "control")
"""Arm names, the same in every command."""
PARTS = ("train", "validation", "test")
"""Parts of a split an arm can be evaluated on."""


class ResultSchemaError(TrustlabError, ValueError):
    """A result document does not follow ``trustlab/results/schema.json``."""


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of result documents, shipped as ``trustlab/results/schema.json``.

    Returns
    -------
    dict
        The parsed schema (read once and cached; do not modify it).
    """
    text = resources.files("trustlab.results").joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def result_document(
    command: str,
    *,
    seed: int | None,
    positive: dict[str, Any] | None,
    privileged: dict[str, Any] | None,
    data: dict[str, Any],
    cost: dict[str, Any],
    arms: dict[str, dict[str, Any]],
    details: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Assemble a result document (see ``SCHEMA.md`` beside this module).

    Parameters
    ----------
    command : str
        The command that made it (``audit``, ``mitigate``, ``poison``, ``privacy``,
        ``backdoor-scan`` ...).
    seed : int or None
        Seed of the split and the learner.
    positive : dict or None
        ``{"value", "rule"[, "negative"]}``: the original label value meaning
        ``y = 1`` and why it was chosen (:func:`label_info` builds it).
    privileged : dict or None
        ``{"attribute", "value", "rule"[, "groups"]}``.
    data : dict
        ``dataset``, ``sensitive``, ``n_train``, ``n_val``, ``n_test`` (missing
        sizes become ``None``); other keys are kept.
    cost : dict
        ``wall_seconds``, ``trainings``, ``cores`` (``cores`` defaults to
        :func:`os.cpu_count`); other keys are kept.
    arms : dict
        ``{"baseline" | "intervention" | "control": {"validation" | "test":
        evaluation block}}`` where an evaluation block is
        :func:`trustlab.fairness.evaluate`'s dict. May be empty.
    details : dict, optional
        Command-specific content (what a mitigation changed, attack AUCs, scans, trials ...).
    warnings : list of str, optional
        Things the reader must know (tiny groups ...); the evaluation blocks'
        own warnings are added.
    **extra
        Further top-level fields (``learner``, ``method`` ...).

    Returns
    -------
    dict
        The document, keys in a fixed order.
    """
    data = {"dataset": None, "sensitive": None, "n_train": None, "n_val": None, "n_test": None, **data}
    cost = {"wall_seconds": None, "trainings": None, "cores": os.cpu_count(), **cost}
    all_warnings = list(warnings or [])
    where: dict[str, list[str]] = {}
    for arm, parts in arms.items():
        for part, block in (parts or {}).items():
            for w in (block or {}).get("warnings", []) if isinstance(block, dict) else []:
                where.setdefault(str(w), []).append(f"{arm}/{part}")
    for w, places in where.items():  # one line per message, with every arm/part it applies to
        line = f"{w} ({', '.join(places)})"
        if line not in all_warnings:
            all_warnings.append(line)
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "seed": seed,
        "positive": positive,
        "privileged": privileged,
        "data": data,
        "cost": cost,
        **extra,
        "arms": arms,
        "details": details or {},
        "warnings": all_warnings,
    }


def label_info(ds: Any, sensitive: str | None) -> dict[str, dict[str, Any] | None]:
    """``positive`` and ``privileged`` for :func:`result_document` from a tabular dataset.

    ``ds`` is a :class:`trustlab.datasets.Dataset`; use as
    ``result_document(..., **label_info(ds, sensitive))``.

    Parameters
    ----------
    ds : Dataset
        The dataset whose label values, positive label, privileged values and rules are read.
    sensitive : str or None
        The sensitive attribute; ``None`` gives no ``privileged`` block.

    Returns
    -------
    dict
        ``{"positive": {value, negative, meaning, rule}, "privileged": {attribute, value, rule,
        groups} or None}``.
    """
    positive = {"value": str(ds.label_values[1]), "negative": str(ds.label_values[0]),
                "meaning": str(ds.positive_label),
                "rule": ds.rules.get("positive", "given by the dataset")}  # fmt: skip
    if sensitive is None:
        return {"positive": positive, "privileged": None}
    privileged = {
        "attribute": sensitive,
        "value": str(ds.privileged[sensitive]),
        "rule": ds.rules.get(f"privileged:{sensitive}", "given by the dataset"),
        "groups": sorted(map(str, ds.sensitive[sensitive].unique())),
    }
    return {"positive": positive, "privileged": privileged}


def validate_result(doc: Any) -> None:
    """Check ``doc`` (as it would be written) against the shipped JSON Schema.

    Parameters
    ----------
    doc : dict
        The document; it is converted to standard JSON values first (numpy values, NaN as null).

    Raises
    ------
    ResultSchemaError
        One line naming the first offending field.
    """
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - a dependency of trustlab
        raise ResultSchemaError("validating results needs the jsonschema package "
                                "(pip install 'jsonschema>=4.18')") from None  # fmt: skip
    validator = jsonschema.Draft202012Validator(result_schema())
    errors = sorted(validator.iter_errors(json_ready(doc)), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(map(str, err.absolute_path)) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ResultSchemaError(f"result document invalid at {where}: {err.message}{more}".splitlines()[0])


def write_result(path: str | os.PathLike, doc: dict[str, Any]) -> Path:
    """Validate ``doc`` and write it as indented JSON (NaN/inf become ``null``).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    doc : dict
        The result document (:func:`result_document`).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ResultSchemaError
        If ``doc`` does not follow the schema; nothing is written then.
    """
    validate_result(doc)
    return write_json(path, doc)


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read a result document; raise :class:`ResultSchemaError` if it does not validate.

    Parameters
    ----------
    path : str or os.PathLike
        A JSON file written by :func:`write_result`.

    Returns
    -------
    dict
        The document.

    Raises
    ------
    ResultSchemaError
        If the file cannot be read, is not JSON, or does not follow the schema.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultSchemaError(f"cannot read {path}: {exc}".splitlines()[0]) from None
    validate_result(doc)
    return doc
