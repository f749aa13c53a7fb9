"""The bundled everyday-conversation corpus of Smart Reply: synthetic, built deterministically.

Written for Shipyard (not taken from any corpus): message templates per kind of everyday
message (a thank-you, an invitation, a late arrival, good or bad news, ...), each with the reply
intents that answer it (models/smart_reply/intents.py), and several phrasings of each intent's
replies. Slots are filled from installed data where it exists: weekday names and clock times
from Babel's CLDR, minutes written out by num2words, country and currency names from CLDR;
people's first names, places, meals, foods and events are short lists written here.

Beside them, negative examples, where no suggestion should be shown: knowledge questions with
their factual answers (CLDR's currencies and chatterbot-corpus' trivia, history, science and
computer files), long multi-sentence messages, code and sensitive topics, each with a reply no
response of the set is close to (facts, names, numbers or a long answer), so that the
triggering model learns to stay silent on them.

`pairs()` renders every template with a seeded random choice of slots and reply phrasing: the
same packages give the same corpus, pair for pair.
"""
from __future__ import annotations

import datetime
import random
import re

from models.smart_reply.intents import NEGATIVE
from pipelines.errors import ShipyardError

SEED = 21
# A synthetic pair's template: the held-out split keeps all renderings of one template on one
# side (pipelines/smart_reply/data.py), so that it asks about wording the model never saw.
GROUP = "template"
RENDERINGS = 20  # per message template
NEGATIVE_RENDERINGS = 12

# Slot values written for this corpus.
NAMES = ("Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack",
         "Maya", "Noah", "Olivia", "Priya", "Sam", "Tom", "Zoe", "Leo", "Mia", "Omar")
PLACES = ("the cafe", "the station", "the park", "the office", "the gym", "the library",
          "the mall", "my place", "the cinema", "the bakery", "the bus stop", "the pub")
MEALS = ("lunch", "dinner", "breakfast", "brunch", "coffee", "drinks")
FOODS = ("pizza", "sushi", "tacos", "burgers", "curry", "pasta", "ramen", "dumplings")
EVENTS = ("the party", "the game", "the concert", "the meeting", "the barbecue",
          "movie night", "the wedding", "book club", "the picnic", "the match")
WHEN = ("tomorrow", "tonight", "this weekend", "next week", "later", "after work")
FAVORS = ("the help", "dinner", "the ride", "the gift", "lending me your car", "the flowers",
          "covering for me", "a lovely evening", "the advice", "picking me up",
          "the birthday card", "fixing my laptop")
GOOD_NEWS = ("I got the job", "I passed my driving test", "we're getting married",
             "I got promoted", "we bought a house", "I finished the marathon",
             "we're having a baby", "I got into the program", "I won the competition",
             "my book is getting published")
BAD_NEWS = ("my grandma passed away", "my dog died", "I didn't get the job",
            "I broke my arm", "my flight got cancelled", "we lost the final",
            "I failed the exam", "my car broke down", "we broke up", "I lost my wallet")
ILLNESS = ("I'm sick", "I have the flu", "I've got a terrible cold", "I have a fever",
           "my back is killing me", "I have a migraine")
TASKS = ("the report", "the slides", "the dishes", "your homework", "the laundry",
         "the budget", "the application")
ITEMS = ("some milk", "the charger", "an umbrella", "the keys", "bread", "your laptop")
TESTS = ("an interview", "my exam", "a big presentation", "my driving test", "the audition")
TRIPS = ("the beach", "the mountains", "a camping trip", "a road trip", "the lake")
THINGS = ("our new puppy", "the cake I baked", "my new haircut", "the garden",
          "the view from the hotel", "my new bike", "the baby")
MISTAKES = ("missing your call", "being late", "forgetting your birthday",
            "the mess in the kitchen", "the confusion earlier", "not replying sooner")
HOLIDAYS = ("new year", "holidays", "Thanksgiving", "Easter", "Valentine's Day")

Kind = tuple[tuple[str, ...], tuple[str, ...]]  # (message templates, reply intents)

