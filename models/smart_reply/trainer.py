"""TFX Trainer module of Smart Reply.

The response set is built here, from the Trainer's own train split, and exported with the
model (an asset of the SavedModel and `<model_uri>/Format-ResponseSet/response_set.json`):
the model's output layer (its clusters) and the trie it searches are defined by that set, so
building both in one step is what keeps them from drifting apart; the Trainer's `model`
artifact then carries the set to the Evaluator, the server and the mobile bundle through ML
Metadata like any other part of the model.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import tensorflow as tf

from models import input_pipeline
from models.artifacts import KERAS_DIR, MOBILE_DIR, RESPONSE_SET_DIR
from models.keras2 import keras
from models.smart_reply import calibration, device, intents, labels, text
from models.smart_reply import export as export_lib
from models.smart_reply import model as model_lib
from models.smart_reply import response_set as response_set_lib
from models.training import (
    backup_dir_for,
    build_optimizer,
    chief_writes,
    compile_options,
    distribution_strategy,
    fit_steps,
)

EVAL_BATCHES_MAX = 50
# Inverse L2 strength of stage 1's bag-of-words logistic regression. Stronger than the
# trigger's (10): spread over more of a message's words, the intent ranking holds up better
# when some are unknown (on the held-out split with 30 % of words turned unknown, top-3
# acceptable intents 0.77-0.78 against 0.75-0.77 at 10, level on the clean split).
CLUSTER_VOTES_C = 3.0


def read_pairs(files: list[str] | str) -> list[dict[str, str]]:
    """The string features (context, reply[, user][, negative]) of GZIP'd or plain
    tf.Example TFRecords."""
    if isinstance(files, str):
        files = [files]
    files = sorted(path for pattern in files for path in tf.io.gfile.glob(pattern))
    pairs = []
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            pairs.append({key: feature[key].bytes_list.value[0].decode("utf-8")
                          for key in ("context", "reply", "user", intents.NEGATIVE)
                          if key in feature and feature[key].bytes_list.value})
    return pairs


def training_arrays(pairs: list[dict[str, str]], response_set: response_set_lib.ResponseSet,
                    vocabulary: list[str], users: list[str], config: dict[str, Any],
                    held_in: bool = False):
    """(inputs, targets, sample weights) of teacher-forced training. Trigger labels come
    from the response set (the real reply was short and close to it; leave-one-out on the
    split the set was built from, `held_in`); stages 1 and 2 learn from the messages whose
    reply has a cluster, stage 2 on the real reply's tokens. With explicit negative examples
    among `pairs` (intents.NEGATIVE), the trigger learns from them and the close replies only
    (`labels.trigger_weights`)."""
    replies = text.tokens([p["reply"] for p in pairs])
    trigger, trigger_weight, clusters = labels.trigger_targets(pairs, response_set, held_in)
    table = text.lookup_table(vocabulary)
    context_ids = text.to_ids(table, tf.constant([p["context"] for p in pairs]),
                              config["context_tokens"]).numpy()
    vocab_size = text.RESERVED + len(vocabulary)
    steps = config["max_reply_tokens"] + 1
    reply_in = np.zeros([len(pairs), steps], np.int32)
    targets = np.zeros([len(pairs), steps], np.int32)
    index = {token: text.RESERVED + i for i, token in enumerate(vocabulary)}
    # Targets in stage 2's output ids: a word outside the response set is OOV there.
    output_ids = export_lib.reply_vocabulary(response_set, vocabulary)
    for row, (tokens, cluster) in enumerate(zip(replies, clusters, strict=True)):
        if cluster >= 0:
            ids = [index.get(t, text.OOV) for t in tokens]
            reply_in[row, :len(ids) + 1] = [vocab_size + cluster] + ids
            targets[row, :len(ids) + 1] = output_ids[ids + [text.EOS]]
    inputs = {"context_ids": context_ids, "reply_in": reply_in}
    if config.get("sampled_softmax"):
        inputs["reply_out"] = targets
    if users:
        user_index = {u: i + 1 for i, u in enumerate(users)}
        inputs["user_id"] = np.array([user_index.get(p.get("user", ""), 0) for p in pairs],
                                     np.int32)
    positive = (clusters >= 0).astype(np.float32)
    y = {model_lib.TRIGGER: trigger.astype(np.float32)[:, None],
         model_lib.CLUSTER: np.maximum(clusters, 0), model_lib.TOKENS: targets}
    weights = {model_lib.TRIGGER: trigger_weight,
               model_lib.CLUSTER: positive,
               model_lib.TOKENS: positive[:, None] * (targets != text.PAD)}
    return inputs, y, weights


def build_response_set(pairs: list[dict[str, str]],
                       config: dict[str, Any]) -> response_set_lib.ResponseSet:
    """The response set of training pairs, seeded with Shipyard's intents."""
    seed = intents.seed_pairs()
    seed_tokens = text.tokens([reply for reply, _ in seed])
    return response_set_lib.build(
        text.tokens([p["context"] for p in pairs]), text.tokens([p["reply"] for p in pairs]),
        [p["reply"] for p in pairs],
        [(tokens, reply, intent) for tokens, (reply, intent) in zip(seed_tokens, seed,
                                                                     strict=True)],
        list(intents.INTENTS), max_responses=config["max_responses"],
        max_tokens=config["max_reply_tokens"], min_count=config["min_count"],
        min_similarity=config["min_similarity"])


