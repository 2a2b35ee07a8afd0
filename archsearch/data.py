"""Data sets, held as tensors: the whole set fits in (device) memory for the small images
archsearch searches on, so training needs no DataLoader round trips.

``load_dataset(spec)`` understands:

- ``digits``: scikit-learn's bundled 1,797 8x8 handwritten digits (no download; the default),
- ``mnist:DIR`` / ``fashion-mnist:DIR``: the standard IDX files (``.gz`` or not),
- ``cifar10:DIR``: the python pickle batches, read with a restricted unpickler that admits only
  the types those files hold, so a user's file can never run code,
- ``folder:DIR``: one subfolder of images per class (PIL),
- ``npz:FILE``: numpy's own format, arrays named ``x_train``, ``y_train`` and optionally
  ``x_test``, ``y_test`` (else a fifth of the training images, per class) and ``x_val``,
  ``y_val`` (else cut from the training images by ``val_fraction``); read without pickle,
- ``hf:DIR``: a Hugging Face ``datasets`` data set saved with ``save_to_disk`` (an image
  column and a label column; splits train, and optionally validation and test), with the
  ``hf`` extra (``pip install -e ".[hf]"``),
- ``synthetic``: class prototypes plus noise, for smoke tests.

Data already in Python — numpy arrays or torch tensors, a torch ``Dataset`` of (image, label)
pairs — goes through :func:`image_arrays` (checked, in one layout) and :func:`save_npz`, so a
run, its resume and its workers read it as ``npz:FILE`` like any other data set
(``archsearch.search(data=(x, y))`` does this).

Every problem with a file (missing, wrong magic number, mismatched counts, corrupt archive)
raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from .checkpoint import write_whole
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


class Images:
    """A split's images as stored — uint8 pixels (a quarter of float32's memory, on the
    device too), or float32 — and the per-channel ``mean`` and ``std`` that normalise them.

    Indexing gives what a network sees: the chosen images as float32, normalised, on the
    images' device — ``(images[index] - mean) / std``, one batch at a time, so the whole
    split never exists as float32. A trainer indexes a batch, then augments it: padding with
    zeros there pads with the mean colour, as it did when whole splits were normalised
    first. :meth:`subset`, :meth:`concat` and :meth:`to` keep the stored form.
    """

    __slots__ = ("_scale", "_shift", "mean", "pixels", "std")

    def __init__(
        self,
        pixels: torch.Tensor,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
    ) -> None:
        if pixels.dtype not in (torch.uint8, torch.float32):
            pixels = pixels.float()
        self.pixels = pixels
        channels = pixels.shape[1] if pixels.ndim == 4 else 1
        # None: already normalised (a float tensor given as it is)
        self.mean = None if mean is None else mean.reshape(channels).float().to(pixels.device)
        self.std = None if std is None else std.reshape(channels).float().to(pixels.device)
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std, or neither")
        if self.mean is None and pixels.dtype == torch.uint8:
            raise ValueError("uint8 images need the mean and std that normalise them")
        # (C, 1, 1): broadcasts over a batch (N, C, H, W) and over one image (C, H, W)
        self._shift = None if self.mean is None else self.mean.reshape(-1, 1, 1)
        self._scale = None if self.std is None else self.std.reshape(-1, 1, 1)

    @classmethod
    def of(cls, images: Images | torch.Tensor) -> Images:
        """``images`` as :class:`Images`; a tensor is taken as already normalised."""
        return images if isinstance(images, Images) else cls(images)

    def __getitem__(self, index: Any) -> torch.Tensor:
        if isinstance(index, torch.Tensor) and index.ndim == 1 and index.dtype == torch.int64:
            # a batch's indices: index_select gathers faster than advanced indexing (38 against
            # 47 µs for 128 images of 32x32 on 2 CPU cores, normalisation included)
            batch = self.pixels.index_select(0, index)
        else:
            batch = self.pixels[index]
        if self._shift is None:
            return batch
        # subtract (uint8 promotes to float32 exactly), then divide in place: two operations
        # a batch, the arithmetic once done on whole splits
        return torch.sub(batch, self._shift).div_(self._scale)

    def __len__(self) -> int:
        return len(self.pixels)

    @property
    def shape(self) -> torch.Size:
        return self.pixels.shape

    @property
    def dtype(self) -> torch.dtype:
        """How the pixels are stored (uint8 or float32); a batch is always float32."""
        return self.pixels.dtype

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    @property
    def nbytes(self) -> int:
        return self.pixels.numel() * self.pixels.element_size()

    def normalised(self) -> torch.Tensor:
        """Every image as a network sees it (float32: four times uint8's memory)."""
        return self[:]

    def to(
        self,
        device: torch.device | str,
        memory_format: torch.memory_format = torch.preserve_format,
    ) -> Images:
        """The stored images on ``device`` (still uint8 where they were)."""
        pixels = self.pixels.to(device)
        if memory_format is not torch.preserve_format and pixels.ndim == 4:
            pixels = pixels.contiguous(memory_format=memory_format)
        return Images(pixels, self.mean, self.std)

    def subset(self, index: Any) -> Images:
        """The images ``index`` picks, stored as these are."""
        return Images(self.pixels[index], self.mean, self.std)

    def concat(self, *others: Images) -> Images:
        """These images, then ``others``' (which must share this normalisation)."""
        for other in others:
            same = (other.mean is None) == (self.mean is None) and (
                self.mean is None
                or (torch.equal(other.mean, self.mean) and torch.equal(other.std, self.std))
            )
            if not same or other.dtype != self.dtype:
                raise ValueError("images of different storage or normalisation cannot be joined")
        return Images(torch.cat([self.pixels, *(o.pixels for o in others)]), self.mean, self.std)

    def resized(self, resolution: int, chunk: int = 4096) -> Images:
        """Every image resized to ``resolution`` x ``resolution`` (antialiased bilinear), chunk
        by chunk in float32, stored as before (uint8 rounded). Normalisation is affine and the
        filter's weights sum to one, so resizing stored pixels then normalising equals
        normalising then resizing (up to uint8's rounding)."""
        if len(self) == 0 or tuple(self.shape[2:]) == (resolution, resolution):
            return self
        size = (resolution, resolution)
        out = torch.empty((len(self), self.shape[1], *size), dtype=self.dtype, device=self.device)
        for start in range(0, len(self), chunk):
            part = self.pixels[start : start + chunk].float()
            part = torch.nn.functional.interpolate(
                part, size=size, mode="bilinear", antialias=True, align_corners=False
            )
            if self.dtype == torch.uint8:
                part = part.round_().clamp_(0, 255)
            out[start : start + chunk] = part
        return Images(out, self.mean, self.std)

    def __repr__(self) -> str:
        stored = "normalised float32" if self.mean is None else str(self.dtype).split(".")[-1]
        return f"Images({tuple(self.shape)}, {stored}, {self.device})"


@dataclass(frozen=True)
class Dataset:
    """Train / validation / test images (N, C, H, W; :class:`Images`: stored as uint8 where
    the source is, normalised a batch at a time) with integer labels.

    The test split is only for evaluating final candidates; searchers see train and validation.
    A float tensor given for a split is taken as already normalised.
    """

    name: str
    x_train: Images
    y_train: torch.Tensor
    x_val: Images
    y_val: torch.Tensor
    x_test: Images
    y_test: torch.Tensor
    num_classes: int
    natural: bool  # natural images: crop-and-flip augmentation; glyphs (digits): small shifts

    def __post_init__(self) -> None:
        for split in ("x_train", "x_val", "x_test"):
            object.__setattr__(self, split, Images.of(getattr(self, split)))

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
    }
    if kind == "npz":
        return read_npz(_need_dir(location, spec, "file")).dataset(
            val_fraction=val_fraction,
            seed=seed,
            limit=limit,
            fraction=fraction,
            resolution=resolution,
        )
    if kind == "hf":
        return read_hf(_need_dir(location, spec), resolution).dataset(
            val_fraction=val_fraction, seed=seed, limit=limit, fraction=fraction
        )
    if kind == "folder":
        # resized as it is decoded, and only the images the search keeps are decoded: photos
        # at full size need not fit in memory
        root = _need_dir(location, spec)
        train, test, natural, native = _folder(root, seed, resolution, limit, fraction)
        same = resolution is None or native == (resolution, resolution)
        name = kind if same else f"{kind}@{resolution}x{resolution}"  # as resized() names it
        return _prepared(
            name, train, test, natural, None, val_fraction=val_fraction, seed=seed,
            limit=None, fraction=None, resolution=None,
        )  # fmt: skip
    if kind not in loaders:
        raise DataError(
            f"unknown data set '{spec}' (known: digits, synthetic, mnist:DIR,"
            " fashion-mnist:DIR, cifar10:DIR, folder:DIR, npz:FILE, hf:DIR)"
        )
    (x_train, y_train), (x_test, y_test), natural = loaders[kind]()
    return _prepared(
        kind, (x_train, y_train), (x_test, y_test), natural, None,
        val_fraction=val_fraction, seed=seed, limit=limit, fraction=fraction,
        resolution=resolution,
    )  # fmt: skip


