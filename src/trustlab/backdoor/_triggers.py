"""Backdoor triggers: parsing a trigger spec, stamping it, BadNets poisoning.

A trigger is a mask ``m`` (``[H, W]``, values in [0, 1]), a pattern ``p``
(``[C, H, W]``, values in [0, 1]) and an optional additive offset ``o``
(``[C, H, W]``, values in [-1, 1]); stamping replaces ``x`` by
``clip((1 - m) * x + m * p + o, 0, 1)``. Without an offset this is the form
Neural Cleanse reverse-engineers.

Trigger specs (``--trigger``)::

    square:4@bottom-right          4x4 square of value 1.0 in the bottom-right corner
    checkerboard:3@top-left=0.8    3x3 checkerboard (0.8 / 0 alternating) top-left
    square:2@20,5                  2x2 square with its top-left pixel at row 20, col 5
    file:mask.png+pattern.npy@center   mask/pattern patch from PNG or NumPy files
    blend:0.1                      a fixed full-image random pattern mixed in at alpha 0.1
                                   (Chen et al. 2017: x -> (1 - alpha) x + alpha p)
    sig:0.08                       an additive horizontal sinusoid of amplitude 0.08,
    sig:0.08,6                     6 periods across the image by default (SIG, Barni et al. 2019)

Named locations (``top-left``, ``top-right``, ``bottom-left``,
``bottom-right``, ``center``) put the patch flush against the image border.
A file mask or pattern of full image size ignores the location; ``blend`` and
``sig`` cover the whole image and take no location or value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustlab._errors import ConfigError

LOCATIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")
"""The named trigger locations of a spec's ``@LOCATION``; each puts the patch flush against the border."""
SHAPES = ("square", "checkerboard", "file", "blend", "sig")
"""The trigger shapes a spec may start with (``SHAPE:...``)."""
BLEND_PATTERN_SEED = 2017
"""Seed of the fixed blend pattern (the same pattern for every run and every model)."""
SIG_FREQUENCY = 6
"""Default periods of the SIG sinusoid across the image width (Barni et al. use f = 6 on MNIST)."""

_SPEC = re.compile(
    r"^(?P<shape>[a-z]+):(?P<arg>[^@=]+?)(?:@(?P<loc>[^=]+))?(?:=(?P<value>[-+0-9.eE]+))?$"
)


@dataclass(frozen=True, eq=False)
class Trigger:
    """A backdoor trigger: mask ``[H, W]`` and pattern ``[C, H, W]`` in [0, 1].

    The arrays are converted to float32 on construction.

    Parameters
    ----------
    mask : numpy.ndarray
        ``[H, W]`` in [0, 1]; 1 where the trigger replaces the image.
    pattern : numpy.ndarray
        ``[C, H, W]`` in [0, 1]; the values written where the mask is 1.
    spec : str, default "custom"
        The spec it was parsed from (or a description).
    offset : numpy.ndarray, optional
        ``[C, H, W]`` in [-1, 1], added after blending (SIG); the
        result is clipped to [0, 1].

    Raises
    ------
    ConfigError
        If the shapes do not match, a value is out of range or not finite, or the trigger is
        empty (a zero mask and no non-zero offset).
    """

    mask: np.ndarray
    pattern: np.ndarray
    spec: str = "custom"
    offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        mask = np.asarray(self.mask, dtype=np.float32)
        pattern = np.asarray(self.pattern, dtype=np.float32)
        if mask.ndim != 2 or pattern.ndim != 3 or pattern.shape[1:] != mask.shape:
            raise ConfigError(
                f"trigger mask must be [H, W] and pattern [C, H, W] of the same H, W; "
                f"got {mask.shape} and {pattern.shape}"
            )
        for name, arr in (("mask", mask), ("pattern", pattern)):
            if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
                raise ConfigError(f"trigger {name} values must lie in [0, 1]")
        offset = None
        if self.offset is not None:
            offset = np.asarray(self.offset, dtype=np.float32)
            if offset.shape != pattern.shape:
                raise ConfigError(
                    f"trigger offset must have the pattern's shape {pattern.shape}, got {offset.shape}"
                )
            if not np.all(np.isfinite(offset)) or np.abs(offset).max() > 1:
                raise ConfigError("trigger offset values must lie in [-1, 1]")
        if mask.sum() == 0 and (offset is None or not offset.any()):
            raise ConfigError("trigger mask is empty (all zeros)")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "offset", offset)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.pattern.shape)  # type: ignore[return-value]

    @property
    def l1_norm(self) -> float:
        """Sum of the mask: the quantity Neural Cleanse compares across labels."""
        return float(self.mask.sum())

    def stamp(self, images: np.ndarray) -> np.ndarray:
        """Return ``clip((1 - m) * x + m * p + o, 0, 1)`` for images ``[N, C, H, W]`` (a new array)."""
        return stamp(images, self.mask, self.pattern, self.offset)


