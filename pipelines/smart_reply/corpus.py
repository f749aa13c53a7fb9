"""The bundled everyday-conversation corpus of Smart Reply: synthetic, built deterministically.

Written for Shipyard (not taken from any corpus): message templates per kind of everyday
message (a thank-you, an invitation, a late arrival, good or bad news, ...), each with the reply
intents that answer it (models/smart_reply/intents.py), and several phrasings of each intent's
replies. Slots are filled from installed data where it exists: weekday names and clock times
from Babel's CLDR, minutes written out by num2words, country and currency names from CLDR;
people's first names, relatives, pets, places, meals, foods, events, illnesses, pieces of news
(good, bad, funny, surprising), small letdowns and annoyances, slips owned up to and topics to
give an opinion on are short lists written here (an entry may hold slots: "{name} shaved his
head", "{relative} just got engaged").

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
RENDERINGS = 10  # per message template
NEGATIVE_RENDERINGS = 12

# Slot values written for this corpus.
NAMES = ("Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack",
         "Maya", "Noah", "Olivia", "Priya", "Sam", "Tom", "Zoe", "Leo", "Mia", "Omar",
         "Aisha", "Carlos", "Daniel", "Ella", "Fatima", "George", "Hannah", "Ivan", "Jess", "Kai",
         "Lucy", "Nina", "Oscar", "Rosie", "Ravi", "Sophie", "Theo", "Yusuf", "Lily", "Josh",
         "Beth", "Charlie", "Finn", "Lena", "Marco", "Rachel", "Wei", "Tariq")
PLACES = ("the cafe", "the station", "the park", "the office", "the gym", "the library",
          "the mall", "my place", "the cinema", "the bakery", "the bus stop", "the pub",
          "the supermarket", "the car park", "the restaurant", "the beach", "the market",
          "the airport", "the pool", "the bar", "the corner shop", "the front entrance",
          "the playground", "the museum", "the petrol station", "the hairdresser's",
          "the farmers' market", "the garden centre", "the food court", "the town hall")
MEALS = ("lunch", "dinner", "breakfast", "brunch", "coffee", "drinks", "afternoon tea",
         "Sunday lunch", "supper", "cocktails")
FOODS = ("pizza", "sushi", "tacos", "burgers", "curry", "pasta", "ramen", "dumplings",
         "Thai", "Indian", "Chinese", "fish and chips", "kebabs", "pho", "falafel",
         "noodles", "fried chicken", "pancakes", "ice cream", "burritos", "bao", "steak", "paella",
         "dim sum")
EVENTS = ("the party", "the game", "the concert", "the meeting", "the barbecue",
          "movie night", "the wedding", "book club", "the picnic", "the match",
          "the gig", "quiz night", "the festival", "the school play", "the christening",
          "the baby shower", "the housewarming", "the leaving do", "work drinks", "the hen do",
          "karaoke", "the dinner party", "the fireworks", "the street party", "the comedy show",
          "the carol service", "the birthday party", "the open day")
WHEN = ("tomorrow", "tonight", "this weekend", "next week", "later", "after work",
        "tomorrow morning", "this afternoon", "tomorrow night", "next weekend", "this evening")
FAVORS = ("the help", "dinner", "the ride", "the gift", "lending me your car", "the flowers",
          "covering for me", "a lovely evening", "the advice", "picking me up",
          "the birthday card", "fixing my laptop",
          "having us", "the lift home", "looking after the dog", "the lovely card",
          "sorting that out", "the recommendation", "the lasagne", "helping me move",
          "feeding the cat", "the tickets", "inviting me", "listening", "babysitting",
          "the chat yesterday", "checking in", "the wine", "sending that over", "waiting for me",
          "the heads up", "the lovely message", "the birthday wishes")
GOOD_NEWS = ("I got the job", "I passed my driving test", "we're getting married",
             "I got promoted", "we bought a house", "I finished the marathon",
             "we're having a baby", "I got into the program", "I won the competition",
             "my book is getting published", "I got a raise", "we got the flat",
             "I finally handed in my dissertation", "my sister had her baby",
             "I ran my first half marathon", "my visa came through", "we won the league",
             "the bank approved our mortgage", "I got the scholarship", "my paper got accepted",
             "we adopted a kitten", "the scan was all clear", "I aced the test",
             "we sold the house",
             "we're expecting a baby", "my sister is pregnant", "I'm going to be a dad",
             "I'm going to be an auntie", "we got engaged at the weekend", "he proposed",
             "I got the part in the play", "we're moving in together", "I quit smoking",
             "I got my first pay cheque", "my results came back and I passed",
             "our offer on the house was accepted", "the twins were born this morning",
             "I got a first", "I finally got my licence", "we paid off the mortgage",
             "my sister had a baby girl", "my cousin had a baby boy", "{name} had her baby",
             "my best friend had twins", "{relative} just got engaged", "I'm pregnant",
             "we're having a girl", "we're having a boy", "I proposed and she said yes",
             "I'm an uncle now", "I've got a new niece", "I've got a new nephew",
             "we got the keys to our new place",
             "we exchanged on the house", "I got a pay rise", "I got a bonus",
             "I passed all my exams", "I got straight As", "I got into my first choice uni",
             "I graduated", "we got a puppy", "we're getting a dog", "our dog had puppies",
             "I've been offered a place on the course", "I started my own business",
             "I passed my probation", "we won the contract", "I beat my personal best",
             "I finally paid off my student loan", "I've been made partner",
             "I got tickets for the final", "I won the raffle", "I got my citizenship",
             "I got my braces off", "the adoption went through", "we got planning permission",
             "I finally found a flat", "{relative} got into medical school", "I made the team",
             "I got my black belt", "{relative} passed their driving test",
             "the job offer came through", "{relative} is coming home for good",
             "I got the grades I needed", "we're going to be grandparents",
             "I'm officially qualified")
BAD_NEWS = ("my grandma passed away", "my dog died", "I didn't get the job", "I broke my arm",
            "my flight got cancelled", "we lost the final", "I failed the exam",
            "my car broke down", "we broke up", "I lost my wallet", "my uncle is in hospital",
            "our cat is really ill", "I got laid off", "the house sale fell through",
            "grandad had a fall", "the landlord is kicking us out", "I crashed the car",
            "my phone got stolen", "mum is in the hospital", "they rejected my application",
            "we had to put the dog down", "my laptop died with all my work on it", "I got dumped",
            "the restaurant lost our booking", "my bag got stolen on the train",
            "my girlfriend dumped me", "we're getting divorced", "my hamster died",
            "the vet says there's nothing more they can do", "I got rejected again",
            "grandpa is really ill", "I didn't get into uni", "our flat flooded",
            "someone broke into the car", "I failed my driving test", "I missed my flight",
            "my best friend is moving away", "my marriage is over", "the kitten ran away",
            "I didn't get the part", "my nan is in a home now",
            "{pet} is at the emergency vet", "{pet} is really poorly",
            "{relative} is back in hospital", "{relative} lost their job",
            "{relative} has been diagnosed with diabetes", "the wedding is off",
            "I got made redundant", "they're not renewing my contract", "I messed up the interview",
            "I didn't get the promotion", "we lost the house we wanted",
            "our holiday got cancelled", "I dropped my phone in the bath", "we got burgled",
            "my grandad passed away last night", "{relative}'s dog died",
            "I didn't get the grades I needed", "{relative} and I had a huge fight",
            "we had a massive row", "I got ghosted", "I lost my job today",
            "my boss shouted at me in front of everyone", "I had the worst day at work",
            "our rent is going up again", "our cat got hit by a car", "the adoption fell through",
            "I tore a ligament", "the results weren't good", "{relative} has been signed off work",
            "the buyers pulled out", "I didn't make the team", "someone stole my bike",
            "the car failed its MOT")
ILLNESS = ("I'm sick", "I have the flu", "I've got a terrible cold", "I have a fever",
           "my back is killing me", "I have a migraine", "I've got food poisoning",
           "I've been throwing up all night", "I think I have covid", "I've got a stomach bug",
           "I sprained my ankle", "I'm feeling really rough",
           "I have a splitting headache", "I've got tonsillitis", "my throat is killing me",
           "I've got a chest infection", "I pulled a muscle", "I've got an ear infection",
           "I've got a nasty cough", "I'm full of cold", "I've got a temperature",
           "I twisted my knee", "I've got a toothache", "I've got a tummy bug",
           "I've got {ailment}", "I think I've come down with {ailment}",
           "I'm in bed with {ailment}", "the doctor says it's {ailment}", "I'm burning up",
           "I can't stop sneezing", "I've lost my voice", "I threw my back out",
           "I've been sick all morning", "I've got the sniffles", "my head is pounding",
           "I feel like death", "I can barely swallow", "I'm all bunged up",
           "I've got a dodgy stomach", "I've done my knee in", "I feel dizzy and sick",
           "I'm running a temperature", "I've got a stiff neck", "I hurt my wrist at the gym",
           "my hay fever is awful", "I've been up all night coughing", "I've got the shivers",
           "I rolled my ankle playing football", "my sinuses are killing me")
TASKS = ("the report", "the slides", "the dishes", "your homework", "the laundry",
         "the budget", "the application",
         "the invoice", "the forms", "the tax return", "the essay", "the shopping",
         "the spreadsheet", "the proposal", "the bins", "the packing", "the presentation",
         "the ironing", "the emails", "the quote", "the cover letter", "the meal plan")
ITEMS = ("some milk", "the charger", "an umbrella", "the keys", "bread", "your laptop",
         "the spare key", "a bottle of wine", "some snacks", "the tent", "the ladder", "your drill",
         "eggs", "the car seat", "some ice", "a jumper", "the speaker", "the passports",
         "the tickets", "teabags", "sun cream", "a torch", "the pram")
TESTS = ("an interview", "my exam", "a big presentation", "my driving test", "the audition",
         "my thesis defence", "the job interview", "my first shift", "the final",
         "my piano recital",
         "my first day at the new job", "the new school", "my dentist appointment",
         "the match", "my exam results", "the big race",
         "my viva", "a second interview", "my dance show", "the marathon",
         "my swimming test", "my theory test", "my date with {name}",
         "the big pitch", "my mock exams", "my final exam", "the choir audition",
         "my first match")
TRIPS = ("the beach", "the mountains", "a camping trip", "a road trip", "the lake",
         "the coast", "a festival", "the seaside", "a spa weekend", "a skiing trip",
         "the countryside", "a city break", "a hen weekend", "my parents' place", "the cottage",
         "a cruise", "a hiking trip", "a work trip", "a wedding abroad")
THINGS = ("our new puppy", "the cake I baked", "my new haircut", "the garden",
          "the view from the hotel", "my new bike", "the baby", "my new tattoo",
          "the sunset from the balcony", "the new kitchen", "my painting", "the kids' drawing",
          "our holiday photos",
          "the new sofa", "my new trainers", "the birthday cake", "my new glasses",
          "the bathroom we finished", "my sourdough", "the tomatoes I grew", "my new car",
          "the wedding photos", "my nails", "the Christmas tree", "the scarf I knitted",
          "the baby scan", "our new flat", "the dog in his raincoat", "the snowman the kids made",
          "my graduation photo", "{name}'s new puppy", "the bedroom makeover",
          "{pet} asleep on the sofa", "the pancakes I made")
MISTAKES = ("missing your call", "being late", "forgetting your birthday",
            "the mess in the kitchen", "the confusion earlier", "not replying sooner",
            "the late reply", "mixing up the dates", "forgetting to text back", "double-booking",
            "cancelling last minute", "snapping at you", "the typo in the email",
            "going quiet all week", "eating your leftovers", "getting the time wrong", "the delay",
            "the noise last night", "not calling back", "being so grumpy", "waking you up",
            "keeping you waiting", "the short notice", "breaking your mug", "missing the party",
            "the voice note rant")
FUNNY = ("{name} fell in the pool", "the dog stole the sausages off the barbecue",
         "I walked straight into a glass door", "dad tried to use emojis again",
         "{name} wore his jumper inside out all day", "the cat got stuck in the washing basket",
         "I called my teacher mum", "{name} fell asleep in the meeting and snored",
         "the baby sneezed on the cake", "the parrot learned to swear",
         "I put salt in my coffee", "{name} got locked out in his pyjamas",
         "{name} tried to pay with a library card", "the dog ate a whole birthday cake",
         "I waved back at someone who wasn't waving at me",
         "autocorrect changed love to lice in my text to the boss",
         "the cat knocked the Christmas tree over", "a seagull stole my chips",
         "I sent a voice note of me singing to the wrong chat", "grandma discovered voice notes",
         "the toddler locked me out of the car", "{name} ironed his shirt while wearing it",
         "a goose chased {name} round the park", "the satnav sent us into a field",
         "I wore odd shoes to work", "the dog is scared of a cucumber",
         "{name} put the car keys in the fridge", "I fell up the stairs in front of everyone",
         "the cat learned to open the fridge", "mum thinks lol means lots of love",
         "the kids painted the dog blue", "a squirrel stole my sandwich",
         "{name} sang happy birthday to the wrong table",
         "I tried to open the front door with my car key for five minutes",
         "{name} got the dates wrong and turned up to an empty party",
         "my nephew asked if I was born in black and white")
SURPRISES = ("{name} is moving to Canada", "{name} and {name} split up",
             "{name} quit her job", "the corner shop closed down", "{name} is getting married",
             "they're knocking down the old cinema", "{name} shaved his head",
             "{name} bought a boat", "the wedding's been called off", "{name} is having twins",
             "our neighbours are selling up", "{name} won the lottery",
             "{name} and {name} are cousins", "{name} used to be a professional dancer",
             "it's snowing in April", "it's thirty degrees in October",
             "it hailed in the middle of June", "{name} is pregnant again", "{name} got a tattoo",
             "{name} went vegan", "{name} moved back home", "the pub is closing down",
             "{name} is a grandma now", "there's a fox living under our shed",
             "{name} has been secretly married", "{name} and {name} are dating",
             "{name} is going to be on telly", "{name} dropped out of uni",
             "{name} has never seen the sea", "they found a snake at the school",
             "{name} sold his car and bought a bike", "the river burst its banks",
             "the whole town lost power", "{name} ran a marathon without training",
             "our landlord is a famous chef", "the office is going four days a week",
             "it's been sunny all week up north")
WEATHER = ("sunny", "hot", "cold", "rainy", "windy", "freezing", "beautiful", "grey",
           "gorgeous", "miserable", "foggy", "muggy", "chilly", "boiling", "stormy", "snowy",
           "lovely", "warm", "icy", "glorious")
TRANSPORT = ("bus", "train", "tram", "ferry", "plane", "tube", "night bus",
             "coach", "metro", "subway", "shuttle", "boat", "last train", "overground",
             "airport bus")
HOLIDAYS = ("new year", "holidays", "Thanksgiving", "Easter", "Valentine's Day",
            "Christmas", "Diwali", "Eid", "Hanukkah", "Mother's Day", "Father's Day", "Halloween",
            "Lunar New Year", "St Patrick's Day", "bank holiday", "Easter weekend", "long weekend",
            "Ramadan", "summer")
ACHIEVEMENTS = ("the promotion", "your graduation", "the new house", "passing your test",
                "the engagement", "the new baby", "finishing the marathon", "the award",
                "the pregnancy", "the pay rise", "the new job", "your results", "your exams",
                "the new flat", "the puppy", "the wedding", "getting in", "the scholarship",
                "the twins", "the retirement", "the new business", "your degree", "the new role",
                "the book deal", "the new grandchild", "passing your probation")

# Someone close, so that news is also about other people ("my sister had a baby").
RELATIVES = ("my sister", "my brother", "my cousin", "my mum", "my dad", "mum", "dad",
             "my best friend", "my flatmate", "my niece", "my nephew", "my aunt", "my uncle",
             "my grandma", "my grandad", "my husband", "my wife", "my partner", "my boss",
             "our neighbour", "{name}")
PETS = ("the dog", "our cat", "my rabbit", "the puppy", "our kitten", "my hamster", "the old dog",
        "our guinea pig", "my horse", "the budgie", "the tortoise")
# Illnesses named, for "I've got ..." and "my dad has ...".
AILMENTS = ("the flu", "a cold", "a fever", "tonsillitis", "a migraine", "food poisoning",
            "a stomach bug", "covid", "chickenpox", "a chest infection", "an ear infection",
            "conjunctivitis", "norovirus", "strep throat", "bronchitis", "sinusitis",
            "glandular fever", "a kidney infection", "shingles", "gastro", "a throat infection",
            "hand, foot and mouth", "a water infection", "a horrible cough", "a virus",
            "pneumonia", "laryngitis", "a sinus infection")
# Small setbacks, not griefs: sympathy and surprise answer them.
LETDOWNS = ("the concert got cancelled", "{event} got called off",
            "the tickets sold out in minutes", "they'd run out of {food}",
            "it rained the whole holiday", "the restaurant was fully booked",
            "my parcel went missing", "my {transport} got cancelled", "the match was rained off",
            "the bakery closed for good", "they cancelled my favourite show",
            "the pool is shut for repairs", "the last bus never came",
            "the cake sank in the middle", "the hotel lost our booking",
            "my new phone arrived smashed", "the trainers I wanted sold out",
            "the heating packed up again", "my order arrived wrong", "the gym is shutting down",
            "the festival got cancelled because of the storm", "I burned the dinner",
            "my sourdough starter died", "the flight got moved to six in the morning",
            "our table got given away", "the campsite flooded")
# Everyday irritations told to a friend, which want sympathy, not advice.
ANNOYANCES = ("the neighbours are drilling again", "the wifi keeps cutting out",
              "someone ate my lunch from the work fridge", "the printer's jammed again",
              "the bus never showed up", "I've been on hold for an hour",
              "the kids won't go to sleep", "my train is delayed again",
              "the parcel went to the wrong house", "my laptop keeps crashing",
              "someone parked across our drive", "the dog barked all night",
              "I stepped in a puddle in my new shoes", "the cat was sick on the rug",
              "they changed the rota again", "the roadworks made me late again",
              "my flatmate left the dishes again", "the self checkout hates me")
# Casual confessions of a slip, said as a clause ("my bad, I mixed up the dates").
SLIPS = ("I mixed up the dates", "I forgot to reply", "I sent that to the wrong chat",
         "I double-booked myself", "I ate the last slice", "I forgot to call you back",
         "I left you on read", "I got the time wrong", "I went to the wrong cafe",
         "I completely forgot", "I broke your mug", "I forgot to bring {item}",
         "I forgot {name}'s birthday", "I fell asleep", "my phone died",
         "I read it and forgot to answer", "I thought it was next {weekday}",
         "I got on the wrong train", "I took your charger by accident",
         "I shrank your jumper in the wash", "I spelled your name wrong",
         "I forgot to defrost the chicken", "the dog chewed your shoe", "I missed your call again",
         "I was miles away")
# Things a friend asks an opinion about: a short answer, not knowledge.
TOPICS = ("the new {food} place", "my new haircut", "the new series", "the ending of the film",
          "this shirt", "the colour for the kitchen", "the new manager", "the book I lent you",
          "the new menu", "the match last night", "the new album", "a surprise party for {name}",
          "the name {name} for the baby", "the cafe on the corner", "the flat we saw",
          "my new profile pic", "going to {country} in the summer", "the plan for {weekday}",
          "{event}", "the dress for the wedding", "the playlist I sent", "the new office",
          "the paint samples", "this sofa", "getting a dog")

Kind = tuple[tuple[str, ...], tuple[str, ...]]  # (message templates, reply intents)

# Everyday messages: templates and the reply intents that answer them.
MESSAGES: dict[str, Kind] = {
    "thanks": (("Thanks for {favor}!", "Thank you so much for {favor}.",
                "Really appreciate {favor}, thanks", "thx for {favor}",
                "Thanks again for {favor}, {name}!", "Thank you {name}!", "thanks!!", "ty so much",
                "thank u for {favor}", "Cheers for {favor}", "You're the best, thanks",
                "Thanks a million!", "thanks heaps for {favor} {name}",
                "I owe you one, thanks for {favor}", "So kind of you, thank you",
                "Thanks so much for {favor}, you're a star", "tysm!!", "Thank you for {favor} 🙏",
                "Couldn't have done it without you, thanks", "Much appreciated, {name}!"),
               ("welcome",)),
    "greet": (("Hi {name}!", "Hello {name}", "Hey!", "Good morning {name}!", "Hey there {name}",
               "Hiya", "hey u", "yo {name}", "Morning!", "Hi there, long time no see", "hey hey",
               "Evening {name}!", "Heyyy",
               "Good afternoon {name}", "Hello stranger!", "Morning sunshine ☀️", "sup",
               "Hey you! 👋"), ("greeting",)),
    "how_are_you": (("How are you?", "How are you doing, {name}?", "How's it going?",
                     "How have you been?", "How's your {weekday} going?",
                     "How are things with you?", "how r u?", "hru", "what's up?",
                     "how's life treating you", "How's work, {name}?", "All good with you?",
                     "You alright?", "How's your week been?", "How's everyone at home?"),
                    ("how_are_you",)),
    "invite": (("Do you want to grab {meal} {when}?", "Want to come to {event} {when}?",
                "Would you like to join us for {meal} {when}?",
                "We're going to {event} {when}, want to come?", "Anyone up for {food} {when}?",
                "Fancy {meal} on {weekday}?", "wanna grab {meal} {when}?", "u up for {meal}?",
                "Come over for {meal} {when}?", "Fancy a drink after work?",
                "Want to catch a movie {when}?", "We should get {food} {when}, you in?",
                "Join us at {place} {when}?", "Up for a walk later?",
                "Do you want to come with us to {event}?", "Feel like {food} {when}?",
               "Come to {event} with us {when}!", "Join us for {meal} {when}!",
               "You should come to {event}", "We're having {food} {when}, come!",
                "We're doing {meal} at {place} {when} if you fancy it", "Drinks at mine {when}?",
                "Any interest in {event} {when}?"),
               ("accept_invite", "decline", "maybe", "yes")),
    "available": (("Are you free {when}?", "Are you around on {weekday}?",
                   "Can you make it {when}?", "Is {weekday} ok for you?",
                   "Does {time} work for you?", "Are you busy {when}?", "u free {when}?",
                   "r u around {when}?", "Got time for a quick call?",
                   "Any chance you're free on {weekday}?", "Would {weekday} work?",
                   "Is {time} too early?", "Do you have a minute?",
                   "Can you do {weekday} instead?", "Are you working {when}?",
                   "You around for a call {when}?", "Can you spare ten minutes {when}?"),
                  ("yes", "no", "maybe", "schedule_time")),
    "done": (("Did you finish {task}?", "Have you sent {task} yet?", "Did you call {name}?",
              "Did you get my message?", "Did you remember {task}?",
              "Have you talked to {name} yet?", "did u get my text?",
              "Did you manage to finish {task}?", "Have you booked the tickets?",
              "Did you see my email?", "Did you eat yet?", "Did you get home ok?",
              "Have you heard from {name}?", "Did the package come?",
              "Did you manage to get {item}?", "Did you remember to put the bins out?",
              "Did the plumber turn up?"), ("yes", "no", "maybe")),
    "proposal": (("Let's meet at {place} at {time}.", "How about {food} for dinner?",
                  "Shall we say {time}?", "Let's do {meal} {when}.",
                  "I was thinking we could try the new {food} place.",
                  "Maybe we should leave at {time}?", "How about {time} at {place}?",
                  "Let's just order {food}", "Why don't we go to {place}?",
                  "we could meet at {place} around {time}", "What if we do {weekday} instead?",
                  "Let's grab {meal} after {event}", "I'll book a table for {time}, ok?",
                  "Should we just stay in tonight?",
                  "Let's just get {food} delivered", "Shall we meet halfway?"),
                 ("agree", "okay", "yes")),
    "where_meet": (("Where should we meet?", "Where do you want to meet for {meal}?",
                    "Where are we meeting {when}?", "Which place did you have in mind?",
                    "Any ideas where to go for {meal}?", "Where shall we go {when}?",
                    "where do u wanna meet?", "Any preference where we eat?",
                    "Where's good for you?", "Got a place in mind for {meal}?",
                    "Where should I pick you up?",
                    "Where should I park?", "Which entrance should I go to?",
                    "Where shall I wait for you?", "Where do you want me to drop you?"),
                   ("schedule_place",)),
    "when_meet": (("What time should we meet?", "When are you free?", "What time is {event}?",
                   "When do you want to do {meal}?", "What time works best?",
                   "When should I come over?", "what time?", "When works for you?",
                   "When do you finish work?", "When's good for {meal}?",
                   "What time are you coming over?", "How early can you get here?",
                   "What time does {event} start?",
                   "What time shall I pick you up?", "What time are we heading off for {event}?"),
                  ("schedule_time",)),
    "good_news": (("{good_news}!", "Guess what, {good_news}!", "Big news: {good_news}.",
                   "Finally {good_news}!", "{name}, {good_news}!", "guess what!! {good_news}",
                   "omg {good_news}", "Some good news: {good_news}!",
                   "Just found out {good_news}!", "We did it, {good_news}!",
                   "Great news, {good_news}.",
                   "So happy right now, {good_news}", "{good_news} this morning!",
                   "You'll never believe it, {good_news}",
                   "Eeek {good_news}!!", "I can finally tell you: {good_news}", "{good_news} 🎉",
                   "Best day ever, {good_news}", "Still can't believe it, {good_news}",
                   "Wanted you to hear it from me first, {good_news}"),
                  ("congratulations", "glad", "surprise")),
    "bad_news": (("{bad_news}.", "Bad news, {bad_news}.", "Ugh, {bad_news}.",
                  "So {bad_news} today.", "{name}, {bad_news}.", "Terrible day, {bad_news}.",
                  "Just found out {bad_news}.", "Not a great week, {bad_news}.", "ugh {bad_news}",
                  "I'm so upset, {bad_news}.", "Sad news: {bad_news}.",
                  "{bad_news} last night", "Worst day ever, {bad_news}",
                  "Can't stop crying, {bad_news}",
                  "{bad_news} 😢", "Gutted, {bad_news}", "Not good news I'm afraid, {bad_news}",
                  "Heartbroken, {bad_news}", "Had some bad news today, {bad_news}"),
                 ("sympathy", "ask_details")),
    "ill": (("{illness}.", "Not coming in today, {illness}.", "{illness}, staying home.",
             "Can't make it, {illness}.", "I think I'm coming down with something",
             "{illness}, can't come in.", "Home sick today", "I feel terrible",
             "Woke up with a sore throat", "Been in bed all day, {illness}.",
             "{illness} 🤒", "Feeling rubbish, {illness}", "Off sick, {illness}",
             "Can't make it {when}, {illness}", "{illness} so I'm working from home",
             "Been to the doctor, {illness}"),
            ("get_well", "sympathy")),
    "apology": (("Sorry about {mistake}.", "I'm so sorry about {mistake}.",
                 "My bad, sorry for {mistake}.", "Apologies for {mistake}.", "sry about {mistake}",
                 "So sorry, I totally forgot", "Sorry I missed your call!",
                 "I owe you an apology for {mistake}.", "Sorry for the late reply",
                 "Really sorry about earlier", "Forgive me for {mistake}?",
                 "Sorry again about {mistake}", "Soz about {mistake}", "Ah sorry, my bad!",
                 "So sorry for {mistake}, won't happen again"),
                ("apology_accepted",)),
    "late": (("Running {minutes} minutes late, sorry!", "Sorry, be there in {minutes} min.",
              "Traffic is terrible, I'll be late.", "Stuck on the train, running behind.",
              "Going to be a bit late, sorry", "Sorry {name}, I'm late again", "running late sry",
              "gonna be late", "Be there in {minutes}", "Sorry, missed the bus, I'll be late",
              "Leaving now, might be a little late", "Give me {minutes} more minutes",
              "Stuck in traffic, sorry!", "Still at work, be there soon",
              "I'll be {minutes} minutes late",
              "Running behind, go ahead and order for me", "Sorry, the {transport} is delayed"),
             ("take_your_time", "apology_accepted", "okay", "see_you")),
    "where_are_you": (("Where are you?", "Are you on your way?", "Are you close?",
                       "How far away are you?", "Are you here yet?", "When will you get here?",
                       "where r u?", "u here yet?", "What's your ETA?", "Are you nearly here?",
                       "Where are you now?", "You on your way?", "We're all waiting for you",
                       "Hurry up!", "The film's starting, where are you?",
                       "Everyone's here except you", "Are you coming or what?",
                       "How long will you be?", "Where've you got to?", "u close?"),
                      ("on_my_way", "running_late")),
    "arrived": (("I'm here.", "I'm at {place}.", "Just got to {place}.", "I'm outside.",
                 "Waiting at {place}.", "here!", "I'm outside your place", "Just parked",
                 "Just arrived at {place}", "Here, grabbing a table",
                 "I'm in the car park", "Just pulled up outside"),
                ("on_my_way", "okay", "running_late")),
    "confirm": (("See you {when}!", "Looking forward to {event}!", "Can't wait for {event}!",
                 "See you at {place}.", "So see you at {time} then.", "See u at {time}",
                 "Ok see you there", "Can't wait to see you {when}!", "All set for {weekday}",
                 "It's a date then", "Great, see you at {place} at {time}.",
                 "Perfect, see you {when}", "See you on {weekday} then!"),
                ("see_you", "agree")),
    "goodbye": (("Good night!", "Bye!", "Gotta go, talk later.", "I'm heading to bed.",
                 "Talk soon!", "Night {name}!", "gn", "Night night", "ttyl", "Got to run, bye!",
                 "Off to bed, night!", "Speak tomorrow", "I'm off, bye!", "Going to sleep now",
                 "Laters!", "Catch you later", "Right, off to bed, night all"),
                ("goodbye", "see_you")),
    "wishes": (("Wishing you a happy {holiday}!", "Merry Christmas!", "Have a great weekend!",
                "Have a nice {weekday}!", "Happy {holiday}, {name}!", "Merry Xmas!",
                "Happy {holiday}!!", "Enjoy your weekend!", "Have a lovely {weekday}",
                "Hope you have a great week!", "Season's greetings!", "Enjoy your day off!",
                "Happy {holiday} to you and the family!", "Have a lovely {holiday}!",
                "Hope you have a great {holiday}", "Happy Friday, {name}!",
                "Hope you're having a lovely {holiday} 🎉", "Eid Mubarak!",
                "Happy Diwali to you all ✨"),
               ("same_to_you", "thanks")),
    "birthday": (("Happy birthday {name}!", "Happy birthday! Hope you have a great day.",
                  "Happy birthday, have a wonderful day!", "hbd!!", "Happy bday {name}!",
                  "Happy birthday, hope it's a good one!", "Have the best birthday!",
                  "Happy birthday old friend!",
                  "Happy birthday!! 🎂🎉", "Many happy returns, {name}!"), ("thanks",)),
    "share": (("Check out {thing}!", "Look at this photo of {thing}.",
               "Here's a picture of {thing}.", "What do you think of {thing}?", "look at this!",
               "Just sent you a pic of {thing}", "Isn't {thing} adorable?",
               "Here's the photo from {event}", "Sending you a photo of {thing}",
               "Check this out",
               "Made {food} tonight 😋", "Look how big {pet} has got", "Sending you {thing} 😍",
               "Guess who learned to walk 😍"), ("love_it",)),
    "funny": (("{funny} lol", "lol {funny}", "haha {funny}", "{funny} 😂", "omg {funny}, I can't",
               "{funny}, I'm dying", "Guess what, {funny} haha",
               "Haha that's so funny", "I can't stop laughing at that video",
               "You won't believe what {name} just did lol", "That meme you sent killed me",
               "lol {name} fell asleep on the train again", "lmao", "haha {name} is hilarious",
               "omg I'm crying laughing", "That's the funniest thing I've seen all week",
               "lol did you see that?", "You're so funny", "hahaha no way",
               "True story: {funny}", "{funny} 🤣🤣", "You had to be there, {funny}",
               "Still laughing about yesterday"), ("laugh",)),
    "news": (("{surprise}!", "Did you hear? {surprise}", "Guess what, {surprise}",
              "Apparently {surprise}", "You won't believe it, {surprise}", "So {surprise}!",
              "Big gossip: {surprise}", "Just heard {surprise}", "omg {surprise}",
              "Did you know {surprise}?", "Wait till you hear this: {surprise}",
              "Have you heard {surprise}?", "Plot twist: {surprise}",
              "Can you believe {surprise}?"),
             ("surprise", "ask_details")),
    "vague": (("Something happened at work today.", "You won't believe what happened.",
               "I need to tell you something.", "Guess who I ran into today?",
               "Can we talk later?", "Long day...", "You'll never guess what happened",
               "Got a sec?", "Need to talk to you about something", "So, about last night...",
               "Ugh, what a day",
               "Ok so something weird just happened", "You'll never guess who I just saw"),
              ("ask_details",)),
    "ask_help": (("Can you help me with {task}?", "Could you do me a favor?",
                  "Can you pick up {item} on your way home?", "Could you send me {task}?",
                  "Can I borrow {item}?", "could u help me move on {weekday}?",
                  "Can you give me a hand with {task}?", "Any chance you could pick me up?",
                  "Can you grab {item} on the way?", "Would you mind watering the plants?",
                  "Can you cover for me {when}?", "Need a favor", "Can you check {task} for me?",
                  "Can you look after {pet} this weekend?", "Could you lend me {item}?",
                  "Mind picking up {item}?"),
                 ("offer_help", "yes", "okay")),
    "request": (("Please call me when you get a chance.", "Don't forget {task}.",
                 "Remember to bring {item}.", "Let me know when you're home.",
                 "Text me when you land.", "call me when u can", "Let me know when you're free",
                 "Send me the address?", "Don't forget to bring {item}!", "lmk when you get home",
                 "Text me when you leave", "Please remind me about {task}",
                 "Keep it down, the baby's asleep",
                 "Remind me to call {name}", "Don't forget it's {name}'s birthday on {weekday}"),
                ("okay", "yes")),
    "luck": (("I have {test} tomorrow.", "Wish me luck for {test}!",
              "Nervous about {test} on {weekday}.", "Big day tomorrow, {test}",
              "{test} in an hour, so nervous", "Fingers crossed for {test}", "Off to {test} now",
              "Wish me luck!", "I'm so nervous about {test}",
              "Exam tomorrow, eek", "{test} in ten minutes 😬", "About to go into {test}"),
             ("good_luck",)),
    "trip": (("I'm off to {trip}!", "Going to {event} tonight.",
              "We leave for {country} tomorrow!", "Heading to {trip} for the weekend.",
              "Off to {country} next week!", "Flying to {country} tomorrow",
              "We're going to {trip} on {weekday}", "Finally on holiday!",
              "Heading out to {event}",
              "We're off to {trip} in the morning!", "Packing for {trip} now",
              "Just landed in {country}!"), ("have_fun",)),
    "miss": (("I miss you.", "Miss you so much!", "Can't wait to see you again.",
              "It's been too long, I miss you.", "miss u", "I miss you already",
              "I miss our chats", "Come back soon, I miss you", "Missing you today",
              "Wish you could be here", "It's not the same without you",
              "Wish you were closer", "When are you coming home? I miss you",
              "Miss your face", "Counting the sleeps till I see you 🥰", "Wish you were here 😢"),
             ("miss_you",)),
    "update": (("I sent you {task}.", "The package arrived.", "I booked a table for {time}.",
                "Dinner is ready!", "I'm home.", "{name} says hi.", "Just got home", "I'm back",
                "Left {item} at your place", "Dinner's in the oven", "Dropped off {item}",
                "Done with {task}!", "Package is here", "I paid the bill",
                "Got your parcel", "All done, sent it over", "I picked up {item}",
                "Booked the tickets"),
               ("thanks", "okay", "glad")),
    "opinion": (("This weather is amazing.", "That movie was so good.",
                 "{food} sounds perfect right now.", "We should do this more often.",
                 "Such a nice day today", "That was delicious", "Best concert ever!",
                 "This coffee is so good", "Loved that movie", "Today was so much fun",
                 "{event} was amazing",
                 "That was such a good night", "Best {food} I've ever had",
                 "{event} was so much fun"), ("agree", "love_it")),
    "better": (("I'm feeling much better now.", "The surgery went well.",
                "{name} is out of hospital.", "Feeling a lot better today",
                "The test results came back fine", "{name} is doing much better",
                "Finally over my cold", "Back on my feet!", "The fever's gone",
                "The baby finally slept", "We finally got some sleep", "The boiler's fixed",
                "The power is back on", "Found my keys!", "{name} found the cat",
                "{relative} is back home and doing well", "Fever finally broke",
                "{pet} is home from the vet", "Back at work today, much better",
                "The cast is off!"), ("glad",)),
    "compliment": (("You look great!", "Great job on {task}!", "Well done today!",
                    "You did amazing!", "So proud of you!", "Nice work, {name}!",
                    "Love your new haircut", "You're the best", "You were brilliant at {event}",
                    "Loved your speech", "You sang beautifully", "You played so well today",
                    "That dress really suits you", "Your cooking is the best",
                    "You smashed it!", "Your garden looks incredible", "Proud of you, {name}"),
                   ("thanks",)),
    "congratulated": (("Congrats on the new job!", "Congratulations {name}!!",
                       "Heard the news, congratulations!", "Congrats on {achievement}!",
                       "Well done on {achievement}!", "congrats!! so happy for you",
                       "Congratulations on {achievement}, so well deserved",
                       "Heard about {achievement}, congrats!", "Well done you!",
                       "Woohoo, congrats on {achievement}! 🎉"), ("thanks",)),
    "comforted": (("So sorry to hear about your loss.", "Thinking of you.",
                   "Hope you feel better soon {name}!", "Sorry to hear you're sick",
                   "Let me know if you need anything.", "Sending love your way",
                   "Here if you need anything x", "Thinking of you and your family",
                   "Sorry about {pet}, thinking of you"), ("thanks",)),
    "cancel": (("Sorry, I have to cancel {when}.", "Something came up, can't make it tonight.",
                "Can we reschedule?", "I need to bail on {event}, sorry",
                "Can we push {meal} to {weekday}?", "Can't make {event} after all",
                "Can't make it {when} anymore, sorry",
                "Something's come up, can we do {weekday} instead?",
                "Need to bail on {meal}, sorry!", "Rain check on {meal}?"),
               ("okay", "apology_accepted", "schedule_time")),
    "offer": (("Do you need anything from the shop?", "Want me to bring anything?",
               "Want some {food}?", "Should I pick you up?", "Need a lift?", "Shall I call you?",
               "Want me to book a table?",
               "Want a lift to {event}?", "Shall I bring {food}?", "Want a cup of tea?"),
              ("yes", "no", "thanks")),
    "tired": (("I'm exhausted", "So tired today", "Work is crazy this week", "Long week...",
               "I'm so stressed about {task}", "Didn't sleep at all last night",
               "Finally home after a twelve hour shift", "What a week, I'm shattered",
               "Rough morning, {bad_news}",
               "Knackered", "I could sleep for a week", "Been on my feet all day"),
              ("sympathy", "ask_details")),
    "yes_no": (("Are you still up?", "You awake?", "Is it raining there?", "Did you like {event}?",
                "Do you like {food}?", "Have you seen the new episode?", "Is {name} coming too?",
                "Are you coming to {event}?", "Is everything ok?", "Ready?", "Is that ok?",
                "Feeling any better?", "Are you feeling better?", "Still poorly?",
                "Still coming to {event}?", "Is {name} ok?", "Sleep ok, {name}?"),
               ("yes", "no", "maybe")),
    "how_was": (("How was {event}?", "How did {test} go?",
                 "How was the trip to {country}?", "how was {meal}?",
                 "How did it go with {name}?", "How's the new job going?",
                 "How was your weekend?", "hows {name} doing?", "How was the flight?",
                 "So how did {event} go?", "how was {trip}?",
                 "How was your day, {name}?", "How did the date go?", "How was {place}?"),
                ("how_are_you", "love_it")),
    "ask_opinion": (("What did you think of {event}?", "Did you enjoy {event}?",
                     "Thoughts on {thing}?", "Be honest, how's {thing}?",
                     "Was {event} any good?", "What do you reckon, {food} tonight?",
                     "Do you like {thing}?", "Did you like the {food} place?",
                     "What do you think of {topic}?", "Thoughts on {topic}?",
                     "How do you feel about {topic}?", "Honest opinion on {topic}?",
                     "what do u reckon about {topic}", "Be honest, do you like {topic}?",
                     "{topic}: yay or nay?"),
                    ("love_it", "agree", "yes")),
    "plans": (("What are you up to {when}?", "Any plans for {when}?",
               "What's the plan for {when}?", "What are we doing {when}?", "wyd",
               "What you doing {when}?", "Doing anything fun {when}?",
               "What's happening {when}?", "Got plans on {weekday}?",
               "What are you doing for {holiday}?", "Up to anything {when}?",
               "Got anything planned for the bank holiday?"),
              ("maybe", "schedule_time", "ask_details")),
    "wish_luck": (("Good luck with {test}!", "Good luck today!", "Hope {test} goes well",
                   "You'll smash it tomorrow", "Break a leg!", "Rooting for you!",
                   "All the best for {test}", "Fingers crossed for you {name}!",
                   "good luck tmrw!!",
                   "Knock 'em dead!", "Good luck with {test}, you've got this",
                   "Thinking of you today, good luck!"), ("thanks",)),
    "remark": (("What a {weather} day!", "It's so {weather} today", "Lovely evening, isn't it?",
                "Can't believe how {weather} it is", "Gorgeous morning!", "Such a {weather} week",
                "Finally {weekday}!", "This week has flown by",
                "Can you believe this weather?", "It's so {weather} out",
                "What a {weather} morning"), ("agree", "love_it")),
    "in_transit": (("On the {transport} now", "Just got on the {transport}",
                    "Boarding now", "The {transport} is packed", "Just got off the {transport}",
                    "Waiting for the {transport}", "On the {transport}, see you in {minutes}",
                    "Missed the {transport}, getting the next one",
                    "omw!", "On my way now", "Just left the house", "Leaving work now",
                    "Heading over now"), ("okay", "see_you")),
    "who_brings": (("Who's bringing {food}?", "Who's driving {when}?",
                    "Who else is coming to {event}?", "Can someone bring {item}?",
                    "Who's in for {meal} {when}?", "Anyone got {item}?",
                    "Who's got the tickets?", "Who's booking the table?"),
                   ("maybe", "offer_help", "yes")),
    "liked_it": (("{name} loved the present", "The kids loved {favor}",
                  "Mum said thanks for {favor}", "Everyone loved the cake you made",
                  "{name} can't stop talking about {event}", "The flowers you sent are beautiful",
                  "{relative} loved {favor}", "The kids haven't stopped talking about {event}"),
                 ("glad", "welcome")),
    "home_safe": (("Home safe", "Made it home", "Got home ok", "We landed!", "Arrived safely",
                   "Home now, thanks for tonight", "Back safe and sound", "Got in ok, night!"),
                  ("glad", "okay")),
    # Small setbacks: sympathy, surprise or a question, not condolences.
    "letdown": (("{letdown}.", "Ugh, {letdown}", "So annoying, {letdown}", "{letdown} 😭",
                 "Can you believe it, {letdown}", "Guess what, {letdown}", "Typical, {letdown}",
                 "Well that's that, {letdown}"),
                ("sympathy", "surprise", "ask_details")),
    "annoyed": (("ugh {annoyance}", "{annoyance} 🙄", "So fed up, {annoyance}",
                 "Of course {annoyance}", "Just my luck, {annoyance}", "{annoyance}. Again.",
                 "Day ruined: {annoyance}"),
                ("sympathy",)),
    # Casual apologies: the slip said, not the word sorry.
    "slip": (("Oops, {slip}", "My bad, {slip}", "{slip}, sorry!!", "Ugh sorry, {slip}", "{slip} 🤦",
              "Argh, {slip}, I'm an idiot", "Sorry, {slip}, my mistake", "omg {slip} sorry",
              "Ahh {slip}, forgive me"),
             ("apology_accepted",)),
    # Someone else is ill: sympathy, or wishes passed on.
    "someone_ill": (("{relative} has {ailment}", "The kids are off school with {ailment}",
                     "{relative} is in bed with {ailment}", "{pet} is poorly, we're at the vet",
                     "Looks like {relative} has {ailment}, so staying in",
                     "{name} came down with {ailment}", "All of us have {ailment} 🤧"),
                    ("sympathy", "get_well")),
    # Asking for a moment or a few days: patience answers them.
    "need_time": (("One sec", "Give me a sec", "Hang on, just finishing something", "brb",
                   "I'll get back to you {when}", "Let me check and get back to you",
                   "Can I let you know {when}?", "Still working on {task}, need a bit longer",
                   "Can I have till {weekday} for {task}?", "Two minutes!", "Just a mo",
                   "Bear with me, nearly done"),
                  ("take_your_time", "okay")),
    # Good-night wishes, answered in kind.
    "sleep_well": (("Sleep well!", "Sweet dreams x", "Night night, sleep tight", "Nighty night 😴",
                    "Sleep well {name}", "Get some rest, night!", "Have a good sleep"),
                   ("goodbye", "same_to_you")),
    # Checking a plan stands: a yes or a see-you.
    "still_on": (("We still on for {meal} {when}?", "Still good for {meal}?",
                  "Is {event} still going ahead {when}?", "We still doing {food} tonight?",
                  "Still on for {weekday}?", "Are we still meeting at {place}?",
                  "Is it still {time}?"),
                 ("yes", "see_you", "agree")),
    # Where someone is right now: a yes or no, or on the way.
    "still_there": (("Are you still at {place}?", "Still at work?", "You still in town?",
                     "Are you home yet?", "Have you left {place} yet?", "Are you at {place} yet?",
                     "u still at {place}?"),
                    ("yes", "no", "on_my_way")),
    # Small everyday choices: a yes, a no or a maybe, never advice on big ones.
    "should_i": (("Should I bring {item}?", "Should I text {name}?",
                  "Should I get {food} or {food}?", "Do you think I need a jacket?",
                  "Should I book the tickets now?", "Worth getting a taxi?",
                  "Is it worth going to {event}?", "Shall I wear the blue one?",
                  "Should I wait for you?"),
                 ("yes", "no", "maybe")),
    # Checking which one was meant: a short yes, no or check.
    "clarify": (("Which one did you mean, {place}?", "Do you mean this {weekday} or next?",
                 "Sorry, which one?", "The one near {place}?", "Is that the same {name} from work?",
                 "You mean tonight?", "Wait, this {weekday}?"),
                ("yes", "no", "maybe")),
    # Looking forward to something: enjoy it.
    "excited": (("So excited for {event}!", "Counting down the days till {trip}",
                 "{event} tomorrow!! 🎉", "Eeek, {trip} next week",
                 "Two more sleeps till {trip}!"),
                ("have_fun", "agree", "glad")),
    # Accepting an invitation: glad, see you.
    "rsvp_yes": (("Count me in for {event}!", "I'll be there!", "Yes! I'd love to come",
                  "We're in for {meal} {when}", "Deffo coming to {event}", "Wouldn't miss it",
                  "Save me a seat!"),
                 ("glad", "see_you", "agree")),
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
    "We finally got the quotes back from the builders for the kitchen.",
    "My parents are visiting next month and want to stay for three weeks.",
    "The kids have school holidays at the same time, so the house will be packed.",
    "I've been thinking about changing jobs since the reorganisation.",
    "The new manager keeps changing priorities without telling anyone.",
    "Our neighbour complained about the noise again and mentioned the council.",
    "The vet said the cat needs an operation that the insurance might not cover.",
    "I've looked at flights for the summer and the prices have nearly doubled.",
    "The bank still hasn't refunded the payment that went out twice last month.",
    "{name} says the landlord wants to sell the flat by the end of the year.",
)
LONG_ENDINGS = ("Can you send me the latest figures and your notes on the contracts?",
                "What do you think we should do about all of this?",
                "Could you write up a plan and share it with everyone before the call?",
                "Do you think I should talk to them first or just wait and see?",
                "Any advice on how to handle it, and who I should call about it?",
                "Let me know what you think when you have time to read all of this.")
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
    ("How do I center a div in CSS? display: flex isn't working",
     "Set justify-content: center and align-items: center on the parent, with a height."),
    ("npm install fails with EACCES permission denied, any idea?",
     "Don't use sudo; set a user prefix with npm config set prefix ~/.npm-global."),
    ("Why does my_list.sort() return None in Python?",
     "list.sort() sorts in place and returns None; sorted(my_list) returns a new list."),
    ("My Docker container exits with code {n} right after it starts",
     "Read docker logs for it; exit code {n} means the command failed at start."),
    ("In Excel, how do I do a VLOOKUP across two sheets?",
     "=VLOOKUP(A2, Sheet2!A:B, 2, FALSE) looks up A2 in the first column of Sheet2."),
    ("Why is 0.1 + 0.2 == 0.3 False in JavaScript?",
     "Binary floating point cannot store 0.1 exactly; compare with a tolerance instead."),
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
    "My chest has been hurting on and off since last night, should I go to hospital?",
    "Can my employer read the private messages on my work phone?",
    "I got a letter saying I owe back taxes, what are my options?",
    "My teenager told me they've been self-harming, how do I help them?",
    "Is it safe to stop taking my antidepressants suddenly?",
    "My ex is threatening to take the kids abroad, what can I do legally?",
    "Should I sign the contract my landlord sent without a lawyer?",
    "What's the best way to invest my inheritance?",
    "Which religion is the right one?",
    "Is it normal to find blood in my stool?",
    "Can my landlord come into the flat without telling me first?",
    "Is it illegal to record a phone call without the other person knowing?",
    "How can I tell if a mole is cancerous?",
    "My payslip is missing my overtime, can I take my employer to court?",
    "What dose of paracetamol is safe for a six year old?",
    "I keep having panic attacks at night, what's wrong with me?",
    "Is it ok to mix alcohol and sleeping pills?",
    "Should I declare bankruptcy or take out another loan?",
    "Do I have to pay tax on the money my parents gave me?",
    "My boyfriend pushed me last night, is that abuse?",
    "Can the bank repossess the car if I miss two payments?",
    "Is a payday loan a bad idea if I can't cover the bills this month?",
    "How do I stop debt collectors ringing me at work?",
    "Do I need a solicitor if the police want to interview me?",
    "Can I challenge my aunt's will if she left me out of it?",
    "Am I entitled to anything if my company goes bust?",
    "My visa expires next month and I haven't heard back, what happens to me?",
    "What should I say at my disciplinary hearing on Monday?",
    "Can they cut my hours without any notice?",
    "Should I remortgage to pay off my credit cards?",
    # Crises told, not asked: a canned reply would be worse than none.
    "I don't see the point in living anymore",
    "I've started self-harming again",
    "He hit me again last night and I'm scared to go home",
    "I took a lot of pills and I feel strange",
    "I found a lump under my arm and they want to do a biopsy",
    "Someone is blackmailing me with photos of me",
    "My manager keeps touching me and I don't know who to tell",
    "I can't pay the rent and the bailiffs are coming tomorrow",
    "I think my drink was spiked last night",
    "I'm having chest pains and my left arm is numb",
    "We got an eviction notice and have nowhere to go",
    "I've maxed out every card and the payments bounced again",
    "We're so far behind on the rent the landlord is taking us to court",
    "The business is going under and I can't pay my staff this month",
    "I've been accused of stealing at work and I didn't do it",
    "My ex has taken the kids and won't tell me where they are",
    "The bank is going to repossess the flat if we don't pay by Friday",
    "I lost all our savings gambling and my wife doesn't know",
)
SENSITIVE_REPLY = ("This is important and deserves a careful answer from someone qualified; "
                   "please reach out to a professional or a helpline you trust.")
KNOWLEDGE = (
    ("What currency do they use in {country}?", "The {currency} ({code})."),
    ("What's the currency of {country}?", "{country} uses the {currency}."),
    ("Which currency should I bring to {country}?", "The {currency}, code {code}."),
    ("What is the ISO code of the {currency}?", "{code}, the currency of {country}."),
)
# Knowledge questions of other shapes (written here; facts as commonly stated).
FACTS = (
    ("How far is the moon from the earth?", "About 384,400 km on average."),
    ("What is the speed of light?", "About 299,792 km per second in a vacuum."),
    ("When did the Second World War end?", "In 1945: May in Europe, September in Asia."),
    ("How does a vaccine work?",
     "It shows the immune system a harmless part of a pathogen so that it learns to "
     "recognise and fight the real one."),
    ("Explain how interest rates affect inflation.",
     "Higher rates make borrowing dearer, which slows spending and so price rises."),
    ("What's the difference between a virus and a bacterium?",
     "Bacteria are living cells; viruses need a host cell to replicate."),
    ("What's the tallest mountain in the world?", "Mount Everest, 8,849 m above sea level."),
    ("How many ounces are in a pound?", "Sixteen ounces make one pound, about 453.6 g."),
    ("Why is the sky blue?",
     "Rayleigh scattering: air scatters short blue wavelengths more than red ones."),
    ("What's the chemical formula for table salt?", "NaCl: one atom of Na to one of Cl."),
    ("How long does sunlight take to reach the earth?", "About 8 minutes and 20 seconds."),
)
LANGUAGE_QUESTIONS = (
    ("Which language should I learn before moving to {country}?",
     "{language}, the official language of {country}."),
)
ARITHMETIC = (("What is {a} times {b}?", "{a} times {b} is {product}."),
              ("What's {a} plus {b}?", "{a} plus {b} makes {total}."))
# Number words in other languages (answered by num2words), time zones (answered by CLDR),
# unit conversions (computed) and landmarks (written here; figures as commonly stated).
NUMBER_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "tr", "id", "sv")
NUMBER_QUESTIONS = (("How do you say {n} in {language}?", "{n} is {words}."),
                    ("What's the number {n} in {language}?", "In {language}, {n} is {words}."),
                    ("How is {n} written in {language}?", "{n}: {words}"))
ZONES = ("Europe/Rome", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Sydney",
         "America/Chicago", "Asia/Kolkata", "Europe/Berlin", "America/Los_Angeles",
         "Africa/Nairobi", "America/Sao_Paulo", "Asia/Singapore", "Europe/Madrid",
         "America/Toronto", "Asia/Dubai")
ZONE_QUESTIONS = (("Which time zone does {city} use?", "{city} is on {zone}."),
                  ("What's the time difference with {city}?", "{city} keeps {zone}."),
                  ("Is {city} on {zone}?", "Yes, {city} keeps {zone}."),
                  ("What's the forecast for {city} this week?",
                   "A weather service has {city}'s forecast by the hour."),
                  ("Does it snow in {city} in winter?",
                   "Climate records for {city} give the average snowfall by month."))
UNITS = (("kilometres", "miles", 0.621371), ("miles", "kilometres", 1.609344),
         ("kilograms", "pounds", 2.204623), ("pounds", "kilograms", 0.453592),
         ("litres", "US gallons", 0.264172), ("inches", "centimetres", 2.54),
         ("feet", "metres", 0.3048), ("metres", "feet", 3.280840))
CONVERSIONS = (("How many {other} is {n} {unit}?", "{value} {other}."),
               ("What is {c} °C in Fahrenheit?", "{f} °F."),
               ("How much is {f} Fahrenheit in Celsius?", "{c} °C."))
LANDMARKS = (("the Colosseum", "AD 80", "48 m"), ("the Empire State Building", "1931", "443 m"),
             ("the Golden Gate Bridge", "1937", "227 m"), ("the Taj Mahal", "1653", "73 m"),
             ("the Sydney Opera House", "1973", "65 m"), ("the Statue of Liberty", "1886", "93 m"),
             ("the Burj Khalifa", "2010", "828 m"), ("the Leaning Tower of Pisa", "1372", "56 m"),
             ("the Great Pyramid of Giza", "about 2560 BC", "139 m"),
             ("Tower Bridge", "1894", "65 m"))
LANDMARK_QUESTIONS = (("How tall is {landmark}?", "About {height}."),
                      ("How old is {landmark}?", "It dates from {year}."),
                      ("What year was {landmark} finished?", "{year}."))
KNOWLEDGE_FILES = ("trivia", "history", "science", "computers")


def _cldr() -> dict[str, list]:
    """Weekday names, clock times and (country, currency name, code) triples from CLDR."""
    from babel import Locale, dates, numbers
    from babel.languages import get_official_languages

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
    languages = []
    for code, name in sorted(locale.territories.items()):
        official = [lang for lang in get_official_languages(code) if lang in locale.languages]
        if len(code) == 2 and code.isalpha() and official:
            languages.append((name, locale.languages[official[0]]))
    return {"weekday": weekdays, "time": times, "country": countries, "language": languages}


def _minutes() -> list[str]:
    from num2words import num2words

    return [num2words(n) for n in (5, 10, 15, 20, 25, 30)] + ["5", "10", "15", "20"]


def slot_values() -> dict[str, list[str]]:
    cldr = _cldr()
    return {"name": list(NAMES), "place": list(PLACES), "meal": list(MEALS),
            "food": list(FOODS), "event": list(EVENTS), "when": list(WHEN),
            "favor": list(FAVORS), "good_news": list(GOOD_NEWS), "bad_news": list(BAD_NEWS),
            "funny": list(FUNNY), "surprise": list(SURPRISES),
            "illness": list(ILLNESS), "task": list(TASKS), "item": list(ITEMS),
            "test": list(TESTS), "trip": list(TRIPS), "thing": list(THINGS),
            "mistake": list(MISTAKES), "holiday": list(HOLIDAYS),
            "achievement": list(ACHIEVEMENTS), "transport": list(TRANSPORT),
            "weather": list(WEATHER), "relative": list(RELATIVES), "pet": list(PETS),
            "ailment": list(AILMENTS), "letdown": list(LETDOWNS),
            "annoyance": list(ANNOYANCES), "slip": list(SLIPS), "topic": list(TOPICS),
            "weekday": cldr["weekday"], "time": cldr["time"],
            "country": [c[0] for c in cldr["country"]], "minutes": _minutes()}


_SLOT = re.compile(r"\{(\w+)\}")


def render(template: str, values: dict[str, list[str]], rng: random.Random) -> str:
    """The template with each slot filled by a seeded choice; a message starting with a slot
    value gets a capital letter, as people type it."""
    rendered = _fill(template, values, rng)
    return rendered[:1].upper() + rendered[1:]


def _fill(text: str, values: dict[str, list[str]], rng: random.Random) -> str:
    """`text` with each slot replaced by a seeded choice, itself filled in turn (a slot value
    may hold slots: a piece of news naming a person)."""
    return _SLOT.sub(lambda m: _fill(rng.choice(values[m.group(1)]), values, rng), text)


def template_pattern(template: str, values: dict[str, list[str]]) -> re.Pattern:
    """A regex that exactly the renderings of `template` match (each slot one of its
    `values`; a slot without values, any text), case and spacing ignored: what the eval
    file's independence check runs."""
    def slot(name: str) -> str:
        if name not in values:
            return ".+"
        return "(?:" + "|".join(filled(" ".join(v.split())) for v in values[name]) + ")"

    def literal(text: str) -> str:
        # Spaces at the slot's edges belong to the pattern; any run of them matches any run.
        return r"\s+".join(re.escape(word) for word in re.split(r"\s+", text.lower()))

    def filled(text: str) -> str:  # a template or a slot value, which may hold slots
        parts = _SLOT.split(text)
        return "".join(literal(p) if i % 2 == 0 else slot(p) for i, p in enumerate(parts))

    return re.compile(f"^{filled(template)}$")


