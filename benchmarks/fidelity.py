"""A search that fits its time (issue 25): auto fidelity against full fidelity at equal wall
time, on real MNIST (60,000 images) and on a 6,000-image data set cut from it.

    python benchmarks/fidelity.py [--data full|6k] [--searchers local,random] \\
        [--seeds 0-5] [--budget-s 600] [--retrain-epochs 2] [--retrain-images 5000] \\
        [-o bench-fidelity]

For each searcher, ``SEARCHER:fidelity=auto`` and ``SEARCHER:fidelity=full`` run side by side,
two at a time with one torch thread each (``bench search --parallel 2``), for ``--budget-s``
from the command's start (an auto run's calibration counts in it). The fronts are then
compared alike: every front network is trained again for ``--retrain-epochs`` epochs on the
same ``--retrain-images`` images of the data at 28x28 (its own hyperparameters; training and
validation splits joined) and tested on the whole 10,000-image test split; the hypervolume of
(flops at 28x28, that test accuracy) on `bench search`'s axes (chance error, the space's
log-flops range at 28x28). Paired by seed: auto against full, Wilcoxon signed-rank.

The 6,000-image data set: a per-class sample (seed 0) of MNIST's training images, written as
IDX files beside the whole test split (``OUT/mnist-6k``), read as ``mnist:OUT/mnist-6k``.
Needs ../shared/data/mnist (see ../shared/data/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """An IDX file (big-endian header, unsigned bytes), as MNIST's own."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dims = raw[3]
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def six_thousand(out: Path, images: int = 6000, seed: int = 0) -> Path:
    """``images`` training images of MNIST, the same share of each class, and its test split."""
    folder = out / "mnist-6k"
    if (folder / "train-labels-idx1-ubyte").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    x = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")
    y = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")
    generator = np.random.default_rng(seed)
    keep = np.concatenate(
        [
            generator.choice(np.flatnonzero(y == c), round(images * np.mean(y == c)), False)
            for c in range(10)
        ]
    )
    keep = np.sort(keep)
    write_idx(folder / "train-images-idx3-ubyte", x[keep], 2051)
    write_idx(folder / "train-labels-idx1-ubyte", y[keep], 2049)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        data = read_idx(SHARED_MNIST / f"{name}.gz")
        write_idx(folder / name, data, 2051 if "images" in name else 2049)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("full", "6k"), default="6k")
    parser.add_argument("--searchers", default="local,random")
    parser.add_argument("--seeds", default="0-5")
    parser.add_argument("--budget-s", type=float, default=600)
    parser.add_argument("--retrain-epochs", type=int, default=2)
    parser.add_argument("--retrain-images", type=int, default=5000)
    parser.add_argument("-o", "--out", default="bench-fidelity")
    args = parser.parse_args()
    if not SHARED_MNIST.is_dir():
        sys.exit(f"needs MNIST at {SHARED_MNIST}")
    out = Path(args.out) / args.data
    out.mkdir(parents=True, exist_ok=True)
    folder = SHARED_MNIST if args.data == "full" else six_thousand(Path(args.out))
    entries = ",".join(
        f"{searcher}:fidelity={mode}"
        for searcher in args.searchers.split(",")
        for mode in ("full", "auto")
    )
    command = [
        sys.executable, "-m", "archsearch", "bench", "search",
        "--searchers", entries, "--dataset", f"mnist:{folder}", "--space", "mobile",
        "--budget-s", str(args.budget_s), "--seeds", args.seeds, "--parallel", "2",
        "--threads", "1", "--device", "cpu", "--retrain-epochs", str(args.retrain_epochs),
        "--retrain-images", str(args.retrain_images), "-o", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    paired(out / "runs.csv", args.searchers.split(","))


def paired(runs_csv: Path, searchers: list[str]) -> None:
    """Auto against full per searcher, paired by seed: retrained hypervolume, wins, Wilcoxon."""
    import pandas as pd
    from scipy.stats import wilcoxon

    runs = pd.read_csv(runs_csv)
    summary = {}
    for searcher in searchers:
        auto = runs[runs.searcher == f"{searcher}:fidelity=auto"].set_index("seed")
        full = runs[runs.searcher == f"{searcher}:fidelity=full"].set_index("seed")
        seeds = sorted(set(auto.index) & set(full.index))
        a = auto.loc[seeds, "retrained_hypervolume"].to_numpy()
        f = full.loc[seeds, "retrained_hypervolume"].to_numpy()
        differences = a - f
        p = float(wilcoxon(a, f).pvalue) if np.any(differences) else 1.0
        summary[searcher] = {
            "seeds": len(seeds),
            "auto": f"{a.mean():.4f} ± {a.std(ddof=1):.4f}",
            "full": f"{f.mean():.4f} ± {f.std(ddof=1):.4f}",
            "auto wins": f"{int((differences > 0).sum())}/{len(seeds)}",
            "wilcoxon p": round(p, 4),
            "judged auto": f"{auto.loc[seeds, 'judged'].mean():.1f}",
            "judged full": f"{full.loc[seeds, 'judged'].mean():.1f}",
            "min judged auto": int(auto.loc[seeds, "judged"].min()),
        }
    print(json.dumps(summary, indent=2))
    (runs_csv.parent / "paired.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