def stamp(
    images: np.ndarray, mask: np.ndarray, pattern: np.ndarray, offset: np.ndarray | None = None
) -> np.ndarray:
    """Stamp a mask/pattern (and optional additive offset) trigger onto images ``[N, C, H, W]``.

    Computes ``(1 - m) * x + m * p``, then adds the offset and clips to [0, 1] when there is
    one.

    Parameters
    ----------
    images : numpy.ndarray of shape (N, C, H, W)
        Images in [0, 1].
    mask : numpy.ndarray of shape (H, W)
        Blending weights of the pattern.
    pattern : numpy.ndarray of shape (C, H, W)
        The trigger's pixel values.
    offset : numpy.ndarray of shape (C, H, W), optional
        Additive offset (SIG triggers).

    Returns
    -------
    numpy.ndarray of float32, shape (N, C, H, W)
        A new array of stamped images.

    Raises
    ------
    ConfigError
        If the pattern's shape differs from the images' ``(C, H, W)``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[1:] != pattern.shape:
        raise ConfigError(
            f"trigger of shape {tuple(pattern.shape)} does not fit images of shape "
            f"{tuple(images.shape[1:])}"
        )
    m = mask[None, None, :, :]
    out = (1.0 - m) * images + m * pattern[None]
    if offset is not None:
        out = np.clip(out + offset[None], 0.0, 1.0)
    return out.astype(np.float32)


def _place(size: tuple[int, int], loc: str, hw: tuple[int, int], spec: str) -> tuple[int, int]:
    """Top-left (row, col) of a ``size`` patch at ``loc`` inside an ``hw`` image."""
    h, w = hw
    ph, pw = size
    loc = loc.strip().lower()
    if loc in LOCATIONS:
        row = {"top": 0, "bottom": h - ph}.get(loc.split("-")[0], (h - ph) // 2)
        col = {"left": 0, "right": w - pw}.get(loc.split("-")[-1], (w - pw) // 2)
    else:
        m = re.fullmatch(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*", loc)
        if not m:
            raise ConfigError(
                f"unknown trigger location {loc!r} in {spec!r}; use one of "
                f"{', '.join(LOCATIONS)} or ROW,COL"
            )
        row, col = int(m.group(1)), int(m.group(2))
    if row < 0 or col < 0 or row + ph > h or col + pw > w:
        raise ConfigError(
            f"trigger {spec!r} ({ph}x{pw} at row {row}, col {col}) does not fit a {h}x{w} image"
        )
    return row, col


def _load_array(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"trigger file not found: {path}")
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False).astype(np.float32)
        elif p.suffix.lower() == ".png":
            import matplotlib.image as mpimg

            arr = np.asarray(mpimg.imread(p), dtype=np.float32)  # PNG -> floats in [0, 1]
            if arr.ndim == 3:
                arr = arr[..., :3] if arr.shape[-1] == 4 else arr  # drop alpha
                arr = np.moveaxis(arr, -1, 0)
        else:
            raise ConfigError(f"trigger file must be .png or .npy, got {path}")
    except (OSError, ValueError, SyntaxError) as exc:
        raise ConfigError(f"cannot read trigger file {path}: {exc}") from None
    if arr.ndim not in (2, 3) or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ConfigError(f"trigger file {path} must hold a 2-D or 3-D array with values in [0, 1]")
    return arr


def parse_trigger(spec: str, *, image_shape: tuple[int, int, int]) -> Trigger:
    """Build a :class:`Trigger` for images of ``image_shape`` from a spec string.

    Parameters
    ----------
    spec : str
        ``SHAPE:SIZE[@LOCATION][=VALUE]`` with SHAPE ``square`` or
        ``checkerboard`` (SIZE ``k`` or ``hxw``), or
        ``file:MASK[+PATTERN][@LOCATION][=VALUE]`` with ``.png``/``.npy``
        files (no PATTERN: the pattern is VALUE everywhere). LOCATION is a
        named corner / ``center`` or ``ROW,COL`` (default ``bottom-right``);
        VALUE is the pixel value in [0, 1] (default 1.0).
    image_shape : tuple (C, H, W)
        Shape of one image.

    Returns
    -------
    Trigger
        The trigger, full image size, with ``spec`` set to the (stripped) spec string.

    Raises
    ------
    ConfigError
        Unknown shape or location, a size or value out of range, a patch that
        does not fit the image.
    """
    c, h, w = (int(s) for s in image_shape)
    text = str(spec).strip()
    m = _SPEC.match(text)
    if not m or m.group("shape") not in SHAPES:
        raise ConfigError(
            f"unknown trigger spec {spec!r}; expected e.g. square:4@bottom-right, "
            "checkerboard:3@top-left=0.8, file:MASK.png[+PATTERN.npy][@LOC], blend:0.1 or sig:0.08"
        )
    shape, arg = m.group("shape"), m.group("arg").strip()
    if shape in ("blend", "sig"):
        if m.group("loc") is not None or m.group("value") is not None:
            raise ConfigError(
                f"a {shape} trigger covers the whole image and takes no @LOCATION or =VALUE: {spec!r}"
            )
        if shape == "blend":
            return blend_trigger(_number(arg, "blend alpha", text), image_shape=(c, h, w), spec=text)
        amp, _, freq = arg.partition(",")
        frequency = _number(freq, "sig frequency", text) if freq else SIG_FREQUENCY
        return sig_trigger(
            _number(amp, "sig amplitude", text), frequency, image_shape=(c, h, w), spec=text
        )
    loc = m.group("loc") or "bottom-right"
    try:
        value = float(m.group("value")) if m.group("value") is not None else 1.0
    except ValueError:
        raise ConfigError(f"bad trigger pixel value in {spec!r}") from None
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"trigger pixel value must be in (0, 1], got {value} in {spec!r}")

    if shape == "file":
        mask_path, _, pattern_path = arg.partition("+")
        patch_mask = _load_array(mask_path)
        if patch_mask.ndim == 3:
            patch_mask = patch_mask.max(axis=0)
        if pattern_path:
            patch_pat = _load_array(pattern_path)
            if patch_pat.ndim == 2:
                patch_pat = np.broadcast_to(patch_pat, (c, *patch_pat.shape))
            if patch_pat.shape[0] != c:
                if patch_pat.shape[0] == 3 and c == 1:
                    patch_pat = patch_pat.mean(axis=0, keepdims=True)
                else:
                    raise ConfigError(
                        f"trigger pattern has {patch_pat.shape[0]} channels, images have {c}"
                    )
            if patch_pat.shape[1:] != patch_mask.shape:
                raise ConfigError(
                    f"trigger mask {patch_mask.shape} and pattern {patch_pat.shape[1:]} differ in size"
                )
        else:
            patch_pat = np.full((c, *patch_mask.shape), value, dtype=np.float32)
        ph, pw = patch_mask.shape
        if (ph, pw) == (h, w):
            row, col = 0, 0
        else:
            row, col = _place((ph, pw), loc, (h, w), text)
    else:
        size = re.fullmatch(r"(\d+)(?:x(\d+))?", arg)
        if not size:
            raise ConfigError(f"trigger size must be K or HxW, got {arg!r} in {spec!r}")
        ph = int(size.group(1))
        pw = int(size.group(2)) if size.group(2) else ph
        if ph < 1 or pw < 1:
            raise ConfigError(f"trigger size must be positive, got {arg!r}")
        row, col = _place((ph, pw), loc, (h, w), text)
        patch_mask = np.ones((ph, pw), dtype=np.float32)
        if shape == "square":
            patch_pat = np.full((c, ph, pw), value, dtype=np.float32)
        else:
            board = (np.indices((ph, pw)).sum(axis=0) % 2 == 0).astype(np.float32) * value
            patch_pat = np.broadcast_to(board, (c, ph, pw))
    mask = np.zeros((h, w), dtype=np.float32)
    pattern = np.zeros((c, h, w), dtype=np.float32)
    mask[row : row + ph, col : col + pw] = patch_mask
    pattern[:, row : row + ph, col : col + pw] = patch_pat
    return Trigger(mask, pattern, spec=text)


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a number, got {text!r} in {spec!r}") from None
    if not np.isfinite(value):
        raise ConfigError(f"{what} must be finite, got {text!r} in {spec!r}")
    return value


def blend_trigger(
    alpha: float, *, image_shape: tuple[int, int, int], spec: str | None = None
) -> Trigger:
    """Blended trigger (Chen et al. 2017): a fixed random pattern mixed into the whole image.

    Stamping gives ``(1 - alpha) * x + alpha * p``; ``p`` is uniform noise in
    [0, 1] drawn with :data:`BLEND_PATTERN_SEED`, so every call (and every
    model) gets the same pattern for the same image shape.

    Parameters
    ----------
    alpha : float
        Blend ratio in (0, 1].
    image_shape : tuple (C, H, W)
        Shape of one image.
    spec : str, optional
        Recorded spec (default ``blend:ALPHA``).

    Returns
    -------
    Trigger
        A trigger whose mask is ``alpha`` everywhere and whose pattern is the fixed noise.

    Raises
    ------
    ConfigError
        ``alpha`` outside (0, 1].
    """
    if not 0.0 < alpha <= 1.0:
        raise ConfigError(f"blend alpha must be in (0, 1], got {alpha}")
    c, h, w = (int(s) for s in image_shape)
    pattern = np.random.default_rng(BLEND_PATTERN_SEED).random((c, h, w)).astype(np.float32)
    mask = np.full((h, w), alpha, dtype=np.float32)
    return Trigger(mask, pattern, spec=spec or f"blend:{alpha:g}")


def sig_trigger(
    amplitude: float,
    frequency: float = SIG_FREQUENCY,
    *,
    image_shape: tuple[int, int, int],
    spec: str | None = None,
) -> Trigger:
    """SIG trigger (Barni et al. 2019): ``x + amplitude * sin(2 pi j f / W)``, clipped to [0, 1].

    The sinusoid runs along the columns ``j`` and is the same in every row
    and channel; ``f`` is the number of periods across the width. The mask is
    empty: the trigger is purely additive.

    Parameters
    ----------
    amplitude : float
        Peak value in (0, 1] (Barni et al.: 20/255 on MNIST).
    frequency : float
        Periods across the image, in (0, W/2] (at most two columns per period).
    image_shape : tuple (C, H, W)
        Shape of one image.
    spec : str, optional
        Recorded spec (default ``sig:AMPLITUDE,FREQUENCY``).

    Returns
    -------
    Trigger
        A trigger with an empty mask and the sinusoid as its offset.

    Raises
    ------
    ConfigError
        Amplitude outside (0, 1], or a frequency the image cannot show.
    """
    c, h, w = (int(s) for s in image_shape)
    if not 0.0 < amplitude <= 1.0:
        raise ConfigError(f"sig amplitude must be in (0, 1], got {amplitude}")
    if not 0.0 < frequency <= w / 2:
        raise ConfigError(
            f"sig frequency {frequency:g} does not fit a {h}x{w} image (need 0 < f <= {w / 2:g})"
        )
    wave = amplitude * np.sin(2 * np.pi * np.arange(w) * frequency / w)
    offset = np.broadcast_to(wave[None, None, :], (c, h, w)).astype(np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    pattern = np.zeros((c, h, w), dtype=np.float32)
    return Trigger(mask, pattern, spec=spec or f"sig:{amplitude:g},{frequency:g}", offset=offset)


def poison(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    trigger: Trigger,
    target: int,
    rate: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BadNets poisoning: stamp ``trigger`` on a ``rate`` share of images, relabel to ``target``.

    The poisoned images are drawn uniformly (without replacement) from all
    training images; those already of the target class keep their label and
    still carry the trigger, as in BadNets.

    Parameters
    ----------
    images : numpy.ndarray of shape (N, C, H, W)
        Clean training images in [0, 1].
    labels : numpy.ndarray of shape (N,)
        Their labels.
    trigger : Trigger
        The trigger to stamp.
    target : int
        The label given to the poisoned images.
    rate : float
        Share of images to poison, in (0, 1); ``round(rate * N)`` images are poisoned.
    seed : int, default 0
        Seed of the choice of images.

    Returns
    -------
    images, labels : numpy.ndarray
        New arrays (the inputs are not modified).
    poisoned : numpy.ndarray
        Integer positions of the poisoned images.

    Raises
    ------
    ConfigError
        If ``rate`` is outside (0, 1) or poisons no image.
    """
    if not 0.0 < rate < 1.0:
        raise ConfigError(f"poison rate must be in (0, 1), got {rate}")
    n = len(labels)
    k = int(round(rate * n))
    if k < 1:
        raise ConfigError(f"poison rate {rate} poisons no image out of {n}")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=k, replace=False))
    out_x = np.array(images, dtype=np.float32, copy=True)
    out_y = np.array(labels, dtype=np.int64, copy=True)
    out_x[idx] = trigger.stamp(out_x[idx])
    out_y[idx] = int(target)
    return out_x, out_y, idx
