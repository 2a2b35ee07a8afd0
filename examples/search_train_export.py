"""From data to a deployable network: search, train the most accurate network of the front to
the end, export it (PyTorch, and ONNX where the `onnx` extra is installed).

    python examples/search_train_export.py [--trials 60] [--final-epochs 30] [--out exported]
"""

from __future__ import annotations

import argparse
import importlib.util

from sklearn.datasets import load_digits

import archsearch
from archsearch.export import export_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=None, help="per candidate (the space's)")
    parser.add_argument("--final-epochs", type=int, default=30)
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--out", default="exported")
    args = parser.parse_args()

    digits = load_digits()
    searched = archsearch.search(
        "mobile",
        data=(digits.images, digits.target),
        trials=args.trials,
        epochs=args.epochs,
        name="digits-to-deploy",
        runs_dir=args.runs_dir,
        reports_dir=args.runs_dir,
    )
    # the most accurate network of the front, trained from scratch on the run's own data
    final = archsearch.train_final(
        searched.name,
        runs_dir=args.runs_dir,
        epochs=args.final_epochs,
        output=f"{args.out}/trained",
    )
    print(f"{final.source}: test accuracy {final.test_accuracy:.4f}, {final.flops:,} flops")
    formats = ("torch", "onnx") if importlib.util.find_spec("onnx") else ("torch",)
    exported = export_run(str(final.output), args.out, formats=formats)
    for kind, path in exported.files.items():
        print(f"{kind}: {path}")


if __name__ == "__main__":
    main()
