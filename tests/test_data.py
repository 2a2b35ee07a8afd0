"""Data loaders on small files the tests write, and on corrupt ones."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.data import DataError, load_dataset

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def write_idx(path: Path, array: np.ndarray, magic: int, compress: bool = False) -> Path:
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_mnist(folder: Path, n_train: int = 60, n_test: int = 20, compress: bool = True) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 255, size=(n, 28, 28))
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, 2051, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, 2049, compress)


def test_digits_is_the_builtin_default() -> None:
    data = load_dataset("digits")
    assert (data.in_channels, data.input_size, data.num_classes) == (1, (8, 8), 10)
    # 1797 images: a fixed 20% test split (359), then 20% of the rest for validation
    assert len(data.y_test) == 359 and len(data.y_train) + len(data.y_val) == 1438
    # stored as uint8 (the digits' levels 0..16 times 15), normalised per batch to mean 0, std 1
    assert data.x_train.dtype == torch.uint8 and int(data.x_train.pixels.max()) == 16 * 15
    x = data.x_train.normalised()
    assert x.dtype == torch.float32
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3
    assert not data.natural and data.y_train.dtype == torch.int64


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx_files(tmp_path: Path, compress: bool) -> None:
    make_mnist(tmp_path, compress=compress)
    data = load_dataset(f"mnist:{tmp_path}")
    assert len(data.y_train) + len(data.y_val) == 60 and len(data.y_test) == 20
    assert data.input_size == (28, 28) and data.in_channels == 1
    fashion = load_dataset(f"fashion-mnist:{tmp_path}")
    assert torch.equal(fashion.x_test.pixels, data.x_test.pixels)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("magic", "wrong magic number 2049 (expected 2051 for images)"),
        ("count", "60 images but t"),
        ("truncate", "payload of"),
        ("corrupt_gz", "corrupt gzip archive"),
        ("missing", "train-images-idx3-ubyte[.gz]: file not found"),
    ],
)
def test_mnist_damage_is_named(tmp_path: Path, damage: str, message: str) -> None:
    make_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    if damage == "magic":
        write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((60, 28, 28)), 2049, True)
    elif damage == "count":
        write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(59), 2049, True)
    elif damage == "truncate":
        raw = gzip.decompress(images.read_bytes())[:-5]
        images.write_bytes(gzip.compress(raw))
    elif damage == "corrupt_gz":
        raw = bytearray(images.read_bytes())
        raw[30:60] = b"\x00" * 30
        images.write_bytes(bytes(raw))
    elif damage == "missing":
        images.unlink()
    with pytest.raises(DataError) as info:
        load_dataset(f"mnist:{tmp_path}")
    assert message in str(info.value)
    if damage != "count":
        assert "train-" in str(info.value)


def make_cifar(folder: Path, per_batch: int = 20) -> None:
    rng = np.random.default_rng(0)
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        batch = {
            b"data": rng.integers(0, 255, (per_batch, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch))


def test_cifar10_batches(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    data = load_dataset(f"cifar10:{tmp_path}")
    assert data.natural and data.input_size == (32, 32) and data.in_channels == 3
    assert len(data.y_train) + len(data.y_val) == 40 and len(data.y_test) == 20


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/archsearch-pwned",))


def test_cifar10_unpickler_refuses_code(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}))
    with pytest.raises(DataError, match=r"data_batch_1: not a CIFAR-10 batch \(forbidden global"):
        load_dataset(f"cifar10:{tmp_path}")
    assert not Path("/tmp/archsearch-pwned").exists()


def test_cifar10_mismatched_labels_and_garbage(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    batch = {b"data": np.zeros((5, 3072), dtype=np.uint8), b"labels": [1, 2]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError, match="test_batch: 5 images but 2 labels"):
        load_dataset(f"cifar10:{tmp_path}")
    (tmp_path / "test_batch").write_bytes(b"\x80\x04garbage")
    with pytest.raises(DataError, match="test_batch: not a CIFAR-10 batch"):
        load_dataset(f"cifar10:{tmp_path}")


def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.natural and data.input_size == (12, 10) and data.num_classes == 2
    assert len(data.y_test) == 2  # round(20% of 6) = 1 image of each class
    (tmp_path / "dog" / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"dog/bad.png: not a readable image"):
        load_dataset(f"folder:{tmp_path}")


def _photo_folder(root: Path, per_class: int = 5, side: int = 16) -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def test_folder_memory_estimate_by_hand() -> None:
    from archsearch.data import PEAK_COPIES, folder_memory_bytes

    # 20,000 RGB images of 64x64: 3 x 64 x 64 = 12,288 values, 4 bytes each as float32 =
    # 49,152 bytes an image, 983,040,000 for all; the peak is 0.75 such copies (the uint8
    # images and their splits, half a copy, with a margin)
    assert PEAK_COPIES == 0.75
    assert folder_memory_bytes(20_000, 3, (64, 64)) == 737_280_000
    assert folder_memory_bytes(20_000, 3, (32, 32)) == 737_280_000 // 4


def test_a_folder_that_would_not_fit_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import archsearch.data as data_module
    from archsearch.cli import app

    root = _photo_folder(tmp_path / "photos")  # 2 classes x 5 RGB images of 16x16
    # all 10 images at 16x16: 10 x 3 x 256 x 4 x 0.75 = 23,040 bytes; 20,000 available
    monkeypatch.setattr(data_module, "available_memory_bytes", lambda: 20_000)
    with pytest.raises(DataError) as refused:
        load_dataset(f"folder:{root}")
    # the largest side that fits: sqrt(20,000 / (10 x 3 x 4 x 0.75)) = sqrt(222.2) = 14.9
    assert str(refused.value) == (
        f"{root}: 10 images of 3x16x16 need about 0.0 GiB to load and 0.0 GiB is available:"
        " search at a lower --resolution (at most ~14) or on fewer images (--train-limit)"
    )
    # --resolution applies while loading: at 8x8 they need 5,760 bytes, and load
    small = load_dataset(f"folder:{root}", resolution=8)
    assert small.input_size == (8, 8) and small.name == "folder@8x8"
    assert len(small.y_train) + len(small.y_val) + len(small.y_test) == 10
    # --train-limit: only the kept images are decoded. The test fifth is 1 per class (2),
    # 4 of the other 8 are kept: 6 x 3 x 256 x 4 x 0.75 = 13,824 bytes, which fit
    limited = load_dataset(f"folder:{root}", limit=4)
    assert len(limited.y_train) + len(limited.y_val) == 4 and len(limited.y_test) == 2
    # the CLI: one message naming the folder and the flags, exit 2
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["run", "--space", "mobile", "--dataset", f"folder:{root}", "--trials", "1",
         "--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports")],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--resolution" in result.stderr and "Traceback" not in result.output


def test_a_folder_loads_as_before(tmp_path: Path) -> None:
    # decoded as uint8 and normalised by the training split's statistics: the same tensors as
    # the float images of [0, 1] gave (normalisation does not see the scale: (v / 255 - m /
    # 255) / (s / 255) = (v - m) / s, up to float rounding and the 1e-6 added to s)
    from PIL import Image

    root = _photo_folder(tmp_path / "photos", per_class=6, side=10)
    data = load_dataset(f"folder:{root}", val_fraction=0.25, seed=3)
    files = sorted((root / "cat").glob("*.png")) + sorted((root / "dog").glob("*.png"))
    raw = np.stack([np.asarray(Image.open(f), dtype=np.float64).transpose(2, 0, 1) for f in files])
    # each image of the three splits is one of the files, normalised by the same affine map
    splits = (data.x_train, data.x_val, data.x_test)
    everything = torch.cat([s.normalised() for s in splits]).double().numpy()
    assert len(everything) == 12
    flat_raw, flat = raw.reshape(12, 3, -1), everything.reshape(12, 3, -1)
    for image in flat:
        # a match: per channel, image = (raw - mean) / std with one (mean, std) per channel
        errors = []
        for candidate in flat_raw:
            slope = np.array([np.polyfit(candidate[c], image[c], 1) for c in range(3)])
            fitted = slope[:, :1] * candidate + slope[:, 1:]
            errors.append(np.abs(fitted - image).max())
        assert min(errors) < 1e-4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("imagenet", "unknown data set 'imagenet'"),
        ("mnist", "give the folder"),
        ("mnist:/no/such/dir", "/no/such/dir: folder not found"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_dataset(spec)


def test_cli_bad_dataset_exits_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archsearch.cli import app

    result = CliRunner().invoke(
        app,
        [
            "run",
            "--dataset",
            f"mnist:{tmp_path}",
            "--trials",
            "1",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 2
    assert "train-images-idx3-ubyte[.gz]: file not found" in result.stderr


@pytest.mark.skipif(
    not SHARED_MNIST.is_dir(),
    reason="the real MNIST files are in ../shared/data/mnist only on dev machines",
)
def test_real_mnist() -> None:
    data = load_dataset(f"mnist:{SHARED_MNIST}")
    assert len(data.y_train) + len(data.y_val) == 60_000 and len(data.y_test) == 10_000
    counts = torch.bincount(data.y_test).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_search_fidelities_subset_per_class_and_resize() -> None:
    import numpy as np

    from archsearch.data import load_dataset

    full = load_dataset("digits")
    part = load_dataset("digits", limit=300)
    # 300 of 1,797 images, drawn per class (each of the 10 keeps about its share, ~30),
    # then the usual 20% validation split
    labels = np.concatenate([part.y_train.numpy(), part.y_val.numpy()])
    assert len(labels) == 300
    assert np.bincount(labels, minlength=10).min() >= 27
    assert len(part.y_val) == 60 and len(part.y_test) == len(full.y_test)
    assert load_dataset("digits", fraction=0.5).x_train.shape[0] + len(
        load_dataset("digits", fraction=0.5).y_val
    ) == round(0.5 * (len(full.y_train) + len(full.y_val)))
    small = load_dataset("digits", resolution=4)
    assert small.input_size == (4, 4) and small.x_test.shape[2:] == (4, 4)
    assert small.name == "digits@4x4"


def test_channel_statistics_in_chunks_by_hand() -> None:
    from archsearch.data import channel_statistics

    # 3 images of 2 channels x 1 x 2; channel 0 holds 0, 2 | 4, 6 | 8, 10: mean 5, variance
    # (25 + 9 + 1 + 1 + 9 + 25) / 6 = 70 / 6, std 3.4157; channel 1 holds 7 everywhere: std 0
    x = np.zeros((3, 2, 1, 2), dtype=np.uint8)
    x[:, 0, 0] = [[0, 2], [4, 6], [8, 10]]
    x[:, 1] = 7
    for chunk in (1, 2, 4, 1 << 22):  # an image a chunk (merged), two images, all at once
        mean, std = channel_statistics(x, np.arange(3), chunk_elements=chunk)
        assert mean.tolist() == pytest.approx([5.0, 7.0])
        assert std.tolist() == pytest.approx([(70 / 6) ** 0.5 + 1e-6, 1e-6])
    # only the images given: the first two, channel 0 = 0, 2, 4, 6: mean 3, std sqrt(5)
    mean, std = channel_statistics(x, np.array([0, 1]), chunk_elements=2)
    assert (mean[0], std[0]) == pytest.approx((3.0, 5**0.5 + 1e-6))


def test_images_keep_their_storage_through_subsets_joins_and_resizing() -> None:
    from archsearch.data import Images

    pixels = torch.tensor([[[[0, 255], [255, 0]]], [[[10, 20], [30, 40]]]], dtype=torch.uint8)
    images = Images(pixels, torch.tensor([50.0]), torch.tensor([25.0]))
    # what a network sees: (10 - 50) / 25 = -1.6 ... (40 - 50) / 25 = -0.4
    assert images[1].flatten().tolist() == pytest.approx([-1.6, -1.2, -0.8, -0.4])
    assert images.subset([1]).dtype == torch.uint8 and len(images.subset([1])) == 1
    joined = images.concat(images.subset([0]))
    assert joined.shape == (3, 1, 2, 2) and torch.equal(joined.pixels[2], pixels[0])
    other = Images(pixels, torch.tensor([0.0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="different storage or normalisation"):
        images.concat(other)
    # to 1x1: the antialiased average, rounded to a whole level: (0 + 255 + 255 + 0) / 4 =
    # 127.5 → 128 (round half to even gives 128), (10 + 20 + 30 + 40) / 4 = 25
    small = images.resized(1)
    assert small.dtype == torch.uint8 and small.pixels.flatten().tolist() == [128, 25]
    assert small.mean.tolist() == [50.0]  # the statistics of the images as loaded
    # a float tensor given as a split is taken as already normalised, as it was
    given = torch.randn(4, 1, 2, 2)
    assert torch.equal(Images.of(given)[:], given)
    with pytest.raises(ValueError, match="uint8 images need the mean and std"):
        Images(pixels)
