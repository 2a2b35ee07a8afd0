"""Throughput (issue 26): candidates judged per minute by the default job, old code against
new, and what one candidate's training step achieves on this CPU.

    python benchmarks/throughput.py jobs --old DIR [--rounds 3] [--arm LABEL=SOURCE[:ARGS]]...
    python benchmarks/throughput.py steps --study FILE [--old DIR] [--candidates 12] [--rounds 3]
    python benchmarks/throughput.py efficiency --study FILE [--candidates 12]
    python benchmarks/throughput.py scaling [--networks NAME:SIDE,...] [--rounds 2]

``jobs``: ``archsearch run --space mobile`` (the default job: digits, the default searcher
and budget) from a fresh folder per run, the arms alternating within each round so that a
slow hour of the shared machine hits every arm alike. An arm is ``LABEL=SOURCE[:ARGS]``:
SOURCE is ``old`` (the tree given by ``--old``, e.g. ``git worktree add ../old c34d2a9``;
run with ``PYTHONPATH`` set to it) or ``new`` (this tree); ARGS are more options for ``run``
(``new, 2 workers=new:--workers 2``). Reported per run: judged candidates (trained to the end
or stopped early after an epoch) per minute of the command's wall time, the CPU time it used
against the cores' wall time, and the hypervolume of the validation and test fronts on
issue 12's axes (error / chance error; log flops over [25,376, 2,039,776]). Ratios are
against the first arm in the same round.

``steps``: the training of single candidates, one epoch each on digits, without the
search around it: the networks (and their hyperparameters) that a finished default job
judged (``--study``: its study.db), spread over their flops, trained in fresh processes under
each setting (torch threads, processes side by side, memory format) in interleaved rounds;
images per second of training (validation excluded) summed over the processes. With
``--old``, the old tree's trainer on the same networks under each chosen setting too.
``--profile`` adds torch.profiler's top operators of one epoch of the median network.

``efficiency``: per candidate, training FLOP/s (3 x forward multiply-adds x 2 x images / s:
forward, and backward at twice the forward) against this machine's peak, measured in the
same run as a large float32 matmul, at 1 and 2 threads; and the same for 32x32 networks of
the zoo.

``scaling``: larger networks of the zoo (``NAME:SIDE``) trained on random images, one process
with one thread, one with two, and two processes of one thread side by side: where intra-op
threads start to pay against a second process (what ``--workers auto`` decides by).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NEW = HERE.parent
#: issue 12's axes for the default job on digits
FLOPS_RANGE = (25_376, 2_039_776)
CHANCE = 0.1


# --- jobs ---------------------------------------------------------------------------------
def parse_arm(text: str) -> tuple[str, str, list[str]]:
    label, _, rest = text.partition("=")
    source, _, args = rest.partition(":")
    if source not in ("old", "new"):
        raise SystemExit(f"--arm {text!r}: SOURCE must be old or new")
    return label, source, args.split()


def run_job(source: Path, args: list[str], folder: Path) -> dict[str, Any]:
    """One default job in ``folder``; its wall and CPU time, judged count and fronts."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "archsearch", "run", "--space", "mobile", *args],
        cwd=folder,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, **study_figures(next(folder.glob("runs/*/study.db")))}


def study_figures(path: Path) -> dict[str, Any]:
    import optuna

    from archsearch.bench.search import CostScale, hypervolume
    from archsearch.study import judged, record_of, status_of, test_accuracies

    storage = f"sqlite:///{path}"
    name = optuna.get_all_study_names(storage)[0]
    study = optuna.load_study(study_name=name, storage=storage)
    scale = CostScale("flops", *FLOPS_RANGE)
    ok = [t for t in study.get_trials(deepcopy=False) if status_of(t) == "ok"]
    val = [(float(record_of(t)["flops"]), float(record_of(t)["val_accuracy"])) for t in ok]
    tests = test_accuracies(study)
    test = [(float(record_of(t)["flops"]), tests[t.number]) for t in ok if t.number in tests]
    return {
        "judged": len(judged(study)),
        "completed": len(ok),
        "hv_val": hypervolume(val, scale, CHANCE),
        "hv_test": hypervolume(test, scale, CHANCE),
    }