# Everyday messages: templates and the reply intents that answer them.
MESSAGES: dict[str, Kind] = {
    "thanks": (("Thanks for {favor}!", "Thank you so much for {favor}.",
                "Really appreciate {favor}, thanks", "thx for {favor}",
                "Thanks again for {favor}, {name}!", "Thank you {name}!"),
               ("welcome",)),
    "greet": (("Hi {name}!", "Hello {name}", "Hey!", "Good morning {name}!",
               "Hey there {name}", "Hiya"), ("greeting",)),
    "how_are_you": (("How are you?", "How are you doing, {name}?", "How's it going?",
                     "How have you been?", "How's your {weekday} going?",
                     "How are things with you?"), ("how_are_you",)),
    "invite": (("Do you want to grab {meal} {when}?", "Want to come to {event} {when}?",
                "Would you like to join us for {meal} {when}?",
                "We're going to {event} {when}, want to come?",
                "Anyone up for {food} {when}?", "Fancy {meal} on {weekday}?"),
               ("accept_invite", "decline", "maybe", "yes")),
    "available": (("Are you free {when}?", "Are you around on {weekday}?",
                   "Can you make it {when}?", "Is {weekday} ok for you?",
                   "Does {time} work for you?", "Are you busy {when}?"),
                  ("yes", "no", "maybe", "schedule_time")),
    "done": (("Did you finish {task}?", "Have you sent {task} yet?", "Did you call {name}?",
              "Did you get my message?", "Did you remember {task}?",
              "Have you talked to {name} yet?"), ("yes", "no", "maybe")),
    "proposal": (("Let's meet at {place} at {time}.", "How about {food} for dinner?",
                  "Shall we say {time}?", "Let's do {meal} {when}.",
                  "I was thinking we could try the new {food} place.",
                  "Maybe we should leave at {time}?"), ("agree", "okay", "yes")),
    "where_meet": (("Where should we meet?", "Where do you want to meet for {meal}?",
                    "Where are we meeting {when}?", "Which place did you have in mind?",
                    "Any ideas where to go for {meal}?", "Where shall we go {when}?"),
                   ("schedule_place",)),
    "when_meet": (("What time should we meet?", "When are you free?",
                   "What time is {event}?", "When do you want to do {meal}?",
                   "What time works best?", "When should I come over?"),
                  ("schedule_time",)),
    "good_news": (("{good_news}!", "Guess what, {good_news}!", "Big news: {good_news}.",
                   "Finally {good_news}!", "{name}, {good_news}!"),
                  ("congratulations", "glad", "surprise")),
    "bad_news": (("{bad_news}.", "Bad news, {bad_news}.", "Ugh, {bad_news}.",
                  "So {bad_news} today.", "{name}, {bad_news}."), ("sympathy", "ask_details")),
    "ill": (("{illness}.", "Not coming in today, {illness}.", "{illness}, staying home.",
             "Can't make it, {illness}."), ("get_well", "sympathy")),
    "apology": (("Sorry about {mistake}.", "I'm so sorry about {mistake}.",
                 "My bad, sorry for {mistake}.", "Apologies for {mistake}."),
                ("apology_accepted",)),
    "late": (("Running {minutes} minutes late, sorry!", "Sorry, be there in {minutes} min.",
              "Traffic is terrible, I'll be late.", "Stuck on the train, running behind.",
              "Going to be a bit late, sorry", "Sorry {name}, I'm late again"),
             ("take_your_time", "apology_accepted", "okay", "see_you")),
    "where_are_you": (("Where are you?", "Are you on your way?", "Are you close?",
                       "How far away are you?", "Are you here yet?",
                       "When will you get here?"), ("on_my_way", "running_late")),
    "arrived": (("I'm here.", "I'm at {place}.", "Just got to {place}.", "I'm outside.",
                 "Waiting at {place}."), ("on_my_way", "okay", "running_late")),
    "confirm": (("See you {when}!", "Looking forward to {event}!", "Can't wait for {event}!",
                 "See you at {place}.", "So see you at {time} then."), ("see_you", "agree")),
    "goodbye": (("Good night!", "Bye!", "Gotta go, talk later.", "I'm heading to bed.",
                 "Talk soon!", "Night {name}!"), ("goodbye", "see_you")),
    "wishes": (("Wishing you a happy {holiday}!", "Merry Christmas!", "Have a great weekend!",
                "Have a nice {weekday}!", "Happy {holiday}, {name}!"),
               ("same_to_you", "thanks")),
    "birthday": (("Happy birthday {name}!", "Happy birthday! Hope you have a great day.",
                  "Happy birthday, have a wonderful day!"), ("thanks",)),
    "share": (("Check out {thing}!", "Look at this photo of {thing}.",
               "Here's a picture of {thing}.", "What do you think of {thing}?"),
              ("love_it",)),
    "funny": (("Haha that's so funny", "I can't stop laughing at that video",
               "You won't believe what {name} just did lol", "That meme you sent killed me",
               "lol {name} fell asleep on the train again"), ("laugh",)),
    "vague": (("Something happened at work today.", "You won't believe what happened.",
               "I need to tell you something.", "Guess who I ran into today?",
               "Can we talk later?", "Long day..."), ("ask_details",)),
    "ask_help": (("Can you help me with {task}?", "Could you do me a favor?",
                  "Can you pick up {item} on your way home?", "Could you send me {task}?",
                  "Can I borrow {item}?"), ("offer_help", "yes", "okay")),
    "request": (("Please call me when you get a chance.", "Don't forget {task}.",
                 "Remember to bring {item}.", "Let me know when you're home.",
                 "Text me when you land."), ("okay", "yes")),
    "luck": (("I have {test} tomorrow.", "Wish me luck for {test}!",
              "Nervous about {test} on {weekday}."), ("good_luck",)),
    "trip": (("I'm off to {trip}!", "Going to {event} tonight.",
              "We leave for {country} tomorrow!", "Heading to {trip} for the weekend."),
             ("have_fun",)),
    "miss": (("I miss you.", "Miss you so much!", "Can't wait to see you again.",
              "It's been too long, I miss you."), ("miss_you",)),
    "update": (("I sent you {task}.", "The package arrived.", "I booked a table for {time}.",
                "Dinner is ready!", "I'm home.", "{name} says hi."),
               ("thanks", "okay", "glad")),
    "opinion": (("This weather is amazing.", "That movie was so good.",
                 "{food} sounds perfect right now.", "We should do this more often."),
                ("agree", "love_it")),
    "better": (("I'm feeling much better now.", "The surgery went well.",
                "{name} is out of hospital."), ("glad",)),
}

