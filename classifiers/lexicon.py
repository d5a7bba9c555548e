"""Word lists the features and the explanations use. Written for the project.

These are not training data: they feed (1) the normaliser, which needs to know which
words a masked `f*ck` could be, (2) identity-term handling, which hides the *names of
groups* from the severity model so that mentioning Muslims, Jews, gay or disabled people
is not itself evidence of abuse, and (3) a handful of lexicon-count features.
Slurs are listed because a filter must recognise them; they are not identity terms.
"""

from __future__ import annotations

# Neutral names of groups -> the kind an attack on that group would be.
IDENTITY_TERMS: dict[str, str] = {}
for _kind, _words in {
    "racist": """black blacks african africans asian asians chinese indian indians pakistani
        pakistanis arab arabs white whites mexican mexicans latino latinos latina hispanic
        hispanics immigrant immigrants migrant migrants refugee refugees asylum roma gypsy
        gypsies traveller travellers romani ethnic minority minorities jamaican somali
        somalis nigerian nigerians polish romanian romanians foreigner foreigners race
        races racial caucasian caucasians native natives aboriginal""",
    "ridiculing_religion": """muslim muslims islam islamic jew jews jewish judaism christian
        christians christianity catholic catholics protestant hindu hindus hinduism sikh sikhs
        sikhism buddhist buddhists buddhism atheist atheists religion religions religious
        mosque mosques synagogue synagogues church churches temple gurdwara quran koran
        bible torah imam imams rabbi rabbis priest priests""",
    "homophobic": """gay gays lesbian lesbians bisexual bisexuals homosexual homosexuals
        homosexuality trans transgender transgenders nonbinary queer lgbt lgbtq lgbtqia
        heterosexual straight""",
    "ridiculing_disability": """disabled disability disabilities autistic autism deaf
        blind wheelchair dyslexic dyslexia adhd down's downs syndrome mental illness
        mentally handicapped impairment impaired""",
    "demeaning_individuals": """women woman girls girl female females men man boys boy
        male males feminist feminists elderly old pensioners pensioner""",
}.items():
    for _w in _words.split():
        IDENTITY_TERMS.setdefault(_w, _kind)

SLURS: dict[str, str] = {}
for _kind, _words in {
    "racist": """nigger niggers nigga niggas negro negroes coon coons wetback wetbacks
        chink chinks gook gooks paki pakis spic spics kike kikes raghead ragheads towelhead
        towelheads sandnigger beaner beaners jigaboo porchmonkey golliwog wog wogs
        darkie darkies sambo gyppo pikey pikeys""",
    "homophobic": """faggot faggots fag fags dyke dykes poof poofs poofter queers tranny
        trannies shemale batty""",
    "ridiculing_disability": """retard retards retarded spaz spastic spastics mong mongs
        mongoloid cripple cripples""",
    "ridiculing_religion": """muzzie muzzies mozzie goatfucker kafir""",
}.items():
    for _w in _words.split():
        SLURS[_w] = _kind

PROFANITY: tuple[str, ...] = tuple("""
    fuck fucks fucking fucked fucker fuckers motherfucker motherfuckers fuckin fck
    shit shits shitty bullshit shite arse arsehole arseholes ass asshole assholes
    bitch bitches bitching bastard bastards cunt cunts twat twats wanker wankers wank
    prick pricks dick dicks dickhead cock cocks bollocks piss pissed crap damn
    slut sluts whore whores hoe hoes skank douche douchebag tosser knob knobhead
""".split())

SEXUAL: tuple[str, ...] = tuple("""
    sex sexy porn porno pornography nude nudes naked tits titties boobs pussy penis
    vagina blowjob dildo horny orgasm cum cumming masturbate masturbating rape raped
    rapist anal milf xxx boner erection nipples
""".split())

THREAT: tuple[str, ...] = tuple("""
    kill killed killing murder murdered shoot shot stab stabbed hang hanged lynch
    lynched burn gas gassed exterminate exterminated slaughter behead beheaded bomb
    bombing execute executed die dead genocide massacre eradicate wipe deport
    hurt beat beating beaten punch punched smash batter battered strangle choke drown
    torture tortured knife knifed slit
""".split())

# Words that demean a person ("you're a pathetic loser", "she is an idiot"): abuse of
# an individual with no profanity in it.
INSULTS: tuple[str, ...] = tuple("""
    idiot idiots idiotic moron morons moronic stupid dumb dumbass loser losers pathetic
    clown clowns fool fools foolish imbecile imbeciles cretin cretins halfwit dimwit dunce
    ugly fat fatso worthless useless liar liars coward cowards cowardly creep creeps creepy
    weirdo weirdos freak freaks hypocrite hypocrites disgrace disgraceful jerk jerks
    ignorant lowlife scumbag scumbags sleazy sleazebag muppet numpty plonker prat pillock
    bellend minger chav chavs slag slags slapper div wasteman nonce nonces traitor
    traitors incompetent braindead brainless clueless spineless
""".split())

DEHUMANISING: tuple[str, ...] = tuple("""
    vermin rats rat cockroaches cockroach parasites parasite animals animal apes ape
    monkeys monkey pigs pig filth scum subhuman savages savage plague disease cancer
    trash garbage invaders infestation breed
""".split())

# Words that, said of a group ("xidx are ..."), make a generalisation an attack.
NEGATIVE_ATTRIBUTES: tuple[str, ...] = tuple("""
    criminals criminal thieves terrorists terrorist rapists paedophiles pedophiles burden
    disgusting dirty filthy stupid thick inferior evil worthless useless lazy pathetic
    dangerous violent primitive backward ugly gross sick perverts perverted degenerate
    degenerates freaks abomination unnatural vile scum trash subhuman animals vermin
    parasites cockroaches rats apes monkeys pigs savages invaders leeches liars greedy
    hate despise loathe detest kill exterminate deport ban gas hang shoot
""".split())

# Words a masked token like f*ck or sh!t may stand for, in the order to prefer.
MASKABLE: tuple[str, ...] = PROFANITY + tuple(SLURS) + (
    "rape", "porn", "sex", "kill", "nazi", "penis", "pussy", "tits", "boobs")
