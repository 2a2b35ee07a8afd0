"""Data sets, held as tensors: the whole set fits in (device) memory for the small images
archsearch searches on, so training needs no DataLoader round trips.

``load_dataset(spec)`` understands:

- ``digits``: scikit-learn's bundled 1,797 8x8 handwritten digits (no download; the default),
- ``mnist:DIR`` / ``fashion-mnist:DIR``: the standard IDX files (``.gz`` or not),
- ``cifar10:DIR``: the python pickle batches, read with a restricted unpickler that admits only
  the types those files hold, so a user's file can never run code,
- ``folder:DIR``: one subfolder of images per class (PIL),
- ``synthetic``: class prototypes plus noise, for smoke tests.

Every problem with a file (missing, wrong magic number, mismatched counts, corrupt archive)
raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from .errors import ArchsearchError

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".webp",
    ".tif",
    ".tiff",
    ".ppm",
    ".pgm",
}


class DataError(ArchsearchError):
    """A data set that cannot be read: the message names the file and the problem."""


@dataclass(frozen=True)
class Dataset:
    """Train / validation / test tensors (N, C, H, W), normalised, with integer labels.

    The test split is only for evaluating final candidates; searchers see train and validation.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    natural: bool  # natural images: crop-and-flip augmentation; glyphs (digits): small shifts

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.x_train.shape[2]), int(self.x_train.shape[3])

    def describe(self) -> str:
        h, w = self.input_size
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} val /"
            f" {len(self.y_test)} test, {self.in_channels}x{h}x{w}, {self.num_classes} classes"
        )


def load_dataset(
    spec: str = "digits",
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    fraction: float | None = None,
    resolution: int | None = None,
) -> Dataset:
    """Load ``spec`` (see the module docstring).

    Cheaper data for a search (as NAS papers search on part of CIFAR-10): ``limit`` images or
    a ``fraction`` of the training data, drawn per class so each class keeps its share, before
    the validation split; ``resolution`` resizes every split to R x R (antialiased bilinear).
    """
    kind, _, location = spec.partition(":")
    kind = kind.strip().lower()
    loaders = {
        "digits": lambda: _digits(),
        "synthetic": lambda: _synthetic(seed),
        "mnist": lambda: _idx_pair(_need_dir(location, spec)),
        "fashion-mnist": lambda: _idx_pair(_need_dir(location, spec)),
        "cifar10": lambda: _cifar10(_need_dir(location, spec)),
        "folder": lambda: _folder(_need_dir(location, spec), seed),
    }
    if kind not in loaders:
        raise DataError(
            f"unknown data set '{spec}' (known: digits, synthetic, mnist:DIR,"
            " fashion-mnist:DIR, cifar10:DIR, folder:DIR)"
        )
    (x_train, y_train), (x_test, y_test), natural = loaders[kind]()
    if fraction is not None:
        limit = min(limit or len(y_train), max(1, round(fraction * len(y_train))))
    if limit is not None and limit < len(y_train):
        keep = _stratified_subset(y_train, limit, seed)
        x_train, y_train = x_train[keep], y_train[keep]
    data = _finish(kind, x_train, y_train, x_test, y_test, natural, val_fraction, seed)
    return data if resolution is None else resized(data, resolution)


def resized(data: Dataset, resolution: int) -> Dataset:
    """``data`` with every split resized to ``resolution`` x ``resolution``."""

    def resize(x: torch.Tensor) -> torch.Tensor:
        if len(x) == 0 or tuple(x.shape[2:]) == (resolution, resolution):
            return x
        size = (resolution, resolution)
        return torch.nn.functional.interpolate(
            x, size=size, mode="bilinear", antialias=True, align_corners=False
        ).contiguous()

    same = data.input_size == (resolution, resolution)
    return replace(
        data,
        name=data.name if same else f"{data.name}@{resolution}x{resolution}",
        x_train=resize(data.x_train),
        x_val=resize(data.x_val),
        x_test=resize(data.x_test),
    )


Arrays = tuple[np.ndarray, np.ndarray]


def _finish(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    natural: bool,
    val_fraction: float,
    seed: int,
) -> Dataset:
    x_train = x_train.astype(np.float32)
    x_test = x_test.astype(np.float32)
    if x_train.ndim == 3:
        x_train, x_test = x_train[:, None], x_test[:, None]
    train_idx, val_idx = _stratified_split(y_train, val_fraction, seed)
    fit = x_train[train_idx]
    # normalise with statistics of the training split only
    axes = (0, 2, 3)
    mean = fit.mean(axis=axes, keepdims=True)
    std = fit.std(axis=axes, keepdims=True) + 1e-6

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray((x - mean) / std, dtype=np.float32))

    def labels(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))

    num_classes = int(max(y_train.max(), y_test.max() if len(y_test) else 0)) + 1
    return Dataset(
        name=name,
        x_train=tensor(x_train[train_idx]),
        y_train=labels(y_train[train_idx]),
        x_val=tensor(x_train[val_idx]),
        y_val=labels(y_train[val_idx]),
        x_test=tensor(x_test),
        y_test=labels(y_test),
        num_classes=num_classes,
        natural=natural,
    )


def _stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        cut = round(len(idx) * fraction)
        if len(idx) > 1:
            cut = min(max(cut, 1), len(idx) - 1)
        val.append(idx[:cut])
        train.append(idx[cut:])
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(val))