# Several phrasings of each intent's replies: the seed's canonical replies and more, so
# that label propagation has unseeded replies to assign.
REPLIES: dict[str, tuple[str, ...]] = {
    "thanks": ("Thank you so much!", "Thanks, I appreciate it.", "Many thanks!", "Cheers!",
               "Thanks so much!"),
    "welcome": ("My pleasure!", "Any time!", "Happy to help!", "Don't mention it.",
                "You're very welcome!"),
    "greeting": ("Hey!", "Hi there!", "Good morning!", "Hello, nice to hear from you!"),
    "how_are_you": ("Great, thanks! How about you?", "Pretty good, you?", "All good here!",
                    "I'm fine, thank you."),
    "yes": ("Yep!", "Yes, I did.", "Yeah", "Yes, for sure."),
    "no": ("Nope.", "Not yet.", "No, not this time."),
    "maybe": ("I'll let you know.", "Possibly.", "Not sure, I'll check."),
    "agree": ("Sounds great!", "Perfect!", "Great idea!", "Works for me!", "Totally agree!"),
    "okay": ("Ok", "Sure thing.", "Alright!", "Noted.", "Okay, will do."),
    "congratulations": ("Congrats, well deserved!", "Congratulations, so happy for you!",
                        "Amazing news, congrats!"),
    "sympathy": ("Oh no, I'm so sorry.", "So sorry, that's terrible.",
                 "Oh no! Are you okay?"),
    "get_well": ("Hope you feel better soon!", "Get some rest!", "Feel better!"),
    "apology_accepted": ("No problem at all.", "That's alright.", "All good!",
                         "Don't worry!"),
    "take_your_time": ("No worries, take your time.", "All good, see you soon.",
                       "No rush at all."),
    "schedule_time": ("How about after work?", "Any time after lunch.", "Does tomorrow work?",
                      "I'm free in the evening."),
    "schedule_place": ("How about the cafe downtown?", "Your place or mine?",
                       "Let's meet at the usual spot.", "Somewhere near the station?"),
    "on_my_way": ("Omw!", "I'm on my way.", "Coming now!", "Just left."),
    "running_late": ("Sorry, running late!", "Almost there, sorry!", "Stuck in traffic."),
    "see_you": ("See you later!", "See you!", "Catch you later!"),
    "goodbye": ("Goodbye!", "Night!", "Talk soon!", "Bye, take care!"),
    "same_to_you": ("And to you!", "Same to you, enjoy!", "You too, thanks!"),
    "love_it": ("So cute!", "Amazing!", "Beautiful!", "I love it!"),
    "laugh": ("Hahaha", "That's so funny!", "Haha, love it"),
    "ask_details": ("What's up?", "What's going on?", "Oh? Tell me!"),
    "glad": ("That's wonderful!", "So glad to hear that!", "Great news!"),
    "good_luck": ("Best of luck!", "You'll do great!", "Good luck, you'll be fine!"),
    "have_fun": ("Have a great trip!", "Have a blast!", "Enjoy yourself!"),
    "accept_invite": ("Sure, I'd love to!", "Yes, count me in!", "Sounds fun, I'm in!"),
    "decline": ("I can't, sorry.", "Sorry, not this time.", "I have plans, sorry."),
    "offer_help": ("Sure, what's up?", "Yes, how can I help?", "Sure, no problem."),
    "miss_you": ("I miss you more!", "Miss you lots!", "Can't wait to see you too!"),
    "surprise": ("Wow, really?", "Seriously?", "No way, really?"),
}

