"""The crisis guard: its phrases as the tokenizer splits them, one verdict from the serving
graph's RE2 and the phone host's `re`, crises matched and everyday idioms left alone."""
import pytest
import tensorflow as tf

from models.smart_reply import sensitive, text

CRISES = ["I've been thinking about ending it all", "I want to hurt myself",
          "He hits me when he drinks", "I think I'm having a heart attack",
          "I CAN’T BREATHE", "I've started self-harming again", "took an overdose",
          "Suicide."]
EVERYDAY = ["Hit me up when you're free", "Beats me!", "My feet are killing me",
            "We paid a lump sum", "My grandma passed away", "I'm so tired I could die laughing",
            "I broke my arm", "The self checkout was broken"]


def test_phrases_are_written_as_the_tokenizer_splits_them():
    for phrase in sensitive.PHRASES:
        assert text.tokens([phrase])[0] == phrase.split(), phrase


@pytest.mark.parametrize("phrase", sensitive.PHRASES)
def test_each_phrase_matches_inside_a_message(phrase):
    tokens = text.tokens([f"Honestly, {phrase} again."])
    assert sensitive.matches(tokens) == [True]


def test_graph_and_host_agree_on_crises_and_idioms():
    messages = CRISES + EVERYDAY
    expected = [True] * len(CRISES) + [False] * len(EVERYDAY)
    assert sensitive.matches(text.tokens(messages)) == expected
    graph = sensitive.in_graph(text.tokenize(tf.constant(messages))).numpy().tolist()
    assert graph == expected
    # Whole tokens only: a phrase inside a longer word is no match.
    assert sensitive.matches(text.tokens(["the abusers' guide", "misuse"])) == [False, False]