def _prepared(
    name: str,
    train: Arrays,
    test: Arrays,
    natural: bool,
    val: Arrays | None,
    *,
    val_fraction: float,
    seed: int,
    limit: int | None,
    fraction: float | None,
    resolution: int | None,
) -> Dataset:
    """Every loader's last steps: the search's share of the training images (per class), the
    validation split (``val`` as given, else cut per class), normalisation, the input size."""
    x_train, y_train = train
    keep = search_share(y_train, limit, fraction, seed)
    if keep is not None:
        x_train, y_train = x_train[keep], y_train[keep]
    data = _finish(name, x_train, y_train, *test, natural, val_fraction, seed, val)
    return data if resolution is None else resized(data, resolution)


def search_share(
    labels: np.ndarray, limit: int | None, fraction: float | None, seed: int
) -> np.ndarray | None:
    """The training images a search keeps (``limit`` images or a ``fraction``, drawn per
    class): their indices into ``labels``, or None for all of them."""
    if fraction is not None:
        limit = min(limit or len(labels), max(1, round(fraction * len(labels))))
    if limit is None or limit >= len(labels):
        return None
    return _stratified_subset(labels, limit, seed)


def resized(data: Dataset, resolution: int) -> Dataset:
    """``data`` with every split resized to ``resolution`` x ``resolution``
    (:meth:`Images.resized`)."""
    same = data.input_size == (resolution, resolution)
    return replace(
        data,
        name=data.name if same else f"{data.name}@{resolution}x{resolution}",
        x_train=data.x_train.resized(resolution),
        x_val=data.x_val.resized(resolution),
        x_test=data.x_test.resized(resolution),
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
    val: Arrays | None = None,
) -> Dataset:
    """Split off the validation images (``val`` when given: appended to the training images
    and split off again as they were); the normalisation: the training split's per-channel
    statistics. Images stay as stored: uint8 where the source is, else float32."""
    if val is not None:
        train_idx = np.arange(len(y_train))
        val_idx = np.arange(len(y_train), len(y_train) + len(val[1]))
        x_train, y_train = np.concatenate([x_train, val[0]]), np.concatenate([y_train, val[1]])
    else:
        train_idx, val_idx = _stratified_split(y_train, val_fraction, seed)
    if x_train.ndim == 3:
        x_train, x_test = x_train[:, None], x_test[:, None]
    # statistics of the training split only, fitted chunk by chunk: no float copy of a split
    mean, std = (torch.from_numpy(v) for v in channel_statistics(x_train, train_idx))

    def images(x: np.ndarray) -> Images:
        stored = np.ascontiguousarray(x, dtype=np.uint8 if x.dtype == np.uint8 else np.float32)
        if not stored.flags.writeable:  # a read-only buffer (IDX files): torch wants its own
            stored = stored.copy()
        return Images(torch.from_numpy(stored), mean, std)

    def labels(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))

    num_classes = int(max(y_train.max(), y_test.max() if len(y_test) else 0)) + 1
    return Dataset(
        name=name,
        x_train=images(x_train[train_idx]),
        y_train=labels(y_train[train_idx]),
        x_val=images(x_train[val_idx]),
        y_val=labels(y_train[val_idx]),
        x_test=images(x_test),
        y_test=labels(y_test),
        num_classes=num_classes,
        natural=natural,
    )