# Negative examples: messages that get no suggestion, with the kind of reply they need.
LONG_SENTENCES = (
    "I talked to {name} yesterday about the project.",
    "She thinks we should move the deadline to {weekday}.",
    "The budget also needs another review before the board meets.",
    "I'm not sure the vendor can deliver everything on time.",
    "The client asked for three more changes to the design.",
    "We still haven't heard back from the landlord about the lease.",
    "My sister is staying with us for two weeks from {weekday}.",
    "The car needs new tyres and the insurance is due next month.",
    "I've been reading about the new pension rules and they look complicated.",
    "The school wants the forms back by {weekday} with the signed consent.",
)
LONG_ENDINGS = ("Can you send me the latest figures and your notes on the contracts?",
                "What do you think we should do about all of this?",
                "Could you write up a plan and share it with everyone before the call?")
LONG_REPLY = ("I'll go through everything tonight and send you a detailed plan with the "
              "figures, the open questions and what I think we should do next.")
CODE = (
    ("Why does this fail: for i in range(10) print(i)",
     "You need a colon after range(10): for i in range(10): print(i)"),
    ("Can you review this? def area(r): return 3.14 * r ** 2",
     "Use math.pi instead of 3.14: return math.pi * r ** 2"),
    ("My query SELECT * FROM users WHERE id = {n} returns nothing",
     "Check that the id column is an integer and that row {n} exists."),
    ("git push says rejected (non-fast-forward), what now?",
     "Run git pull --rebase origin main, fix conflicts, then git push."),
    ("What does x = [i * i for i in range({n})] give?",
     "A list of the squares from 0 to {n_minus_one} squared."),
    ("How do I fix KeyError: 'name' in my dict lookup?",
     "Use d.get('name') or check 'name' in d before reading it."),
)
SENSITIVE = (
    "My doctor found a lump and I'm scared, what should I do?",
    "I think my landlord is illegally keeping my deposit, can I sue him?",
    "Should I put my savings into crypto or pay off my mortgage first?",
    "I've been feeling hopeless for weeks and I don't know who to talk to.",
    "My partner checks my phone and controls my money, is that normal?",
    "How much of my medication is too much to take at once?",
    "Is it legal for my boss to fire me for being pregnant?",
    "Which candidate should I vote for in the election?",
)
SENSITIVE_REPLY = ("This is important and deserves a careful answer from someone qualified; "
                   "please reach out to a professional or a helpline you trust.")
KNOWLEDGE = (
    ("What currency do they use in {country}?", "The {currency} ({code})."),
    ("What's the currency of {country}?", "{country} uses the {currency}."),
    ("Which currency should I bring to {country}?", "The {currency}, code {code}."),
    ("What is the ISO code of the {currency}?", "{code}, the currency of {country}."),
)
KNOWLEDGE_FILES = ("trivia", "history", "science", "computers")


def _cldr() -> dict[str, list]:
    """Weekday names, clock times and (country, currency name, code) triples from CLDR."""
    from babel import Locale, dates, numbers

    locale = Locale("en")
    weekdays = [locale.days["format"]["wide"][i] for i in range(7)]
    times = [" ".join(dates.format_time(datetime.time(h, m), "short", locale="en").split())
             for h in (7, 8, 9, 10, 12, 13, 15, 17, 18, 19, 20) for m in (0, 30)]
    countries = []
    for code, name in sorted(locale.territories.items()):
        if not (len(code) == 2 and code.isalpha()) or code in ("EU", "EZ", "UN", "ZZ"):
            continue
        currencies = numbers.get_territory_currencies(code, datetime.date(2024, 1, 1))
        if currencies and currencies[0] in locale.currencies:
            countries.append((name, locale.currencies[currencies[0]], currencies[0]))
    return {"weekday": weekdays, "time": times, "country": countries}


def _minutes() -> list[str]:
    from num2words import num2words

    return [num2words(n) for n in (5, 10, 15, 20, 25, 30)] + ["5", "10", "15", "20"]


