"""The response set: the replies Smart Reply may suggest, grouped into semantic intents.

Kannan et al. (KDD 2016, §5): suggestions come from a fixed set of normalised, short,
generic and frequent replies, grouped into semantic intents by label propagation seeded with
a few labelled replies per intent, so that the three shown never say the same thing. The
seed is Shipyard's own (models/smart_reply/intents.py); a reply joins the set only when
propagation reaches it from a seed, so every response has an intent and facts, names,
numbers and code never enter. The intents are the clusters the model ranks.

Triggering labels come from the data: a message gets suggestions when its real reply was
short and close to the response set (cosine of the reply's word and trigram TF-IDF vector to
its nearest response at least `min_similarity`); the true reply's intent is that response's.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import re
from typing import Any

import numpy as np

# Shown when the model is unsure what to say (Inbox shows nothing instead when the
# triggering model says no; these are for a yes from the trigger with a flat distribution).
FALLBACK = ("Ok", "Thanks!", "Sounds good", "Sure", "No problem", "Yes")
FORMAT_VERSION = 2


@dataclasses.dataclass
class ResponseSet:
    texts: list[str]  # what is shown
    tokens: list[list[str]]  # what the model scores (the shared tokenizer's output)
    clusters: list[int]  # index into `intents`
    counts: list[int]
    num_clusters: int
    idf: dict[str, float]
    max_tokens: int
    min_similarity: float
    intents: list[str]
    fallback: list[str] = dataclasses.field(default_factory=lambda: list(FALLBACK))

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "num_clusters": self.num_clusters,
                "max_tokens": self.max_tokens, "min_similarity": self.min_similarity,
                "fallback": self.fallback, "intents": self.intents,
                "responses": [{"text": t, "tokens": k, "cluster": c, "count": n}
                              for t, k, c, n in zip(self.texts, self.tokens, self.clusters,
                                                    self.counts, strict=True)],
                "idf": self.idf}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResponseSet:
        responses = data["responses"]
        return cls(texts=[r["text"] for r in responses], tokens=[r["tokens"] for r in responses],
                   clusters=[r["cluster"] for r in responses],
                   counts=[r["count"] for r in responses], num_clusters=data["num_clusters"],
                   idf=data["idf"], max_tokens=data["max_tokens"],
                   min_similarity=data["min_similarity"], intents=data["intents"],
                   fallback=data["fallback"])

    def save(self, path: str) -> None:
        """Writes the JSON atomically."""
        import tensorflow as tf

        partial = f"{path}.partial"
        with tf.io.gfile.GFile(partial, "w") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1, sort_keys=True)
        tf.io.gfile.rename(partial, path, overwrite=True)

    @classmethod
    def load(cls, path: str) -> ResponseSet:
        import tensorflow as tf

        with tf.io.gfile.GFile(path) as f:
            return cls.from_json(json.load(f))

    def cluster_members(self, cluster: int) -> list[str]:
        return [t for t, c in zip(self.texts, self.clusters, strict=True) if c == cluster]

    def nearest(self, replies: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """For tokenized replies: the index of the most similar response and the cosine."""
        response_vectors = _tfidf(self.tokens, self.idf)
        reply_vectors = _tfidf(replies, self.idf)
        similarity = reply_vectors @ response_vectors.T
        best = similarity.argmax(axis=1)
        return best, similarity[np.arange(len(replies)), best]

    def labels(self, replies: list[list[str]],
               leave_one_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Trigger labels (1: the real reply was short and close to the set) and the true
        reply's cluster (-1 when it is not close to any response).

        With `leave_one_out` (the training split, which the set was built from), a response
        seen once does not count as close to itself for the trigger label: otherwise every
        short training reply would trigger, while held-out replies trigger only when someone
        else said something like them, and the triggering model would learn "short".
        """
        if not replies:
            return np.zeros([0], np.int64), np.zeros([0], np.int64)
        response_vectors = _tfidf(self.tokens, self.idf)
        similarity = _tfidf(replies, self.idf) @ response_vectors.T
        best = similarity.argmax(axis=1)
        rows = np.arange(len(replies))
        short = np.array([len(r) <= self.max_tokens for r in replies])
        close = short & (similarity[rows, best] >= self.min_similarity)
        clusters = np.where(close, np.asarray(self.clusters)[best], -1)
        if leave_one_out:
            index = {tuple(t): i for i, t in enumerate(self.tokens)}
            for row, reply in enumerate(replies):
                own = index.get(tuple(reply))
                if own is not None and self.counts[own] <= 1:
                    similarity[row, own] = -1.0
            close = short & (similarity.max(axis=1) >= self.min_similarity)
        return close.astype(np.int64), clusters.astype(np.int64)