def channel_statistics(
    x: np.ndarray, index: np.ndarray, chunk_elements: int = 1 << 22
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (float32, ``std`` + 1e-6) of the images
    ``x[index]`` (N, C, H, W), in float64 chunks of about ``chunk_elements`` values merged
    with Chan et al.'s pairwise update, so no float copy of the images is ever made."""
    channels = x.shape[1]
    per_image = max(1, int(np.prod(x.shape[1:])))
    step = max(1, chunk_elements // per_image)
    count = 0
    mean = np.zeros(channels)
    squares = np.zeros(channels)  # sum of squared deviations from the mean (M2)
    for start in range(0, len(index), step):
        part = x[index[start : start + step]].astype(np.float64)
        n = part.shape[0] * part.shape[2] * part.shape[3]
        part_mean = part.mean(axis=(0, 2, 3))
        part_squares = np.square(part - part_mean[:, None, None]).sum(axis=(0, 2, 3))
        delta = part_mean - mean
        total = count + n
        mean = mean + delta * n / total
        squares = squares + part_squares + delta**2 * count * n / total
        count = total
    std = np.sqrt(squares / max(count, 1)) + 1e-6
    return mean.astype(np.float32), std.astype(np.float32)


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


def _need_dir(location: str, spec: str, kind: Literal["folder", "file"] = "folder") -> Path:
    """The ``DIR`` (or ``FILE``) of ``spec``, which must exist."""
    if not location:
        example = "path/to/files" if kind == "folder" else "path/to/data.npz"
        raise DataError(f"'{spec}': give the {kind}, e.g. '{spec}:{example}'")
    path = Path(location).expanduser()
    if not (path.is_dir() if kind == "folder" else path.is_file()):
        raise DataError(f"{path}: {kind} not found")
    return path


# --- digits and synthetic -------------------------------------------------------------------
def _digits() -> tuple[Arrays, Arrays, bool]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # pixel values 0..16, stored as uint8 0..240: resizing rounds to whole levels, and 15
    # levels between two of the digits' keep that rounding below 1% of a standard deviation
    images, labels = (bunch.images * 15).astype(np.uint8), bunch.target
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
        images = read_idx(images_path, 2051)
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
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


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
#: a loaded data set's peak memory while it is prepared, in float32 copies of its images: the
#: decoded uint8 images (a quarter of one) and the splits cut from them (another quarter; they
#: stay uint8, and the statistics are fitted in chunks: :func:`_finish`). Measured: 0.68
#: (20,000 RGB PNGs of 64x64, benchmarks/folder_load.py); with a margin. Left out: ~100 MiB
#: that does not grow with the images (decoders, threads)
PEAK_COPIES = 0.75


def folder_memory_bytes(images: int, channels: int, side: tuple[int, int]) -> int:
    """The memory a folder of ``images`` images of ``channels`` x ``side`` needs while it
    is loaded (its peak: ``PEAK_COPIES`` float32 copies)."""
    return int(images * channels * side[0] * side[1] * 4 * PEAK_COPIES)


def available_memory_bytes() -> int | None:
    """Memory this process can still take (Linux's MemAvailable), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _fitting_side(images: int, channels: int, available: int) -> int:
    """The largest square side whose folder would fit in ``available`` bytes."""
    per_pixel = images * channels * 4 * PEAK_COPIES
    return max(1, int((available / per_pixel) ** 0.5))


def _folder(
    root: Path,
    seed: int,
    resolution: int | None = None,
    limit: int | None = None,
    fraction: float | None = None,
) -> tuple[Arrays, Arrays, bool, tuple[int, int]]:
    """One subfolder of images per class: (train, test, natural, the images' own (height,
    width): the first image's). The headers are read first (sizes, colour), the memory the
    load needs is checked against what is available, then the images are decoded in threads
    into one uint8 array, each resized to ``resolution`` as it is decoded (to the first
    image's size without it)."""

    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"{root}: needs one subfolder of images per class (found {len(classes)})")
    files = [
        (i, f)
        for i, c in enumerate(classes)
        for f in sorted(c.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    counts = np.bincount([label for label, _ in files], minlength=len(classes))
    empty = [classes[i].name for i, n in enumerate(counts) if n == 0]
    if empty:
        raise DataError(f"{root / empty[0]}: no images in this class folder")
    grey, size = _image_headers([file for _, file in files])
    # the test fifth, then the search's share of the rest (as _prepared draws it), by label:
    # only these images are decoded
    y = np.asarray([label for label, _ in files])
    train_idx, test_idx = _stratified_split(y, 0.2, seed)
    keep = search_share(y[train_idx], limit, fraction, seed)
    if keep is not None:
        train_idx = train_idx[keep]
    order = np.concatenate([train_idx, test_idx])
    files, labels = [files[i] for i in order], y[order]
    x = _decode_images([file for _, file in files], root, grey, size, resolution)
    kept = len(train_idx)
    native = (size[1], size[0])
    train, test = (x[:kept], labels[:kept]), (x[kept:], labels[kept:])
    return train, test, not grey, native


ImageSource = Path | bytes  # an image file, or an encoded image's bytes


def _open_image(source: ImageSource) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def _image_headers(
    sources: list[ImageSource], where: Path | str = ""
) -> tuple[bool, tuple[int, int]]:
    """Whether every image is greyscale, and the first one's (width, height) — from the
    headers, nothing decoded."""
    from PIL import UnidentifiedImageError

    grey = True
    size: tuple[int, int] | None = None  # (width, height): PIL's order
    for index, source in enumerate(sources):
        try:
            with _open_image(source) as image:
                grey = grey and image.mode in ("L", "1", "I;16", "I")
                size = size or image.size
        except (UnidentifiedImageError, OSError) as err:
            what = source if isinstance(source, Path) else f"{where}: image {index}"
            raise DataError(f"{what}: not a readable image ({err})") from None
    assert size is not None
    return grey, size


def _decode_images(
    sources: list[ImageSource],
    where: Path | str,
    grey: bool,
    size: tuple[int, int],
    resolution: int | None,
) -> np.ndarray:
    """The images decoded in threads into one uint8 array (N, C, H, W), each resized to
    ``resolution`` (else to ``size``, the first image's) as it is decoded — after checking
    that the array fits in the memory available (one message naming --resolution and
    --train-limit when not)."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image
    from rich.progress import Progress

    target = (resolution, resolution) if resolution else size
    channels = 1 if grey else 3
    needed = folder_memory_bytes(len(sources), channels, (target[1], target[0]))
    available = available_memory_bytes()
    if available is not None and needed > available:
        side = _fitting_side(len(sources), channels, available)
        raise DataError(
            f"{where}: {len(sources):,} images of {channels}x{target[1]}x{target[0]} need about"
            f" {needed / 2**30:.1f} GiB to load and {available / 2**30:.1f} GiB is available:"
            f" search at a lower --resolution (at most ~{side}) or on fewer images"
            " (--train-limit)"
        )
    pixels = np.empty((len(sources), target[1], target[0], channels), dtype=np.uint8)

    def decode(index: int) -> None:
        with _open_image(sources[index]) as image:
            image = image.convert("L" if grey else "RGB")
            if image.size != target:
                # antialiased when shrinking (PIL's filters widen with the scale)
                image = image.resize(target, Image.Resampling.BILINEAR)
            pixels[index] = np.asarray(image).reshape(target[1], target[0], channels)

    # PIL decodes outside the GIL: threads decode side by side
    with (
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
        Progress(transient=True, disable=len(sources) < 2_000) as progress,
    ):
        task = progress.add_task(f"decoding {Path(where).name}", total=len(sources))
        for _ in pool.map(decode, range(len(sources))):
            progress.advance(task)
    return pixels.transpose(0, 3, 1, 2)  # NCHW, a view: the data stays uint8 until _finish


# --- a Hugging Face data set saved to disk (optional: the hf extra) ---------------------------
HF_SPLITS = {"train": "train", "validation": "val", "test": "test"}


def read_hf(path: Path, resolution: int | None = None) -> ImageArrays:
    """A Hugging Face ``datasets`` data set saved with ``save_to_disk`` (a ``Dataset``, or a
    ``DatasetDict`` with a ``train`` split and optionally ``validation`` and ``test``): its
    image column (an ``Image`` feature) and its label column (a ``ClassLabel``, or integers
    named ``label`` / ``labels``). Images are decoded as the folder's are (threads, resized to
    ``resolution`` as they are decoded)."""
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"hf:{path}: reading a Hugging Face data set needs the hf extra:"
            ' pip install -e ".[hf]" (or: pip install datasets)'
        ) from None
    try:
        saved = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"{path}: not a data set saved with save_to_disk ({first})") from None
    if isinstance(saved, datasets.DatasetDict):
        if "train" not in saved:
            raise DataError(
                f"{path}: no 'train' split (it holds {', '.join(saved) or 'none'}); archsearch"
                " reads train and optionally validation and test"
            )
        splits = {HF_SPLITS[name]: saved[name] for name in HF_SPLITS if name in saved}
    else:
        splits = {"train": saved}
    image_column, label_column = _hf_columns(splits["train"].features, path)
    sources: dict[str, list[ImageSource]] = {}
    labels: dict[str, np.ndarray] = {}
    for split, table in splits.items():
        raw = table.cast_column(image_column, datasets.Image(decode=False))
        sources[split] = [
            item["bytes"] if item.get("bytes") else Path(item["path"])
            for item in raw[image_column]
        ]
        labels[split] = np.asarray(table[label_column])
    everything = [source for split in splits for source in sources[split]]
    grey, size = _image_headers(everything, path)
    arrays = {
        split: _decode_images(sources[split], f"{path} ({split})", grey, size, resolution)
        for split in splits
    }
    try:
        return image_arrays(
            arrays["train"], labels["train"], arrays.get("test"), labels.get("test"),
            x_val=arrays.get("val"), y_val=labels.get("val"), name=path.name,
        )  # fmt: skip
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


def _hf_columns(features: Any, path: Path) -> tuple[str, str]:
    """The image column and the label column of a Hugging Face data set's ``features``."""
    import datasets

    images = [n for n, f in features.items() if isinstance(f, datasets.Image)]
    labels = [n for n, f in features.items() if isinstance(f, datasets.ClassLabel)]
    labels = labels or [n for n in ("label", "labels") if n in features]
    if not images or not labels:
        what = "an image column (an Image feature)" if not images else "a label column"
        raise DataError(
            f"{path}: no {what}; its columns are"
            f" {', '.join(f'{n} ({type(f).__name__})' for n, f in features.items())}"
        )
    return images[0], labels[0]


# --- data held in Python: arrays, tensors, torch data sets; npz files ---------------------------
#: how many channels an image may have: the axis of this length is the channel axis
CHANNEL_COUNTS = (1, 2, 3, 4)
#: the array names of an npz data set (and of :func:`save_npz`)
NPZ_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


@dataclass(frozen=True)
class ImageArrays:
    """Images and labels checked and in one layout: images (N, C, H, W), uint8 as given or
    float32; labels int64 in 0..K-1 (the given labels' sorted order); the test split (and a
    validation split) when given. :meth:`dataset` makes the :class:`Dataset` a run trains on."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    #: the labels as given, in order: label i of the arrays stands for ``classes[i]``
    classes: tuple[int, ...] = ()

    @property
    def natural(self) -> bool:
        """Photographs (three or more channels: crop-and-flip augmentation), or glyphs."""
        return self.x_train.shape[1] >= 3

    def dataset(
        self,
        *,
        val_fraction: float = 0.2,
        seed: int = 0,
        limit: int | None = None,
        fraction: float | None = None,
        resolution: int | None = None,
    ) -> Dataset:
        """The splits as :func:`load_dataset` makes them: without a test split, a fifth of the
        training images (per class, a fixed draw) is held out as one."""
        train: Arrays = (self.x_train, self.y_train)
        if self.x_test is not None and self.y_test is not None:
            test: Arrays = (self.x_test, self.y_test)
        else:
            train_idx, test_idx = _stratified_split(self.y_train, 0.2, seed=12345)
            train = (self.x_train[train_idx], self.y_train[train_idx])
            test = (self.x_train[test_idx], self.y_train[test_idx])
        val = None if self.x_val is None or self.y_val is None else (self.x_val, self.y_val)
        return _prepared(
            self.name, train, test, self.natural, val,
            val_fraction=val_fraction, seed=seed, limit=limit, fraction=fraction,
            resolution=resolution,
        )  # fmt: skip

    def digest(self) -> str:
        """A short SHA-256 of every array's shape, type and bytes (names the data's file)."""
        hasher = hashlib.sha256()
        for name in NPZ_ARRAYS:
            array = getattr(self, name)
            if array is not None:
                hasher.update(f"{name}{array.shape}{array.dtype}".encode())
                hasher.update(np.ascontiguousarray(array).data)
        return hasher.hexdigest()[:12]


def image_arrays(
    x_train: Any,
    y_train: Any,
    x_test: Any = None,
    y_test: Any = None,
    *,
    x_val: Any = None,
    y_val: Any = None,
    name: str = "arrays",
) -> ImageArrays:
    """Check images and labels given as numpy arrays, torch tensors or sequences of equal-size
    images, and put them in one layout (:class:`ImageArrays`). Images: (N, H, W),
    (N, C, H, W) or (N, H, W, C) with 1-4 channels, any integer or float type; labels: one
    integer per image, any integers (mapped to 0..K-1 in sorted order). Anything else raises
    one :class:`DataError` naming the array and the problem."""
    if (x_test is None) != (y_test is None):
        raise DataError("give both x_test and y_test, or neither")
    if (x_val is None) != (y_val is None):
        raise DataError("give both x_val and y_val, or neither")
    splits = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
    images: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for split, (x, y) in splits.items():
        if x is None:
            continue
        images[split] = _image_array(x, f"x_{split}")
        labels[split] = _label_array(y, f"y_{split}", len(images[split]), f"x_{split}")
    size = images["train"].shape[1:]
    for split, x in images.items():
        if x.shape[1:] != size:
            raise DataError(
                f"x_{split}: images of {_shape_text(x.shape[1:])}, but x_train's are"
                f" {_shape_text(size)}: every split needs the same size and channels"
            )
    classes = np.unique(labels["train"])
    if len(classes) < 2:
        raise DataError(
            f"y_train: a single class (label {classes[0] if len(classes) else 'none'}):"
            " a classifier needs at least two"
        )
    for split in ("val", "test"):
        if split in labels:
            unseen = np.setdiff1d(labels[split], classes)
            if len(unseen):
                raise DataError(
                    f"y_{split}: label {unseen[0]} is not among y_train's labels"
                    f" ({_list_text(classes)})"
                )
    mapped = {split: np.searchsorted(classes, y).astype(np.int64) for split, y in labels.items()}
    return ImageArrays(
        name,
        images["train"],
        mapped["train"],
        images.get("test"),
        mapped.get("test"),
        images.get("val"),
        mapped.get("val"),
        tuple(int(c) for c in classes),
    )


def _image_array(x: Any, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    elif isinstance(x, list | tuple):
        shapes = sorted({np.shape(image) for image in x})
        if len(shapes) > 1:
            raise DataError(
                f"{what}: images of mixed sizes ({_shape_text(shapes[0])} and"
                f" {_shape_text(shapes[-1])}): resize them to one size first"
            )
    try:
        x = np.asarray(x)
    except ValueError:  # numpy refuses a ragged sequence
        raise DataError(f"{what}: images of mixed sizes: resize them to one size first") from None
    if x.dtype == object:
        raise DataError(
            f"{what}: an array of Python objects (images of mixed sizes?); give one array of"
            " equal-size images"
        )
    if x.dtype == bool:
        x = x.astype(np.uint8)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{what}: pixels must be numbers, not {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in CHANNEL_COUNTS:
        if x.shape[3] not in CHANNEL_COUNTS:
            raise DataError(
                f"{what}: shape {tuple(x.shape)} has no channel axis of 1 to 4 (give"
                " (N, C, H, W) or (N, H, W, C))"
            )
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim != 4:
        raise DataError(
            f"{what}: shape {tuple(x.shape)}: images must be (N, H, W), (N, C, H, W) or"
            " (N, H, W, C)"
        )
    if len(x) == 0:
        raise DataError(f"{what}: no images")
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise DataError(f"{what}: {bad:,} pixels are NaN or infinite")
        return np.ascontiguousarray(x, dtype=np.float32)
    if x.dtype != np.uint8:  # wider integers: kept exactly as float32
        x = x.astype(np.float32)
    return np.ascontiguousarray(x)


def _label_array(y: Any, what: str, count: int, images: str) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = " (one-hot? give y.argmax(1))" if y.ndim == 2 else ""
        raise DataError(f"{what}: shape {tuple(y.shape)}: one integer label per image{hint}")
    if len(y) != count:
        raise DataError(f"{images} has {count:,} images but {what} has {len(y):,} labels")
    if y.dtype == bool:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        whole = np.isfinite(y) & (y == np.round(y))
        if whole.all():
            return y.astype(np.int64)
        raise DataError(f"{what}: labels must be integers (found {y[~whole][0]!r})")
    raise DataError(f"{what}: labels must be integers, not {y.dtype} (e.g. {y[0]!r})")


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _list_text(values: np.ndarray, most: int = 10) -> str:
    shown = ", ".join(str(v) for v in values[:most])
    return shown + (", ..." if len(values) > most else "")


def torch_dataset_arrays(dataset: Any, what: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    """The (image, label) items of a map-style torch ``Dataset`` (or anything with ``len`` and
    ``[i]``) as two arrays; images as tensors, arrays or PIL images."""
    images, labels = [], []
    for index in range(len(dataset)):
        item = dataset[index]
        if not isinstance(item, tuple | list) or len(item) != 2:
            kind = type(item).__name__
            raise DataError(f"{what}[{index}]: a {kind}, not an (image, label) pair")
        image, label = item
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        image = np.asarray(image)
        if images and image.shape != images[0].shape:
            raise DataError(
                f"{what}[{index}]: an image of {_shape_text(image.shape)}, but"
                f" {what}[0] is {_shape_text(images[0].shape)}: resize them to one size first"
            )
        if isinstance(label, torch.Tensor):
            if label.numel() != 1:
                raise DataError(f"{what}[{index}]: the label must be one integer")
            label = label.item()
        images.append(image)
        labels.append(label)
    if not images:
        raise DataError(f"{what}: no items")
    return np.stack(images), np.asarray(labels)


def as_image_arrays(data: Any) -> ImageArrays:
    """Data as a user holds it — a tuple ``(x, y)`` or ``(x_train, y_train, x_test, y_test)``
    (numpy, torch), a map-style torch ``Dataset`` (or a list) of (image, label) pairs, or a
    :class:`Dataset` (its splits kept) — as :class:`ImageArrays`."""
    if isinstance(data, Dataset):
        return image_arrays(
            data.x_train.pixels.cpu().numpy(), data.y_train.numpy(),
            data.x_test.pixels.cpu().numpy(), data.y_test.numpy(),
            x_val=data.x_val.pixels.cpu().numpy(), y_val=data.y_val.numpy(),
            name=data.name,
        )  # fmt: skip
    if isinstance(data, tuple):  # (x, y) or (x_train, y_train, x_test, y_test)
        if len(data) not in (2, 4):
            raise DataError(
                f"data: a tuple of {len(data)}; give (x, y) or (x_train, y_train, x_test, y_test)"
            )
        return image_arrays(*data)
    if isinstance(data, torch.utils.data.Dataset) or (
        hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, str)
    ):
        return image_arrays(*torch_dataset_arrays(data), name=type(data).__name__)
    raise DataError(
        f"data: a {type(data).__name__} is not a data set; give a name ('digits',"
        " 'mnist:DIR', 'npz:FILE' ...), (x, y) or (x_train, y_train, x_test, y_test) as numpy"
        " arrays or torch tensors, or a torch Dataset of (image, label) pairs"
    )


def save_npz(arrays: ImageArrays, path: Path) -> Path:
    """Write ``arrays`` as an npz data set (uncompressed: written and read at disk speed)."""
    named = {n: getattr(arrays, n) for n in NPZ_ARRAYS if getattr(arrays, n) is not None}
    # never a half-written data set under the real name
    write_whole(path, lambda file: np.savez(file, **named))
    return path


def read_npz(path: Path) -> ImageArrays:
    """An npz data set (see the module docstring), read without unpickling anything."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a numpy .npz file ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: one array (.npy), not an .npz archive of named arrays")
    with archive:
        names = set(archive.files)
        missing = [n for n in ("x_train", "y_train") if n not in names]
        if missing:
            has = ", ".join(sorted(names)) or "nothing"
            raise DataError(
                f"{path}: no array named {' or '.join(missing)} (it holds {has}); archsearch"
                " reads x_train, y_train and optionally x_test, y_test, x_val, y_val"
            )
        arrays = {}
        for name in NPZ_ARRAYS:
            if name not in names:
                continue
            try:
                arrays[name] = archive[name]
            except ValueError:
                raise DataError(
                    f"{path}: array '{name}' holds Python objects, which archsearch does not"
                    " unpickle; save plain numeric arrays"
                ) from None
    try:
        return image_arrays(**arrays, name=path.stem)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