def slot_values() -> dict[str, list[str]]:
    cldr = _cldr()
    return {"name": list(NAMES), "place": list(PLACES), "meal": list(MEALS),
            "food": list(FOODS), "event": list(EVENTS), "when": list(WHEN),
            "favor": list(FAVORS), "good_news": list(GOOD_NEWS), "bad_news": list(BAD_NEWS),
            "illness": list(ILLNESS), "task": list(TASKS), "item": list(ITEMS),
            "test": list(TESTS), "trip": list(TRIPS), "thing": list(THINGS),
            "mistake": list(MISTAKES), "holiday": list(HOLIDAYS),
            "weekday": cldr["weekday"], "time": cldr["time"],
            "country": [c[0] for c in cldr["country"]], "minutes": _minutes()}


_SLOT = re.compile(r"\{(\w+)\}")


def render(template: str, values: dict[str, list[str]], rng: random.Random) -> str:
    """The template with each slot filled by a seeded choice; a message starting with a slot
    value gets a capital letter, as people type it."""
    rendered = _SLOT.sub(lambda m: rng.choice(values[m.group(1)]), template)
    return rendered[:1].upper() + rendered[1:]


def template_pattern(template: str, values: dict[str, list[str]]) -> re.Pattern:
    """A regex that exactly the renderings of `template` match (each slot one of its
    `values`; a slot without values, any text), case and spacing ignored: what the eval
    file's independence check runs."""
    def slot(name: str) -> str:
        if name not in values:
            return ".+"
        return "(?:" + "|".join(re.escape(" ".join(v.lower().split()))
                                for v in values[name]) + ")"

    def literal(text: str) -> str:
        # Spaces at the slot's edges belong to the pattern; any run of them matches any run.
        return r"\s+".join(re.escape(word) for word in re.split(r"\s+", text.lower()))

    parts = _SLOT.split(template)
    pattern = "".join(literal(p) if i % 2 == 0 else slot(p) for i, p in enumerate(parts))
    return re.compile(f"^{pattern}$")


def all_templates() -> list[str]:
    """Every message template of the corpus, negatives included."""
    return ([t for templates, _ in MESSAGES.values() for t in templates]
            + list(LONG_SENTENCES) + list(LONG_ENDINGS) + [c for c, _ in CODE]
            + list(SENSITIVE) + [k for k, _ in KNOWLEDGE])


def reply_phrasings(intent: str) -> tuple[str, ...]:
    from models.smart_reply.intents import SEED

    return SEED[intent] + REPLIES[intent]


def positive_pairs(values: dict[str, list[str]], rng: random.Random) -> list[dict[str, str]]:
    pairs = []
    for templates, intents in MESSAGES.values():
        for template in templates:
            for _ in range(RENDERINGS):
                intent = rng.choice(intents)
                pairs.append({"context": render(template, values, rng),
                              "reply": rng.choice(reply_phrasings(intent)), GROUP: template})
    return pairs


def negative_pairs(values: dict[str, list[str]], rng: random.Random) -> list[dict[str, str]]:
    pairs = []
    for _ in range(NEGATIVE_RENDERINGS * 8):
        sentences = rng.sample(LONG_SENTENCES, rng.randint(2, 4)) + [rng.choice(LONG_ENDINGS)]
        pairs.append({"context": " ".join(render(s, values, rng) for s in sentences),
                      "reply": LONG_REPLY, NEGATIVE: "1"})
    for message, reply in CODE:
        for _ in range(NEGATIVE_RENDERINGS):
            n = rng.randint(2, 99)
            slots = {"n": str(n), "n_minus_one": str(n - 1)}
            pairs.append({"context": message.format(**slots), "reply": reply.format(**slots),
                          NEGATIVE: "1"})
    for message in SENSITIVE:
        pairs += [{"context": message, "reply": SENSITIVE_REPLY, NEGATIVE: "1"}] * 3
    countries = _cldr()["country"]
    for question, answer in KNOWLEDGE:
        for _ in range(NEGATIVE_RENDERINGS * 2):
            country, currency, code = rng.choice(countries)
            slots = {"country": country, "currency": currency, "code": code}
            pairs.append({"context": question.format(**slots), "reply": answer.format(**slots),
                          NEGATIVE: "1"})
    return pairs


def pairs() -> list[dict[str, str]]:
    """The synthetic corpus: everyday messages with short replies, then the negatives, the
    same on every call."""
    try:
        values = slot_values()
    except ImportError as e:  # both are in requirements.lock; a broken install says which
        raise ShipyardError(f"the bundled corpus needs Babel and num2words: {e}") from None
    rng = random.Random(SEED)
    return positive_pairs(values, rng) + negative_pairs(values, rng)
