"""Property tests: arbitrary YAML, JSON and bytes reach the loaders; the answer is always the
documented error (an ArchsearchError with a message), never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archsearch
from archsearch import Architecture
from archsearch.data import load_dataset
from archsearch.errors import ArchsearchError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
SPACE_KEYS = [
    "name",
    "stages",
    "stem",
    "head",
    "hyperparameters",
    "activation",
    "width_multiplier",
    "num_stages",
    "input_sizes",
    "out_channels",
    "depth",
    "block",
    "choices",
    "low",
    "high",
    "step",
    "log",
    "kernel_size",
    "mbconv",
    "lr",
]
space_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 300)
    | st.floats(-1e3, 1e3)
    | st.sampled_from(["mbconv", "plain", "relu", "auto", "", "1e-3", "x"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(SPACE_KEYS), children, max_size=5)
    ),
    max_leaves=30,
)


def _load_space_text(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "space.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
        try:
            archsearch.load_space(path)
        except ArchsearchError as error:
            assert str(error).startswith(str(path))


@SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text_as_a_space_file(text: str) -> None:
    _load_space_text(text)


@SETTINGS
@given(space_like)
def test_arbitrary_space_shaped_data(data: object) -> None:
    _load_space_text(json.dumps(data))  # JSON is YAML


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_as_a_space_file(data: bytes) -> None:
    _load_space_text(data)


@SETTINGS
@given(json_values)
def test_arbitrary_json_as_an_architecture(data: object) -> None:
    try:
        arch = Architecture.from_json(json.dumps(data))
        arch.infer_shapes(3, 32)
    except ArchsearchError as error:
        assert str(error)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_as_architecture_json(text: str) -> None:
    try:
        Architecture.from_json(text).infer_shapes(3, 32)
    except ArchsearchError as error:
        assert str(error)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["mnist", "cifar10"]), st.binary(max_size=400), st.booleans())
def test_arbitrary_bytes_as_data_files(kind: str, payload: bytes, gz: bool) -> None:
    import gzip

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        names = (
            [
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
            ]
            if kind == "mnist"
            else ["data_batch_1", "test_batch"]
        )
        for name in names:
            data = gzip.compress(payload) if gz and kind == "mnist" else payload
            (root / (name + (".gz" if gz and kind == "mnist" else ""))).write_bytes(data)
        try:
            load_dataset(f"{kind}:{root}")
        except ArchsearchError as error:
            assert str(root) in str(error)


def test_errors_cross_process_boundaries_whole() -> None:
    # a parallel benchmark's or a worker's error is pickled back to the parent
    import pickle

    from archsearch.errors import ConfigError, SpaceError

    config = pickle.loads(pickle.dumps(ConfigError("epochs", "must be at least 1")))
    assert (config.field, str(config)) == ("epochs", "epochs: must be at least 1")
    space = pickle.loads(pickle.dumps(SpaceError("s.yaml", "stages", "missing", line=3)))
    assert (space.line, str(space)) == (3, "s.yaml:3: stages: missing")
