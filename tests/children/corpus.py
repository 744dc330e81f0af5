"""A synthetic population of children and the queries people would type for them.

Built fast with ``bulk_create`` (the derived columns and name keys computed the same way
``save`` does), deterministic for a seed. Families share a surname and postcode; some
children are twins, have double-barrelled or accented names, previous names or an
earlier address; a few are shielded. Each query is a known child's details with the
slips practitioners make: typos, short forms, sound-alike spellings, swapped names, day
and month swapped, one digit wrong, a part of a double-barrelled name, an old postcode,
and two of these at once. ``absent`` queries describe children who are not in the
index, some of them twins or siblings of children who are.
"""

import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta

from faker import Faker

from children import names
from children.matching import Query, nicknames
from children.models import Address, Child, ChildName, NameKey
from tests import factories

EXTRA_GIVEN = ["Zoë", "Siobhán", "Łukasz", "Kacper", "Aoife", "Niamh", "Mohammed", "Aaliyah", "Oluwaseun",
               "Chidi", "Wiktoria", "Zuzanna", "José", "Renée", "Chloé", "Seán", "Aleksander", "Maja", "Ayesha",
               "Priya", "Arjun", "Fatima", "Yusuf", "Ioana", "Mateusz", "Ciarán", "Ngozi", "Kwame", "Hamza"]
EXTRA_FAMILY = ["Kociński", "O'Brien", "Nowak", "Wiśniewski", "Okonkwo", "Ahmed", "Khan", "Begum", "Patel",
                "Nguyen", "McDonald", "MacDonald", "O'Reilly", "D'Souza", "Fitzgerald", "Kowalczyk", "Adeyemi",
                "Müller", "Ó Súilleabháin", "Van der Berg", "Chowdhury", "Hussain", "Popescu", "Mensah"]
DISTRICTS = ["W6", "W12", "W14", "SW6", "LS6", "LS7", "LS8", "LS11", "TR1", "TR14", "PL25", "M14", "B11", "E17"]
UNIT = "ABDEFGHJLNPQRSTUWXYZ"
KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqrtyuiopoadfghjklkxcvbnmn")}
SOUND_ALIKE = [("ph", "f"), ("ck", "k"), ("c", "k"), ("k", "c"), ("y", "i"), ("ie", "y"), ("ey", "y"), ("ll", "l"),
               ("tt", "t"), ("th", "t"), ("son", "sen"), ("ou", "o"), ("ae", "e"), ("z", "s"), ("s", "z"),
               ("ee", "ea"), ("ai", "ay"), ("mm", "m"), ("nn", "n"), ("i", "y"), ("er", "a"), ("a", "e")]


@dataclass
class Person:
    given: str
    family: str
    dob: date
    sex: str
    postcode: str
    previous_family: str = ""
    previous_postcode: str = ""
    shielded: bool = False
    reference: str = ""


@dataclass
class Case:
    kind: str
    query: Query
    target: str  # child reference ("" for an absent child)


@dataclass
class Corpus:
    people: list[Person] = field(default_factory=list)
    absent: list[Person] = field(default_factory=list)


def _postcode(rng, district=None):
    district = district or rng.choice(DISTRICTS)
    return f"{district} {rng.randint(1, 9)}{rng.choice(UNIT)}{rng.choice(UNIT)}"


def _given(rng, fake, sex):
    if rng.random() < 0.12:
        return rng.choice(EXTRA_GIVEN)
    return fake.first_name_female() if sex == "F" else fake.first_name_male()


def _family(rng, fake):
    if rng.random() < 0.12:
        family = rng.choice(EXTRA_FAMILY)
    else:
        family = fake.last_name()
    if rng.random() < 0.08:
        family = f"{family}-{fake.last_name()}"
    return family