def jobs(args: argparse.Namespace) -> None:
    arms = [parse_arm(a) for a in args.arm] or [("c34d2a9", "old", []), ("new", "new", [])]
    sources = {"old": Path(args.old).resolve() if args.old else None, "new": NEW}
    if any(source == "old" for _, source, _ in arms) and sources["old"] is None:
        raise SystemExit("an arm runs the old tree: give --old DIR")
    cores = os.cpu_count() or 1
    rows = []
    for round_ in range(1, args.rounds + 1):
        for label, source, extra in arms:
            with tempfile.TemporaryDirectory(prefix="archsearch-job-") as folder:
                figures = run_job(sources[source], extra, Path(folder))  # type: ignore[arg-type]
            figures.update(
                arm=label,
                round=round_,
                judged_per_min=figures["judged"] / (figures["wall_s"] / 60),
                cpu_share=figures["cpu_s"] / (figures["wall_s"] * cores),
            )
            rows.append(figures)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                              for k, v in figures.items()}), flush=True)  # fmt: skip
    report_jobs(rows, [a[0] for a in arms], args.out)


def report_jobs(rows: list[dict[str, Any]], labels: list[str], out: str | None) -> None:
    base = {r["round"]: r["judged_per_min"] for r in rows if r["arm"] == labels[0]}
    print(f"\n{machine()}\n")
    print("| arm | round | wall | judged | completed | judged / min | ratio | CPU busy |"
          " hv val / test |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ratio = r["judged_per_min"] / base[r["round"]]
        print(f"| {r['arm']} | {r['round']} | {r['wall_s']:.0f} s | {r['judged']} | "
              f"{r['completed']} | {r['judged_per_min']:.1f} | {ratio:.2f}x | "
              f"{r['cpu_share']:.0%} | {r['hv_val']:.4f} / {r['hv_test']:.4f} |")  # fmt: skip
    print("\n| arm | judged / min (median) | ratio to the first arm (per round) | hv val |"
          " hv test |")  # fmt: skip
    print("|---|---:|---|---:|---:|")
    for label in labels:
        mine = [r for r in rows if r["arm"] == label]
        ratios = [r["judged_per_min"] / base[r["round"]] for r in mine]
        print(f"| {label} | {statistics.median(r['judged_per_min'] for r in mine):.1f} | "
              f"{', '.join(f'{x:.2f}' for x in ratios)} "
              f"(median {statistics.median(ratios):.2f}x) | "
              f"{statistics.mean(r['hv_val'] for r in mine):.4f} | "
              f"{statistics.mean(r['hv_test'] for r in mine):.4f} |")  # fmt: skip
    if out:
        Path(out).write_text(json.dumps(rows, indent=1))


# --- steps --------------------------------------------------------------------------------
def candidates_of(study_file: str, count: int) -> list[dict[str, Any]]:
    """``count`` judged networks of a study with their hyperparameters, spread evenly over
    their flops (the cheapest and the dearest included)."""
    import optuna

    from archsearch.study import judged, record_of

    storage = f"sqlite:///{Path(study_file).resolve()}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    seen: dict[str, dict[str, Any]] = {}
    for trial in judged(study):
        record = record_of(trial)
        seen.setdefault(
            record["arch_id"],
            {
                "architecture": record["architecture"],
                "hyperparameters": record["hyperparameters"],
                "flops": record["flops"],
                "trial": trial.number,
            },
        )
    ranked = sorted(seen.values(), key=lambda c: c["flops"])
    if len(ranked) <= count:
        return ranked
    picks = [round(i * (len(ranked) - 1) / (count - 1)) for i in range(count)]
    return [ranked[i] for i in picks]


def train_candidates(job: dict[str, Any]) -> list[dict[str, Any]]:
    """In this process: each candidate one epoch on digits under ``job``'s settings."""
    import torch

    import archsearch.train as trainer
    from archsearch import build_model
    from archsearch.architecture import Architecture
    from archsearch.data import load_dataset

    torch.set_num_threads(job["threads"])
    if job["format"] == "channels_last":
        trainer.memory_format_for = lambda device: torch.channels_last  # type: ignore[assignment]
    data = load_dataset("digits")
    results = []
    for repeat in range(job["repeats"] + 1):  # the first pass warms up torch's kernels
        for candidate in job["candidates"]:
            arch = Architecture.from_json(candidate["architecture"])
            hp = {**candidate["hyperparameters"], "epochs": 1}
            config = trainer.TrainConfig.from_hyperparameters(hp, seed=candidate["trial"])
            torch.manual_seed(candidate["trial"])
            model = build_model(arch, data.num_classes, data.in_channels)
            started = time.perf_counter()
            result = trainer.train(model, data, config, "cpu")
            if repeat:
                results.append(
                    {
                        "trial": candidate["trial"],
                        "images_per_s": result.images_per_s,
                        "train_s": time.perf_counter() - started,
                        "val_accuracy": result.val_accuracy,
                    }
                )
    return results


def run_setting(source: Path, job: dict[str, Any], processes: int) -> list[list[dict[str, Any]]]:
    """``processes`` fresh processes side by side, each training all of ``job``'s candidates."""
    env = {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{HERE}"}
    payload = json.dumps(job)
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "_train"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [child.communicate(payload)[0] for child in children]
    if any(child.returncode for child in children):
        raise SystemExit("a training process failed")
    return [json.loads(text.strip().splitlines()[-1]) for text in outputs]


SETTINGS = {
    # label: (source, processes, threads each, memory format)
    "1 process x 2 threads, NCHW": ("new", 1, 2, "nchw"),
    "1 process x 2 threads, channels_last": ("new", 1, 2, "channels_last"),
    "2 processes x 1 thread, NCHW": ("new", 2, 1, "nchw"),
    "2 processes x 1 thread, channels_last": ("new", 2, 1, "channels_last"),
    "1 process x 1 thread, NCHW": ("new", 1, 1, "nchw"),
}


def steps(args: argparse.Namespace) -> None:
    candidates = candidates_of(args.study, args.candidates)
    settings = dict(SETTINGS)
    sources = {"new": NEW, "old": Path(args.old).resolve() if args.old else NEW}
    chosen = [s for s in settings if not args.settings or s in args.settings.split(";")]
    if args.old:  # each chosen setting on the old tree too
        for label in list(chosen):
            settings[f"old tree: {label}"] = ("old", *settings[label][1:])
            chosen.append(f"old tree: {label}")
    # rate[setting][trial] = images/s over all processes, one entry per round
    rates: dict[str, dict[int, list[float]]] = {s: {} for s in chosen}
    accuracy: dict[str, dict[int, float]] = {s: {} for s in chosen}
    for _ in range(args.rounds):
        for label in chosen:
            source, processes, threads, memory_format = settings[label]
            job = {"candidates": candidates, "threads": threads, "format": memory_format,
                   "repeats": 1}  # fmt: skip
            per_process = run_setting(sources[source], job, processes)
            for i, candidate in enumerate(candidates):
                total = sum(results[i]["images_per_s"] for results in per_process)
                rates[label].setdefault(candidate["trial"], []).append(total)
                accuracy[label][candidate["trial"]] = per_process[0][i]["val_accuracy"]
    print(f"\n{machine()}\n")
    baseline = chosen[0]
    print(f"Training images / s per network (1 epoch on digits), medians of {args.rounds} "
          f"rounds, summed over the processes; ratio to `{baseline}`:\n")  # fmt: skip
    print("| setting | " + " | ".join(f"{c['flops']:,}" for c in candidates) + " | median ratio |")
    print("|---|" + "---:|" * (len(candidates) + 1))
    for label in chosen:
        cells, ratios = [], []
        for candidate in candidates:
            mine = statistics.median(rates[label][candidate["trial"]])
            base = statistics.median(rates[baseline][candidate["trial"]])
            cells.append(f"{mine:,.0f}")
            ratios.append(mine / base)
        print(f"| {label} | " + " | ".join(cells) + f" | {statistics.median(ratios):.2f}x |")
    print("\nValidation accuracy after the epoch, largest difference from the baseline:")
    for label in chosen:
        gap = max(abs(accuracy[label][t] - accuracy[baseline][t]) for t in accuracy[baseline])
        print(f"- {label}: {gap:.4f}")
    if args.profile:
        profile(candidates[len(candidates) // 2])


def profile(candidate: dict[str, Any]) -> None:
    """torch.profiler's top operators (self CPU time) over one epoch of ``candidate``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from archsearch import build_model
    from archsearch.architecture import Architecture
    from archsearch.data import load_dataset
    from archsearch.train import TrainConfig, train

    data = load_dataset("digits")
    arch = Architecture.from_json(candidate["architecture"])
    config = TrainConfig.from_hyperparameters({**candidate["hyperparameters"], "epochs": 1})
    train(build_model(arch, data.num_classes, data.in_channels), data, config, "cpu")  # warm
    model = build_model(arch, data.num_classes, data.in_channels)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        train(model, data, config, "cpu")
    print(f"\nProfile of one epoch of {arch} ({candidate['flops']:,} flops), "
          f"batch {config.batch_size}:\n")  # fmt: skip
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


# --- efficiency ---------------------------------------------------------------------------
def peak_flops(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Float32 FLOP/s of an n x n matmul (2 n^3 per product), the best of ``repeats``."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def zoo_rate(name: str, threads: int, images: int = 1024, side: int = 32) -> tuple[float, int]:
    """(training images / s, forward multiply-adds) of a zoo network at side x side, 10 classes,
    on random images, batch 64, SGD."""
    import torch

    from archsearch import build_model, zoo
    from archsearch.data import Dataset
    from archsearch.profiler import static_costs
    from archsearch.train import TrainConfig, train

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(images + 256, 3, side, side, generator=generator)
    y = torch.randint(0, 10, (images + 256,), generator=generator)
    data = Dataset("random", x[:images], y[:images], x[images:], y[images:], x[images:],
                   y[images:], num_classes=10, natural=True)  # fmt: skip
    model = build_model(zoo.get(name), 10, 3)
    flops = static_costs(model, (1, 3, side, side)).flops
    config = TrainConfig(epochs=1, batch_size=64, optimizer="sgd", lr=0.01)
    train(model, data, config, "cpu")  # warm-up
    return train(build_model(zoo.get(name), 10, 3), data, config, "cpu").images_per_s, flops


def efficiency(args: argparse.Namespace) -> None:
    candidates = candidates_of(args.study, args.candidates)
    print(f"\n{machine()}\n")
    print("| threads | peak (float32 2048² matmul) | network | forward flops | images / s | "
          "training GFLOP/s | share of peak |")  # fmt: skip
    print("|---:|---:|---|---:|---:|---:|---:|")
    for threads in (1, 2):
        peak = peak_flops(threads)
        job = {"candidates": candidates, "threads": threads, "format": "nchw", "repeats": 1}
        for candidate, result in zip(candidates, train_candidates(job), strict=True):
            achieved = 6 * candidate["flops"] * result["images_per_s"]
            print(f"| {threads} | {peak / 1e9:.1f} G | trial {candidate['trial']} (digits 8x8) | "
                  f"{candidate['flops']:,} | {result['images_per_s']:,.0f} | "
                  f"{achieved / 1e9:.2f} | {achieved / peak:.1%} |")  # fmt: skip
        for name in args.zoo.split(","):
            rate, flops = zoo_rate(name, threads)
            achieved = 6 * flops * rate
            print(f"| {threads} | {peak / 1e9:.1f} G | {name} (32x32) | {flops:,} | {rate:,.0f} | "
                  f"{achieved / 1e9:.2f} | {achieved / peak:.1%} |")  # fmt: skip


def zoo_job(job: dict[str, Any]) -> dict[str, Any]:
    """In this process: one zoo network's training rate (``scaling``)."""
    rate, flops = zoo_rate(job["name"], job["threads"], job["images"], job["side"])
    return {"images_per_s": rate, "flops": flops}


def scaling(args: argparse.Namespace) -> None:
    """Larger networks: one process with 1 or 2 threads against 2 processes x 1 thread side
    by side (summed), interleaved rounds; where intra-op threads start to pay."""
    env = {**os.environ, "PYTHONPATH": f"{NEW}{os.pathsep}{HERE}"}

    def side_by_side(job: dict[str, Any], processes: int) -> float:
        command = [sys.executable, __file__, "_zoo"]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        children = [
            subprocess.Popen(command, env=env, text=True, **pipes) for _ in range(processes)
        ]
        outs = [c.communicate(json.dumps(job))[0] for c in children]
        return sum(json.loads(o.strip().splitlines()[-1])["images_per_s"] for o in outs)

    print(f"\n{machine()}\n")
    print("| network | forward flops | 1 x 1 thread | 1 x 2 threads | 2 x 1 thread | "
          "2 threads / 1 | 2 processes / 2 threads |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for spec in args.networks.split(","):
        name, _, side = spec.partition(":")
        job = {"name": name, "side": int(side or 32), "images": args.images}
        rates: dict[str, list[float]] = {"1x1": [], "1x2": [], "2x1": []}
        for _ in range(args.rounds):
            rates["1x1"].append(side_by_side({**job, "threads": 1}, 1))
            rates["1x2"].append(side_by_side({**job, "threads": 2}, 1))
            rates["2x1"].append(side_by_side({**job, "threads": 1}, 2))
        m = {k: statistics.median(v) for k, v in rates.items()}
        flops = zoo_job({**job, "threads": 1, "images": 64})["flops"]
        print(f"| {name} ({job['side']}x{job['side']}) | {flops:,} | {m['1x1']:,.0f} | "
              f"{m['1x2']:,.0f} | {m['2x1']:,.0f} | {m['1x2'] / m['1x1']:.2f}x | "
              f"{m['2x1'] / m['1x2']:.2f}x |", flush=True)  # fmt: skip


def machine() -> str:
    from _machine import describe

    return describe()


def main() -> None:
    if sys.argv[1:] == ["_train"]:  # a training process of `steps`
        print(json.dumps(train_candidates(json.loads(sys.stdin.read()))))
        return
    if sys.argv[1:] == ["_zoo"]:  # a training process of `scaling`
        print(json.dumps(zoo_job(json.loads(sys.stdin.read()))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    job_parser = commands.add_parser("jobs")
    job_parser.add_argument("--old", help="the old tree (a git worktree at c34d2a9)")
    job_parser.add_argument("--rounds", type=int, default=3)
    job_parser.add_argument("--arm", action="append", default=[])
    job_parser.add_argument("--out", help="write the runs' figures here (JSON)")
    step_parser = commands.add_parser("steps")
    step_parser.add_argument("--study", required=True)
    step_parser.add_argument("--old")
    step_parser.add_argument("--candidates", type=int, default=12)
    step_parser.add_argument("--rounds", type=int, default=3)
    step_parser.add_argument("--settings", help="';'-separated labels (default: all)")
    step_parser.add_argument("--profile", action="store_true")
    efficiency_parser = commands.add_parser("efficiency")
    efficiency_parser.add_argument("--study", required=True)
    efficiency_parser.add_argument("--candidates", type=int, default=12)
    efficiency_parser.add_argument("--zoo", default="resnet18,mobilenet_v2")
    scaling_parser = commands.add_parser("scaling")
    scaling_parser.add_argument(
        "--networks", default="mobilenet_v2:32,resnet18:32,mobilenet_v2:64,resnet18:64"
    )
    scaling_parser.add_argument("--images", type=int, default=256)
    scaling_parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    commands_by_name = {"jobs": jobs, "steps": steps, "efficiency": efficiency, "scaling": scaling}
    commands_by_name[args.command](args)


if __name__ == "__main__":
    main()
