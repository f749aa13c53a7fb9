"""Smart Reply benchmark: quality against the paper's baselines and serving latency, in one run.

Trains the pipeline's model (settings of pipelines/configs/smart-reply.yaml) on the bundled
English chatterbot-corpus train split through the Trainer's own code path, exports the serving
SavedModel, and measures on the held-out messages:
- recall@3 and MRR of the true reply's cluster, trigger precision / recall, next to a frequency
  baseline and a bag-of-words classifier (Kannan et al. 2016, Table 2 compares to frequency);
- p50 / p99 latency of one message per request through the serving signature (one thread),
  and of the on-device model (float32 .tflite, token ids in) on LiteRT (one thread).

Quality over a few seeds (`--seeds 0,1,2`: the whole Trainer again per seed, the response
set's k-means included, baselines refitted on each set): 36 held-out messages have a true
cluster, so one message moves recall@3 by 0.028 and a single run says little. Latency is
measured on the first seed's model.

    python -m benchmarks.smart_reply [--train-steps N] [--runs 200] [--seeds 0,1,2]
"""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import argparse
import collections
import tempfile
import time

import numpy as np


def _tflite_timings(model_uri: str, vocabulary: list[str], settings: dict, held_out: list,
                   runs: int) -> list[float]:
    """Per-message LiteRT times (ms) of the float32 on-device model, as the mobile hook
    converts and times it."""
    import tensorflow as tf

    from models.smart_reply import mobile, text

    model = mobile.load_model(model_uri)
    ids = text.to_ids(text.lookup_table(vocabulary), tf.constant([p["context"] for p in held_out]),
                      settings["context_tokens"]).numpy()
    runner = mobile.litert_runner(mobile.convert(model, "float32", None, "uint8"))
    for row in ids[:10]:  # warm-up
        runner(context_ids=row[None])
    timings = []
    for i in range(runs):
        row = ids[i % len(ids)][None]
        start = time.perf_counter()
        runner(context_ids=row)
        timings.append((time.perf_counter() - start) * 1000.0)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from benchmarks import results
    from models.smart_reply import baselines, evaluation, text, trainer
    from pipelines import config, reply_data

    settings = config.packaged("smart-reply")
    steps = args.train_steps or settings["train_steps"]
    pairs = reply_data.chatterbot_pairs(settings["language"])
    train = [p for p in pairs if not reply_data.is_eval(p)]
    held_out = [p for p in pairs if reply_data.is_eval(p)]
    # The vocabulary as Transform learns it: tokens seen at least twice, most frequent first.
    counts = collections.Counter(t for row in text.tokens(
        [p["context"] for p in train] + [p["reply"] for p in train]) for t in row)
    vocabulary = [t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                  if n >= 2][:settings["vocab_size"]]

    seeds = [int(seed) for seed in args.seeds.split(",")]
    per_seed = []
    for seed in seeds[1:]:  # quality only
        with tempfile.TemporaryDirectory() as root:
            serving = os.path.join(root, "Format-Serving")
            trainer.train_and_export(train, held_out, vocabulary, [], {**settings, "seed": seed},
                                     root, serving, steps, settings["eval_steps"],
                                     os.path.join(root, "logs"))
            loaded, response_set = evaluation.load(serving)
            per_seed.append(dict(
                evaluation.evaluate_pairs(loaded.signatures["serving_default"], response_set,
                                          held_out),
                **baselines.evaluate(train, held_out, response_set), seed=seed))
    with tempfile.TemporaryDirectory() as root:
        serving = os.path.join(root, "Format-Serving")
        started = time.monotonic()
        trainer.train_and_export(train, held_out, vocabulary, [],
                                 {**settings, "seed": seeds[0]}, root, serving, steps,
                                 settings["eval_steps"], os.path.join(root, "logs"))
        train_seconds = time.monotonic() - started
        loaded, response_set = evaluation.load(serving)
        signature = loaded.signatures["serving_default"]
        quality = evaluation.evaluate_pairs(signature, response_set, held_out)
        quality.update(baselines.evaluate(train, held_out, response_set))
        per_seed.insert(0, dict(quality, seed=seeds[0]))
        messages = [p["context"] for p in held_out]
        for message in messages[:10]:  # warm-up
            signature(messages=tf.constant([message]))
        timings = []
        for i in range(args.runs):
            start = time.perf_counter()
            signature(messages=tf.constant([messages[i % len(messages)]]))
            timings.append((time.perf_counter() - start) * 1000.0)
        tflite_timings = _tflite_timings(root, vocabulary, settings, held_out, args.runs)

    latency = {"p50_ms": float(np.percentile(timings, 50)),
               "p99_ms": float(np.percentile(timings, 99))}
    tflite_latency = {"p50_ms": float(np.percentile(tflite_timings, 50)),
                      "p99_ms": float(np.percentile(tflite_timings, 99))}
    report = {"train_steps": steps, "train_and_export_seconds": train_seconds,
              "held_out_messages": len(held_out), "quality": quality,
              "quality_per_seed": per_seed,
              "savedmodel_latency": latency, "tflite_latency": tflite_latency,
              "load_average": os.getloadavg()[0]}
    def cell(key: str) -> str:
        values = [q[key] for q in per_seed]
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{np.mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"

    rows = [("Smart Reply (LSTM, trie beam)", "recall_at_3", "mrr"),
            ("bag-of-words classifier", "bag_of_words_recall_at_3", "bag_of_words_mrr"),
            ("frequency baseline", "frequency_recall_at_3", "frequency_mrr")]
    table = [f"| model (seeds {args.seeds}{': mean (min–max)' if len(seeds) > 1 else ''}) "
             "| recall@3 | MRR |", "| --- | ---: | ---: |"]
    table += [f"| {name} | {cell(r)} | {cell(m)} |" for name, r, m in rows]
    if len(seeds) > 1:
        wins = [sum(q["recall_at_3"] > q["bag_of_words_recall_at_3"] for q in per_seed),
                sum(q["mrr"] > q["bag_of_words_mrr"] for q in per_seed)]
        table += ["", f"Above the bag-of-words classifier in {wins[0]} of {len(seeds)} seeds "
                  f"(recall@3), {wins[1]} of {len(seeds)} (MRR)."]
    table += ["", "| path (1 thread, batch 1) | p50 ms | p99 ms |", "| --- | ---: | ---: |",
              f"| SavedModel signature | {latency['p50_ms']:.2f} | {latency['p99_ms']:.2f} |",
              f"| TFLite float32 (LiteRT) | {tflite_latency['p50_ms']:.2f} | "
              f"{tflite_latency['p99_ms']:.2f} |"]
    markdown = "\n".join(table)
    where = results.write("smart_reply", report, markdown)
    print(markdown)
    print(f"written to {where}")


if __name__ == "__main__":
    main()