def population(size: int, *, seed: int = 4, absent: int = 0) -> Corpus:
    """People in families of 1-4 (some twins); ``absent`` more who are kept out of the index."""
    rng = random.Random(seed)
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    today = date.today()
    corpus, seen = Corpus(), set()
    while len(corpus.people) < size + absent:
        family, postcode = _family(rng, fake), _postcode(rng)
        previous_postcode = _postcode(rng) if rng.random() < 0.15 else ""
        base = today - timedelta(days=rng.randint(200, 16 * 365))
        for i in range(rng.choice([1, 1, 2, 2, 3, 4])):
            sex = rng.choice("FM")
            twin = i > 0 and rng.random() < 0.15
            dob = base if twin else today - timedelta(days=rng.randint(100, 17 * 365))
            person = Person(given=_given(rng, fake, sex), family=family, dob=dob, sex=sex, postcode=postcode,
                            previous_postcode=previous_postcode, shielded=rng.random() < 0.02)
            if rng.random() < 0.08:
                person.previous_family = fake.last_name()
            key = (names.normalise(person.given), names.normalise(person.family), person.dob)
            if key in seen:
                continue
            seen.add(key)
            corpus.people.append(person)
    # Absent children: every seventh person, so many of them have siblings or twins present.
    corpus.absent = corpus.people[3::7][:absent]
    absent_ids = {id(p) for p in corpus.absent}
    corpus.people = [p for p in corpus.people if id(p) not in absent_ids][:size]
    return corpus


def names_of(person: Person, child: Child) -> list[ChildName]:
    """The person's current (and previous) name rows for ``child``, derived fields set, unsaved."""
    rows = [(ChildName.Kind.CURRENT, person.family)]
    if person.previous_family:
        rows.append((ChildName.Kind.PREVIOUS, person.previous_family))
    out = []
    for kind, family in rows:
        name = ChildName(child=child, kind=kind, given_names=person.given, family_name=family)
        name.derive_fields()
        out.append(name)
    return out


def load(corpus: Corpus) -> None:
    """Insert the people with bulk_create, computing what ``save`` would."""
    la = factories.LocalAuthorityFactory()
    children = []
    for n, person in enumerate(corpus.people):
        child = Child(given_names=person.given, family_name=person.family, date_of_birth=person.dob, sex=person.sex,
                      nhs_number=factories.nhs_number_for(100_000 + n), postcode=person.postcode,
                      address_line="1 Corpus Road", local_authority=la, shielded=person.shielded)
        child.derive_fields()
        children.append(child)
    Child.objects.bulk_create(children, batch_size=500)
    children = list(Child.objects.filter(nhs_number__in=[c.nhs_number for c in children]))
    by_nhs = {c.nhs_number: c for c in children}
    child_names, addresses = [], []
    for n, person in enumerate(corpus.people):
        child = by_nhs[factories.nhs_number_for(100_000 + n)]
        person.reference = child.reference
        child_names += names_of(person, child)
        addresses.append(Address(child=child, postcode=person.postcode, local_authority=child.local_authority,
                                 moved_in_on=date(2022, 1, 1)))
        if person.previous_postcode:
            addresses.append(Address(child=child, postcode=person.previous_postcode,
                                     local_authority=child.local_authority, moved_in_on=date(2018, 1, 1),
                                     moved_out_on=date(2021, 12, 31)))
    ChildName.objects.bulk_create(child_names, batch_size=500)
    Address.objects.bulk_create(addresses, batch_size=500)
    NameKey.rebuild_for_children(children)


# Slips ------------------------------------------------------------------------------

def typo(rng, value: str) -> str:
    letters = [i for i, c in enumerate(value) if c.isalpha()]
    if len(letters) < 4:
        return value + value[-1]
    i = rng.choice(letters[1:])  # people rarely get the first letter wrong
    c = value[i].lower()
    op = rng.choice(["sub", "del", "ins", "swap"])
    if op == "sub":
        return value[:i] + KEYBOARD.get(c, rng.choice(string.ascii_lowercase)) + value[i + 1:]
    if op == "del":
        return value[:i] + value[i + 1:]
    if op == "ins":
        return value[:i] + c + value[i:]
    j = i - 1 if i == letters[-1] else i
    return value[:j] + value[j + 1] + value[j] + value[j + 2:]


def sound_alike(rng, value: str) -> str:
    lower = value.lower()
    options = [(a, b) for a, b in SOUND_ALIKE if a in lower[1:]]
    if not options:
        return typo(rng, value)
    a, b = rng.choice(options)
    i = lower.index(a, 1)
    return value[:i] + b + value[i + len(a):]


def plain_ascii(value: str) -> str:
    return names.fold(value).title()


def short_form(rng, given: str) -> str | None:
    forms = sorted(nicknames.equivalents(names.normalise(given)))
    return rng.choice(forms).title() if forms else None


