"""The Smart Reply model (Kannan et al., "Smart Reply: Automated Response Suggestion for
Email", KDD 2016; Google's Allo post, 2016), as one tf_keras functional model.

- Triggering (paper §3): a feed-forward network on the message decides whether to suggest
  at all.
- Stage 1 (Allo): an LSTM reads the message and predicts a distribution over the semantic
  clusters of the response set; a bag-of-words skip path (per-word cluster votes, averaged)
  adds to its logits.
- Stage 2 (Allo, the paper's §4 LSTM): a second LSTM, started from the context encoder's
  state and fed the cluster first, scores a response token by token. A response's score is
  log P(cluster | message) + Σ log P(token | earlier tokens, cluster, message): a two-level
  (class, then words) factorisation, searched with a beam over a trie (models/smart_reply/
  search.py).
- Personalisation (Allo's user style): an optional user id whose embedding shifts the
  cluster logits and the decoder's initial state.

Token ids: 0 PAD, 1 OOV, 2 EOS, then the vocabulary (`vocab_size` ids in all, EOS included);
the decoder's first input for cluster c is id `vocab_size + c`. Stage 2 reads token ids but
emits ids of the smaller reply vocabulary (`reply_vocab_size`: PAD, OOV, EOS and the response
set's words; `search.reply_vocabulary`), as it only ever scores responses of the set.
"""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tf_keras as keras

TRIGGER, CLUSTER, TOKENS = "trigger", "cluster", "tokens"
StepFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


@keras.utils.register_keras_serializable("shipyard")
class Unmasked(keras.layers.Layer):
    """Passes its input through without its Keras mask.

    The response LSTM needs no mask (steps after EOS carry zero loss weight and cannot change
    earlier steps), and a mask on the token logits makes Keras normalise the loss by the
    unmasked count, which is 0/0 = NaN for a batch in which no reply has a cluster.
    """

    def call(self, inputs):
        # A new tensor: Keras keeps a mask already attached to the tensor it gets back.
        return tf.identity(inputs)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.utils.register_keras_serializable("shipyard")
