"""``hf:DIR``: a Hugging Face ``datasets`` data set saved with ``save_to_disk`` (the optional
``hf`` extra). Where ``datasets`` is not installed, the tests of reading it skip; the message
that names the extra is tested everywhere."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from archsearch.cli import app
from archsearch.data import DataError, image_arrays, load_dataset

from .test_api import same, stripes


def save_hf(path: Path, x: np.ndarray, y: np.ndarray, split: dict[str, slice]) -> Path:
    """``x`` (uint8, N x H x W) and ``y`` saved as a DatasetDict of PNG images with a
    ClassLabel column, one split per entry of ``split``."""
    datasets = pytest.importorskip("datasets", reason="the hf extra (datasets) is not installed")
    names = [str(label) for label in sorted(set(y.tolist()))]
    features = datasets.Features(
        {"img": datasets.Image(), "fine": datasets.ClassLabel(names=names)}
    )
    parts = {
        name: datasets.Dataset.from_dict(
            {
                "img": [Image.fromarray(image) for image in x[rows]],
                "fine": [names.index(str(label)) for label in y[rows]],
            },
            features=features,
        )
        for name, rows in split.items()
    }
    datasets.DatasetDict(parts).save_to_disk(str(path))
    return path


def test_a_saved_hugging_face_data_set_gives_the_same_dataset_as_its_arrays(
    tmp_path: Path,
) -> None:
    # 150 striped 8x8 images: 90 train, 30 validation, 30 test, stored as PNG (lossless):
    # the same Dataset as the arrays themselves. Labels 3/7/9 become class names "3", "7", "9"
    # (ClassLabel 0, 1, 2): the same 0..2 as image_arrays maps them to
    x, y = stripes(150)
    saved = save_hf(
        tmp_path / "hf",
        x,
        y,
        {"train": slice(0, 90), "validation": slice(90, 120), "test": slice(120, 150)},
    )
    reference = image_arrays(x[:90], y[:90], x[120:], y[120:], x_val=x[90:120], y_val=y[90:120])
    same(load_dataset(f"hf:{saved}"), reference.dataset())
    # at --resolution 4: resized as decoded (the folder loader's decoder), splits as before
    small = load_dataset(f"hf:{saved}", resolution=4)
    assert small.x_train.shape == (90, 1, 4, 4) and small.x_test.shape == (30, 1, 4, 4)
    assert torch.equal(small.y_val, reference.dataset().y_val)


def test_a_train_split_alone_is_split_as_arrays_are(tmp_path: Path) -> None:
    x, y = stripes(120)
    saved = save_hf(tmp_path / "hf", x, y, {"train": slice(0, 120)})
    same(load_dataset(f"hf:{saved}", seed=1), image_arrays(x, y).dataset(seed=1))


def test_a_hugging_face_data_set_without_images_or_train_split_is_named(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the hf extra (datasets) is not installed")
    table = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    table.save_to_disk(str(tmp_path / "text"))
    with pytest.raises(DataError, match=r"text: no an image column \(an Image feature\)"):
        load_dataset(f"hf:{tmp_path / 'text'}")
    datasets.DatasetDict({"other": table}).save_to_disk(str(tmp_path / "nosplit"))
    with pytest.raises(DataError, match=r"nosplit: no 'train' split \(it holds other\)"):
        load_dataset(f"hf:{tmp_path / 'nosplit'}")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match=r"plain: not a data set saved with save_to_disk"):
        load_dataset(f"hf:{tmp_path / 'plain'}")


def test_without_the_hf_extra_one_message_names_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets → ImportError
    (tmp_path / "hf").mkdir()
    result = CliRunner().invoke(
        app, ["run", "--dataset", f"hf:{tmp_path / 'hf'}", "--runs-dir", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert 'needs the hf extra: pip install -e ".[hf]"' in " ".join(result.stderr.split())
