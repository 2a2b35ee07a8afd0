"""Loading a folder of photos (issue 27): wall time and peak memory of ``load_dataset("folder:
DIR")`` on a folder of RGB PNGs, this tree against another (``--old``), at the images' size and
with ``--resolution``.

    python benchmarks/folder_load.py --old DIR [--old DIR2] [--images 20000] [--side 64]
        [--resolution 32]

The folder (10 class subfolders; smooth colour gradients with noise, so PNG compresses them as
it would photos, not as pure noise) is made once in a temporary folder, or kept in
``--folder``. Each load runs in a fresh process (``PYTHONPATH`` set to the tree); peak memory
is the process's maximum resident set size, and "data" subtracts that of a process that only
imports archsearch and torch; "held" is the images a run keeps (and moves to the device): the
three splits as stored. Loads alternate between the trees, ``--rounds`` times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NEW = HERE.parent

LOAD = """
import json, resource, sys, time
started = time.perf_counter()
from archsearch.data import load_dataset
imported = time.perf_counter()
resolution = int(sys.argv[2]) if sys.argv[2] != "none" else None
if sys.argv[1] != "-":
    data = load_dataset("folder:" + sys.argv[1], resolution=resolution)
    shape = list(data.x_train.shape)
    # what a run holds (and moves to the device): the three splits' images as stored
    held = sum(x.nbytes for x in (data.x_train, data.x_val, data.x_test)) / 2**20
else:
    shape, held = None, None
import archsearch
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"tree": archsearch.__file__, "load_s": time.perf_counter() - imported,
                  "shape": shape, "peak_mib": peak, "held_mib": held}))
"""


def make_folder(root: Path, images: int, side: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, side, dtype=np.float32)
    for index in range(images):
        label = index % 10
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        colour = rng.uniform(0.2, 1.0, 3).astype(np.float32)
        angle = label / 10 * np.pi
        field = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
        pixels = field[..., None] * colour + rng.normal(0, 0.05, (side, side, 3))
        array = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f"{index:06d}.png")


def load(tree: Path, folder: str, resolution: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", LOAD, folder, str(resolution or "none")],
        env=env, capture_output=True, text=True, check=True,
        cwd=tempfile.gettempdir(),  # not a tree: `-c` puts the working folder first on the path
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _commit(tree: Path) -> str:
    out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)  # fmt: skip
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "archsearch"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return (out.stdout.strip() or tree.name) + ("+changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--old", required=True, action="append", help="a tree before (a git worktree); repeatable"
    )
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", help="make (or reuse) the folder here")
    args = parser.parse_args()
    temporary = None if args.folder else tempfile.TemporaryDirectory(prefix="folder-load-")
    root = Path(args.folder or temporary.name)  # type: ignore[union-attr]
    if not any(root.glob("class*")):
        make_folder(root, args.images, args.side)
    trees = {f"before ({_commit(Path(old))})": Path(old).resolve() for old in args.old}
    trees[f"after ({_commit(NEW)})"] = NEW
    base = statistics.median(load(NEW, "-", None)["peak_mib"] for _ in range(2))
    rows: dict[tuple[str, int | None], list[dict]] = {}
    for _ in range(args.rounds):
        for resolution in (None, args.resolution):
            for label, tree in trees.items():
                rows.setdefault((label, resolution), []).append(load(tree, str(root), resolution))
    from _machine import describe

    print(f"\n{describe()}; {args.images:,} RGB PNGs of {args.side}x{args.side}; imports alone:"
          f" {base:.0f} MiB\n")  # fmt: skip
    print("| tree | resolution | x_train | load s | peak MiB | data MiB | held MiB |")
    print("|---|---|---|---:|---:|---:|---:|")
    for (label, resolution), runs in rows.items():
        load_s = statistics.median(r["load_s"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        side = f"{resolution}x{resolution}" if resolution else "native"
        held = runs[0]["held_mib"]
        print(f"| {label} | {side} | {tuple(runs[0]['shape'])} | {load_s:.1f} | {peak:,.0f} |"
              f" {peak - base:,.0f} | {held:,.0f} |")  # fmt: skip
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