def dob_slip(rng, dob: date) -> date:
    for _ in range(50):
        digits = list(f"{dob.day:02d}{dob.month:02d}{dob.year:04d}")
        i = rng.choice([0, 1, 2, 3, 6, 7])
        digits[i] = rng.choice([d for d in "0123456789" if d != digits[i]])
        text = "".join(digits)
        try:
            slipped = date(int(text[4:]), int(text[2:4]), int(text[:2]))
        except ValueError:
            continue
        if slipped <= date.today():
            return slipped
    return dob


def dob_swap(dob: date) -> date | None:
    if dob.day > 12 or dob.day == dob.month:
        return None
    return date(dob.year, dob.day, dob.month)


def variants(person: Person, rng) -> list[tuple[str, dict]]:
    """(kind, query fields) for one person: each slip alone, and some pairs."""
    base = {"given_name": person.given, "family_name": person.family, "date_of_birth": person.dob,
            "postcode": "" if person.shielded else person.postcode}
    out = [
        ("given typo", {**base, "given_name": typo(rng, person.given)}),
        ("family typo", {**base, "family_name": typo(rng, person.family)}),
        ("family sounds alike", {**base, "family_name": sound_alike(rng, person.family)}),
        ("swapped names", {**base, "given_name": person.family, "family_name": person.given}),
        ("dob slip", {**base, "date_of_birth": dob_slip(rng, person.dob)}),
        ("no accents or punctuation", {**base, "given_name": plain_ascii(person.given),
                                       "family_name": plain_ascii(person.family)}),
        ("name and date of birth only", {**base, "postcode": "", "given_name": sound_alike(rng, person.given)}),
        ("name and district only", {**base, "date_of_birth": None, "postcode": base["postcode"].split(" ")[0],
                                    "family_name": typo(rng, person.family)} if base["postcode"] else None),
        ("moved, and a dob slip", {**base, "postcode": _postcode(rng), "date_of_birth": dob_slip(rng, person.dob)}),
        ("typo in both names", {**base, "given_name": typo(rng, person.given),
                                "family_name": typo(rng, person.family)}),
    ]
    short = short_form(rng, person.given)
    if short:
        out.append(("short form", {**base, "given_name": short}))
        out.append(("short form, moved", {**base, "given_name": short, "postcode": _postcode(rng)}))
    swap = dob_swap(person.dob)
    if swap:
        out.append(("day and month swapped", {**base, "date_of_birth": swap}))
        out.append(("dob swapped, family typo", {**base, "date_of_birth": swap,
                                                 "family_name": typo(rng, person.family)}))
    if "-" in person.family:
        out.append(("one part of a double-barrelled name",
                    {**base, "family_name": rng.choice(person.family.split("-"))}))
    if person.previous_family:
        out.append(("previous family name", {**base, "family_name": person.previous_family}))
    if person.previous_postcode and not person.shielded:
        out.append(("previous postcode", {**base, "postcode": person.previous_postcode}))
    if person.shielded:  # a search with a postcode never finds a shielded child: searchers learn to leave it out
        out = [(kind, {**fields, "postcode": ""}) for kind, fields in out if fields and fields.get("date_of_birth")]
    return [(kind, fields) for kind, fields in out if fields]


def cases(corpus: Corpus, *, targets: int, seed: int = 5) -> tuple[list[Case], list[Case], list[Case]]:
    """(exact, variant, absent) cases for ``targets`` people picked at random."""
    rng = random.Random(seed)
    people = rng.sample(corpus.people, min(targets, len(corpus.people)))
    exact, variant, absent = [], [], []
    for person in people:
        fields = {"given_name": person.given, "family_name": person.family, "date_of_birth": person.dob,
                  "postcode": "" if person.shielded else person.postcode}
        exact.append(Case("exact", Query.of(**fields), person.reference))
        for kind, fields in variants(person, rng):
            variant.append(Case(kind, Query.of(**fields), person.reference))
    for person in corpus.absent:
        for kind, fields in [("exact", {"given_name": person.given, "family_name": person.family,
                                        "date_of_birth": person.dob, "postcode": person.postcode}),
                             *rng.sample(variants(person, rng), 2)]:
            absent.append(Case(kind, Query.of(**fields), ""))
    return exact, variant, absent
