"""Image classification at 1×, 10× and 100× the bundled digits, through the real pipeline.

Each size is a folder of class sub-folders of PNGs generated from scikit-learn's 1,797 digits
(every digit drawn `scale` times, each time at a random size and place on a 32×32 canvas with
Gaussian noise, so the task stays learnable but no two images are equal). Each size runs
`shipyard run image-classification --data-dir … --variants none` in a fresh process with the
same training budget per example (`--epochs` passes over the train split) and the same
input-cache budget. Reported per size: the wall time of every component (as the run prints
them) and of the data preparation before them, examples/s, the run's peak RSS and the peak RSS
of its process tree while each component ran, the Trainer's
last in-training eval accuracy and the Evaluator's accuracy on the eval split; and the growth
factor of each from one size to the next. A size that would run past `--max-minutes` (all
sizes together) is stopped and reported as not completed. Writes
benchmarks/results/scale.{json,md}.

    python -m benchmarks.scale [--scales 1 10 100] [--epochs 3] [--max-minutes 60]
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import json
import math
import re
import subprocess
import sys
import time

from benchmarks import results as benchmark_results

CANVAS = 32
DIGITS = 1797
TRAIN_SHARE = 0.8  # ImportExampleGen's 4:1 hash split
COMPONENT_LINE = re.compile(r"✓ (\w+) \(([\d.]+) s\)")
EVAL_LINE = re.compile(r"eval .*sparse_categorical_accuracy ([\d.]+)")
STARTED_LINE = re.compile(r"▶ (\w+)")
EVALUATOR_LINE = re.compile(r"example_count [\d.]+, sparse_categorical_accuracy ([\d.]+)")


def generate(directory: str, scale: int, seed: int = 0) -> int:
    """`scale` × 1,797 PNGs under `directory/<digit>/`: each bundled digit `scale` times,
    resized to 12–22 px, placed at random on a 32×32 canvas, with noise (σ 12 of 255).
    Skipped when the folder is complete. Returns the image count."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    count = scale * DIGITS
    done = os.path.join(directory, ".complete")
    if os.path.exists(done):
        return count
    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    rng = np.random.default_rng(seed)
    for label in range(10):
        os.makedirs(os.path.join(directory, str(label)), exist_ok=True)
    for i in range(count):
        source = i % DIGITS
        size = int(rng.integers(12, 23))
        digit = np.asarray(Image.fromarray(pixels[source]).resize((size, size),
                                                                   Image.BILINEAR))
        canvas = np.zeros((CANVAS, CANVAS), np.float32)
        top, left = rng.integers(0, CANVAS - size + 1, size=2)
        canvas[top:top + size, left:left + size] = digit
        canvas += rng.normal(0.0, 12.0, canvas.shape)
        image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), mode="L")
        image.save(os.path.join(directory, str(digits.target[source]), f"{i:06d}.png"))
    open(done, "w").close()
    return count


def run_size(scale: int, args: argparse.Namespace, deadline: float) -> dict:
    """One pipeline run on the `scale`× set; the figures of the `size` table row."""
    data_dir = os.path.join(args.work_dir, f"digits-{scale}x")
    started = time.monotonic()
    images = generate(data_dir, scale)
    generated = time.monotonic() - started
    train_examples = images * TRAIN_SHARE
    steps = max(1, math.ceil(args.epochs * train_examples / args.batch_size))
    output_dir = os.path.join(args.work_dir, f"run-{scale}x")
    command = [sys.executable, "-m", "pipelines.cli", "run", "image-classification",
               "--data-dir", data_dir, "--output-dir", output_dir, "--no-cache",
               "--train-steps", str(steps), "--batch-size", str(args.batch_size),
               "--resolution", str(CANVAS), "--variants", "none",
               "--min-accuracy", "0", "--min-lift", "-1",
               "--input-cache-mb", str(args.input_cache_mb)]
    row = {"scale": scale, "images": images, "train_steps": steps,
           "generation_seconds": round(generated, 1)}
    log_path = os.path.join(args.work_dir, f"run-{scale}x.log")
    print(f"{scale}×: {images:,} images, {steps} steps of {args.batch_size} "
          f"(log {log_path})", flush=True)
    begin = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        status, rss_kib, component_rss = _wait(process, deadline, log_path)
    wall = time.monotonic() - begin
    with open(log_path) as f:
        text = f.read()
    figures = log_figures(text, steps * args.batch_size)
    row.update(wall_seconds=round(wall, 1), peak_rss_mb=round(rss_kib / 1024),
               component_peak_rss_mb=component_rss, **figures,
               preparation_seconds=round(wall - sum(figures["components"].values()), 1))
    if status != 0:
        row["completed"] = False
        row["reason"] = ("stopped at the time bound" if status is None
                         else f"exit status {status} (see {log_path})")
        return row
    row.update(completed=True, seconds_per_1k_examples=round(1000 * wall / images, 2),
               examples_per_second=round(images / wall, 1))
    return row


