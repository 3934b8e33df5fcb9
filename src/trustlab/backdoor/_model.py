"""A small CNN for image classification, its training loop, evaluation and file format.

Saved models are a state dict (``model.pt``) plus ``model.json`` holding the
architecture, input shape, normalisation and - when the model was trained by
trustlab with a backdoor - the trigger spec and target label (the trigger
arrays themselves go to ``trigger.npz`` next to it). Arbitrary user models are
accepted as TorchScript files (``torch.jit.save``); they must map float images
``[N, C, H, W]`` in [0, 1] to logits ``[N, n_classes]``.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trustlab._errors import ConfigError, ModelFileError
from trustlab.backdoor._triggers import Trigger, parse_trigger

FORMAT = "trustlab-smallcnn/1"


def use_all_cores(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` (default: the machine's cores); return the number.

    On a machine whose cores are busy with other jobs, more torch threads than
    free cores slow training and scans down many times over (spinning
    threads); pass ``threads=1`` there.

    Parameters
    ----------
    threads : int, optional
        Number of threads; by default the cores this process may run on (its CPU affinity).

    Returns
    -------
    int
        The number of threads set.

    Raises
    ------
    ConfigError
        If ``threads`` is below 1.
    """
    if threads is not None and int(threads) < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = max(1, int(threads if threads is not None else (n or 1)))
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - legacy global seed for third-party code
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


