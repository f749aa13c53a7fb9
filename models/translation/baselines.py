"""The baselines a translator must beat on the same held-out sentences (FamilyEvaluator's
`--min-lift` rule):

- copy: the output is the input (BLEU of the source sentences taken as translations; not zero
  between related languages: names, numbers and punctuation carry over);
- dictionary: word for word through a dictionary learned from the training pairs, each source
  word mapped to the target word it co-occurs with most strongly in the same pairs (Dice
  coefficient 2·c(s, t) / (c(s) + c(t)), so that frequent words like "le" do not win every
  source word); unknown words are copied. No reordering, no phrases: the simplest honest MT.
"""
from __future__ import annotations

import collections
import re

TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
MAX_TRAIN_PAIRS = 20000  # pairs the dictionary learns from (enough for a word list; cheap)


def tokens(sentence: str) -> list[str]:
    return TOKEN.findall(sentence)


def copy(sources: list[str]) -> list[str]:
    return list(sources)


class WordDictionary:
    """Word-for-word translation learned from sentence pairs by co-occurrence."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    @classmethod
    def fit(cls, pairs: list[tuple[str, str]]) -> WordDictionary:
        source_counts: collections.Counter = collections.Counter()
        target_counts: collections.Counter = collections.Counter()
        together: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for source, target in pairs:
            source_words, target_words = set(tokens(source)), set(tokens(target))
            source_counts.update(source_words)
            target_counts.update(target_words)
            for word in source_words:
                together[word].update(target_words)
        mapping = {}
        for word, counts in together.items():
            # Ties: the more frequent target word, then the alphabetical one (deterministic).
            mapping[word] = max(counts, key=lambda t: (
                2 * counts[t] / (source_counts[word] + target_counts[t]), counts[t],
                [-ord(c) for c in t]))
        return cls(mapping)

    def translate(self, sentence: str) -> str:
        return " ".join(self.mapping.get(word, word) for word in tokens(sentence))
