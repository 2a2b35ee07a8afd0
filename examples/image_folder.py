"""Search your own photos: one subfolder of images per class.

    python examples/image_folder.py DIR [--resolution 32] [--timeout 600] [--runs-dir runs]

The folder is read as `folder:DIR` (the same as `archsearch run --dataset folder:DIR`); with a
timeout the training images, input size and epochs are chosen to judge about 60 candidates in
it, and the closing message says how to retrain the best network at full size.
"""

from __future__ import annotations

import argparse

import archsearch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--resolution", type=int, default=32, help="images resized to R x R")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--trials", type=int, default=230)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--runs-dir", default="runs")
    args = parser.parse_args()

    result = archsearch.search(
        "mobile",
        data=f"folder:{args.folder}",
        resolution=args.resolution,
        timeout=args.timeout,
        trials=args.trials,
        epochs=args.epochs,
        name="my-photos",
        runs_dir=args.runs_dir,
        reports_dir=args.runs_dir,
    )
    print(result.front[["number", "accuracy", "test_accuracy", "flops"]])
    if result.advice:
        print(result.advice)


if __name__ == "__main__":
    main()