def all_templates() -> list[str]:
    """Every message template of the corpus, negatives included."""
    return ([t for templates, _ in MESSAGES.values() for t in templates]
            + list(LONG_SENTENCES) + list(LONG_ENDINGS) + [c for c, _ in CODE]
            + list(SENSITIVE) + [k for k, _ in KNOWLEDGE] + [f for f, _ in FACTS]
            + [q for q, _ in LANGUAGE_QUESTIONS] + [q for q, _ in ARITHMETIC]
            + [q for q, _ in NUMBER_QUESTIONS] + [q for q, _ in ZONE_QUESTIONS]
            + [q for q, _ in CONVERSIONS] + [q for q, _ in LANDMARK_QUESTIONS])


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
    cldr = _cldr()
    countries = cldr["country"]
    for message, reply in FACTS:
        pairs += [{"context": message, "reply": reply, NEGATIVE: "1"}] * 3
    for question, answer in LANGUAGE_QUESTIONS:
        for _ in range(NEGATIVE_RENDERINGS):
            country, language = rng.choice(cldr["language"])
            slots = {"country": country, "language": language}
            pairs.append({"context": question.format(**slots), "reply": answer.format(**slots),
                          NEGATIVE: "1"})
    for question, answer in ARITHMETIC:
        for _ in range(NEGATIVE_RENDERINGS):
            a, b = rng.randint(3, 99), rng.randint(3, 99)
            slots = {"a": a, "b": b, "product": a * b, "total": a + b}
            pairs.append({"context": question.format(**slots), "reply": answer.format(**slots),
                          NEGATIVE: "1"})
    for question, answer in KNOWLEDGE:
        for _ in range(NEGATIVE_RENDERINGS * 2):
            country, currency, code = rng.choice(countries)
            slots = {"country": country, "currency": currency, "code": code}
            pairs.append({"context": question.format(**slots), "reply": answer.format(**slots),
                          NEGATIVE: "1"})
    return pairs + _reference_pairs(rng)


