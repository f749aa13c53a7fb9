"""GNMT translation benchmark: BLEU on the bundled held-out split and decoding speed by beam.

Trains the cpu preset on the bundled EN→FR corpus for a wall-clock budget (the same model
code, wordpieces and input pipeline as the Trainer), exports the serving SavedModel, and
measures, in one run: corpus BLEU (sacrebleu) and exact match on the held-out sentences
(combinations never seen in training) and sentences/s for beam widths 1, 4 and 8 (the
export's translate graph, traced in process); then, side by side on the same held-out
sentences, the exported SavedModel and the float32 / float16 / dynamic-range TFLite decoders
(models/translation/mobile.py, on LiteRT): BLEU, agreement with the SavedModel, file size, gzip
size and single-thread latency per sentence (a child process with TensorFlow on one thread);
and by beam width (1, 4, 8), in that child, BLEU and sentences/s of the served graph next to
the float32 and dynamic-range .tflite decoders rebuilt at each width. Checks the issue's
targets (BLEU >= 90; quantized within 0.5 BLEU of float and faster).
Writes benchmarks/results/translation.{json,md}.

`--mobile-from DIR` runs only the mobile comparison on an earlier run's export (`--out DIR`);
`--render-from DIR` only writes the results files from that run's training.json and mobile.json.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from benchmarks import results as benchmark_results

BEAMS = (1, 4, 8)
MOBILE_CONVERSIONS = ("float32", "float16", "dynamic")
MOBILE_FILE = "mobile.json"
TRAINING_FILE = "training.json"


def _percentiles(times_ms: list[float]) -> dict[str, float]:
    import numpy as np

    return {"latency_p50_ms": float(np.percentile(times_ms, 50)),
            "latency_p90_ms": float(np.percentile(times_ms, 90))}


def _directory_bytes(directory: str) -> tuple[int, int]:
    """(bytes, gzip bytes) of every file under `directory`, concatenated in a fixed order."""
    import gzip

    data = b""
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                data += f.read()
    return len(data), len(gzip.compress(data, compresslevel=9))


def mobile_comparison(model_dir: str, sources: list[str], references: list[str]
                      ) -> list[dict]:
    """SavedModel vs the TFLite variants on the same sentences, one sentence at a time, one
    thread (call in a process whose TensorFlow is set to one thread before it runs)."""
    import numpy as np
    import tensorflow as tf

    from models.translation import evaluation, mobile
    from models.translation import wordpieces as wp

    serve = tf.saved_model.load(os.path.join(model_dir, "Format-Serving")).signatures[
        "serving_default"]
    serve(sources=tf.constant(sources[:1]))  # first call traces
    saved, times = [], []
    for source in sources:
        start = time.perf_counter()
        out = serve(sources=tf.constant([source]))
        times.append((time.perf_counter() - start) * 1e3)
        saved.append(out["translations"].numpy()[0].decode())
    size, gzip_size = _directory_bytes(os.path.join(model_dir, "Format-Serving"))
    rows = [{"model": "SavedModel (strings in, in-graph wordpieces)",
             "bleu": evaluation.bleu(saved, references), "agreement": 1.0,
             "size_bytes": size, "gzip_bytes": gzip_size, **_percentiles(times)}]
    print(f"  SavedModel: BLEU {rows[0]['bleu']:.2f}  p50 {rows[0]['latency_p50_ms']:.1f} ms",
          flush=True)

    keras_model = mobile.load_model(model_dir)
    vocabulary = mobile.read_model_vocabulary(model_dir)
    ids = wp.Wordpieces(vocabulary).tokenize(tf.constant(sources)).numpy()
    sentences = [np.asarray(row, np.int32) for row in ids]
    from models import tflite

    for conversion in MOBILE_CONVERSIONS:
        start = time.perf_counter()
        data = mobile.convert(keras_model, conversion)
        converted_s = time.perf_counter() - start
        runner = mobile.TFLiteTranslator(data, vocabulary)
        runner.ids(sentences[0])
        translations, times = [], []
        for row in sentences:
            start = time.perf_counter()
            out = runner.ids(row)
            times.append((time.perf_counter() - start) * 1e3)
            translations.append(mobile.plain_text.detokenize(out, vocabulary))
        rows.append({"model": f"TFLite {conversion}",
                     "bleu": evaluation.bleu(translations, references),
                     "agreement": mobile.agreement(translations, saved), "size_bytes": len(data),
                     "gzip_bytes": tflite.gzip_size(data), "conversion_seconds": converted_s,
                     **_percentiles(times)})
        print(f"  TFLite {conversion}: BLEU {rows[-1]['bleu']:.2f}  agreement "
              f"{rows[-1]['agreement']:.3f}  {len(data) / 1e6:.2f} MB  "
              f"p50 {rows[-1]['latency_p50_ms']:.1f} ms", flush=True)
    return rows


def beam_comparison(model_dir: str, sources: list[str], references: list[str]) -> list[dict]:
    """Sentences/s and BLEU by beam width, one sentence at a time on one thread: the served
    graph (the export's Translator, strings in) next to the float32 and dynamic-range .tflite
    decoders (ids in), each rebuilt at the beam width from the same weights."""
    import tensorflow as tf

    from models.translation import evaluation, mobile
    from models.translation import wordpieces as wp
    from models.translation.translator import Translator

    trained = mobile.load_model(model_dir)
    vocabulary = mobile.read_model_vocabulary(model_dir)
    ids = [row.astype("int32") for row in
           wp.Wordpieces(vocabulary).tokenize(tf.constant(sources)).numpy()]
    rows = []
    for beam in BEAMS:
        model = mobile.with_decoding(trained, beam_width=beam)
        translator = Translator(model, vocabulary, **mobile.decoding_settings(model))
        serve = tf.function(translator.translate, input_signature=[tf.TensorSpec([None],
                                                                                 tf.string)])
        serve(tf.constant(sources[:1]))  # traces
        decoders = {"SavedModel graph": lambda i, f=serve: f(tf.constant([sources[i]]))[
            "translations"].numpy()[0].decode()}
        for conversion in ("float32", "dynamic"):
            runner = mobile.TFLiteTranslator(mobile.convert(model, conversion), vocabulary)
            runner.ids(ids[0])
            decoders[f"TFLite {conversion}"] = lambda i, r=runner: r.translate(ids[i])
        for name, decode in decoders.items():
            translations, times = [], []
            for i in range(len(sources)):
                start = time.perf_counter()
                translations.append(decode(i))
                times.append(time.perf_counter() - start)
            rows.append({"beam": beam, "model": name,
                         "bleu": evaluation.bleu(translations, references),
                         "sentences_per_second": len(times) / sum(times),
                         **_percentiles([t * 1e3 for t in times])})
            print(f"  beam {beam} {name}: BLEU {rows[-1]['bleu']:.2f}  "
                  f"{rows[-1]['sentences_per_second']:.1f} sentences/s", flush=True)
    return rows


def beam_table(rows: list[dict], sentences: int) -> str:
    models = list(dict.fromkeys(r["model"] for r in rows))
    by = {(r["beam"], r["model"]): r for r in rows}
    return "\n".join(
        [f"By beam width, {sentences} held-out sentences one at a time, one thread "
         "(SavedModel graph: strings in; TFLite: wordpiece ids in):", "",
         "| beam | " + " | ".join(f"{m} BLEU | {m} sentences/s" for m in models) + " |",
         "| ---: |" + " ---: | ---: |" * len(models)]
        + [f"| {beam} | " + " | ".join(
            f"{by[beam, m]['bleu']:.2f} | {by[beam, m]['sentences_per_second']:.1f}"
            for m in models) + " |" for beam in BEAMS])


def mobile_table(rows: list[dict], sentences: int, beam: int) -> str:
    return "\n".join(
        [f"On-device vs served, {sentences} held-out sentences one at a time, beam {beam}, "
         "one thread (SavedModel: TensorFlow intra/inter-op threads 1, strings in; TFLite: "
         "LiteRT num_threads 1, wordpiece ids in, tokenised outside):", "",
         "| model | BLEU | agreement with SavedModel | size MB | gzip MB | p50 ms/sentence "
         "| p90 ms/sentence |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        + [f"| {r['model']} | {r['bleu']:.2f} | {r['agreement']:.3f} | "
           f"{r['size_bytes'] / 1e6:.3f} | {r['gzip_bytes'] / 1e6:.3f} | "
           f"{r['latency_p50_ms']:.2f} | {r['latency_p90_ms']:.2f} |" for r in rows])


def run_mobile_child(model_dir: str, sources: list[str], references: list[str]) -> dict:
    """The mobile comparison in a fresh process with TensorFlow on one thread."""
    import subprocess
    import sys

    with open(os.path.join(model_dir, "mobile_sentences.json"), "w") as f:
        json.dump({"sources": sources, "references": references}, f, ensure_ascii=False)
    subprocess.run([sys.executable, "-m", "benchmarks.translation", "--mobile-from",
                    model_dir], check=True)
    with open(os.path.join(model_dir, MOBILE_FILE)) as f:
        return json.load(f)


def mobile_main(model_dir: str) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    with open(os.path.join(model_dir, "mobile_sentences.json")) as f:
        sentences = json.load(f)
    rows = mobile_comparison(model_dir, sentences["sources"], sentences["references"])
    beams = beam_comparison(model_dir, sentences["sources"], sentences["references"])
    with open(os.path.join(model_dir, MOBILE_FILE), "w") as f:
        json.dump({"models": rows, "beams": beams}, f, indent=2)


def _targets(beams: list[dict], by_beam: list[dict]) -> dict[str, bool]:
    """The issue's targets: BLEU >= 90 on the held-out split; the quantized (dynamic-range)
    .tflite within 0.5 BLEU of the float one and faster, at every beam width."""
    by = {(r["beam"], r["model"]): r for r in by_beam}
    widths = sorted({r["beam"] for r in by_beam})
    return {
        "BLEU >= 90 (beam 4, all held-out sentences)":
            next(r["bleu"] for r in beams if r["beam"] == 4) >= 90,
        "dynamic-range BLEU within 0.5 of float32, every beam": all(
            by[b, "TFLite dynamic"]["bleu"] >= by[b, "TFLite float32"]["bleu"] - 0.5
            for b in widths),
        "dynamic-range faster than float32, every beam": all(
            by[b, "TFLite dynamic"]["sentences_per_second"]
            > by[b, "TFLite float32"]["sentences_per_second"] for b in widths),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget")
    parser.add_argument("--pairs", type=int, default=60_000, help="training pairs")
    parser.add_argument("--eval-sentences", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--src", default="en")
    parser.add_argument("--tgt", default="fr")
    parser.add_argument("--out", default=None, help="keep the export here")
    parser.add_argument("--mobile-sentences", type=int, default=200,
                        help="held-out sentences of the SavedModel vs TFLite comparison")
    parser.add_argument("--render-from", default=None,
                        help="only the results files, from an earlier --out's JSON files")
    parser.add_argument("--mobile-from", default=None,
                        help="only the SavedModel vs TFLite comparison, on an earlier --out")
    args = parser.parse_args()
    if args.mobile_from:
        mobile_main(args.mobile_from)
        return
    if args.render_from:
        render(args.render_from)
        return

    import tensorflow as tf

    from models.keras2 import keras
    from models.translation import evaluation, trainer
    from models.translation import wordpieces as wp
    from pipelines.translation import data as translation_data

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

    mobile_sources = sources[:args.mobile_sentences]
    training = {"pairs": len(train), "held_out": len(held_out), "wordpieces": len(vocabulary),
                "parameters": model.count_params(), "training_minutes": trained / 60,
                "training_steps": budget.steps, "batch_size": args.batch_size,
                "pairs_per_second": pairs_per_second, "load_average": os.getloadavg()[0],
                "held_out_sentences": len(sources), "beams": rows, "examples": examples,
                "export": serving, "mobile_sentences": len(mobile_sources),
                "mobile_beam": config["beam_width"]}
    # Saved before the long mobile child, so that --render-from can finish a broken run.
    with open(os.path.join(out, TRAINING_FILE), "w") as f:
        json.dump(training, f, ensure_ascii=False, indent=2)
    run_mobile_child(out, mobile_sources, references[:args.mobile_sentences])
    render(out)


def render(out: str) -> None:
    """benchmarks/results/translation.{json,md} from a run's training.json and mobile.json."""
    with open(os.path.join(out, TRAINING_FILE)) as f:
        training = json.load(f)
    with open(os.path.join(out, MOBILE_FILE)) as f:
        measured = json.load(f)
    mobile_rows, beam_rows, rows = measured["models"], measured["beams"], training["beams"]
    targets = _targets(rows, beam_rows)
    report = {**{k: v for k, v in training.items()
                 if k not in ("mobile_sentences", "mobile_beam")},
              "mobile": {"sentences": training["mobile_sentences"],
                         "beam": training["mobile_beam"], "models": mobile_rows,
                         "beams": beam_rows},
              "targets": targets}
    table = "\n".join(
        [f"GNMT cpu preset ({training['parameters']:,} parameters), "
         f"{training['training_steps']} steps of {training['batch_size']} in "
         f"{training['training_minutes']:.1f} min ({training['pairs_per_second']:.0f} pairs/s); "
         f"{training['held_out_sentences']} held-out sentences; load average "
         f"{training['load_average']:.1f}", "",
         "| beam | BLEU | exact match | sentences/s (in-graph translate, batches of 64) |",
         "| ---: | ---: | ---: | ---: |"]
        + [f"| {r['beam']} | {r['bleu']:.2f} | {r['exact_match']:.3f} | "
           f"{r['sentences_per_second']:.1f} |" for r in rows]
        + ["", mobile_table(mobile_rows, training["mobile_sentences"], training["mobile_beam"]),
           "", beam_table(beam_rows, training["mobile_sentences"]), "",
           "| target | met |", "| --- | --- |"]
        + [f"| {name} | {'yes' if met else '**no**'} |" for name, met in targets.items()])
    benchmark_results.write("translation", report, table)
    print(table)
    print(json.dumps(training.get("examples", []), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