class SmallCNN(nn.Module):
    """Two 3x3 conv layers (ReLU, 2x2 max-pool) and two dense layers.

    Inputs are images in [0, 1]; the per-channel normalisation ``(x - mean) /
    std`` is part of the model, so attacks and defences work in pixel space.
    ``neuron_mask`` (all ones unless pruned) multiplies the penultimate
    layer's activations.

    Parameters
    ----------
    input_shape : tuple (C, H, W)
        Shape of one input image.
    n_classes : int
        Number of logits.
    channels : tuple of two ints
        Filters of the two conv layers.
    hidden : int
        Units of the penultimate dense layer.
    mean, std : sequence of float, one per channel
        The normalisation ``(x - mean) / std`` (default: 0 and 1, no normalisation).

    Raises
    ------
    ConfigError
        If the images are too small for the two pooling layers.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        n_classes: int,
        *,
        channels: tuple[int, int] = (32, 64),
        hidden: int = 128,
        mean: list[float] | None = None,
        std: list[float] | None = None,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in input_shape)
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
        self.channels = (int(channels[0]), int(channels[1]))
        self.hidden = int(hidden)
        mean = [0.0] * c if mean is None else [float(v) for v in mean]
        std = [1.0] * c if std is None else [float(v) for v in std]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1))
        self.conv1 = nn.Conv2d(c, self.channels[0], 3, padding=1)
        self.conv2 = nn.Conv2d(self.channels[0], self.channels[1], 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        flat = self.channels[1] * (h // 4) * (w // 4)
        if flat == 0:
            raise ConfigError(f"images of shape {input_shape} are too small for SmallCNN")
        self.fc1 = nn.Linear(flat, self.hidden)
        self.fc2 = nn.Linear(self.hidden, self.n_classes)
        self.register_buffer("neuron_mask", torch.ones(self.hidden))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations (after ReLU, before ``neuron_mask``)."""
        x = (x - self.mean) / self.std
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return torch.relu(self.fc1(torch.flatten(x, 1)))

    def head(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits from penultimate activations."""
        return self.fc2(feats * self.neuron_mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def config(self) -> dict[str, Any]:
        """Architecture and normalisation, as written to ``model.json``."""
        return {
            "architecture": "SmallCNN",
            "channels": list(self.channels),
            "hidden": self.hidden,
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "normalisation": {
                "mean": self.mean.flatten().tolist(),
                "std": self.std.flatten().tolist(),
            },
        }


@dataclass
class ModelInfo:
    """What is known about a loaded model (from ``model.json`` when there is one).

    Parameters
    ----------
    kind : str
        ``"smallcnn"`` (a trustlab state dict) or ``"torchscript"``.
    path : pathlib.Path
        The model file.
    input_shape : tuple of int (C, H, W) or None, optional
        The image shape the model takes, if known.
    n_classes : int or None, optional
        The number of logits, if known.
    trigger : Trigger or None, optional
        The backdoor trigger recorded with the model (models trained by trustlab with a backdoor).
    target : int or None, optional
        The backdoor's target label, recorded with the trigger.
    meta : dict, optional
        The content of ``model.json`` (empty without one).
    """

    kind: str  # "smallcnn" or "torchscript"
    path: Path
    input_shape: tuple[int, int, int] | None = None
    n_classes: int | None = None
    trigger: Trigger | None = None
    target: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def predict_logits(model: nn.Module, images: np.ndarray, *, batch_size: int = 500) -> np.ndarray:
    """Logits for images ``[N, C, H, W]`` (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            out.append(model(torch.as_tensor(images[i : i + batch_size])).float().numpy())
    model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)


def predict(model: nn.Module, images: np.ndarray, *, batch_size: int = 500) -> np.ndarray:
    """Predicted labels for images ``[N, C, H, W]``.

    Parameters
    ----------
    model : torch.nn.Module
        A model mapping images to logits; it is run in eval mode without gradients and its
        training flag is restored afterwards.
    images : numpy.ndarray of shape (N, C, H, W)
        Float images in [0, 1].
    batch_size : int, default 500
        Images per forward pass.

    Returns
    -------
    numpy.ndarray of int, shape (N,)
        The arg-max of the logits of each image.
    """
    logits = predict_logits(model, images, batch_size=batch_size)
    return logits.argmax(axis=1) if len(logits) else np.zeros(0, dtype=np.int64)


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of images classified as their label.

    Parameters
    ----------
    model : torch.nn.Module
        A model mapping images to logits.
    images : numpy.ndarray of shape (N, C, H, W)
        Float images in [0, 1].
    labels : numpy.ndarray of shape (N,)
        True labels.

    Returns
    -------
    float
        The accuracy; NaN when there are no labels.
    """
    if len(labels) == 0:
        return float("nan")
    return float(np.mean(predict(model, images) == np.asarray(labels)))


def attack_success_rate(
    model: nn.Module, images: np.ndarray, labels: np.ndarray, *, trigger: Trigger, target: int
) -> float:
    """Share of triggered images classified as ``target``, over images whose label is not ``target``.

    Images of the target class are excluded: classifying them as the target is
    no evidence of a backdoor.

    Parameters
    ----------
    model : torch.nn.Module
        A model mapping images to logits.
    images : numpy.ndarray of shape (N, C, H, W)
        Clean float images in [0, 1]; the trigger is stamped on them here.
    labels : numpy.ndarray of shape (N,)
        True labels of the clean images.
    trigger : Trigger
        The trigger to stamp (:meth:`Trigger.stamp`).
    target : int
        The backdoor's target label.

    Returns
    -------
    float
        The attack success rate; NaN when every image is of the target class.
    """
    keep = np.asarray(labels) != int(target)
    if not keep.any():
        return float("nan")
    return float(np.mean(predict(model, trigger.stamp(images[keep])) == int(target)))


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 2e-3,
    channels: tuple[int, int] = (32, 64),
    hidden: int = 128,
    seed: int = 0,
    progress: bool = False,
) -> SmallCNN:
    """Train a :class:`SmallCNN` with Adam on images ``[N, C, H, W]`` in [0, 1].

    The normalisation (per-channel mean and std of ``images``) is fitted on
    the given images and stored in the model. The learning rate follows a cosine schedule over
    the epochs. Deterministic for a seed.

    Parameters
    ----------
    images : numpy.ndarray of shape (N, C, H, W)
        Float32 training images in [0, 1].
    labels : numpy.ndarray of shape (N,)
        Integer labels.
    n_classes : int
        Number of classes (logits).
    epochs : int, default 8
        Passes over the data (>= 1).
    batch_size : int, default 64
        Images per step (>= 1).
    lr : float, default 2e-3
        Adam's initial learning rate (> 0).
    channels : tuple of two ints, default (32, 64)
        Filters of the two conv layers.
    hidden : int, default 128
        Units of the penultimate dense layer.
    seed : int, default 0
        Seeds python, numpy and torch, and the batch order.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    SmallCNN
        The trained model, in eval mode.

    Raises
    ------
    ConfigError
        If ``epochs`` or ``batch_size`` is below 1 or ``lr`` is not positive, or the images are
        too small for the architecture.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError("epochs and batch_size must be >= 1 and lr > 0")
    gen = seed_everything(seed)
    mean = images.mean(axis=(0, 2, 3)).tolist()
    std = np.maximum(images.std(axis=(0, 2, 3)), 1e-3).tolist()
    model = SmallCNN(
        images.shape[1:], n_classes, channels=channels, hidden=hidden, mean=mean, std=std
    )
    x = torch.as_tensor(images)
    y = torch.as_tensor(labels, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    n_batches = (len(y) + batch_size - 1) // batch_size
    model.train()
    with _progress(progress) as bar:
        task = bar.add_task("training", total=epochs * n_batches)
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=gen)
            for i in range(0, len(y), batch_size):
                idx = order[i : i + batch_size]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                bar.advance(task)
            sched.step()
    model.eval()
    return model


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


# ---------------------------------------------------------------- file format


def save_model(
    model: nn.Module,
    folder: str | os.PathLike,
    *,
    trigger: Trigger | None = None,
    target: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/model.pt`` and ``folder/model.json`` (and ``trigger.npz`` if known).

    A :class:`SmallCNN` is saved as a state dict; any other module is saved
    with TorchScript (it must be scriptable or already a ScriptModule).

    Parameters
    ----------
    model : torch.nn.Module
        The model to save.
    folder : str or os.PathLike
        An existing folder.
    trigger : Trigger, optional
        The backdoor trigger the model was trained with; its spec goes to ``model.json`` and
        its mask, pattern (and offset) arrays to ``trigger.npz``.
    target : int, optional
        The backdoor's target label.
    extra : dict, optional
        More keys for ``model.json`` (they override the generated ones).

    Returns
    -------
    pathlib.Path
        The path of ``model.pt``.
    """
    from trustlab._io import write_json

    folder = Path(folder)
    meta: dict[str, Any] = {}
    if isinstance(model, SmallCNN):
        torch.save(model.state_dict(), folder / "model.pt")
        meta = {"format": FORMAT, **model.config()}
    else:
        scripted = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.script(model)
        torch.jit.save(scripted, str(folder / "model.pt"))
        meta = {"format": "torchscript"}
    meta["trigger"] = trigger.spec if trigger is not None else None
    meta["target"] = int(target) if target is not None else None
    if trigger is not None:
        arrays = {"mask": trigger.mask, "pattern": trigger.pattern}
        if trigger.offset is not None:
            arrays["offset"] = trigger.offset
        np.savez_compressed(folder / "trigger.npz", **arrays)
        meta["trigger_file"] = "trigger.npz"
    meta.update(extra or {})
    write_json(folder / "model.json", meta)
    return folder / "model.pt"


def load_model(path: str | os.PathLike) -> tuple[nn.Module, ModelInfo]:
    """Load ``model.pt`` (state dict + ``model.json`` beside it) or a TorchScript file.

    Parameters
    ----------
    path : path-like
        The ``.pt`` file, or a folder holding ``model.pt``.

    Returns
    -------
    model : torch.nn.Module
        The model, in eval mode.
    info : ModelInfo
        What ``model.json`` says about it, with the recorded trigger and target rebuilt if any.

    Raises
    ------
    ModelFileError
        The file is missing, is neither format, or its weights do not match
        the architecture in ``model.json``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    meta_path = path.with_name("model.json")
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read {meta_path}: {exc}") from None
        if not isinstance(meta, dict):
            raise ModelFileError(f"{meta_path} must hold a JSON object")
    if meta.get("format") == FORMAT:
        model, info = _load_smallcnn(path, meta)
    else:
        try:
            model = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure means "not a TorchScript file"
            raise ModelFileError(
                f"{path} is neither a trustlab model (state dict with model.json) nor a "
                f"TorchScript file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        info = ModelInfo("torchscript", path, meta=meta)
        shape = meta.get("input_shape")
        info.input_shape = tuple(int(s) for s in shape) if shape else None
        info.n_classes = int(meta["n_classes"]) if meta.get("n_classes") else None
    model.eval()
    _attach_trigger(info, meta, path)
    return model, info


def _load_smallcnn(path: Path, meta: dict[str, Any]) -> tuple[SmallCNN, ModelInfo]:
    try:
        norm = meta.get("normalisation", {})
        model = SmallCNN(
            tuple(meta["input_shape"]),
            int(meta["n_classes"]),
            channels=tuple(meta.get("channels", (32, 64))),
            hidden=int(meta.get("hidden", 128)),
            mean=norm.get("mean"),
            std=norm.get("std"),
        )
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ModelFileError(f"{path.with_name('model.json')}: bad architecture: {exc}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and shape errors all mean "bad file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} does not load as the model in model.json: {first}") from None
    info = ModelInfo(
        "smallcnn", path, input_shape=model.input_shape, n_classes=model.n_classes, meta=meta
    )
    return model, info


def _attach_trigger(info: ModelInfo, meta: dict[str, Any], path: Path) -> None:
    target, spec = meta.get("target"), meta.get("trigger")
    if target is None or spec is None:
        return
    info.target = int(target)
    npz = path.with_name(str(meta.get("trigger_file", "trigger.npz")))
    try:
        if npz.is_file():
            with np.load(npz, allow_pickle=False) as f:
                offset = f["offset"] if "offset" in f.files else None
                info.trigger = Trigger(f["mask"], f["pattern"], spec=str(spec), offset=offset)
        elif info.input_shape is not None:
            info.trigger = parse_trigger(str(spec), image_shape=info.input_shape)
    except (OSError, ValueError, KeyError, ConfigError) as exc:
        raise ModelFileError(f"cannot rebuild the trigger recorded in model.json: {exc}") from None


def check_model(model: nn.Module, info: ModelInfo, *, image_shape: tuple, n_classes: int) -> None:
    """Raise :class:`ModelFileError` unless the model maps these images to ``n_classes`` logits.

    The shape and class count recorded in ``info`` are compared first, then a forward pass on
    two blank images is tried. Where ``info`` did not know them, the checked shape and class
    count are written into it.

    Parameters
    ----------
    model : torch.nn.Module
        The loaded model.
    info : ModelInfo
        Its description (from :func:`load_model`); updated in place.
    image_shape : tuple of int (C, H, W)
        The shape of the data's images.
    n_classes : int
        The data's number of classes.

    Raises
    ------
    ModelFileError
        If the recorded shape or class count differs from the data's, the model rejects such
        images, or it does not output logits of shape ``[N, n_classes]``.
    """
    image_shape = tuple(int(s) for s in image_shape)
    if info.input_shape is not None and tuple(info.input_shape) != image_shape:
        raise ModelFileError(
            f"model expects images of shape {tuple(info.input_shape)} but the data has {image_shape}"
        )
    if info.n_classes is not None and info.n_classes != n_classes:
        raise ModelFileError(
            f"model has {info.n_classes} classes but the data has {n_classes}"
        )
    try:
        with torch.no_grad():
            out = model(torch.zeros((2, *image_shape)))
    except Exception as exc:  # noqa: BLE001 - any failure here is a shape mismatch
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"model does not accept images of shape {image_shape}: {first}"
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelFileError(f"model must output logits [N, {n_classes}], got {got}")
    if info.input_shape is None:
        info.input_shape = image_shape  # type: ignore[assignment]
    if info.n_classes is None:
        info.n_classes = n_classes