def _stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Exactly ``n`` indices, each class's share of them as in ``labels`` (largest remainder
    rounding), drawn at random within each class; sorted."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = n * counts / counts.sum()
    take = np.floor(quotas).astype(int)
    for index in np.argsort(-(quotas - take), kind="stable")[: n - take.sum()]:
        take[index] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=k, replace=False)
        for cls, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def _need_dir(location: str, spec: str) -> Path:
    if not location:
        raise DataError(f"'{spec}': give the folder, e.g. '{spec}:path/to/files'")
    path = Path(location).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: folder not found")
    return path


# --- digits and synthetic -------------------------------------------------------------------
def _digits() -> tuple[Arrays, Arrays, bool]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = bunch.images / 16.0, bunch.target
    train_idx, test_idx = _stratified_split(labels, 0.2, seed=12345)  # a fixed test split
    return (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx]), False


def _synthetic(
    seed: int, classes: int = 4, size: int = 8, per_class: int = 100
) -> tuple[Arrays, Arrays, bool]:
    """Stripes in four orientations plus noise: learnable in a few epochs, shift-invariant
    (so the digits' shift augmentation keeps the labels right)."""
    rng = np.random.default_rng(seed)
    directions = [(1, 0), (0, 1), (1, 1), (1, -1)][:classes]
    grid_y, grid_x = np.mgrid[0:size, 0:size]
    labels = np.repeat(np.arange(classes), per_class)
    phases = rng.uniform(0, 2 * np.pi, len(labels))
    images = np.stack(
        [
            np.sin(2 * np.pi * (directions[c][0] * grid_x + directions[c][1] * grid_y) / 4 + phase)
            for c, phase in zip(labels, phases, strict=True)
        ]
    )[:, None] + 0.5 * rng.normal(size=(len(labels), 1, size, size))
    order = rng.permutation(len(labels))
    images, labels = images[order], labels[order]
    cut = len(labels) // 5
    return (images[cut:], labels[cut:]), (images[:cut], labels[:cut]), False


# --- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------
def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: corrupt gzip archive ({err})") from None


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """One IDX file (uint8 payload): check the magic number, the sizes and the length."""
    data = _read_maybe_gzip(path)
    if len(data) < 8:
        raise DataError(f"{path}: too short for an IDX file ({len(data)} bytes)")
    magic = struct.unpack(">I", data[:4])[0]
    if magic != expected_magic:
        raise DataError(
            f"{path}: wrong magic number {magic} (expected {expected_magic} for"
            f" {'images' if expected_magic == 2051 else 'labels'})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DataError(
            f"{path}: payload of {len(data) - header} bytes, but the header"
            f" {'x'.join(map(str, dims))} needs {expected}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (
        stem,
        f"{stem}.gz",
        stem.replace("-idx", ".idx"),
        f"{stem.replace('-idx', '.idx')}.gz",
    ):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder / stem}[.gz]: file not found")


def _idx_pair(folder: Path) -> tuple[Arrays, Arrays, bool]:
    def split(prefix: str) -> Arrays:
        images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
        labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
        images = read_idx(images_path, 2051) / 255.0
        labels = read_idx(labels_path, 2049).astype(np.int64)
        if len(images) != len(labels):
            raise DataError(
                f"{images_path}: {len(images)} images but {labels_path.name} has"
                f" {len(labels)} labels"
            )
        return images, labels

    return split("train"), split("t10k"), False


# --- CIFAR-10 python batches ------------------------------------------------------------------
class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only what CIFAR-10's batches hold: dicts, lists, bytes, numbers and numpy arrays."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def _load_cifar_batch(path: Path) -> Arrays:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        batch = _RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except pickle.UnpicklingError as err:
        raise DataError(f"{path}: not a CIFAR-10 batch ({err})") from None
    except Exception as err:
        raise DataError(f"{path}: corrupt pickle ({type(err).__name__}: {err})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch (no dictionary inside)")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' must be an N x 3072 array")
    if not isinstance(labels, list) or len(labels) != len(data):
        count = len(labels) if isinstance(labels, list) else "no"
        raise DataError(f"{path}: {len(data)} images but {count} labels")
    return data.reshape(-1, 3, 32, 32) / 255.0, np.asarray(labels, dtype=np.int64)


def _cifar10(folder: Path) -> tuple[Arrays, Arrays, bool]:
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    batches = sorted(folder.glob("data_batch_*"))
    if not batches:
        raise DataError(f"{folder / 'data_batch_1'}: file not found")
    parts = [_load_cifar_batch(p) for p in batches]
    x_test, y_test = _load_cifar_batch(folder / "test_batch")
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return train, (x_test, y_test), True


# --- image folders ----------------------------------------------------------------------------
def _folder(root: Path, seed: int) -> tuple[Arrays, Arrays, bool]:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"{root}: needs one subfolder of images per class (found {len(classes)})")
    images, labels = [], []
    size: tuple[int, int] | None = None
    grey = True
    files = [
        (i, f)
        for i, c in enumerate(classes)
        for f in sorted(c.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    for _, file in files:
        try:
            with Image.open(file) as image:
                grey = grey and image.mode in ("L", "1", "I;16", "I")
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"{file}: not a readable image ({err})") from None
    for label, file in files:
        with Image.open(file) as image:
            image = image.convert("L" if grey else "RGB")
            size = size or image.size
            if image.size != size:
                image = image.resize(size)
            array = np.asarray(image, dtype=np.float32) / 255.0
        images.append(array[None] if grey else array.transpose(2, 0, 1))
        labels.append(label)
    counts = np.bincount(labels, minlength=len(classes))
    empty = [classes[i].name for i, n in enumerate(counts) if n == 0]
    if empty:
        raise DataError(f"{root / empty[0]}: no images in this class folder")
    x, y = np.stack(images), np.asarray(labels)
    train_idx, test_idx = _stratified_split(y, 0.2, seed)
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx]), not grey
