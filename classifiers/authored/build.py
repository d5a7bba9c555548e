"""Writes the project-authored examples (*.jsonl beside this file).

PROJECT-WRITTEN TEXT, NOT REAL DATA. It fills gaps no public labelled set covers:
chain letters, light-hearted personal mail, ageism, violence, and — most of all —
neutral mentions of and counter-speech about groups (RE, PSHE, history, safeguarding
mail), so that naming a group is not itself taken as abuse. Train-only: never used as
evidence for any metric (see models/MODEL_CARD.md). Run: python -m classifiers.authored.build
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
GROUPS = ["Muslims", "Jewish people", "Jews", "Christians", "Hindus", "Sikhs", "Buddhists",
          "gay people", "lesbians", "bisexual people", "trans people", "disabled people",
          "Black people", "Asian people", "immigrants", "refugees", "women", "Travellers",
          "Gypsy, Roma and Traveller families", "autistic pupils", "deaf students",
          "wheelchair users", "older people", "asylum seekers", "Polish families",
          "Pakistani families", "Catholics", "atheists", "the LGBT community", "migrants"]

NEUTRAL = [
    "In RE this week Year 8 are learning how {g} celebrate their main festivals.",
    "The assembly on Thursday welcomes speakers who will talk about the lives of {g} in our town.",
    "Our history unit this term covers the contribution {g} have made to Britain.",
    "Please read the PSHE resource on supporting {g} before Monday's lesson.",
    "As one of the {g} on the staff, I'm happy to answer the class's questions.",
    "The library has new books by and about {g}; do recommend them to your tutor group.",
    "Reminder: the trip to the exhibition about {g} leaves at 9:15 from the front gate.",
    "Could we add a slide on the experiences of {g} to the diversity week presentation?",
    "The census figures show how many {g} live in the county; useful for the geography task.",
    "My neighbours are {g} and they invited our whole family round for dinner.",
    "We are proud that {g} are part of our school community.",
    "I love working with {g}; the mentoring scheme has been a joy this year.",
    "Is it ok to use the word {g} in the Year 9 worksheet, or is there a better term?",
    "The safeguarding training covered how {g} can be targeted online and how to help.",
    "Parents asked whether the uniform policy makes room for {g}; let's discuss at SLT.",
    "Homework: write 300 words on the rights of {g} under the Equality Act 2010.",
    "The guest speaker grew up among {g} and will talk about her childhood.",
    "{G} are welcome at every club we run, and the timetable reflects that.",
    "Thank you to the {g} who helped organise the charity bake sale.",
    "The debate club will discuss media coverage of {g} next Wednesday.",
]
COUNTER = [
    "It is never acceptable to call {g} names. Please report any bullying to your tutor.",
    "If you hear anyone say that {g} are animals, challenge it and tell a member of staff.",
    "Saying that {g} are disgusting is hate speech and it will not be tolerated here.",
    "I'm so tired of people spreading lies about {g}; it has to stop.",
    "Hatred of {g} has no place in our academy or anywhere else.",
    "The anti-bullying week materials explain why jokes about {g} hurt people.",
    "A pupil wrote that {g} should go back where they came from; we have spoken to the family and it is being dealt with.",
    "We condemn the graffiti attacking {g} that appeared near the bus stop.",
    "Nobody should be threatened for being one of the {g}. If you are, tell us.",
    "Posts calling {g} vermin are vile, and we have reported them to the police.",
    "Standing up for {g} when others mock them takes courage; well done to Year 10.",
    "The lesson looked at how propaganda described {g} as a threat, and why that was false.",
    "We do not accept insults against {g}, whether in person or online.",
    "Stop saying you hate {g}. It's wrong and it hurts people in this school.",
    "Claims that {g} are dangerous are simply untrue, as the evidence shows.",
]
SCHOOL = [
    "Parents' evening for Year 11 is on Tuesday from 4pm to 7pm; book slots on the app.",
    "Please can all staff submit their predicted grades by Friday lunchtime.",
    "The minibus is booked for the netball fixture; we leave at 1:30.",
    "Cover for period 3: Mr Ahmed's Year 7 maths class, room 12. Work is on the desk.",
    "Thanks for the lovely card, the children's drawings made my day.",
    "The fire drill will take place on Wednesday morning; please remind your tutor groups.",
    "Attached are the minutes from the governors' meeting for your review.",
    "Can you send me the risk assessment for the Year 6 residential before half term?",
    "Lunch menu next week: pasta bake, fish and chips on Friday, vegetarian options daily.",
    "The photocopier on the first floor is jammed again; I've logged it with the site team.",
    "Great work on the science fair, everyone. The judges were really impressed.",
    "Reminder that the deadline for the coursework is the 14th. No extensions without a note.",
    "We killed it at the quiz night, thanks to everyone who came and supported the PTA!",
    "The shooting scene in Macbeth act 3 is the focus for Monday; bring your copies.",
    "The History trip will visit the Holocaust memorial; please read the background pack.",
    "Year 9 will study the causes of the Second World War, including the rise of the Nazi party.",
    "Sex and relationships education letters have gone home; parents may ask to see the materials.",
    "Could the drama department lend us the stage blood for the Sweeney Todd rehearsal?",
    "My daughter is off sick today with a temperature, she'll be back when she's better.",
    "Apologies, I can't make the meeting, I have a hospital appointment.",
]
CHAIN = [
    "Forward this to {n} people within {h} hours or you will have bad luck for {y} years!",
    "This is not a joke. Send this message to {n} friends and your wish will come true at midnight.",
    "Don't break the chain! An angel is watching over you. Pass this on to {n} people you love.",
    "Microsoft is testing a new email tracker and will pay you $245 for every person you forward this to. It really works, my cousin got paid!",
    "A girl who ignored this letter lost everything within a week. Forward it to {n} people NOW.",
    "Send this to everyone in your address book. If you get {n} back you are truly loved.",
    "WARNING: a virus called 'Happy Birthday' will wipe your hard drive. Forward this to everyone you know!",
    "Make a wish, then forward this to {n} people in the next {h} minutes and it will come true. If you don't, your crush will never like you.",
    "This prayer has been around the world {y} times. Whoever breaks the chain will have bad luck. Send it on to {n} people.",
    "Copy and paste this to {n} friends. Those who don't will be visited tonight.",
    "FW: FW: FW: please read!!! send to {n} friends or bad things will happen",
    "Hotmail will close your account unless you forward this mail to {n} contacts to show it is active.",
]
LIGHT = [
    "Look at this photo of my new puppy, isn't he the cutest thing ever?",
    "Ha! Found this video of a cat falling off a sofa, watch it, it made me cry laughing.",
    "Why did the scarecrow win an award? Because he was outstanding in his field!",
    "Friday funny: what do you call a fish without eyes? A fsh.",
    "Check out these hilarious pictures of dogs in Halloween costumes lol",
    "Just for a laugh, here's a quiz: which Disney character are you? I got Olaf.",
    "Some cute baby otters holding hands to brighten your Monday.",
    "Knock knock. Who's there? Lettuce. Lettuce who? Lettuce in, it's cold out here!",
    "lol this meme about teachers on Sunday night is SO true, had to share",
    "Here's a silly little story about a penguin who wanted to fly, thought you'd enjoy it.",
    "Top 10 funniest animal photos of the year, number 7 is amazing!",
    "I told my wife she was drawing her eyebrows too high. She looked surprised.",
    "A little joke for the weekend: I'm reading a book about anti-gravity. I can't put it down.",
    "Kittens vs cucumbers compilation, you have to see this",
]
BAD_TASTE = [
    "Why do women have smaller feet? So they can stand closer to the sink. Ha, just a joke!",
    "Joke of the day: how many men does it take to change a toilet roll? Nobody knows, it's never happened.",
    "My wife said I never listen to her. At least I think that's what she said.",
    "Blonde joke for Friday: she stared at the orange juice carton because it said concentrate.",
    "What's the difference between a woman and a sat nav? You only have to listen to the sat nav.",
    "Women drivers, eh? Took her twenty minutes to park. Only joking, sort of.",
    "A funeral joke: the undertaker was always dying to meet new people.",
    "Here's one for the girls in the office: the way to a man's heart is through his stomach, so get cooking.",
    "Why did the vicar go to the pub? For the spirits. Bit cheeky for a Monday.",
    "Men are like parking spaces, all the good ones are taken and the rest are disabled. Ha!",
]
AGEISM = [
    "Old people should just hurry up and die and free up the housing.",
    "Boomers are useless dinosaurs, they should be put out to pasture.",
    "She's far too old to be teaching, get someone young who can use a computer.",
    "Don't bother asking the old codger in IT, he's past it and senile.",
    "Pensioners are a drain on everyone, the wrinkly old parasites.",
    "Why do we let these old fossils vote? They'll be dead soon anyway.",
    "Another doddery old fool holding up the queue at the post office, they should ban them.",
    "Anyone over 50 is too slow and too set in their ways to hire. Bin their CVs.",
    "Okay boomer, go back to your care home and leave the real work to us.",
    "Granny-aged staff like her should retire and stop embarrassing the department.",
    "Old people are disgusting, they smell and they can't drive.",
    "Young people today are lazy snowflakes who can't do anything, utterly useless generation.",
    "The old bag in reception is losing her marbles, senile old witch.",
    "Get rid of the dinosaurs on the staff, they are too old to understand kids.",
]
VIOLENCE = [
    "Watch this video of the fight behind the science block, he got knocked out cold lol",
    "Graphic video attached: the guy gets his head smashed in with a brick, brutal.",
    "Look at the blood everywhere in this stabbing clip, absolutely mental.",
    "Sending you the beheading video from that site, it's sick.",
    "I'm going to smash his face in after school, be there to watch.",
    "Check out this compilation of people getting beaten up, the third one is brutal.",
    "Here's the footage of the car crash with the bodies, gross but you have to see it.",
    "We filmed the kid getting kicked on the floor, I'll send it to everyone.",
]
POLITICS = [
    "Anyone who voted for that lot is a traitor and a moron, and should be ashamed to show their face.",
    "The party leader is a lying scumbag and his supporters are brain-dead sheep.",
    "Tory scum, every last one of them, I hope they rot.",
    "Lefty snowflakes are ruining this country with their woke nonsense, pathetic idiots.",
    "Brexit voters are thick racist gammons and deserve everything they get.",
    "Remoaners are traitors who should be locked up for betraying the country.",
    "The councillors are crooks and parasites, throw the lot of them out.",
    "Only an idiot would vote Labour, they're all commie clowns.",
]
THREATS = [
    "I'll kill you after school, you're dead.",
    "I know where you live and I'm going to hurt you.",
    "Watch your back tomorrow, I'm going to stab you.",
    "If you tell anyone I will break your legs.",
    "You better not come in on Monday or I'll beat you up.",
    "I'm going to burn your house down with you in it.",
    "Say that again and I'll smash your face in.",
    "We're going to jump you on the way home, you won't see it coming.",
]
SEXUAL = [
    "Send me some nudes tonight babe, nobody will know.",
    "Check out this porn link, the girl is so hot.",
    "She's got a great body, I'd love to get her into bed.",
    "Here's the naked picture of her that everyone is sharing.",
    "Want to see some sexy pics? Click here for hot singles in your area.",
    "He was talking about his sex life in the staffroom again, describing everything.",
]


def main() -> None:
    rng = random.Random(5)

    def write(name: str, rows: list[dict]) -> None:
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            fh.write("// PROJECT-AUTHORED, train-only, never evidence for a metric.\n")
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")

    def fill(t: str, g: str) -> str:
        return t.replace("{g}", g).replace("{G}", g[0].upper() + g[1:])

    neutral = [fill(t, g) for t, g in itertools.product(NEUTRAL, GROUPS)]
    counter = [fill(t, g) for t, g in itertools.product(COUNTER, GROUPS)]
    rng.shuffle(neutral)
    rng.shuffle(counter)
    write("identity_neutral", [{"text": t, "severity": "clean", "weight": 1.0}
                               for t in neutral[:300]])
    write("counter_speech", [{"text": t, "severity": "clean", "weight": 1.0}
                             for t in counter[:250]])
    write("school_mail", [{"text": t, "severity": "clean", "weight": 1.0} for t in SCHOOL])
    chains = []
    for t in CHAIN:
        for n, h, y in [(10, 24, 7), (5, 1, 3), (15, 48, 10)]:
            chains.append(t.format(n=n, h=h, y=y))
    write("chain_letters", [{"text": t, "severity": "mild", "kinds": ["chain_letter"]}
                            for t in dict.fromkeys(chains)])
    write("light_hearted", [{"text": t, "severity": "mild", "kinds": ["light_hearted"]}
                            for t in LIGHT])
    write("bad_taste", [{"text": t, "severity": "mild", "kinds": ["bad_taste"]}
                        for t in BAD_TASTE])
    write("ageism", [{"text": t, "severity": "serious", "kinds": ["ageism"]} for t in AGEISM])
    write("violence", [{"text": t, "severity": "serious", "kinds": ["violence"]}
                       for t in VIOLENCE])
    write("threats", [{"text": t, "severity": "serious", "kinds": ["violence"]}
                      for t in THREATS])
    write("politics", [{"text": t, "severity": "serious",
                        "kinds": ["politically_aggravating", "bad_language"]} for t in POLITICS])
    write("sexual", [{"text": t, "severity": "serious", "kinds": ["sexually_orientated"]}
                     for t in SEXUAL])


if __name__ == "__main__":
    main()
