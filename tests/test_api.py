"""Data as a user holds it (arrays, tensors, torch data sets, npz files) and the Python entry
point ``archsearch.search``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

import archsearch
from archsearch.data import (
    DataError,
    as_image_arrays,
    image_arrays,
    load_dataset,
    read_npz,
    save_npz,
)
from archsearch.errors import ConfigError
from archsearch.runs import RunProgress, run_search

from .conftest import TINY_SPACE, run_config


def stripes(count: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 8x8 images of 3 classes labelled 3, 7 and 9 (labels need not start at 0)."""
    rng = np.random.default_rng(seed)
    labels = np.array([3, 7, 9])[np.arange(count) % 3]
    images = rng.integers(0, 256, size=(count, 8, 8), dtype=np.uint8)
    images[labels == 3, ::2] = 255  # rows, columns, nothing: learnable
    images[labels == 7, :, ::2] = 255
    return images, labels


def same(a: archsearch.data.Dataset, b: archsearch.data.Dataset) -> None:
    for split in ("y_train", "y_val", "y_test"):
        assert torch.equal(getattr(a, split), getattr(b, split)), split
    for split in ("x_train", "x_val", "x_test"):
        mine, theirs = getattr(a, split), getattr(b, split)
        assert torch.equal(mine.pixels, theirs.pixels), split
        assert torch.equal(mine.mean, theirs.mean) and torch.equal(mine.std, theirs.std), split
    assert (a.num_classes, a.natural) == (b.num_classes, b.natural)


def test_every_input_form_gives_the_same_dataset(tmp_path: Path) -> None:
    x, y = stripes()
    reference = image_arrays(x, y).dataset(seed=1)
    # 120 images: a fifth (24, 8 per class) held out as the test split, then a fifth of the
    # remaining 96 (round(32 x 0.2) = 6 per class = 18) for validation: 78 / 18 / 24
    assert (len(reference.y_train), len(reference.y_val), len(reference.y_test)) == (78, 18, 24)
    assert reference.num_classes == 3 and not reference.natural
    assert image_arrays(x, y).classes == (3, 7, 9)
    assert sorted(set(reference.y_train.tolist())) == [0, 1, 2]  # 3 → 0, 7 → 1, 9 → 2
    forms = {
        "N,C,H,W": (x[:, None], y),
        "N,H,W,C": (x[..., None], y),
        "tensors": (torch.from_numpy(x), torch.from_numpy(y)),
        "list of images": ([image for image in x], y.tolist()),
        "column labels": (x, y[:, None]),
        "float labels": (x, y.astype(np.float64)),
        "torch Dataset": torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
    }
    for data in forms.values():
        same(as_image_arrays(data).dataset(seed=1), reference)
    save_npz(image_arrays(x, y), tmp_path / "d.npz")
    same(load_dataset(f"npz:{tmp_path / 'd.npz'}", seed=1), reference)
    # another seed, another validation split; the test split stays (a fixed draw)
    other = image_arrays(x, y).dataset(seed=2)
    assert torch.equal(other.y_test, reference.y_test)
    assert not torch.equal(other.x_val.pixels, reference.x_val.pixels)


def test_given_test_and_validation_splits_are_kept(tmp_path: Path) -> None:
    x, y = stripes(150)
    arrays = image_arrays(x[:90], y[:90], x[120:], y[120:], x_val=x[90:120], y_val=y[90:120])
    data = arrays.dataset()
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (90, 30, 30)
    # the same images, in the given order (validation labels 90..119 are i % 3 → 0, 1, 2, ...)
    assert data.y_val.tolist() == [i % 3 for i in range(90, 120)]
    save_npz(arrays, tmp_path / "splits.npz")
    same(load_dataset(f"npz:{tmp_path / 'splits.npz'}"), data)
    # an archsearch Dataset round-trips with its splits
    again = as_image_arrays(data).dataset()
    assert (len(again.y_train), len(again.y_val), len(again.y_test)) == (90, 30, 30)
    assert torch.allclose(again.x_train.normalised(), data.x_train.normalised(), atol=1e-5)