def log_figures(text: str, trained_examples: int) -> dict:
    """What a run's output says: component times, the Trainer's input plans, examples/s and
    last in-training eval accuracy, the Evaluator's accuracy (None where it did not get so
    far)."""
    components = {name: float(s) for name, s in COMPONENT_LINE.findall(text)}
    evals, final = EVAL_LINE.findall(text), EVALUATOR_LINE.findall(text)
    return {"components": components,
            "input_plan": [line.strip() for line in
                           re.findall(r"(?:train|eval) input: .*", text)],
            "trainer_examples_per_second": round(trained_examples / components["Trainer"], 1)
            if components.get("Trainer") else None,
            "in_training_eval_accuracy": float(evals[-1]) if evals else None,
            "eval_accuracy": float(final[0]) if final else None}


def _wait(process: subprocess.Popen, deadline: float, log_path: str
          ) -> tuple[int | None, int, dict[str, int]]:
    """(exit status or None when stopped at `deadline`, peak RSS in KiB, {component: peak MB
    of the run's whole process tree while it ran}) of `process`. The tree's RSS is sampled
    twice a second and charged to the component the log last said was starting."""
    import psutil

    tree = psutil.Process(process.pid)
    peaks: dict[str, int] = {}
    component = "start-up + data prep"
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss, peaks
        if time.monotonic() > deadline:
            process.kill()
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            return None, usage.ru_maxrss, peaks
        with open(log_path, errors="replace") as f:
            started = STARTED_LINE.findall(f.read())
        component = started[-1] if started else component
        peaks[component] = max(peaks.get(component, 0), _tree_rss_mb(tree))
        time.sleep(0.5)


def _tree_rss_mb(tree) -> int:
    """RSS of a process and all its descendants, in MB (0 once it has gone)."""
    import psutil

    total = 0
    try:
        for p in [tree] + tree.children(recursive=True):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    except psutil.Error:
        return 0
    return round(total / 2**20)


def growth(rows: list[dict]) -> list[dict]:
    """Factors between consecutive sizes that ran: the seconds per example of every component
    both finished; with both completed, also the whole run's, peak RSS and accuracy."""
    ran = [r for r in rows if r.get("components")]
    out = []
    for a, b in zip(ran, ran[1:], strict=False):
        both = [n for n in a["components"] if n in b["components"] and a["components"][n] > 0]
        factors = {"from": a["scale"], "to": b["scale"], "component_time_per_example": {
            n: round(b["components"][n] / b["images"] / (a["components"][n] / a["images"]), 2)
            for n in both}}
        if a.get("completed") and b.get("completed"):
            factors.update(
                time_per_example=round(b["seconds_per_1k_examples"]
                                       / a["seconds_per_1k_examples"], 2),
                peak_rss=round(b["peak_rss_mb"] / a["peak_rss_mb"], 2),
                eval_accuracy=(round(b["eval_accuracy"] / a["eval_accuracy"], 3)
                               if a.get("eval_accuracy") and b.get("eval_accuracy") else None))
        out.append(factors)
    return out


