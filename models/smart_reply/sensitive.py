"""Messages Smart Reply never answers: crises and emergencies, whatever the trigger says.

The learned trigger stays silent on what its training data showed it (the bundled corpus'
sensitive questions and crises), but a bag of words cannot know that "I want to hurt myself"
is a crisis when it has only seen "I've started self-harming again". A canned "Haha!" or
"Sounds good!" there would do harm, so, as production reply suggestion does, a fixed list of
phrases (written for this project) sits in front of the model: a message that contains one
gets no suggestions (trigger score 0). The list is kept to crises (self-harm, abuse and
violence, medical emergencies, losing one's home or income to debt), not to sad news in
general: "my grandma passed away" still gets sympathy.

Phrases are written as the tokenizer splits them (models/smart_reply/text.py: lower case,
punctuation a token of its own) and match whole tokens in order. The serving graph matches
with RE2 and the phone's host with Python's `re`, on the same pattern (`PATTERN`, also in the
mobile bundle's smart_reply.json).
"""
from __future__ import annotations

import re

PHRASES: tuple[str, ...] = (
    # Suicide and self-harm.
    "suicide", "suicidal", "kill myself", "killing myself", "end my life", "ending my life",
    "end it all", "ending it all", "take my own life", "taking my own life", "want to die",
    "wanna die", "wish i was dead", "wish i were dead", "better off dead",
    "better off without me", "no reason to live", "point in living", "not worth living",
    "self harm", "self - harm", "self harming", "self - harming", "hurt myself",
    "hurting myself", "harm myself", "harming myself", "cut myself", "cutting myself",
    "overdose", "overdosed", "overdosing", "too many pills", "lot of pills", "lots of pills",
    # Abuse and violence.
    "abuse", "abused", "abusive", "abusing", "rape", "raped", "sexual assault",
    "sexually assaulted", "assaulted", "domestic violence", "hits me", "he hit me",
    "she hit me", "hit me again", "hitting me", "beating me", "threatening to kill",
    "threatened to kill", "stalking me", "blackmail", "blackmailing", "blackmailed",
    "drink was spiked", "scared to go home", "afraid to go home", "not safe at home",
    "keeps touching me",
    # Medical emergencies.
    "heart attack", "chest pain", "chest pains", "can't breathe", "cannot breathe",
    "not breathing", "unconscious", "seizure", "having a stroke", "arm is numb",
    "found a lump", "coughing up blood", "bleeding heavily", "won't stop bleeding",
    # Money and housing crises: "That's great!" to losing a home is no small slip.
    "behind on the mortgage", "behind on our mortgage", "behind on my mortgage",
    "behind on the rent", "behind on our rent", "behind on my rent", "behind on rent",
    "eviction", "evicted", "evicting us", "bailiffs", "repossess", "repossessed",
    "repossessing", "repossession", "foreclosure", "bankrupt", "bankruptcy",
    "debt collectors", "can't pay the rent", "cannot pay the rent", "can't pay the mortgage",
    "cannot pay the mortgage", "can't afford food",
)


def pattern(phrases: tuple[str, ...] = PHRASES) -> str:
    """A regular expression (RE2 and Python `re` alike) matching a message's tokens joined by
    single spaces, with a space at each end, when they contain any phrase. Either apostrophe
    (' or ’) matches in a phrase's "'"."""
    alternatives = sorted({" ".join(re.escape(t) for t in p.split()).replace("'", "['’]")
                           for p in phrases})
    return ".* (?:" + "|".join(alternatives) + ") .*"


PATTERN = pattern()


def joined(tokens: list[str]) -> str:
    """What PATTERN is matched against: ' ' + the tokens joined by ' ' + ' '."""
    return " " + " ".join(tokens) + " "


def matches(tokens: list[list[str]], rule: str = PATTERN) -> list[bool]:
    """For each tokenized message (models/smart_reply/text.py `tokens`): does it hold a
    phrase? The phone host's check (`rule`: the pattern its smart_reply.json carries)."""
    compiled = re.compile(rule)
    return [compiled.fullmatch(joined(row)) is not None for row in tokens]


def in_graph(words):
    """[batch] bool of a ragged [batch, (tokens)] string tensor (`text.tokenize`): the same
    check in TensorFlow ops, for the serving signature."""
    import tensorflow as tf

    line = tf.strings.reduce_join(words, axis=-1, separator=" ")
    return tf.strings.regex_full_match(" " + line + " ", PATTERN)
