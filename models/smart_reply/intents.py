"""Shipyard's curated intent seed for the response set (written for this project, not taken
from any corpus): the reply intents Smart Reply may suggest, each with a few canonical short
replies.

Kannan et al. (KDD 2016, §5) build the response set from short, generic, frequent replies and
group them into semantic intents by label propagation seeded with "a few manually labelled
examples" per intent; these are ours. Every response of the set belongs to one of these
intents, so a reply that no intent reaches (a fact, a name, a number, code) never enters it.
The order is fixed: an intent's index is its cluster id in every exported model.

No TensorFlow import: the bundled-corpus generator (pipelines/smart_reply/data.py) and the
evaluation file's checks read it too.
"""
from __future__ import annotations

# intent → canonical replies (the first is the intent's typical wording).
SEED: dict[str, tuple[str, ...]] = {
    "thanks": ("Thanks!", "Thank you!", "Thanks a lot!"),
    "welcome": ("You're welcome!", "No problem!", "Anytime!"),
    "greeting": ("Hi!", "Hello!", "Hey there!"),
    "how_are_you": ("I'm good, thanks!", "Doing well, and you?", "Not bad, thanks."),
    "yes": ("Yes", "Yes, definitely.", "Sure!"),
    "no": ("No", "No, sorry.", "Not really."),
    "maybe": ("Maybe", "I'm not sure yet.", "Let me check."),
    "agree": ("Sounds good!", "I agree.", "Good idea!"),
    "okay": ("Okay", "Got it.", "Will do."),
    "congratulations": ("Congratulations!", "Congrats!", "That's great news!"),
    "sympathy": ("I'm so sorry to hear that.", "That's awful, I'm sorry.",
                 "Sending hugs."),
    "get_well": ("Get well soon!", "Feel better soon!", "Take care of yourself."),
    "apology_accepted": ("No worries!", "It's okay.", "Don't worry about it."),
    "take_your_time": ("Take your time!", "No rush.", "No hurry."),
    "schedule_time": ("What time works for you?", "Tomorrow works for me.",
                      "How about this evening?"),
    "schedule_place": ("Where do you want to meet?", "How about the usual place?",
                       "Let's meet at the cafe."),
    "on_my_way": ("On my way!", "Be there soon.", "Leaving now."),
    "running_late": ("Running a bit late, sorry!", "I'll be a few minutes late.",
                     "Almost there!"),
    "see_you": ("See you soon!", "See you then!", "See you there!"),
    "goodbye": ("Bye!", "Talk to you later!", "Good night!"),
    "same_to_you": ("You too!", "Same to you!", "Thanks, you too!"),
    "love_it": ("Love it!", "Looks great!", "That's beautiful!"),
    "laugh": ("Haha!", "Lol", "That's hilarious!"),
    "ask_details": ("What happened?", "Tell me more!", "What do you mean?"),
    "glad": ("Glad to hear it!", "That's great!", "Awesome!"),
    "good_luck": ("Good luck!", "You've got this!", "Fingers crossed!"),
    "have_fun": ("Have fun!", "Enjoy!", "Have a great time!"),
    "accept_invite": ("I'm in!", "Count me in!", "I'd love to!"),
    "decline": ("Sorry, I can't make it.", "I'm busy then.", "Can we do another day?"),
    "offer_help": ("Sure, happy to help.", "Of course!", "What do you need?"),
    "miss_you": ("Miss you too!", "I miss you too.", "Can't wait to see you!"),
    "surprise": ("Wow!", "No way!", "Really?"),
}
INTENTS: tuple[str, ...] = tuple(SEED)

# A pair's optional feature marking an explicit negative example ("1": this message gets no
# suggestion; the bundled corpus' knowledge questions, long messages, code and sensitive
# topics). When a training split has any, the triggering model learns from them and from the
# pairs whose reply is close to the response set, and nothing from the rest (a conversational
# message whose reply the set does not cover says neither "suggest" nor "stay silent").
NEGATIVE = "negative"


def seed_pairs() -> list[tuple[str, int]]:
    """(canonical reply, intent index) for every seed reply, in seed order."""
    return [(reply, i) for i, replies in enumerate(SEED.values()) for reply in replies]
