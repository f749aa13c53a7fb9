"""The Smart Reply model (Kannan et al., "Smart Reply: Automated Response Suggestion for
Email", KDD 2016; Google's Allo post, 2016), as one tf_keras functional model.

- Triggering (paper §3): a feed-forward network on the message's words and length, plus a
  bag-of-words skip path (a TF-IDF logistic regression fitted on the train split), decides
  whether to suggest at all.
- Stage 1 (Allo): an LSTM reads the message and predicts a distribution over the semantic
  clusters of the response set; a bag-of-words skip path (a TF-IDF logistic regression
  fitted on the train split) adds to its logits.
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

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from models.keras2 import keras
from models.smart_reply.text import RESERVED

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


@keras.utils.register_keras_serializable("shipyard")
class TfidfVotes(keras.layers.Layer):
    """A bag-of-words path: a linear classifier over the message's L2-normalised TF-IDF
    vector, as logits [B, clusters] from token ids [B, T] (stage 1's skip path); with one
    output, the single logit of a binary classifier (the trigger's skip path).

    Holds the idf of every token id (fixed; 0 for PAD, OOV and words no training message
    had, which TF-IDF ignores), a [vocab, clusters] weight table and a bias. `fit` sets them
    to a multinomial logistic regression on the train split, solved to convergence: on a
    small corpus that convex fit generalises better than the same weights trained by a few
    hundred Adam steps beside an LSTM that memorises the split.

    With `bigram_buckets`, adjacent pairs of known words are features too (Kannan et al.
    §3 trigger on unigrams and bigrams), hashed into that many extra ids after the
    vocabulary: "how was" or "going to" say what their single words do not.
    """

    def __init__(self, vocab_size: int, num_clusters: int, bigram_buckets: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size, self.num_clusters = vocab_size, num_clusters
        self.bigram_buckets = bigram_buckets

    def build(self, input_shape: Any) -> None:
        features = self.vocab_size + self.bigram_buckets
        self.idf = self.add_weight("idf", [features], initializer="zeros", trainable=False)
        self.votes = self.add_weight("votes", [features, self.num_clusters],
                                     initializer="zeros")
        self.bias = self.add_weight("bias", [self.num_clusters], initializer="zeros")
        super().build(input_shape)

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        ids = with_bigrams(ids, self.vocab_size, self.bigram_buckets, tf)
        weight = tf.gather(self.idf, ids)  # [B, T]: each position adds its word's idf once
        # The vector's norm counts a word n times as (n · idf)², as TF-IDF does: the sum of
        # idf_i · idf_j over the pairs of positions holding the same word.
        same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), weight.dtype)
        norm = tf.sqrt(tf.reduce_sum(same * weight[:, :, None] * weight[:, None, :],
                                     axis=[1, 2]))[:, None]
        weight = weight / tf.maximum(norm, 1e-12)
        return tf.reduce_sum(weight[:, :, None] * tf.gather(self.votes, ids), axis=1) + \
            self.bias

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def fit(self, context_ids: np.ndarray, clusters: np.ndarray, labelled: np.ndarray,
            c: float = 10.0, balanced: bool = False) -> None:
        """Sets idf from all `context_ids` [N, T] (smoothed, as scikit-learn's TF-IDF) and
        the weights to a logistic regression (L2, inverse strength `c`) on the `labelled`
        rows' `clusters`. A cluster no labelled message has gets a bias below every other;
        with fewer than two clusters labelled there is nothing to fit and the path adds a
        constant (zero votes). A one-output layer fits labels 0 / 1 to its logit (all one
        label: a constant ±10). `balanced` weighs each label's rows by the inverse of its
        share, so both labels count equally."""
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        if not self.built:
            self.build(context_ids.shape)
        context_ids = with_bigrams(context_ids, self.vocab_size, self.bigram_buckets, np)
        features = self.vocab_size + self.bigram_buckets
        count = len(context_ids)
        document_frequency = np.zeros([features])
        for row in context_ids:
            document_frequency[np.unique(row[row >= RESERVED])] += 1
        idf = np.where(document_frequency > 0,
                       np.log((1 + count) / (1 + document_frequency)) + 1.0, 0.0)
        votes = np.zeros([features, self.num_clusters], np.float32)
        bias = np.full([self.num_clusters], -10.0, np.float32)
        present = np.unique(clusters[labelled])
        if self.num_clusters == 1 and len(present) < 2:
            bias[:] = 10.0 if present.tolist() == [1] else -10.0
        elif len(present) < 2:
            bias[present] = 0.0
        else:
            rows = np.repeat(np.arange(count), context_ids.shape[1])
            tf_idf = sparse.csr_matrix(
                (idf[context_ids.reshape(-1)], (rows, context_ids.reshape(-1))),
                shape=(count, features))
            norms = np.sqrt(np.asarray(tf_idf.multiply(tf_idf).sum(axis=1))).reshape(-1)
            tf_idf = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ tf_idf
            classifier = LogisticRegression(
                C=c, max_iter=2000, class_weight="balanced" if balanced else None).fit(
                tf_idf[labelled], clusters[labelled])
            coef, intercept = classifier.coef_, classifier.intercept_
            if self.num_clusters == 1:  # the logit of label 1
                self.idf.assign(idf.astype(np.float32))
                self.votes.assign(coef.T.astype(np.float32))
                self.bias.assign(intercept.astype(np.float32))
                return
            if coef.shape[0] == 1:  # two classes: one logit z, softmax([-z, z] / 2)
                coef = np.vstack([-coef, coef]) / 2
                intercept = np.array([-1.0, 1.0]) * intercept / 2
            bias[:] = intercept.min() - 10.0
            votes[:, classifier.classes_] = coef.T
            bias[classifier.classes_] = intercept
        self.idf.assign(idf.astype(np.float32))
        self.votes.assign(votes)
        self.bias.assign(bias)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "num_clusters": self.num_clusters, "bigram_buckets": self.bigram_buckets}


# An odd multiplier: every left word's products differ modulo a power-of-two bucket count.
# ids below 2^31 / 7919 (~271,000 words) keep the product inside int32.
_BIGRAM_MULTIPLIER = 7919


def with_bigrams(ids, vocab_size: int, buckets: int, xp):
    """Token ids [B, T] followed by their adjacent known-word pairs' ids [B, T - 1]: pair
    (a, b) → vocab_size + (a · 7919 + b) mod buckets; 0 (PAD) where either is PAD or OOV.
    `xp`: numpy (the fit) or tf (the layer), computing the same ids. No buckets: `ids`."""
    if not buckets:
        return ids
    left, right = ids[:, :-1], ids[:, 1:]
    known = (left >= RESERVED) & (right >= RESERVED)
    pair = (left * _BIGRAM_MULTIPLIER + right) % buckets + vocab_size
    if xp is np:
        return np.concatenate([ids, np.where(known, pair, 0)], axis=1)
    return tf.concat([ids, tf.where(known, pair, tf.zeros_like(pair))], axis=1)


@keras.utils.register_keras_serializable("shipyard")
class MessageLength(keras.layers.Layer):
    """The share of the read positions a message fills ([B, 1] from token ids [B, T]): what
    tells the triggering network a long message (it fills all T) from a short one, which a
    mean of embeddings cannot."""

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.cast(ids > 0, tf.float32), axis=1, keepdims=True)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None


def token_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """The training loss of the TOKENS output when it already is a per-token loss
    (SampledSoftmax on [states, targets]); Keras then applies the sample weights."""
    return y_pred


def smart_reply(vocab_size: int, num_clusters: int, context_length: int = 24,
                reply_length: int = 17, embedding_dim: int = 64, units: int = 128,
                trigger_units: int = 64, num_users: int = 0, user_dim: int = 16,
                dropout: float = 0.0, sampled_softmax: int = 0,
                reply_vocab_size: int | None = None, bag_of_words: bool = True,
                bigram_buckets: int = 0, name: str = "smart_reply") -> keras.Model:
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
      dropout: on the embedded tokens and on the encoder's output while training (small
        corpora overfit fast).
      sampled_softmax: tokens sampled per step for a sampled softmax of stage 2 (0: full
        softmax). The model then also takes the targets (`reply_out`) and its TOKENS output
        is the per-token loss (train with `token_loss`); serving and the phone are the same.
      reply_vocab_size: stage 2's output ids (the reply vocabulary; targets in those ids);
        default `vocab_size`, a softmax over every token.
      bag_of_words: add bag-of-words skip paths (`TfidfVotes`: linear classifiers on the
        message's TF-IDF vector) to stage 1's cluster logits and to the trigger's logit; the
        Trainer fits them before training and they stay fixed. On a small corpus the LSTM and
        the trigger's embeddings alone overfit the corpus' wording.
      bigram_buckets: hashed word-pair features of those paths (0: words alone).
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

    # Triggering: a bag of words and the message's length through a small feed-forward net
    # (cheap, runs first); trained on messages that got a short reply and messages that
    # did not (knowledge questions, long messages, code).
    bag = keras.layers.GlobalAveragePooling1D(name="trigger_bag")(embedded)
    length = MessageLength(name="trigger_length")(context)
    features = keras.layers.Concatenate(name="trigger_features")([bag, length])
    hidden = keras.layers.Dense(trigger_units, activation="relu",
                                name="trigger_hidden")(features)
    trigger_logit = keras.layers.Dense(1, name="trigger_logit")(hidden)
    if bag_of_words:
        # A TF-IDF logistic regression beside it, fitted and kept fixed like stage 1's: a
        # mean of embeddings trained on a small corpus is confidently silent on everyday
        # wording it never saw; the convex fit on the words it knows is not.
        trigger_logit = keras.layers.Add(name="trigger_bag_skip")(
            [trigger_logit, TfidfVotes(vocab_size, 1, bigram_buckets, trainable=False,
                                       name="trigger_word_votes")(context)])
    trigger = keras.layers.Activation("sigmoid", name=TRIGGER)(trigger_logit)

    # Stage 1: LSTM context encoder → semantic cluster distribution.
    encoded, state_h, state_c = keras.layers.LSTM(units, return_state=True,
                                                  name="context_encoder")(embedded)
    encoded = keras.layers.Dropout(dropout, name="encoder_dropout")(encoded)
    cluster_logits = keras.layers.Dense(num_clusters, name="cluster_logits")(encoded)
    if bag_of_words:
        # Fitted by the Trainer before the LSTM trains (`TfidfVotes.fit`), then kept fixed:
        # the LSTM's logits learn what words alone miss.
        votes = TfidfVotes(vocab_size, num_clusters, bigram_buckets, trainable=False,
                           name="cluster_word_votes")(context)
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
