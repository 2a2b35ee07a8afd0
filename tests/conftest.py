from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
import torch

from archsearch.runs import RunConfig, RunResult

optuna.logging.set_verbosity(optuna.logging.WARNING)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # tests side by side (pytest -n N): one torch thread each, or N x the cores' threads fight
    # over the cores (torch's spinning threads make that several times slower)
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


#: the devices a test of resuming after a kill runs on: the CPU here, CUDA where a GPU is lent
#: (a checkpoint saved there holds CUDA random states and tensors)
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]


def same_threads() -> dict[str, str]:
    """The environment for a subprocess whose numbers are compared with this process's: the
    same torch thread count (float sums in other orders differ in their last bits)."""
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def run_config(tmp_path: Path, space: Path, **changes: object) -> RunConfig:
    """A small run of ``space`` on synthetic data, on CPU, in ``tmp_path``: 3 trials trained to
    the end (early stopping is tests/test_pruners.py's), without the HTML report (the tests of
    the report ask for it: ``write_report=True``)."""
    base = {
        "space": str(space),
        "dataset": "synthetic",
        "runs_dir": str(tmp_path / "runs"),
        "reports_dir": str(tmp_path / "reports"),
        "device": "cpu",
        "trials": 3,
        "name": "t",
        "pruner": "none",
        "write_report": False,
    }
    return RunConfig.from_options(**{**base, **changes})


TINY_SPACE = """\
name: tiny
description: two candidates wide, for end-to-end tests
input_sizes: [8]
stem: {out_channels: 8, kernel_size: 3}
stages:
  - out_channels: {choices: [8, 16]}
    depth: 1
    stride: 2
    block: {choices: [mbconv, dwsep]}
hyperparameters:
  lr: 0.1
  batch_size: 32
  epochs: 2
  optimizer: sgd
"""


@pytest.fixture
def tiny_space(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One finished 2-trial run of the tiny space, shared by the tests that only read a run
    (export, status ...): they must not change it."""
    from archsearch.runs import run_search

    folder = tmp_path_factory.mktemp("tiny-run")
    space = folder / "tiny.yaml"
    space.write_text(TINY_SPACE)
    return run_search(run_config(folder, space, trials=2))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL server on loopback (Debian's binaries)."""

    def __init__(self, bin_dir, base, port: int, prefix: list[str]) -> None:
        self.bin_dir, self.base, self.port, self.prefix = bin_dir, base, port, prefix
        self.data, self.run = base / "data", base / "run"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/archsearch"

    def call(self, *args: str) -> None:
        import subprocess

        subprocess.run([*self.prefix, *args], check=True, capture_output=True, cwd=self.base)

    def start(self) -> None:
        self.call(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            f"-p {self.port} -k {self.run} -c listen_addresses=127.0.0.1",
            "-l",
            str(self.run / "pg.log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self.call(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture(scope="session")
def postgres_server():
    """PostgreSQL started for the session from Debian's packages (.ci/run installs them)."""
    import contextlib
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    base = Path(tempfile.mkdtemp(prefix="archsearch-pg-"))
    base.chmod(0o755)
    (base / "run").mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        shutil.chown(base, "postgres")
        shutil.chown(base / "run", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(versions[-1].parent, base, _free_port(), prefix)
    try:
        server.call(
            str(server.bin_dir / "initdb"), "-D", str(server.data), "-A", "trust", "-U", "postgres"
        )
        server.start()
        server.call(
            str(server.bin_dir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "archsearch",
        )
    except (subprocess.CalledProcessError, OSError) as error:
        pytest.skip(f"could not start PostgreSQL: {error}")
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):
        server.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL URL: ARCHSEARCH_TEST_POSTGRES_URL, or the session's own server."""
    import os

    return (
        os.environ.get("ARCHSEARCH_TEST_POSTGRES_URL")
        or request.getfixturevalue("postgres_server").url
    )
