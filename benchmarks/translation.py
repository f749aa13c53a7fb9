"""GNMT translation benchmark: BLEU on the bundled held-out split and decoding speed by beam.

Trains the cpu preset on the bundled EN→FR corpus for a wall-clock budget (the same model
code, wordpieces and input pipeline as the Trainer), exports the serving SavedModel, and
measures, in one run: corpus BLEU (sacrebleu) and exact match on the held-out sentences
(combinations never seen in training) and sentences/s for beam widths 1, 4 and 8 (the
export's translate graph, traced in process). Writes benchmarks/results/translation.{json,md}.
"""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import argparse
import json
import tempfile
import time

from benchmarks import results as benchmark_results

BEAMS = (1, 4, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget")
    parser.add_argument("--pairs", type=int, default=60_000, help="training pairs")
    parser.add_argument("--eval-sentences", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--src", default="en")
    parser.add_argument("--tgt", default="fr")
    parser.add_argument("--out", default=None, help="keep the export here")
    args = parser.parse_args()

    import tensorflow as tf
    import tf_keras as keras

    from models.translation import evaluation, trainer
    from models.translation import wordpieces as wp
    from pipelines import translation_data

    started = time.time()
    train, held_out = translation_data.build_corpus(args.src, args.tgt, args.pairs)
    vocabulary = wp.learn_vocabulary([t for p in train for t in p], 8000)
    prepared = time.time() - started
    print(f"corpus {len(train)} / {len(held_out)} pairs, {len(vocabulary)} wordpieces "
          f"({prepared:.0f} s)", flush=True)
    pieces = wp.Wordpieces(vocabulary)
    texts = tf.data.Dataset.from_tensor_slices({"source": [s for s, _ in train],
                                                "target": [t for _, t in train]})
    dataset = trainer.token_dataset(texts, pieces, args.batch_size, 100, shuffle=True)
    config = {"preset": "cpu", "learning_rate": 2e-3, "beam_width": 4}
    model = trainer.build_model(config, len(vocabulary))

    class Budget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.steps, self.start = 0, None

        def on_train_batch_end(self, batch, logs=None):
            if self.start is None:  # the first step pays for tracing
                self.start = time.time()
            self.steps += 1
            if self.steps % 200 == 0:
                rate = self.steps * args.batch_size / (time.time() - self.start)
                print(f"  step {self.steps}  loss {logs['loss']:.4f}  ({rate:.0f} pairs/s)",
                      flush=True)
            if time.time() - train_start > args.minutes * 60:
                self.model.stop_training = True

    budget = Budget()
    train_start = time.time()
    model.fit(dataset, steps_per_epoch=10**7, epochs=1, callbacks=[budget], verbose=0)
    trained = time.time() - train_start
    pairs_per_second = budget.steps * args.batch_size / max(time.time() - budget.start, 1e-9)

    out = args.out or tempfile.mkdtemp(prefix="gnmt-bench-")
    serving = os.path.join(out, "Format-Serving")
    trainer.export(model, vocabulary, config, serving)
    sources = [s for s, _ in held_out[:args.eval_sentences]]
    references = [t for _, t in held_out[:args.eval_sentences]]

    from models.translation.translator import Translator

    rows = []
    for beam in BEAMS:
        translator = Translator(model, vocabulary, beam_width=beam)
        serve = tf.function(lambda sources, t=translator: t.translate(sources),
                            input_signature=[tf.TensorSpec([None], tf.string)])
        serve(tf.constant(sources[:2]))  # trace once, outside the timing

        hypotheses, speed = evaluation.translate_all(serve, sources)
        exact = sum(h == r for h, r in zip(hypotheses, references, strict=True))
        rows.append({"beam": beam, "bleu": evaluation.bleu(hypotheses, references),
                     "exact_match": exact / len(sources), "sentences_per_second": speed})
        print(f"  beam {beam}: BLEU {rows[-1]['bleu']:.2f}  exact {exact}/{len(sources)}  "
              f"{speed:.1f} sentences/s", flush=True)
        if beam == 4:
            examples = list(zip(sources[:5], hypotheses[:5], references[:5], strict=True))

    report = {"pairs": len(train), "held_out": len(held_out), "wordpieces": len(vocabulary),
              "parameters": model.count_params(), "training_minutes": trained / 60,
              "training_steps": budget.steps, "batch_size": args.batch_size,
              "pairs_per_second": pairs_per_second, "load_average": os.getloadavg()[0],
              "beams": rows, "examples": examples, "export": serving}
    table = "\n".join(
        [f"GNMT cpu preset ({model.count_params():,} parameters), {budget.steps} steps of "
         f"{args.batch_size} in {trained / 60:.1f} min ({pairs_per_second:.0f} pairs/s); "
         f"{len(sources)} held-out sentences; load average {os.getloadavg()[0]:.1f}", "",
         "| beam | BLEU | exact match | sentences/s (in-graph translate, batches of 64) |",
         "| ---: | ---: | ---: | ---: |"]
        + [f"| {r['beam']} | {r['bleu']:.2f} | {r['exact_match']:.3f} | "
           f"{r['sentences_per_second']:.1f} |" for r in rows])
    benchmark_results.write("translation", report, table)
    print(table)
    print(json.dumps(examples, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
