"""The response set: Shipyard's intent seed, label propagation, no knowledge answers."""
import numpy as np
import pytest

from models.smart_reply import intents, response_set, text, trainer
from pipelines.smart_reply import data as reply_data

SETTINGS = dict(max_responses=500, max_reply_tokens=16, min_count=2, min_similarity=0.5)


def test_propagation_falls_by_alpha_per_hop_and_never_reaches_isolated_nodes():
    # 0 (seed of label 0) — 1 — 2; 3 alone; 4 (seed of label 1) — 5.
    similarity = np.zeros([6, 6])
    for a, b in ((0, 1), (1, 2), (4, 5)):
        similarity[a, b] = similarity[b, a] = 0.8
    scores = response_set.propagate(similarity, np.array([0, -1, -1, -1, 1, -1]), 2, alpha=0.5)
    # s1 = ½ (½ · 1 + ½ · s2), s2 = ½ s1: s1 = 2/7, s2 = 1/7.
    np.testing.assert_allclose(scores[:, 0], [1.0, 2 / 7, 1 / 7, 0.0, 0.0, 0.0], atol=1e-9)
    assert scores[3].tolist() == [0.0, 0.0]
    assert scores[5].tolist() == [0.0, 0.5]


def _build(pairs, seeds, names, **kwargs):
    seed_tokens = text.tokens([s for s, _ in seeds])
    return response_set.build(
        text.tokens([p[0] for p in pairs]), text.tokens([p[1] for p in pairs]),
        [p[1] for p in pairs], [(t, s, i) for t, (s, i) in zip(seed_tokens, seeds, strict=True)],
        names, max_responses=50, max_tokens=8, **kwargs)


def test_label_propagation_assigns_unseen_replies_to_their_seeded_intent():
    seeds = [("Thanks!", 0), ("See you soon!", 1)]
    pairs = [("I fixed your bike", "Thanks so much!"), ("Here is your coffee", "Thanks so much!"),
             ("The bike is fixed", "Thanks!"), ("Dinner at eight?", "See you then!"),
             ("Meet at the gym?", "See you soon!"), ("Meet at the gym later?", "See you then!"),
             ("Who was the 26th president?", "Theodore Roosevelt"),
             ("What is the capital of France?", "Paris is the capital of France."),
             ("How many legs does a spider have?", "Eight."), ("Port?", "8080"),
             ("Print it", "print(x)")]
    built = _build(pairs, seeds, ["thanks", "see_you"])
    intent = {t: built.intents[c] for t, c in zip(built.texts, built.clusters, strict=True)}
    assert intent == {"Thanks!": "thanks", "See you soon!": "see_you",
                      "Thanks so much!": "thanks", "See you then!": "see_you"}
    assert built.counts == [1, 1, 2, 2]
    assert built.to_json() == _build(pairs, seeds, ["thanks", "see_you"]).to_json()


@pytest.mark.parametrize("reply, generic", [
    ("Sounds good!", True), ("I'm in, I think", True), ("Theodore Roosevelt", False),
    ("It was Charles Darwin.", False), ("At 5 pm", False), ("x = f(y)", False),
    ("Yes, I'd love to", True)])
def test_generic_replies_have_no_names_numbers_or_code(reply, generic):
    assert response_set.is_generic(reply) is generic


@pytest.fixture(scope="module")
def whole_corpus_set():
    """A set built from every chatterbot-corpus file, trivia and tech support included."""
    return trainer.build_response_set(reply_data.chatterbot_pairs(), SETTINGS)


def test_no_knowledge_answer_enters_the_response_set(whole_corpus_set):
    built = whole_corpus_set
    # Every response belongs to an intent, and every seed reply is in the set.
    assert built.intents == list(intents.INTENTS)
    assert set(built.clusters) == set(range(len(intents.INTENTS)))
    seeds = [reply for reply, _ in intents.seed_pairs()]
    assert built.texts[:len(seeds)] == seeds
    assert all(response_set.is_generic(t) for t in built.texts)
    # The answers of the knowledge files never enter (science.yml's "how far is the sun" →
    # "it" is a truncated answer: a pronoun, which "Got it." reaches, not a fact).
    facts = {p["reply"] for name in ("trivia", "history", "science")
             for p in reply_data.chatterbot_file_pairs(name)}
    assert set(built.texts) & facts == {"it"}
    assert not {"Theodore Roosevelt", "HMS Beagle", "Tootsie Rolls", "Aluminium",
                "Detroit"} & set(built.texts)
    # Beyond the seeds: the short generic replies seen at least twice.
    assert built.texts[len(seeds):] == ["No.", "Yes.", "Hello", "Hi", "it", "Thank you.",
                                        "Yes it is."]
    assert [built.intents[c] for c in built.clusters[len(seeds):]] == [
        "no", "yes", "greeting", "greeting", "okay", "thanks", "yes"]


def test_response_set_round_trip_and_labels(whole_corpus_set, tmp_path):
    path = str(tmp_path / "response_set.json")
    whole_corpus_set.save(path)
    loaded = response_set.ResponseSet.load(path)
    assert loaded.to_json() == whole_corpus_set.to_json()
    trigger, clusters = loaded.labels(text.tokens([
        "Thank you so much!", "see you soon", "Here's a long explanation of how the memory "
        "allocator works in detail, with every step spelled out for you.", "Theodore Roosevelt"]))
    assert trigger.tolist() == [1, 1, 0, 0]
    names = [loaded.intents[c] for c in clusters[:2]]
    assert names == ["thanks", "see_you"]
    assert clusters.tolist()[2:] == [-1, -1]