def build_model(config: dict[str, Any], vocab_size: int, num_clusters: int,
                num_users: int, reply_vocab_size: int | None = None,
                train_steps: int = 1) -> keras.Model:
    model = model_lib.smart_reply(
        vocab_size, num_clusters, context_length=config["context_tokens"],
        reply_length=config["max_reply_tokens"] + 1, embedding_dim=config["embedding_dim"],
        units=config["units"], num_users=num_users, dropout=config.get("dropout", 0.0),
        sampled_softmax=config.get("sampled_softmax", 0), reply_vocab_size=reply_vocab_size,
        bigram_buckets=config.get("bigram_buckets", 0))
    tokens_loss = (model_lib.token_loss if config.get("sampled_softmax")
                   else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(
        # Clipped, as LSTMs are trained (GNMT clips at 5): a rare large step otherwise
        # diverges to NaN at the learning rates short runs need.
        optimizer=build_optimizer(config, train_steps, clipnorm=5.0),
        loss={model_lib.TRIGGER: keras.losses.BinaryCrossentropy(),
              model_lib.CLUSTER: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              model_lib.TOKENS: tokens_loss},
        weighted_metrics={model_lib.TRIGGER: [keras.metrics.BinaryAccuracy(name="accuracy")],
                          model_lib.CLUSTER: [keras.metrics.SparseCategoricalAccuracy(
                              name="accuracy")]},
        **compile_options(config))
    return model


def _dataset(arrays, batch_size: int, shuffle: bool, seed: int,
             budget_mb: float | None = None, word_dropout: float = 0.0) -> tf.data.Dataset:
    """Batches of in-memory arrays (the response set needs every pair at hand), cached and
    shuffled by the shared input plan (models/input_pipeline.py); training batches drop
    words (`word_dropout`) anew each pass."""
    flat = tf.nest.flatten(arrays)
    plan = input_pipeline.InputPlan(len(flat[0]), sum(a.nbytes for a in flat),
                                    input_pipeline.cache_budget_bytes(budget_mb))
    dataset = input_pipeline.cached_or_streamed(
        tf.data.Dataset.from_tensor_slices(arrays), plan, shuffle, seed)
    if word_dropout:
        dataset = dataset.map(lambda x, y, w: (_drop_words(x, word_dropout, seed), y, w))
    return dataset.batch(batch_size).repeat().prefetch(tf.data.AUTOTUNE)


def _drop_words(x: dict, rate: float, seed: int) -> dict:
    """Word dropout (Iyyer et al. 2015): each message word becomes OOV with probability
    `rate`. Real messages are full of words the vocabulary lacks; without it the only OOV
    tokens the trigger sees in training are the rare names and facts of the knowledge
    questions, and it learns "an unknown word: stay silent"."""
    ids = x["context_ids"]
    drop = (tf.random.uniform(tf.shape(ids), seed=seed) < rate) & (ids >= text.RESERVED)
    return dict(x, context_ids=tf.where(drop, tf.cast(text.OOV, ids.dtype), ids))


def train_and_export(train: list[dict[str, str]], evaluation: list[dict[str, str]],
                     vocabulary: list[str], users: list[str], config: dict[str, Any],
                     model_uri: str, serving_dir: str, train_steps: int, eval_steps: int,
                     log_dir: str, backup_dir: str | None = None) -> keras.Model:
    """Builds the response set from `train`, trains, and exports everything under
    `model_uri` (serving SavedModel at `serving_dir`, Keras model, response set); in a
    multi-worker cluster only the chief writes there."""
    strategy = distribution_strategy(config.get("strategy", "one_device"), config.get("tpu"))
    with chief_writes(model_uri, strategy) as target:
        return _train_and_export(
            train, evaluation, vocabulary, users, config, target,
            os.path.join(target, os.path.relpath(serving_dir, model_uri)), train_steps,
            eval_steps, log_dir, backup_dir, strategy)


def _train_and_export(train: list[dict[str, str]], evaluation: list[dict[str, str]],
                      vocabulary: list[str], users: list[str], config: dict[str, Any],
                      model_uri: str, serving_dir: str, train_steps: int, eval_steps: int,
                      log_dir: str, backup_dir: str | None,
                      strategy: tf.distribute.Strategy) -> keras.Model:
    keras.utils.set_random_seed(config.get("seed", 0))
    responses = build_response_set(train, config)
    set_dir = os.path.join(model_uri, RESPONSE_SET_DIR)
    tf.io.gfile.makedirs(set_dir)
    set_path = response_set_lib.save_path(set_dir)
    responses.save(set_path)

    x, y, w = training_arrays(train, responses, vocabulary, users, config, held_in=True)
    eval_arrays = training_arrays(evaluation, responses, vocabulary, users, config)
    print(f"    response set: {len(responses.texts)} replies in {responses.num_clusters} "
          f"clusters; {int(y[model_lib.TRIGGER].sum())}/{len(train)} training messages "
          f"trigger", flush=True)
    with strategy.scope():
        reply_vocab_size = int(export_lib.reply_vocabulary(responses, vocabulary).max()) + 1
        model = build_model(config, text.RESERVED + len(vocabulary), responses.num_clusters,
                            len(users), reply_vocab_size, train_steps)
    print(f"    {model.name}: {model.count_params():,} parameters, vocabulary "
          f"{len(vocabulary) + text.RESERVED} (replies {reply_vocab_size}), {train_steps} "
          f"steps of batch "
          f"{config['batch_size']}", flush=True)
    names = [layer.name for layer in model.layers]
    if "cluster_word_votes" in names:
        model.get_layer("cluster_word_votes").fit(
            x["context_ids"], y[model_lib.CLUSTER], w[model_lib.CLUSTER] > 0, c=CLUSTER_VOTES_C)
        # With explicit negatives, both labels weigh the same, as in the trigger's loss
        # (`labels.trigger_weights`).
        model.get_layer("trigger_word_votes").fit(
            x["context_ids"], y[model_lib.TRIGGER][:, 0].astype(np.int64),
            w[model_lib.TRIGGER] > 0,
            balanced=any(p.get(intents.NEGATIVE) == "1" for p in train))
    started = time.monotonic()
    budget_mb = config.get("input_cache_mb")
    fit_steps(model, _dataset((x, y, w), config["batch_size"], True, config.get("seed", 0),
                              budget_mb, config.get("word_dropout", 0.0)),
              _dataset(eval_arrays, config["batch_size"], False, 0, budget_mb), train_steps,
              min(eval_steps, EVAL_BATCHES_MAX), log_dir=log_dir, backup_dir=backup_dir,
              epochs=config.get("epochs", 4), config=config)
    if len(evaluation):
        held_x, held_y, held_w = eval_arrays
        clusters = np.where(held_w[model_lib.CLUSTER] > 0, held_y[model_lib.CLUSTER], -1)
        known = held_w[model_lib.TRIGGER] > 0
        config = calibration.calibrate(model, held_x["context_ids"][known],
                                       held_y[model_lib.TRIGGER][known, 0], clusters[known],
                                       config)
        print(f"    on the held-out split: stage 1 network weight "
              f"{config.get('cluster_net_weight', 1.0):g}, trigger network weight "
              f"{config.get('trigger_net_weight', 1.0):g}, trigger threshold "
              f"{config['trigger_threshold']:.3f}", flush=True)

    # The bare Keras model (token ids in) for the mobile path, beside the SavedModel.
    keras_dir = os.path.join(model_uri, KERAS_DIR)
    tf.io.gfile.makedirs(keras_dir)
    model.save(os.path.join(keras_dir, "model.keras"))
    # What the phone runs (token ids in) and the host's files, for the mobile components.
    device.save(model, vocabulary, users, responses, config, os.path.join(model_uri, MOBILE_DIR))
    trained = time.monotonic()
    export_lib.export(model, vocabulary, users, responses, config, serving_dir, set_path)
    print(f"    trained in {trained - started:.1f} s, exported in "
          f"{time.monotonic() - trained:.1f} s", flush=True)
    return model


def _vocabulary(tft_output, name: str) -> list[str]:
    try:
        values = tft_output.vocabulary_by_name(name)
    except (ValueError, tf.errors.NotFoundError):
        return []
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def run_fn(fn_args: Any) -> None:
    """Trains Smart Reply on the Transform output and exports the serving SavedModel."""
    import tensorflow_transform as tft

    from models.smart_reply.preprocessing import TOKEN_VOCABULARY, USER_VOCABULARY

    config = fn_args.custom_config
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    train, evaluation = read_pairs(fn_args.train_files), read_pairs(fn_args.eval_files)
    train_and_export(
        train, evaluation, _vocabulary(tft_output, TOKEN_VOCABULARY),
        _vocabulary(tft_output, USER_VOCABULARY), config,
        os.path.dirname(fn_args.serving_model_dir), fn_args.serving_model_dir,
        fn_args.train_steps, fn_args.eval_steps, log_dir=fn_args.model_run_dir,
        backup_dir=config.get("backup_dir") and backup_dir_for(
            config["backup_dir"], config, fn_args.train_steps, fn_args.train_files))
