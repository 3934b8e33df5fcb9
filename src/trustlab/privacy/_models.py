"""A small torch MLP with a fairness penalty and optional DP-SGD, and the black-box adapter.

:class:`TorchMLPClassifier` is a scikit-learn style estimator on the raw
DataFrame of a :class:`~trustlab.datasets.Dataset`: it encodes features with
:func:`trustlab.learners.make_preprocessor` (fit on its own training rows
only) and trains a ReLU network (``hidden`` widths) with cross-entropy plus
``fairness_weight`` times the L2 distance between the two groups' mean
softmax outputs in each batch (``fairness_weight=0`` is the biased model).
With ``dp_epsilon`` set it trains with DP-SGD through opacus'
``make_private_with_epsilon`` and records the epsilon actually spent.

:class:`BlackBox` is what every attack sees: a function from rows to class
probabilities (or to labels only), whatever the model behind it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from trustlab._errors import ConfigError, DataError

#: (epsilon, delta, batches per epoch, epochs) -> noise multiplier found by opacus (the search is slow)
_NOISE: dict[tuple[float, float, int, int], float] = {}


def hidden_layers(hidden: Any) -> tuple[int, ...]:
    """Hidden-layer widths from an int, a list of ints, or a string ``"256,256"``.

    Parameters
    ----------
    hidden : int, sequence of int or str
        One width, a list of widths, or a comma-separated string of widths.

    Returns
    -------
    tuple of int
        The widths, in order.

    Raises
    ------
    ConfigError
        Unless every width is a positive integer and there is at least one.
    """
    if isinstance(hidden, str):
        parts = [p.strip() for p in hidden.split(",")]
        try:
            widths = tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(f"--hidden must be a comma list of positive integers (e.g. 256,256), got {hidden!r}") from None
    elif isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        widths = (int(hidden),)
    else:
        try:
            widths = tuple(hidden)
        except TypeError:
            raise ConfigError(f"hidden must be a positive integer or a list of them, got {hidden!r}") from None
        if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in widths):
            raise ConfigError(f"hidden must be a list of positive integers, got {hidden!r}")
        widths = tuple(int(w) for w in widths)
    if not widths or any(w < 1 for w in widths):
        raise ConfigError(f"--hidden must be a comma list of positive integers (e.g. 256,256), got {hidden!r}")
    return widths


def _build_net(n_in: int, hidden: Any) -> Any:
    import torch.nn as nn

    layers: list[Any] = []
    for width in hidden_layers(hidden):
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, 2))


def _infer_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    return categorical, numeric


def group_penalty(proba: Any, group: Any) -> Any:
    """L2 distance between the two groups' mean softmax vectors in one batch.

    Parameters
    ----------
    proba : torch.Tensor of shape (n, k)
        Softmax outputs.
    group : torch.Tensor of shape (n,), bool
        ``True`` for one group (the privileged one).

    Returns
    -------
    torch.Tensor
        A scalar; zero when the batch holds only one group.
    """
    import torch

    if bool(group.all()) or not bool(group.any()):
        return proba.sum() * 0.0
    diff = proba[group].mean(0) - proba[~group].mean(0)
    return torch.sqrt((diff**2).sum() + 1e-12)


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """MLP (torch, ReLU layers) with a group-fairness penalty and optional DP-SGD.

    Parameters
    ----------
    hidden : int or list of int
        Hidden units; a list gives one layer per entry (``[256, 256]``).
    lr : float
        Adam learning rate.
    epochs : int
        Passes over the training data.
    weight_decay : float
        Adam's L2 weight decay (0: none).
    batch_size : int
        Batch size (the expected batch size under DP-SGD's Poisson sampling).
    fairness_weight : float
        Weight lambda of the penalty: the L2 distance between the mean softmax
        outputs of the privileged and unprivileged rows of each batch.
        ``0`` trains the plain (biased) model.
    privileged : str, optional
        Privileged value of ``sensitive_features`` (needed when
        ``fairness_weight > 0``).
    categorical, numeric : list of str, optional
        Column kinds of ``X``; inferred from dtypes when omitted.
    dp_epsilon : float, optional
        Train with DP-SGD (opacus, Poisson sampling, RDP accountant) to this
        target epsilon. ``None`` trains without DP.
    dp_delta : float
        Target delta of DP-SGD.
    max_grad_norm : float
        Per-sample gradient clipping norm of DP-SGD.
    random_state : int
        Seeds initialisation, batch order and DP noise: the same seed gives
        the same model.
    progress : bool
        Show a progress bar over epochs.

    Attributes
    ----------
    epsilon_spent_ : float or None
        The accountant's epsilon at ``dp_delta`` after training (``None``
        without DP).
    n_features_in_ : int
        Encoded input width.

    Notes
    -----
    Under DP-SGD the fairness penalty couples the rows of a batch (the group
    means), so a row's clipped gradient also depends on the other rows; the
    accountant's epsilon is exact for ``fairness_weight=0`` and nominal
    otherwise.
    """

    def __init__(self, *, hidden: Any = 16, lr: float = 0.01, epochs: int = 20, batch_size: int = 64,
                 weight_decay: float = 0.0, fairness_weight: float = 0.0, privileged: Any = None, categorical: list[str] | None = None,
                 numeric: list[str] | None = None, dp_epsilon: float | None = None, dp_delta: float = 1e-5,
                 max_grad_norm: float = 1.0, random_state: int = 0, progress: bool = False) -> None:  # fmt: skip
        self.hidden = hidden
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.fairness_weight = fairness_weight
        self.privileged = privileged
        self.categorical = categorical
        self.numeric = numeric
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.max_grad_norm = max_grad_norm
        self.random_state = random_state
        self.progress = progress

    # -- validation ------------------------------------------------------------------------
    def _check_params(self, n: int) -> None:
        hidden_layers(self.hidden)
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be >= 1")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.fairness_weight < 0:
            raise ConfigError(f"fairness weight must be >= 0, got {self.fairness_weight}")
        if self.dp_epsilon is not None and not self.dp_epsilon > 0:
            raise ConfigError(f"epsilon must be > 0, got {self.dp_epsilon}")
        if self.dp_epsilon is not None and not 0 < self.dp_delta < 1:
            raise ConfigError(f"delta must be in (0, 1), got {self.dp_delta}")
        if n < 2:
            raise DataError("need at least 2 training rows")

    def _encode(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return np.asarray(self.prep_.transform(X), dtype=np.float32)
        return np.asarray(X, dtype=np.float32)

    # -- training --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, sensitive_features: Any = None, sample_weight: Any = None) -> TorchMLPClassifier:
        """Train on raw rows ``X`` (DataFrame or array) and 0/1 labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame or array of shape (n, d)
        y : array-like of 0/1
        sensitive_features : array-like, optional
            Group of each row; required when ``fairness_weight > 0``.
        sample_weight : array-like, optional
            Row weights of the cross-entropy (not with DP-SGD).
        """
        import torch

        y = np.asarray(y).astype(np.int64).ravel()
        self._check_params(len(y))
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        if set(np.unique(y)) - {0, 1}:
            raise DataError("labels must be 0/1")
        if self.fairness_weight > 0:
            if sensitive_features is None or self.privileged is None:
                raise ConfigError("a fairness penalty needs sensitive_features and privileged")
            group = np.asarray(pd.Series(np.asarray(sensitive_features)).astype(str) == str(self.privileged))
        else:
            group = np.zeros(len(y), dtype=bool)
        if sample_weight is not None and self.dp_epsilon is not None:
            raise ConfigError("sample weights cannot be combined with DP-SGD")
        w = np.ones(len(y), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        if isinstance(X, pd.DataFrame):
            from trustlab.learners import make_preprocessor

            cat, num = (self.categorical, self.numeric)
            if cat is None or num is None:
                cat, num = _infer_columns(X)
            self.prep_ = make_preprocessor(cat, num).fit(X)
        Xt = self._encode(X)
        self.n_features_in_ = Xt.shape[1]
        self.classes_ = np.array([0, 1])
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a 16-unit network: thread hand-offs cost more than they save
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(self.random_state))
                net = self._train(Xt, y, group, w)
        finally:
            torch.set_num_threads(threads)
        # a plain copy: no opacus hooks, picklable, fast to query
        plain = _build_net(self.n_features_in_, self.hidden)
        plain.load_state_dict({k.removeprefix("_module."): v for k, v in net.state_dict().items()})
        plain.eval()
        self.net_ = plain
        return self

    def _train(self, Xt: np.ndarray, y: np.ndarray, group: np.ndarray, w: np.ndarray) -> Any:
        import torch

        tensors = [torch.tensor(a) for a in (Xt, y, group, w)]
        gen = torch.Generator().manual_seed(int(self.random_state))
        net = _build_net(Xt.shape[1], self.hidden)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=float(self.weight_decay))
        self.epsilon_spent_ = None
        engine = None
        bs = min(self.batch_size, len(y))
        if self.dp_epsilon is not None:
            from opacus import PrivacyEngine
            from torch.utils.data import DataLoader, TensorDataset

            loader = DataLoader(TensorDataset(*tensors), batch_size=bs, shuffle=True, generator=gen)
            warnings.filterwarnings("ignore", message=".*Secure RNG turned off.*")
            warnings.filterwarnings("ignore", message=".*Full backward hook is firing.*")
            engine = PrivacyEngine(accountant="rdp")
            key = (float(self.dp_epsilon), float(self.dp_delta), len(loader), int(self.epochs))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if key not in _NOISE:  # opacus searches the noise multiplier for the target epsilon
                    net, opt, loader = engine.make_private_with_epsilon(
                        module=net, optimizer=opt, data_loader=loader, target_epsilon=float(self.dp_epsilon),
                        target_delta=float(self.dp_delta), epochs=int(self.epochs),
                        max_grad_norm=float(self.max_grad_norm), noise_generator=gen,
                    )  # fmt: skip
                    _NOISE[key] = float(opt.noise_multiplier)
                else:  # same epsilon, delta, sampling rate and epochs: the same multiplier, no new search
                    net, opt, loader = engine.make_private(
                        module=net, optimizer=opt, data_loader=loader, noise_multiplier=_NOISE[key],
                        max_grad_norm=float(self.max_grad_norm), noise_generator=gen,
                    )  # fmt: skip

            def batches() -> Any:
                return iter(loader)
        else:  # plain shuffled mini-batches, without DataLoader overhead

            def batches() -> Any:
                perm = torch.randperm(len(y), generator=gen)
                return ([t[perm[i:i + bs]] for t in tensors] for i in range(0, len(y), bs))
        lam = float(self.fairness_weight)
        bar = _EpochBar(self.epochs, "training" + (" (DP-SGD)" if engine else "")) if self.progress else None
        net.train()
        for _ in range(self.epochs):
            for xb, yb, gb, wb in batches():
                if len(yb) == 0:  # Poisson sampling can draw an empty batch
                    continue
                opt.zero_grad()
                logits = net(xb)
                ce = torch.nn.functional.cross_entropy(logits, yb, reduction="none")
                loss = (ce * wb).sum() / wb.sum()
                if lam > 0:
                    loss = loss + lam * group_penalty(torch.softmax(logits, 1), gb)
                loss.backward()
                opt.step()
            if bar:
                bar.advance()
        if bar:
            bar.close()
        if engine is not None:
            self.epsilon_spent_ = float(engine.get_epsilon(float(self.dp_delta)))
        return net

    # -- prediction ------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, 2)."""
        import torch

        Xt = torch.from_numpy(self._encode(X))
        with torch.no_grad():
            p = torch.softmax(self.net_(Xt), 1).numpy().astype(np.float64)
        return p

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (argmax)."""
        return self.predict_proba(X).argmax(1)


class _EpochBar:
    """A transient rich progress bar (used only when ``progress=True``)."""

    def __init__(self, total: int, label: str) -> None:
        from rich.progress import Progress

        self._p = Progress(transient=True)
        self._p.start()
        self._t = self._p.add_task(label, total=total)

    def advance(self) -> None:
        self._p.advance(self._t)

    def close(self) -> None:
        self._p.stop()


# ---------------------------------------------------------------------------------------------
# black-box access
# ---------------------------------------------------------------------------------------------


class BlackBox:
    """Query access to a fitted model: rows in, class probabilities out.

    Works for scikit-learn estimators and pipelines (``predict_proba``),
    fairlearn's ``ExponentiatedGradient`` (the randomized classifier's
    probabilities, ``_pmf_predict``), :class:`TorchMLPClassifier`, and a bare
    ``torch.nn.Module`` given with an ``encode`` function from rows to a float
    array (its outputs are logits; softmax is applied).

    Parameters
    ----------
    model : estimator or torch.nn.Module
        The fitted model behind the API.
    encode : callable, optional
        Rows -> float array, for a bare torch module.
    random_state : int
        Seed of a randomized classifier's label draws (ExponentiatedGradient).
    """

    def __init__(self, model: Any, *, encode: Any = None, random_state: int = 0) -> None:
        self.model = model
        self.encode = encode
        self.random_state = random_state
        if not (self._is_torch() or hasattr(model, "predict_proba") or hasattr(model, "_pmf_predict")):
            raise ConfigError(f"{type(model).__name__} returns no probabilities (no predict_proba)")

    def _is_torch(self) -> bool:
        try:
            import torch.nn as nn
        except ImportError:  # pragma: no cover
            return False
        return isinstance(self.model, nn.Module)

    def proba(self, X: Any) -> np.ndarray:
        """Probabilities of classes 0 and 1, shape (n, 2)."""
        if self._is_torch():
            import torch

            if self.encode is None:
                raise ConfigError("a bare torch module needs encode= (rows -> float array)")
            with torch.no_grad():
                self.model.eval()
                logits = self.model(torch.as_tensor(np.asarray(self.encode(X)), dtype=torch.float32))
                p = torch.softmax(logits, 1).numpy().astype(np.float64)
        elif hasattr(self.model, "_pmf_predict"):  # fairlearn ExponentiatedGradient
            p = np.asarray(self.model._pmf_predict(X), dtype=np.float64)
        else:
            p = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) != len(X):
            raise DataError(f"the model returned probabilities of shape {p.shape}; expected ({len(X)}, 2)")
        return p

    def predict(self, X: Any) -> np.ndarray:
        """Labels as the deployed model gives them (randomized for ExponentiatedGradient)."""
        if hasattr(self.model, "_pmf_predict"):
            return np.asarray(self.model.predict(X, random_state=self.random_state)).astype(int)
        return self.proba(X).argmax(1)
