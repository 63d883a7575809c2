"""How well a per-layer latency lookup table predicts measured latency, per search space, on this machine.

For each space: build its table (`nas latency build`'s LatencyTable.build, or load one from --tables), draw
--children distinct children uniformly, measure each one directly (MeasuredLatency: warm-up, median of
repeats, same meter settings as the table), and compare: Kendall tau and Spearman rho of predicted vs measured,
and the mean relative error |predicted - measured| / measured. Prints a Markdown table and writes JSON.

    python scripts/latency_table_accuracy.py
    python scripts/latency_table_accuracy.py --spaces fmnist201 --children 100 --repeats 20 --out results/x.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from nas.atomic import write_text_atomic
from nas.benchmarks.builder import sample_distinct
from nas.cli.common import CONF_DIR
from nas.latency import LatencyMeter, LatencyTable, MeasuredLatency
from nas.latency.table import device_name
from nas.metrics import kendall_tau, spearman_rho


def space_of(name: str, dataset: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("latency_build", overrides=[f"search_space={name}", f"dataset={dataset}"])
    return instantiate(cfg.search_space)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", nargs="+", default=["fmnist201", "elastic_conv", "elastic_vit"])
    parser.add_argument("--dataset", default="fmnist201", help="sizes the spaces (no image is loaded)")
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--statistic", default="median", choices=["median", "min"])
    parser.add_argument("--patience", type=int, default=200)
    parser.add_argument("--tables", default=None, help="folder of <space>.json tables to load instead of building")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/latency_table_accuracy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    meter = LatencyMeter(args.batch_size, args.threads, args.warmup, args.repeats, statistic=args.statistic)
    rows = []
    for name in args.spaces:
        space = space_of(name, args.dataset)
        started = time.perf_counter()
        if args.tables:
            table = LatencyTable.load(space, Path(args.tables) / f"{name}.json")
        else:
            table = LatencyTable.build(space, meter, patience=args.patience, seed=args.seed, progress=False)
        build_seconds = time.perf_counter() - started
        children = sample_distinct(space, args.children, args.seed + 1)
        measured_latency = MeasuredLatency(space, args.batch_size, args.threads, args.warmup, args.repeats,
                                           statistic=args.statistic)
        started = time.perf_counter()
        measured = np.array([measured_latency(a) for a in children])
        measure_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predicted = np.array([table.predict(a) for a in children])
        predict_seconds = time.perf_counter() - started
        row = {"space": name, "children": len(children), "layers": len(table) - 1,
               "overhead_ms": round(table.entries["network overhead"], 4),
               "kendall_tau": round(kendall_tau(predicted, measured), 3),
               "spearman_rho": round(spearman_rho(predicted, measured), 3),
               "mean_relative_error": round(float(np.mean(np.abs(predicted - measured) / measured)), 4),
               "measured_ms": [round(float(measured.min()), 3), round(float(np.median(measured)), 3),
                               round(float(measured.max()), 3)],
               "build_seconds": round(build_seconds, 1), "measure_seconds_per_child": round(measure_seconds / len(children), 4),
               "predict_seconds_per_child": round(predict_seconds / len(children), 4)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"device_name": device_name(), "torch": torch.__version__, "meter": meter.settings(),
              "load_average": [round(x, 2) for x in os.getloadavg()], "rows": rows}
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(f"\n{result['device_name']}, batch {args.batch_size}, {args.threads} thread(s), {args.statistic} of {args.repeats} "
          f"runs after {args.warmup} warm-up; load average {result['load_average']}\n")
    print("| space | layers in table | children | Kendall tau | Spearman rho | mean relative error | measured ms "
          "(min / median / max) | table build s | measure s/child | predict s/child |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for r in rows:
        low, mid, high = r["measured_ms"]
        print(f"| {r['space']} | {r['layers']} | {r['children']} | {r['kendall_tau']:.3f} | {r['spearman_rho']:.3f} | "
              f"{100 * r['mean_relative_error']:.1f}% | {low:.3f} / {mid:.3f} / {high:.3f} | {r['build_seconds']:.0f} | "
              f"{r['measure_seconds_per_child']:.3f} | {r['predict_seconds_per_child']:.3f} |")
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
