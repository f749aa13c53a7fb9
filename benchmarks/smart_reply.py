"""Smart Reply benchmark: quality against the paper's baselines and serving latency, in one run.

Trains the pipeline's model (settings of pipelines/smart_reply/config.yaml) on the bundled
corpus' train split through the Trainer's own code path, exports the serving SavedModel, and
measures:
- on the independent eval file (pipelines/smart_reply/eval_messages.tsv, written by hand, not
  by the corpus generator): sensible@3 over all its messages that should get suggestions,
  trigger recall / precision and the share of must-not-trigger messages left silent, next to
  a frequency baseline and a bag-of-words classifier, each suggesting where a bag-of-words
  trigger held to the model's held-out silence fires (and their rankings alone); and twenty
  example suggestions, the issue's own first, so a reader can judge;
- on the held-out corpus messages: recall@3 and MRR of the true reply's intent, as before;
- p50 / p99 latency of one message per request through the serving signature (one thread),
  and of the on-device model (float32 .tflite, token ids in) on LiteRT (one thread).

More runs:
- `--seeds 0,1,2`: the whole Trainer again per seed (the response set's k-means included,
  baselines refitted on each set), on the same held-out split;
- `--folds K`: K-fold cross-validation over the whole corpus (folds by the same hash of the
  message as the held-out split; each fold trains on the other K - 1), pooled.
Latency is measured on the first seed's model of the held-out split.

    python -m benchmarks.smart_reply [--train-steps N] [--runs 200] [--seeds 0,1,2]
                                     [--folds 5]
"""
from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time

import numpy as np
import yaml

RANKING_KEYS = ("recall_at_3", "mrr", "bag_of_words_recall_at_3", "bag_of_words_mrr",
                "frequency_recall_at_3", "frequency_mrr")
# (row, prefix of its keys): the baselines suggest where a bag-of-words trigger held to the
# model's held-out silence fires (models/smart_reply/baselines.py).
SENSIBLE_ROWS = [("Smart Reply (LSTM, trie beam)", ""),
                 ("bag-of-words classifier + bag-of-words trigger", "bag_of_words_"),
                 ("frequency baseline + bag-of-words trigger", "frequency_")]
EXAMPLES = 20
ROWS = [("Smart Reply (LSTM, trie beam)", "recall_at_3", "mrr"),
        ("bag-of-words classifier", "bag_of_words_recall_at_3", "bag_of_words_mrr"),
        ("frequency baseline", "frequency_recall_at_3", "frequency_mrr")]


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


def _vocabulary(train: list[dict[str, str]], settings: dict) -> list[str]:
    """The vocabulary as Transform learns it: tokens seen at least `min_token_count` times,
    most frequent first."""
    from models.smart_reply import text

    counts = collections.Counter(t for row in text.tokens(
        [p["context"] for p in train] + [p["reply"] for p in train]) for t in row)
    return [t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if n >= settings["min_token_count"]][:settings["vocab_size"]]


def _train(train: list[dict[str, str]], held_out: list[dict[str, str]], settings: dict,
           seed: int, steps: int, root: str, messages: list[tuple[str, list[str]]]):
    """Trains and exports through the Trainer's code path → (vocabulary, serving signature,
    the quality of the model and of the baselines on `held_out` and the eval `messages`)."""
    import json

    from models.artifacts import MOBILE_DIR
    from models.smart_reply import baselines, device, evaluation, trainer

    vocabulary = _vocabulary(train, settings)
    serving = os.path.join(root, "Format-Serving")
    trainer.train_and_export(train, held_out, vocabulary, [], {**settings, "seed": seed},
                             root, serving, steps, settings["eval_steps"],
                             os.path.join(root, "logs"))
    with open(os.path.join(root, MOBILE_DIR, device.SETTINGS_FILE), encoding="utf-8") as f:
        threshold = json.load(f)["trigger_threshold"]  # as the Trainer chose it
    loaded, response_set = evaluation.load(serving)
    signature = loaded.signatures["serving_default"]
    quality = evaluation.evaluate_pairs(signature, response_set, held_out)
    quality.update(evaluation.evaluate_messages(signature, response_set, messages))
    silence = quality["held_out_silent_rate"] if quality["held_out_silent_messages"] else None
    quality.update(baselines.evaluate(train, held_out, response_set, messages, silence))
    quality["trigger_threshold"] = threshold
    return vocabulary, loaded, quality