class SampledSoftmax(keras.layers.Dense):
    """Stage 2's token softmax layer with a sampled softmax for large vocabularies (Jean et
    al. 2015, as TensorFlow's `tf.nn.sampled_softmax_loss`; Allo's large-vocabulary answer is
    a hierarchical softmax, which the cluster → tokens factorisation already is at the top).

    Called on decoder states alone it is a plain Dense layer (logits over the vocabulary: the
    decoder step of serving and the phone). Called on [states, target ids] it returns the
    per-token cross-entropy: in training estimated from `num_sampled` tokens drawn from a
    log-uniform (Zipf) distribution, which fits ids in order of frequency as Transform
    assigns them; otherwise exact, so that evaluation losses stay comparable.
    """

    def __init__(self, units: int, num_sampled: int = 64, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.num_sampled = num_sampled
        self.input_spec = None  # Dense's spec allows one input; this layer also takes two

    def build(self, input_shape: Any) -> None:
        super().build(input_shape[0] if isinstance(input_shape, list) else input_shape)
        self.input_spec = None

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        if not isinstance(inputs, (list, tuple)):
            return super().call(inputs)
        states, targets = inputs
        if not training:
            return tf.nn.sparse_softmax_cross_entropy_with_logits(targets, super().call(states))
        units = tf.shape(states)[-1]
        flat = tf.reshape(states, [-1, units])
        labels = tf.reshape(tf.cast(targets, tf.int64), [-1, 1])
        loss = tf.nn.sampled_softmax_loss(
            tf.transpose(self.kernel), self.bias, labels, flat,
            num_sampled=min(self.num_sampled, self.units - 1), num_classes=self.units)
        return tf.reshape(loss, tf.shape(targets))

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_sampled": self.num_sampled}


def token_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """The training loss of the TOKENS output when it already is a per-token loss
    (SampledSoftmax on [states, targets]); Keras then applies the sample weights."""
    return y_pred


def smart_reply(vocab_size: int, num_clusters: int, context_length: int = 24,
                reply_length: int = 17, embedding_dim: int = 64, units: int = 128,
                trigger_units: int = 64, num_users: int = 0, user_dim: int = 16,
                dropout: float = 0.0, sampled_softmax: int = 0,
                reply_vocab_size: int | None = None, bag_of_words: bool = True,
                name: str = "smart_reply") -> keras.Model:
    """Builds the training graph: context ids (+ user id) and the teacher-forced decoder
    input [GO_cluster, w1 … wn, PAD …] → trigger probability, cluster logits, token logits.

    Args:
      vocab_size: token ids the decoder can emit (PAD, OOV, EOS and the vocabulary).
      num_clusters: semantic clusters of the response set.
      context_length: message tokens read (the last ones).
      reply_length: decoder steps (response tokens + EOS).
      embedding_dim, units: token embedding and LSTM sizes.
      trigger_units: hidden units of the feed-forward triggering network.
      num_users: known users (0: no personalisation input); id 0 is "unknown user".
      dropout: on the embedded tokens while training (small corpora overfit fast).
      sampled_softmax: tokens sampled per step for a sampled softmax of stage 2 (0: full
        softmax). The model then also takes the targets (`reply_out`) and its TOKENS output
        is the per-token loss (train with `token_loss`); serving and the phone are the same.
      reply_vocab_size: stage 2's output ids (the reply vocabulary; targets in those ids);
        default `vocab_size`, a softmax over every token.
      bag_of_words: add a bag-of-words skip path to stage 1: every word votes for each
        cluster (a learned [vocab, clusters] table), averaged over the message and added to
        the LSTM's cluster logits (a linear classifier on word counts beside the sequence
        model: on a small corpus the LSTM alone overfits the word order).
    """
    reply_vocab_size = reply_vocab_size or vocab_size
    context = keras.Input([context_length], dtype="int32", name="context_ids")
    reply_in = keras.Input([reply_length], dtype="int32", name="reply_in")
    inputs = [context, reply_in]
    # Words and cluster "GO" tokens share one table: the decoder's first input says which
    # semantic class it is writing in.
    embedding = keras.layers.Embedding(vocab_size + num_clusters, embedding_dim, mask_zero=True,
                                       name="token_embedding")
    drop = keras.layers.Dropout(dropout, name="embedding_dropout")
    embedded = drop(embedding(context))

    # Triggering: a bag of words through a small feed-forward net (cheap, runs first).
    bag = keras.layers.GlobalAveragePooling1D(name="trigger_bag")(embedded)
    hidden = keras.layers.Dense(trigger_units, activation="relu", name="trigger_hidden")(bag)
    trigger = keras.layers.Dense(1, activation="sigmoid", name=TRIGGER)(hidden)

    # Stage 1: LSTM context encoder → semantic cluster distribution.
    encoded, state_h, state_c = keras.layers.LSTM(units, return_state=True,
                                                  name="context_encoder")(embedded)
    cluster_logits = keras.layers.Dense(num_clusters, name="cluster_logits")(encoded)
    if bag_of_words:
        votes = keras.layers.Embedding(vocab_size, num_clusters, mask_zero=True,
                                       name="cluster_word_votes")(context)
        votes = keras.layers.GlobalAveragePooling1D(name="cluster_bag")(drop(votes))
        cluster_logits = keras.layers.Add(name="cluster_bag_skip")([cluster_logits, votes])
    if num_users:
        user = keras.Input([], dtype="int32", name="user_id")
        inputs.append(user)
        user_vector = keras.layers.Embedding(num_users + 1, user_dim,
                                             name="user_embedding")(user)
        cluster_logits = keras.layers.Add(name="user_cluster_shift")(
            [cluster_logits, keras.layers.Dense(num_clusters, use_bias=False,
                                                name="user_cluster_bias")(user_vector)])
        state_h = keras.layers.Add(name="user_state_shift")(
            [state_h, keras.layers.Dense(units, use_bias=False, name="user_state")(user_vector)])
    cluster_logits = keras.layers.Activation("linear", name=CLUSTER)(cluster_logits)
    state_h = keras.layers.Activation("linear", name="initial_h")(state_h)
    state_c = keras.layers.Activation("linear", name="initial_c")(state_c)

    # Stage 2: the response LSTM, conditioned on the message through its initial state.
    decoded, _, _ = keras.layers.LSTM(units, return_sequences=True, return_state=True,
                                      name="response_decoder")(
        Unmasked(name="unmasked_reply")(drop(embedding(reply_in))),
        initial_state=[state_h, state_c])
    if sampled_softmax:
        reply_out = keras.Input([reply_length], dtype="int32", name="reply_out")
        inputs.insert(2, reply_out)
        token_logits = SampledSoftmax(reply_vocab_size, sampled_softmax,
                                      name="token_logits")([decoded, reply_out])
    else:
        token_logits = keras.layers.Dense(reply_vocab_size, name="token_logits")(decoded)
    token_logits = keras.layers.Activation("linear", name=TOKENS)(token_logits)
    return keras.Model(inputs, {TRIGGER: trigger, CLUSTER: cluster_logits, TOKENS: token_logits},
                       name=name)


def encoder(model: keras.Model) -> keras.Model:
    """The first half of inference, sharing the trained layers: message ids (+ user id) →
    trigger probability [B], cluster log-probabilities [B, C] and the decoder's initial
    state (h, c)."""
    inputs = [model.get_layer("context_ids").output]
    names = [layer.name for layer in model.layers]
    if "user_id" in names:
        inputs.append(model.get_layer("user_id").output)
    state_h = model.get_layer("initial_h").output
    state_c = model.get_layer("initial_c").output
    trigger = tf.reshape(model.get_layer(TRIGGER).output, [-1])
    cluster_logp = tf.nn.log_softmax(model.get_layer(CLUSTER).output)
    return keras.Model(inputs, [trigger, cluster_logp, state_h, state_c], name="encoder")


def lstm_step(x: tf.Tensor, state_h: tf.Tensor, state_c: tf.Tensor, kernel: tf.Tensor,
              recurrent_kernel: tf.Tensor, bias: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One step of a Keras LSTM (gates i, f, c, o; sigmoid gates, tanh cell), written out:
    a one-step Keras LSTM layer inside a loop runs its own inner loop, masking and backend
    selection on every call, and does not fuse into TFLite's LSTM kernel; these few ops are
    what both compute."""
    z = tf.matmul(x, kernel) + tf.matmul(state_h, recurrent_kernel) + bias
    i, f, g, o = tf.split(z, 4, axis=1)
    state_c = tf.sigmoid(f) * state_c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(state_c), state_c


def decoder_step(model: keras.Model) -> StepFn:
    """One step of stage 2 on the trained layers' weights: (token ids [B], h, c) →
    (log-probabilities of the next reply-vocabulary token [B, R], h', c'). What the beam
    search runs at every trie level, in serving and (as the same ops) on the phone."""
    embedding = model.get_layer("token_embedding").embeddings
    cell = model.get_layer("response_decoder").cell
    output = model.get_layer("token_logits")

    def step(token: tf.Tensor, state_h: tf.Tensor,
             state_c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        state_h, state_c = lstm_step(tf.gather(embedding, token), state_h, state_c,
                                     cell.kernel, cell.recurrent_kernel, cell.bias)
        logits = tf.matmul(state_h, output.kernel) + output.bias
        return tf.nn.log_softmax(logits), state_h, state_c
    return step