def _reference_pairs(rng: random.Random) -> list[dict[str, str]]:
    """Negatives answered from reference data: number words, time zones, conversions,
    landmarks."""
    from babel import Locale, dates
    from num2words import num2words

    names = Locale("en").languages
    pairs = []

    def add(question: str, answer: str, slots: dict) -> None:
        pairs.append({"context": render(question.format(**slots), {}, rng),
                      "reply": answer.format(**slots), NEGATIVE: "1"})

    for question, answer in NUMBER_QUESTIONS:
        for _ in range(NEGATIVE_RENDERINGS):
            n, lang = rng.randint(11, 999), rng.choice(NUMBER_LANGUAGES)
            add(question, answer, {"n": n, "language": names[lang],
                                   "words": num2words(n, lang=lang)})
    for question, answer in ZONE_QUESTIONS:
        for _ in range(NEGATIVE_RENDERINGS):
            zone = rng.choice(ZONES)
            add(question, answer, {"city": zone.split("/")[-1].replace("_", " "),
                                   "zone": dates.get_timezone_name(dates.get_timezone(zone),
                                                                   locale="en")})
    for question, answer in CONVERSIONS:
        for _ in range(NEGATIVE_RENDERINGS):
            unit, other, factor = rng.choice(UNITS)
            n, c = rng.randint(2, 500), rng.randint(-20, 45)
            add(question, answer, {"n": n, "unit": unit, "other": other,
                                   "value": f"{n * factor:,.1f}", "c": c,
                                   "f": f"{c * 9 / 5 + 32:g}"})
    for question, answer in LANDMARK_QUESTIONS:
        for _ in range(NEGATIVE_RENDERINGS // 2):
            landmark, year, height = rng.choice(LANDMARKS)
            add(question, answer, {"landmark": landmark, "year": year, "height": height})
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