def examples(signature, messages: list[tuple[str, list[str]]]) -> list[dict]:
    """What the model shows for the first EXAMPLES messages that should get suggestions."""
    from models.smart_reply import export

    chosen = [m for m, ok in messages if ok][:EXAMPLES]
    out = export.call(signature, chosen)
    return [{"message": m, "triggered": bool(t), "replies": [r.decode() for r in row]}
            for m, t, row in zip(chosen, out["triggered"], out["replies"], strict=True)]


def _examples_table(shown: list[dict]) -> list[str]:
    rows = ["| message | suggestions |", "| --- | --- |"]
    for e in shown:
        replies = " / ".join(e["replies"]) if e["triggered"] else \
            f"(silent; would be: {' / '.join(e['replies'])})"
        rows.append(f"| {e['message']} | {replies} |")
    return rows


def _sensible_table(quality: dict) -> list[str]:
    rows = ["| model (independent eval file) | sensible@3 | its ranking alone | trigger recall "
            "| trigger precision | silent on must-not |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    positive, negative = quality["eval_messages"], quality["eval_silent_messages"]
    for name, prefix in SENSIBLE_ROWS:
        recall, silent = quality[f"{prefix}eval_trigger_recall"], quality[f"{prefix}silent_rate"]
        fired = recall * positive + (1 - silent) * negative
        precision = recall * positive / fired if fired else 0.0
        rows.append(f"| {name} | {quality[f'{prefix}sensible_at_3']:.3f} | "
                    f"{quality[f'{prefix}ranking_sensible_at_3']:.3f} | {recall:.3f} | "
                    f"{precision:.3f} | {silent:.3f} |")
    return rows


def _pooled(runs: list[dict]) -> dict[str, float]:
    """Ranking metrics over all runs' messages with a true cluster (each run weighted by
    how many it has)."""
    weights = np.array([q["examples_with_true_cluster"] for q in runs])
    return {key: float(np.dot([q[key] for q in runs], weights) / weights.sum())
            for key in RANKING_KEYS}


def _quality_table(runs: list[dict], label: str, pooled: dict | None = None) -> list[str]:
    """Rows of the model and the baselines over `runs` (seeds or folds): the single value,
    the pooled value (folds) or the mean (min–max)."""
    def cell(key: str) -> str:
        values = [q[key] for q in runs]
        if pooled is not None:
            return f"{pooled[key]:.3f} ({min(values):.3f}–{max(values):.3f})"
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{np.mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"

    table = [f"| model ({label}) | recall@3 | MRR |", "| --- | ---: | ---: |"]
    table += [f"| {name} | {cell(r)} | {cell(m)} |" for name, r, m in ROWS]
    if len(runs) > 1:
        wins = [sum(q["recall_at_3"] > q["bag_of_words_recall_at_3"] for q in runs),
                sum(q["mrr"] > q["bag_of_words_mrr"] for q in runs)]
        table += ["", f"Above the bag-of-words classifier in {wins[0]} of {len(runs)} "
                  f"(recall@3), {wins[1]} of {len(runs)} (MRR)."]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--folds", type=int, default=0,
                        help="also K-fold cross-validation over the whole corpus (0: none)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting of pipelines/smart_reply/config.yaml "
                             "(YAML value), e.g. --set rank_by=response")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from benchmarks import results
    from pipelines import config
    from pipelines.smart_reply import data as reply_data
    from pipelines.smart_reply import settings as reply_settings

    settings = config.packaged("smart_reply")
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in settings:
            parser.error(f"--set {item}: no setting {key!r}")
        settings[key] = yaml.safe_load(value)
    steps = args.train_steps or settings["train_steps"]
    pairs = reply_data.bundled_pairs()
    from models.smart_reply import evaluation

    messages = evaluation.read_eval_messages(reply_settings.EVAL_MESSAGES)
    train = [p for p in pairs if not reply_data.is_eval(p)]
    held_out = [p for p in pairs if reply_data.is_eval(p)]
    seeds = [int(seed) for seed in args.seeds.split(",")]

    per_fold = []
    for k in range(args.folds):
        with tempfile.TemporaryDirectory() as root:
            fold_train = [p for p in pairs if reply_data.fold(p, args.folds) != k]
            fold_test = [p for p in pairs if reply_data.fold(p, args.folds) == k]
            _, _, quality = _train(fold_train, fold_test, settings, seeds[0], steps, root,
                                   messages)
            per_fold.append(dict(quality, fold=k))
    per_seed = []
    for seed in seeds[1:]:  # quality only
        with tempfile.TemporaryDirectory() as root:
            _, _, quality = _train(train, held_out, settings, seed, steps, root, messages)
            per_seed.append(dict(quality, seed=seed))
    with tempfile.TemporaryDirectory() as root:
        started = time.monotonic()
        vocabulary, loaded, quality = _train(train, held_out, settings, seeds[0], steps, root,
                                             messages)
        train_seconds = time.monotonic() - started
        per_seed.insert(0, dict(quality, seed=seeds[0]))
        signature = loaded.signatures["serving_default"]
        shown = examples(signature, messages)
        contexts = [p["context"] for p in held_out]
        for message in contexts[:10]:  # warm-up
            signature(messages=tf.constant([message]))
        timings = []
        for i in range(args.runs):
            start = time.perf_counter()
            signature(messages=tf.constant([contexts[i % len(contexts)]]))
            timings.append((time.perf_counter() - start) * 1000.0)
        tflite_timings = _tflite_timings(root, vocabulary, settings, held_out, args.runs)

    latency = {"p50_ms": float(np.percentile(timings, 50)),
               "p99_ms": float(np.percentile(timings, 99))}
    tflite_latency = {"p50_ms": float(np.percentile(tflite_timings, 50)),
                      "p99_ms": float(np.percentile(tflite_timings, 99))}
    report = {"settings": settings, "train_steps": steps, "train_and_export_seconds": train_seconds,
              "held_out_messages": len(held_out), "quality": quality, "examples": shown,
              "quality_per_seed": per_seed,
              "savedmodel_latency": latency, "tflite_latency": tflite_latency,
              "load_average": os.getloadavg()[0]}
    several = ": mean (min–max)" if len(seeds) > 1 else ""
    table = _sensible_table(quality)
    table += ["", f"sensible@3 is over all {int(quality['eval_messages'])} messages of the eval "
              "file that should get suggestions (a silent model scores 0 on them); \"its ranking "
              "alone\" scores the three it would show had it triggered on every one; silence is "
              f"over its {int(quality['eval_silent_messages'])} must-not-trigger messages. Seed "
              f"{seeds[0]}, {steps} training steps; trigger threshold "
              f"{quality['trigger_threshold']:.3f} (chosen by the Trainer on its held-out split "
              f"for trigger_recall {settings['trigger_recall']}). The baselines' trigger, a "
              "TF-IDF logistic regression on the same trigger labels, is held to the model's "
              "operating point: on the held-out split it leaves as many of the "
              f"{int(quality['held_out_silent_messages'])} negatives silent as the model "
              f"({quality['held_out_silent_rate']:.3f}).", ""]
    if len(per_seed) > 1:
        def spread(key: str) -> str:
            values = [q[key] for q in per_seed]
            return f"{np.mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"
        table += [f"Over seeds {args.seeds} (mean, min–max): sensible@3 "
                  f"{spread('sensible_at_3')} (bag-of-words {spread('bag_of_words_sensible_at_3')}"
                  f"), its ranking alone {spread('ranking_sensible_at_3')} (bag-of-words "
                  f"{spread('bag_of_words_ranking_sensible_at_3')}), trigger recall "
                  f"{spread('eval_trigger_recall')} (bag-of-words "
                  f"{spread('bag_of_words_eval_trigger_recall')}), silent on must-not "
                  f"{spread('silent_rate')} (bag-of-words {spread('bag_of_words_silent_rate')}).",
                  ""]
    table += _examples_table(shown) + [""]
    table += _quality_table(per_seed, f"held-out corpus split, seeds {args.seeds}{several}")
    labelled = int(quality["examples_with_true_cluster"])
    table += ["", f"Recall@3 and MRR are over the {labelled} of {len(held_out)} held-out corpus "
              "messages whose reply is close to the response set (the corpus' own, synthetic "
              "wording: the eval file above is the honest test)."]
    if per_fold:
        pooled = _pooled(per_fold)
        report.update(folds=args.folds, quality_per_fold=per_fold, quality_pooled=pooled)
        labelled = int(sum(q["examples_with_true_cluster"] for q in per_fold))
        table += [""] + _quality_table(
            per_fold, f"{args.folds}-fold CV, {labelled} messages: pooled (fold min–max)",
            pooled)
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
