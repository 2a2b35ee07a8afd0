from __future__ import annotations

import optuna
import pytest
import torch

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server on loopback for the session (Debian's packages, as .ci/run
    installs them); ARCHSEARCH_TEST_POSTGRES_URL points at an existing one instead."""
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    url = os.environ.get("ARCHSEARCH_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    bin_dir = versions[-1].parent
    base = Path(tempfile.mkdtemp(prefix="archsearch-pg-"))
    base.chmod(0o755)
    data, run = base / "data", base / "run"
    run.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        shutil.chown(base, "postgres")
        shutil.chown(run, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def call(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=base)

    try:
        call(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        call(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {run} -c listen_addresses=127.0.0.1",
            "-l",
            str(run / "pg.log"),
            "-w",
            "start",
        )
        call(
            str(bin_dir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "archsearch",
        )
    except (subprocess.CalledProcessError, OSError) as error:
        pytest.skip(f"could not start PostgreSQL: {error}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/archsearch"
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        capture_output=True,
        check=False,
        cwd=base,
    )
    shutil.rmtree(base, ignore_errors=True)
