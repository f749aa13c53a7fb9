"""The translation baselines the FamilyEvaluator's --min-lift rule compares GNMT with: copying
the source, and a word-for-word dictionary learned from the training pairs."""
import pytest

from models.translation import baselines, evaluation


def test_copy_baseline_of_identical_sentences_is_bleu_100():
    sentences = ["Paris is the capital of France .", "He has 21 cats and 3 dogs ."]
    scores = evaluation.baseline_scores([], sentences, sentences)
    assert scores["copy"] == {"bleu": pytest.approx(100.0), "exact_match": 1.0}


def test_dictionary_learns_word_for_word_translations_by_co_occurrence():
    train = [("the cat", "le chat"), ("the dog", "le chien"), ("a cat", "un chat")]
    dictionary = baselines.WordDictionary.fit(train)
    # Dice picks "chat" for "cat" although "le" co-occurs with it as often as "un".
    assert dictionary.mapping == {"the": "le", "cat": "chat", "dog": "chien", "a": "un"}
    assert dictionary.translate("a dog!") == "un chien !"  # unknown tokens are copied
    scores = evaluation.baseline_scores(train, ["the dog", "a cat"], ["le chien", "un chat"])
    assert scores["dictionary"]["exact_match"] == 1.0
    assert scores["copy"]["exact_match"] == 0.0