def table(report: dict) -> str:
    rows = report["sizes"]
    # The components that take time; the others (resolver, gates, Pusher) are under a second.
    names = sorted({n for r in rows for n, s in r.get("components", {}).items() if s >= 5},
                   key=lambda n: min(list(r.get("components", {})).index(n)
                                     for r in rows if n in r.get("components", {})))
    lines = [f"Image classification (MobileNet v1 α 0.25, {CANVAS} px, batch "
             f"{report['batch_size']}), {report['epochs']} epochs of the train split at every "
             f"size, input-cache budget {report['input_cache_mb']} MB. Seconds per component.",
             "",
             "| size | images | steps | " + " | ".join(names)
             + " | start-up + data prep | wall | s / 1k images | images/s | trainer ex/s"
             " | peak RSS MB | in-training eval acc | eval acc |",
             "|" + "---|" * (len(names) + 11)]
    for r in rows:
        c = r.get("components", {})
        if not r.get("completed"):
            lines.append(f"| {r['scale']}× | {r['images']:,} | {r['train_steps']} | "
                         + " | ".join(str(c.get(n, "—")) for n in names)
                         + f" | — | {r['wall_seconds']} | not completed: {r['reason']} | — | "
                         f"{r.get('trainer_examples_per_second') or '—'} | "
                         f"{r.get('peak_rss_mb', '—')} | "
                         f"{r.get('in_training_eval_accuracy') or '—'} | — |")
            continue
        lines.append(
            f"| {r['scale']}× | {r['images']:,} | {r['train_steps']} | "
            + " | ".join(f"{c.get(n, 0):.1f}" for n in names)
            + f" | {r['preparation_seconds']:.1f} | {r['wall_seconds']:.1f} | "
            f"{r['seconds_per_1k_examples']} | {r['examples_per_second']} | "
            f"{r['trainer_examples_per_second']} | {r['peak_rss_mb']:,} | "
            f"{r['in_training_eval_accuracy']} | {r['eval_accuracy']} |")
    memory = [r for r in rows if r.get("component_peak_rss_mb")]
    if memory:
        phases = list(dict.fromkeys(n for r in memory for n in r["component_peak_rss_mb"]))
        lines += ["", "Peak RSS (MB) of the run's whole process tree while each component ran "
                  "(sampled twice a second):", "",
                  "| size | " + " | ".join(phases) + " |", "|" + "---|" * (len(phases) + 1)]
        for r in memory:
            peaks = r["component_peak_rss_mb"]
            lines.append(f"| {r['scale']}× | "
                         + " | ".join(f"{peaks[n]:,}" if n in peaks else "—" for n in phases)
                         + " |")
    if report["growth"]:
        lines += ["", "Growth between sizes (targets: time per example ≤ 1.5× from 10× to "
                  "100×; peak RSS ≤ 1.5× across sizes; accuracy at 10× ≥ at 1×); per "
                  "component, its seconds per example:", "",
                  "| from → to | " + " | ".join(names)
                  + " | whole run per example | peak RSS | eval accuracy |",
                  "|" + "---|" * (len(names) + 4)]
        for g in report["growth"]:
            per = g["component_time_per_example"]
            cells = [f"{per[n]}×" if n in per else "—" for n in names]
            cells += [f"{g[k]}×" if g.get(k) is not None else "—"
                      for k in ("time_per_example", "peak_rss", "eval_accuracy")]
            lines.append(f"| {g['from']}× → {g['to']}× | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-cache-mb", type=float, default=64,
                        help="the Trainer's input-cache budget at every size")
    parser.add_argument("--max-minutes", type=float, default=35,
                        help="bound on all sizes together; a size past it is stopped")
    parser.add_argument("--work-dir", default="/tmp/shipyard-scale")
    parser.add_argument("--render", action="store_true",
                        help="re-render the table of the saved results/scale.json")
    args = parser.parse_args()
    if args.render:
        with open(os.path.join(benchmark_results.RESULTS, "scale.json")) as f:
            report = json.load(f)
        report["growth"] = growth(report["sizes"])
        benchmark_results.write("scale", report, table(report))
        print(table(report))
        return
    os.makedirs(args.work_dir, exist_ok=True)
    deadline = time.monotonic() + args.max_minutes * 60
    rows = []
    for scale in args.scales:
        if time.monotonic() > deadline:
            rows.append({"scale": scale, "images": scale * DIGITS, "train_steps": 0,
                         "wall_seconds": 0, "completed": False,
                         "reason": "not started: the time bound was spent"})
            continue
        rows.append(run_size(scale, args, deadline))
        print(json.dumps(rows[-1]), flush=True)
    report = {"epochs": args.epochs, "batch_size": args.batch_size,
              "input_cache_mb": args.input_cache_mb, "max_minutes": args.max_minutes,
              "sizes": rows, "growth": growth(rows)}
    directory = benchmark_results.write("scale", report, table(report))
    print(table(report))
    print(f"wrote {directory}/scale.{{json,md}}")


if __name__ == "__main__":
    main()
