"""Do repeated latency measurements of the same model agree? Five measurements per model,
each the median of its repeats; reports the CV of those five medians and the CPU share.

    python benchmarks/latency_stability.py [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics

from _machine import describe

from archsearch import build_model, zoo
from archsearch.profiler import measure_latency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--measurements", type=int, default=5)
    args = parser.parse_args()
    print(f"Machine: {describe()}\n")
    print("| network | input | median of medians ms | CV of the medians | mean CPU share |")
    print("|---|---|---:|---:|---:|")
    for name, shape in (
        ("resnet18", (1, 3, 224, 224)),
        ("mobilenet_v2", (1, 3, 224, 224)),
        ("shufflenet_v2_x1_0", (1, 3, 224, 224)),
    ):
        model = build_model(zoo.get(name), 1000)
        runs = [
            measure_latency(model, shape, device="cpu", threads=args.threads)
            for _ in range(args.measurements)
        ]
        medians = [r.median_ms for r in runs]
        cv = statistics.pstdev(medians) / statistics.fmean(medians)
        share = statistics.fmean(r.cpu_share or 0 for r in runs)
        print(
            f"| {name} | {'x'.join(map(str, shape))} | {statistics.median(medians):.2f} |"
            f" {100 * cv:.1f}% | {100 * share:.0f}% |"
        )


if __name__ == "__main__":
    main()