def _features(tokens: list[str]) -> list[str]:
    """Words and the character trigrams of the whole reply (spelling variants stay close)."""
    text = f" {' '.join(tokens)} "
    return [f"w:{t}" for t in tokens] + [f"c:{text[i:i + 3]}" for i in range(len(text) - 2)]


def _idf(documents: list[list[str]]) -> dict[str, float]:
    frequency = collections.Counter(f for d in documents for f in set(_features(d)))
    return {f: math.log((1 + len(documents)) / (1 + n)) + 1.0
            for f, n in sorted(frequency.items())}


def _tfidf(documents: list[list[str]], idf: dict[str, float]) -> np.ndarray:
    """L2-normalised TF-IDF rows over the features `idf` knows. A feature it does not know
    counts in the norm as the rarest known one (it is rarer still), so that a reply made
    mostly of unknown words ("Theodore Roosevelt.") is not close to a response it shares
    only a full stop with."""
    index = {f: i for i, f in enumerate(idf)}
    weights = np.array(list(idf.values()), np.float32)
    rarest = float(weights.max()) if len(weights) else 1.0
    matrix = np.zeros([len(documents), len(index)], np.float32)
    unknown = np.zeros([len(documents), 1], np.float32)
    for row, document in enumerate(documents):
        missing: collections.Counter = collections.Counter()
        for feature in _features(document):
            column = index.get(feature)
            if column is not None:
                matrix[row, column] += weights[column]
            else:
                missing[feature] += 1
        unknown[row] = rarest ** 2 * sum(n * n for n in missing.values())
    norms = np.sqrt(np.sum(matrix ** 2, axis=1, keepdims=True) + unknown)
    return matrix / np.maximum(norms, 1e-12)


def _key(tokens: list[str]) -> tuple[str, ...]:
    return tuple(tokens)


# A generic reply has no digits, no code and no proper names: "I" is the only capital allowed
# after its first word (a capitalised word further on is a name: "Theodore Roosevelt").
_NOT_GENERIC = re.compile(r"[0-9{}()\[\]<>=;_#@$%^&*/\\|`~]|\s(?!I\b|I['’])[A-Z]")


def is_generic(text: str) -> bool:
    """Whether a reply could be anyone's answer to many messages (Kannan et al. §5's
    generic responses): no number, name or code in it."""
    return not _NOT_GENERIC.search(" ".join(text.split()))


def propagate(similarity: np.ndarray, seeds: np.ndarray, num_labels: int,
              alpha: float = 0.6, iterations: int = 30) -> np.ndarray:
    """Label propagation (Zhu & Ghahramani 2002; Kannan et al. §5 seed their semantic
    intents so): node scores [N, labels] over a similarity graph [N, N] (0: no edge) whose
    `seeds` [N] (-1: unlabelled) stay clamped to their label. Each step a node takes `alpha`
    times the weighted mean of its neighbours' scores, so a label's score falls by `alpha`
    per hop from its seeds and a node no seed reaches keeps 0: the caller can drop what no
    intent reaches (scikit-learn's LabelSpreading normalises every row, so an isolated node
    would get a confident label)."""
    weights = np.array(similarity, np.float64)
    np.fill_diagonal(weights, 0.0)
    degree = weights.sum(axis=1, keepdims=True)
    transition = np.divide(weights, degree, out=np.zeros_like(weights), where=degree > 0)
    clamped = np.zeros([len(seeds), num_labels])
    labelled = seeds >= 0
    clamped[np.flatnonzero(labelled), seeds[labelled]] = 1.0
    scores = clamped.copy()
    for _ in range(iterations):
        scores = np.where(labelled[:, None], clamped, alpha * (transition @ scores))
    return scores


