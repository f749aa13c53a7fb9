"""The Smart Reply tests' tiny model: trained through the Trainer's code path and exported
(serving SavedModel, Keras model, on-device model, response set), with the splits it saw
written as ExampleGen writes them. conftest.py shares one as a session fixture."""
import os
import types

# Wide enough (160) that the beam reaches every response of the set (the 96 seed replies
# and a few more): the export test compares the served suggestions with brute-force scoring
# of the whole set.
CONFIG = dict(context_tokens=12, max_reply_tokens=6, embedding_dim=16, units=16, dropout=0.0,
              max_responses=120, min_count=2, min_similarity=0.5, beam_width=160,
              length_bias=0.2, rank_by="cluster", suggestions=3, trigger_threshold=0.5,
              fallback_confidence=0.0, sensitive_guard=True, max_message_chars=200,
              batch_size=16, learning_rate=0.003,
              epochs=1, bigram_buckets=512)
HELD_OUT = 80


def train_tiny(root, users: list[str] | None = None, held_out_size: int = HELD_OUT,
               train_steps: int = 20) -> types.SimpleNamespace:
    """`train_steps` Trainer steps on 300 bundled training pairs (every 8th pair);
    `held_out_size` held-out pairs. With `users`, training pair i is user
    users[i % len(users)] and held-out pair i user u{i % (len(users) + 1)}, one more than
    trained (an unknown user). Fields: model (the trained Keras model), words (vocabulary),
    model_uri, serving (SavedModel dir), examples (ExampleGen-like URI with Split-train /
    Split-eval), root, train, held_out, config."""
    import tensorflow as tf

    from models.smart_reply import text, trainer
    from pipelines.smart_reply import data as reply_data

    pairs = reply_data.bundled_pairs()[::8]
    train = [p for p in pairs if not reply_data.is_eval(p)][:300]
    held_out = [p for p in pairs if reply_data.is_eval(p)][:held_out_size]
    if users:
        train = [dict(p, user=users[i % len(users)]) for i, p in enumerate(train)]
        held_out = [dict(p, user=f"u{i % (len(users) + 1)}") for i, p in enumerate(held_out)]
    words = sorted({t for row in text.tokens([p["context"] for p in train] +
                                             [p["reply"] for p in train]) for t in row})
    model_uri = str(root / "model")
    serving = os.path.join(model_uri, "Format-Serving")
    model = trainer.train_and_export(train, held_out, words, users or [], CONFIG, model_uri,
                                     serving, train_steps=train_steps, eval_steps=2,
                                     log_dir=str(root / "logs"))
    examples = root / "examples"
    for split, rows in (("train", train), ("eval", held_out)):
        os.makedirs(examples / f"Split-{split}")
        with tf.io.TFRecordWriter(str(examples / f"Split-{split}" / "data.gz"),
                                  options="GZIP") as writer:
            for pair in rows:
                writer.write(reply_data.example_bytes(pair))
    return types.SimpleNamespace(model=model, words=words, model_uri=model_uri,
                                 serving=serving, examples=str(examples), root=root,
                                 train=train, held_out=held_out, config=CONFIG)
