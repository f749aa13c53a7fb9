"""TensorFlow's thread pools on this host: the serving benchmark's MobileNet called directly
(as the model server calls it) at batch 1 and 32, once per pool setting, each in a fresh
process (TensorFlow fixes its pools when it starts), settings interleaved over rounds.

What the model server's default pools (serving.server.tensorflow_thread_pools) rest on.
Writes benchmarks/results/thread_pools.{json,md}.

    python -m benchmarks.thread_pools [--rounds 2] [--calls 300]
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import results as benchmark_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (intra-op, inter-op); 0: TensorFlow's default. The first is TensorFlow's own choice, the
# second the model server's default on 2 cores.
SETTINGS = ((0, 0), (1, 0), (1, 1), (2, 1), (0, 1))
BATCHES = (1, 32)


def child(intra: int, inter: int, calls: int) -> None:
    """Times the direct call under one pool setting; prints one JSON line."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from benchmarks.serving_overhead import export_model
    from serving.core.loader import load_servable

    servable = load_servable("mobilenet", 1, export_model(tempfile.mkdtemp()))
    found = {}
    for batch in BATCHES:
        inputs = {"images": np.random.default_rng(0).random((batch, 32, 32, 3), np.float32)}
        for _ in range(30):
            servable.call("serving_default", inputs)
        samples = []
        cpu = time.process_time()
        for _ in range(calls):
            start = time.perf_counter()
            servable.call("serving_default", inputs)
            samples.append(time.perf_counter() - start)
        found[str(batch)] = {"p50_ms": float(np.median(samples) * 1e3),
                             "cpu_ms_per_call": (time.process_time() - cpu) / calls * 1e3}
    print("RESULT " + json.dumps(found), flush=True)


def measure(intra: int, inter: int, calls: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.thread_pools", "--child",
                          f"{intra},{inter}", "--calls", str(calls)], cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
                         check=True).stdout
    return json.loads(next(line for line in out.splitlines()
                           if line.startswith("RESULT "))[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per batch size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*(int(x) for x in args.child.split(",")), args.calls)
        return
    from serving.server import tensorflow_thread_pools

    runs: dict[str, list[dict]] = {f"{a},{b}": [] for a, b in SETTINGS}
    for _ in range(args.rounds):
        for intra, inter in SETTINGS:
            runs[f"{intra},{inter}"].append(measure(intra, inter, args.calls))
    server_default = tensorflow_thread_pools(0, 0)
    report = {"model": "mobilenet_v1 alpha 0.25, 32 px, 10 classes (direct signature call)",
              "settings": runs, "model_server_default": list(server_default),
              "calls_per_batch": args.calls, "rounds": args.rounds}

    def span(key: str, batch: str, field: str) -> str:
        values = [r[batch][field] for r in runs[key]]
        return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"

    name = lambda n: "default" if n == 0 else str(n)  # noqa: E731
    rows = ["| intra-op / inter-op threads | batch 1 p50 ms | batch 32 p50 ms "
            "| CPU ms per batch-1 call | CPU ms per batch-32 call |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for intra, inter in SETTINGS:
        key = f"{intra},{inter}"
        label = f"{name(intra)} / {name(inter)}"
        if (intra, inter) == server_default:
            label += " (the model server's default here)"
        rows.append(f"| {label} | {span(key, '1', 'p50_ms')} | {span(key, '32', 'p50_ms')} | "
                    f"{span(key, '1', 'cpu_ms_per_call')} | "
                    f"{span(key, '32', 'cpu_ms_per_call')} |")
    table = "\n".join(rows) + (
        f"\n\nEach setting in a fresh process, {args.rounds} rounds interleaved (min–max of the "
        f"rounds' medians over {args.calls} calls); 'default' is TensorFlow's (a thread per "
        f"core). The model server leaves intra-op at one thread fewer than the cores "
        f"({server_default[0]} here) when the flag is unset.\n")
    print(table)
    print("written to", benchmark_results.write("thread_pools", report, table))


if __name__ == "__main__":
    main()