def build(contexts: list[list[str]], replies: list[list[str]], reply_texts: list[str],
          seeds: list[tuple[list[str], str, int]], intents: list[str], max_responses: int,
          max_tokens: int, min_count: int = 1, min_similarity: float = 0.5,
          min_edge: float = 0.35, min_score: float = 0.3, alpha: float = 0.6) -> ResponseSet:
    """The response set of tokenized training pairs, its clusters the seeded intents.

    Candidates (Kannan et al. §5): replies normalised to their token sequence (case and
    spacing vanish), generic (`is_generic`), of at most `max_tokens` tokens, seen at least
    `min_count` times. Each node (the `seeds`' canonical replies (tokens, text, intent
    index) and the candidates) is embedded by its words and character trigrams (how it is
    said) and by the centroid of the messages it answers (what it is used for); nodes whose
    cosine is at least `min_edge` are linked, and labels propagate from the seeds
    (`propagate`). A candidate joins the intent of its best score when that score is at
    least `min_score` (with `alpha` 0.6: at most two hops from a seed), else it is dropped:
    facts, names and numbers reach no intent. The most frequent `max_responses` are kept
    (seeds always; ties: shorter first, then alphabetical, so the set is deterministic);
    the text shown is the reply's most frequent spelling (a seed's own).
    """
    counts: collections.Counter = collections.Counter()
    spellings: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
    answered: dict[tuple, list[list[str]]] = collections.defaultdict(list)
    for context, reply, text in zip(contexts, replies, reply_texts, strict=True):
        key = _key(reply)
        if not key or len(key) > max_tokens or not is_generic(text):
            continue
        counts[key] += 1
        spellings[key][" ".join(text.split())] += 1
        answered[key].append(context)
    seed_label: dict[tuple, int] = {}
    seed_text: dict[tuple, str] = {}
    for tokens, text, intent in seeds:
        seed_label.setdefault(_key(tokens), intent)
        seed_text.setdefault(_key(tokens), text)
    candidates = sorted((k for k, n in counts.items() if n >= min_count and k not in seed_label),
                        key=lambda k: (-counts[k], len(k), k))
    keys = list(seed_label) + candidates
    token_lists = [list(k) for k in keys]
    own = _tfidf(token_lists, _idf(token_lists))
    parts = [own]
    if answered:
        context_idf = _idf([c for k in keys for c in answered.get(k, [])])
        use = np.stack([_tfidf(answered[k], context_idf).mean(axis=0) if answered.get(k)
                        else np.zeros(len(context_idf), np.float32) for k in keys])
        parts.append(use / np.maximum(np.linalg.norm(use, axis=1, keepdims=True), 1e-12))
    # A node without contexts (a seed no training reply spells) is its own words alone.
    embedding = np.concatenate(parts, axis=1)
    embedding /= np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    similarity = embedding @ embedding.T
    similarity = np.where(similarity >= min_edge, similarity, 0.0)
    labels = np.array([seed_label[k] for k in seed_label] + [-1] * len(candidates))
    scores = propagate(similarity, labels, len(intents), alpha)
    best = scores.argmax(axis=1)
    reached = [i for i in range(len(seed_label), len(keys)) if scores[i, best[i]] >= min_score]
    kept = list(range(len(seed_label))) + reached[:max(0, max_responses - len(seed_label))]
    texts = [seed_text.get(keys[i]) or min(spellings[keys[i]].items(),
                                             key=lambda item: (-item[1], item[0]))[0]
             for i in kept]
    kept_tokens = [token_lists[i] for i in kept]
    return ResponseSet(texts=texts, tokens=kept_tokens, clusters=[int(best[i]) for i in kept],
                       counts=[counts.get(keys[i], 0) for i in kept], num_clusters=len(intents),
                       idf=_idf(kept_tokens), max_tokens=max_tokens,
                       min_similarity=min_similarity, intents=list(intents))


def save_path(directory: str) -> str:
    return os.path.join(directory, "response_set.json")