def test_photos_are_natural_and_train_at_their_size() -> None:
    x = np.random.default_rng(0).random((40, 16, 16, 3)).astype(np.float32)  # N, H, W, C
    data = image_arrays(x, np.arange(40) % 2).dataset(resolution=8, limit=20)
    assert data.natural and data.in_channels == 3 and data.input_size == (8, 8)
    # limit 20 of the 32 training images (after the 8 of the test split), then 4 to validation
    assert len(data.y_train) + len(data.y_val) == 20


BAD_ARRAYS = {
    "lengths": ((np.zeros((10, 8, 8)), np.arange(9) % 2), "x_train has 10 images but y_train"),
    "float labels": ((np.zeros((4, 8, 8)), np.array([0, 0.5, 1, 1])), "labels must be integers"),
    "text labels": ((np.zeros((2, 8, 8)), np.array(["cat", "dog"])), "labels must be integers"),
    "one class": ((np.zeros((4, 8, 8)), np.ones(4, int)), "a single class (label 1)"),
    "mixed sizes": (([np.zeros((8, 8)), np.zeros((9, 9))], [0, 1]), "mixed sizes (8x8 and 9x9)"),
    "NaN": ((np.full((2, 8, 8), np.nan), np.array([0, 1])), "128 pixels are NaN"),
    "no channel axis": ((np.zeros((2, 8, 8, 8)), [0, 1]), "no channel axis of 1 to 4"),
    "one-hot": ((np.zeros((2, 8, 8)), np.eye(2)), "one-hot? give y.argmax(1)"),
    "5-D": ((np.zeros((2, 1, 1, 8, 8)), [0, 1]), "must be (N, H, W), (N, C, H, W)"),
    "strings": (("not", "arrays"), "pixels must be numbers"),
}


@pytest.mark.parametrize("case", BAD_ARRAYS, ids=list(BAD_ARRAYS))
def test_bad_arrays_get_one_message(case: str) -> None:
    data, message = BAD_ARRAYS[case]
    with pytest.raises(DataError, match=re.escape(message)):
        as_image_arrays(data)


def test_bad_splits_and_objects_get_one_message() -> None:
    x, y = stripes(30)
    with pytest.raises(DataError, match="x_test: images of 1x4x4, but x_train's are 1x8x8"):
        image_arrays(x, y, x[:, :4, :4], y)
    with pytest.raises(
        DataError, match=re.escape("y_test: label 5 is not among y_train's labels (3, 7, 9)")
    ):
        image_arrays(x, y, x[:2], np.array([5, 3]))
    with pytest.raises(DataError, match="give both x_test and y_test"):
        image_arrays(x, y, x_test=x)
    pairs = [(torch.zeros(8, 8), 0), (torch.zeros(8, 8), 1, "extra")]
    with pytest.raises(
        DataError, match=re.escape("dataset[1]: a tuple, not an (image, label) pair")
    ):
        as_image_arrays(pairs)
    with pytest.raises(
        DataError, match=re.escape("dataset[1]: an image of 9x9, but dataset[0] is 8x8")
    ):
        as_image_arrays([(np.zeros((8, 8)), 0), (np.zeros((9, 9)), 1)])
    with pytest.raises(DataError, match="a set is not a data set"):
        as_image_arrays({1, 2})


def test_bad_npz_files_are_named(tmp_path: Path) -> None:
    x, y = stripes(30)
    np.savez(tmp_path / "names.npz", images=x, labels=y)
    with pytest.raises(
        DataError,
        match=re.escape("names.npz: no array named x_train or y_train (it holds images, labels)"),
    ):
        read_npz(tmp_path / "names.npz")
    np.savez(tmp_path / "objects.npz", x_train=np.array([x[0], "a"], dtype=object), y_train=y[:2])
    with pytest.raises(
        DataError, match=re.escape("objects.npz: array 'x_train' holds Python objects")
    ):
        read_npz(tmp_path / "objects.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataError, match=re.escape("text.npz: not a numpy .npz file")):
        read_npz(tmp_path / "text.npz")
    np.savez(tmp_path / "nan.npz", x_train=np.full((2, 8, 8), np.nan), y_train=[0, 1])
    with pytest.raises(DataError, match=re.escape("nan.npz: x_train: 128 pixels are NaN")):
        read_npz(tmp_path / "nan.npz")
    with pytest.raises(DataError, match=re.escape("missing.npz: file not found")):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")


def test_cli_names_a_bad_npz_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archsearch.cli import app

    np.savez(tmp_path / "bad.npz", x=np.zeros(3))
    args = ["run", "--dataset", f"npz:{tmp_path / 'bad.npz'}", "--runs-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "bad.npz: no array named x_train or y_train (it holds x)" in result.stderr
    assert not (tmp_path / "mobile-local").exists()  # nothing created


def test_search_from_arrays_resumes_and_refuses_other_data(tmp_path: Path) -> None:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    x, y = stripes()
    options = dict(
        runs_dir=str(tmp_path / "runs"), reports_dir=str(tmp_path / "reports"), name="arrays",
        device="cpu", pruner="none", epochs=1, write_report=False, progress=False,
    )  # fmt: skip
    result = archsearch.search(str(space), data=(x, y), trials=2, **options)
    assert result.counts["ok"] == 2 and not result.interrupted
    assert list(result.front["number"]) == [row["number"] for row in result.pareto]
    assert result.report is None  # write_report=False
    files = list((tmp_path / "runs" / "arrays").glob("data-*.npz"))
    assert len(files) == 1  # written once, read as npz:FILE by the run (and any worker)
    # the same call with a larger budget resumes: the 2 trials kept, 1 more judged
    again = archsearch.search(str(space), data=(x, y), trials=3, **options)
    assert again.counts["ok"] == 3
    # the final training reads the run's own data (its npz file) by default
    final = archsearch.train_final(
        "arrays", runs_dir=str(tmp_path / "runs"), epochs=1, device="cpu",
        output=str(tmp_path / "final"), progress=False,
    )  # fmt: skip
    assert 0.0 <= final.test_accuracy <= 1.0 and final.epochs == 1
    assert (tmp_path / "final" / "weights.pt").is_file()
    # other data under the same name is refused, not mixed in
    with pytest.raises(ConfigError, match=r"already exists .* different options \(dataset\)"):
        archsearch.search(str(space), data=(x[:60], y[:60]), trials=3, **options)
    assert list((tmp_path / "runs" / "arrays").glob("data-*.npz")) == files  # none left


def test_search_names_an_unknown_option() -> None:
    with pytest.raises(ConfigError, match="trails: not an option of a run; did you mean trials"):
        archsearch.search(trails=3)


def test_ctrl_c_finishes_the_run_and_the_same_call_resumes(tmp_path: Path) -> None:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    config = run_config(tmp_path, space, trials=4)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # as a notebook's interrupt does, after the first trial

    result = run_search(config, progress=RunProgress(on_trial=stop), finish_interrupted=True)
    assert result.interrupted and result.counts["ok"] == 1
    states = [t.state for t in result.study.get_trials()]
    assert optuna.trial.TrialState.RUNNING not in states
    with pytest.raises(KeyboardInterrupt):  # the command line's way: it propagates
        run_search(config, progress=RunProgress(on_trial=stop))
    assert run_search(config).counts["ok"] == 4  # resumed to the budget


def test_tune_from_arrays(tmp_path: Path) -> None:
    x, y = stripes()
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    network = archsearch.load_space(str(space)).sample(1, seed=0, input_size=(8, 8))[0]
    result = archsearch.tune(
        arch=network, data=(x, y), sampler="grid", hyperparameters={"lr": "0.01,0.1"},
        epochs=1, runs_dir=str(tmp_path / "runs"), reports_dir=str(tmp_path / "reports"),
        device="cpu", write_report=False, progress=False,
    )  # fmt: skip
    assert result.counts["ok"] == 2  # the grid's two learning rates
    assert sorted(t.params["lr"] for t in result.study.trials) == [0.01, 0.1]
    with pytest.raises(ConfigError, match="searcher: not an option of a tuning run"):
        archsearch.tune(arch=network, searcher="tpe")
