"""How well one child agrees with a query: a calibrated score in [0, 1] and the reasons.

A Fellegi–Sunter model (the one splink documents). Each field is compared at several levels
of agreement (names: exact, short form, spelling bands by Jaro–Winkler, phonetic, initial;
date of birth: exact, day and month swapped, one digit, a year out, same month, within 30
days; postcode: unit, sector, district, area, a previous address; sex; identifiers). Each
level carries a weight log2(m/u): m is how often a true match agrees at that level, u how
often two different children do. The weights are fitted by ``bench/fit_match_weights.py``
and live in ``weights.json`` (reviewed, committed). An exact name weighs more the rarer it
is among the children held (term-frequency adjustment, ``Frequencies``).

The score is the match probability: 1 / (1 + 2^-(prior + sum of weights)). Bands sit where
``bench/search_quality.py`` measured them on the development data (``weights.json``'s
``bands``). A field either side lacks is neither evidence for nor against.

A listed candidate must also agree on at least two identity facts (given name, family name,
date of birth, postcode; an identifier on its own suffices), so a search cannot fish.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

from rapidfuzz.distance import OSA, JaroWinkler

from children import names
from children.matching import dates, nicknames
from children.matching.dates import DobAgreement

WEIGHTS_FILE = Path(__file__).with_name("weights.json")


@cache
def model() -> dict:
    return json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))


CONFIDENT = model()["bands"]["confident"]
POSSIBLE = model()["bands"]["possible"]
# Feed ingest's floor: below it a row is a new child, not a candidate for a person's review.
REVIEW = model()["bands"]["review"]
# A confident match needs the given name to agree at one of these levels (see _like_a_sibling).
CONFIDENT_GIVEN_LEVELS = {"exact", "nickname", "close"}

GIVEN, FAMILY, DOB, POSTCODE, SEX = "given", "family", "dob", "postcode", "sex"
NAME_LEVELS = ("exact", "middle", "nickname", "close", "similar", "phonetic", "initial", "different")
FAMILY_LEVELS = ("exact", "part", "close", "similar", "phonetic", "initial", "different")
DOB_LEVELS = ("exact", "swapped", "slip", "year", "month", "near", "different")
POSTCODE_LEVELS = ("unit", "sector", "district", "area", "previous", "previous_area", "different")
SEX_LEVELS = ("agree", "different")
LEVELS = {GIVEN: NAME_LEVELS, FAMILY: FAMILY_LEVELS, DOB: DOB_LEVELS, POSTCODE: POSTCODE_LEVELS,
          SEX: SEX_LEVELS}
# Levels at which a field counts as an agreeing identity fact (the two-facts rule).
AGREEING = {
    GIVEN: {"exact", "middle", "nickname", "close", "similar", "phonetic"},
    FAMILY: {"exact", "part", "close", "similar", "phonetic"},
    DOB: {"exact", "swapped", "slip", "year"},
    POSTCODE: {"unit", "sector", "district", "previous", "previous_area"},
}

GIVEN_REASON = {
    "exact": "given name matches", "middle": "given name matches a middle name",
    "nickname": "given name is a short form or variant", "close": "given name is spelt slightly differently",
    "similar": "given name is spelt similarly", "phonetic": "given name sounds alike",
    "initial": "given name matches the initial", "different": "given name differs",
}
FAMILY_REASON = {
    "exact": "family name matches", "part": "family name matches one part of a double-barrelled name",
    "close": "family name is spelt slightly differently", "similar": "family name is spelt similarly",
    "phonetic": "family name sounds alike", "initial": "family name matches the initial",
    "different": "family name differs",
}
DOB_REASON = {
    "exact": "date of birth matches", "in_range": "date of birth is in the range given",
    "swapped": "date of birth has day and month swapped", "slip": "date of birth differs by one digit",
    "year": "date of birth is a year out", "month": "date of birth is in the same month",
    "near": "date of birth is within 30 days", "different": "date of birth differs",
}
POSTCODE_REASON = {
    "unit": "postcode matches", "sector": "same postcode sector", "district": "same postcode district",
    "area": "same postcode area", "previous": "postcode of a previous address",
    "previous_area": "postcode area of a previous address", "different": "postcode differs (may have moved)",
}


@dataclass(frozen=True)
class StoredName:
    kind: str  # ChildName.Kind value
    given_tokens: tuple[str, ...]
    family_tokens: tuple[str, ...]

    @classmethod
    @lru_cache(maxsize=65536)
    def of(cls, kind: str, given_names: str, family_name: str) -> "StoredName":
        return cls(kind=kind, given_tokens=tuple(names.given_tokens(given_names or "")),
                   family_tokens=tuple(names.family_tokens(family_name or "")))


@dataclass(frozen=True)
class StoredChild:
    """What the scorer needs of a child: loaded in bulk for a whole block."""

    date_of_birth: date | None
    sex: str
    nhs_number: str
    upn: str
    postcode: str
    previous_postcodes: tuple[str, ...]
    names: tuple[StoredName, ...]


@dataclass(frozen=True)
class Frequencies:
    """How many children hold the query's given and family name (term-frequency adjustment).

    ``total`` children; ``given``/``family`` the counts of the query's first given name and its
    whole family name. The share is shrunk towards the fitted average (``tf_prior_children``
    pseudo-children), so on a small index an exact name weighs what it weighs on average."""

    total: int = 0
    given: dict = field(default_factory=dict)
    family: dict = field(default_factory=dict)

    def u(self, column: str, token: str) -> float | None:
        counts = self.given if column == GIVEN else self.family
        if token not in counts:
            return None
        tf = model()["tf"]
        average = _u(column, "exact")
        share = (counts[token] + tf["prior_children"] * average) / (self.total + tf["prior_children"])
        return min(max(share, tf["u_floor"]), tf["u_ceiling"])


NO_FREQUENCIES = Frequencies()


@cache
def _u(column: str, level: str) -> float:
    return model()["fields"][column][level]["u"]


@cache
def weight(column: str, level: str) -> float:
    entry = model()["fields"][column][level]
    return math.log2(entry["m"] / entry["u"])


def _tf_weight(column: str, token: str, frequencies: Frequencies) -> float:
    u = frequencies.u(column, token)
    if u is None:
        return weight(column, "exact")
    return math.log2(model()["fields"][column]["exact"]["m"] / u)


# Names -------------------------------------------------------------------------------------------

@lru_cache(maxsize=131072)
def token_level(query: str, stored: str, *, given: bool) -> str:
    """The agreement level of two normalised name tokens."""
    if query == stored:
        return "exact"
    if given and nicknames.are_equivalent(query, stored):
        return "nickname"
    if len(query) == 1 or len(stored) == 1:
        return "initial" if query[0] == stored[0] else "different"
    shortest = min(len(query), len(stored))
    if given and shortest >= 3 and (stored.startswith(query) or query.startswith(stored)):
        return "nickname"  # a shortened form: Alex, Sam, Chris
    similarity = JaroWinkler.similarity(query, stored)
    distance = OSA.distance(query, stored)
    # One edit in a name of four letters or more is a typo, except one letter changed in a four-letter
    # name, which is as often another name (Jane, Jade, Jake): that is only "similar".
    substituted = len(query) == len(stored) and sum(a != b for a, b in zip(query, stored)) == 1
    if (distance == 1 and (shortest >= 5 or (shortest == 4 and not substituted))) or similarity >= 0.94:
        return "close"
    if similarity >= 0.88 or (distance <= 2 and shortest >= 6):
        return "similar"
    # A shared Double Metaphone key alone says little (Olivia and Alfie share one): it must look alike too.
    if similarity >= 0.75 and set(names.keys(query)) & set(names.keys(stored)):
        return "phonetic"
    return "different"


_NAME_ORDER = {level: n for n, level in enumerate(NAME_LEVELS)}
_FAMILY_ORDER = {level: n for n, level in enumerate(FAMILY_LEVELS)}


def given_level(query: tuple[str, ...], stored: tuple[str, ...]) -> tuple[str, str]:
    """(level, the query token that agreed) of the given names; a middle name counts lower."""
    if "".join(query) == "".join(stored):
        return "exact", query[0]
    best = ("different", query[0])
    for q_index, q in enumerate(query):
        for s_index, s in enumerate(stored):
            level = token_level(q, s, given=True)
            if (q_index or s_index) and level != "different":
                # A middle name agreeing counts for less than the first name doing so.
                level = "middle" if level == "exact" else _demoted(level)
            if _NAME_ORDER[level] < _NAME_ORDER[best[0]]:
                best = (level, q)
    return best


def _demoted(level: str) -> str:
    return NAME_LEVELS[min(_NAME_ORDER[level] + 1, _NAME_ORDER["different"])]


def family_level(query: tuple[str, ...], stored: tuple[str, ...]) -> tuple[str, str]:
    """Tokens are (whole, part, part...): a part agreeing with the other side counts, a little lower."""
    if query[0] == stored[0]:
        return "exact", query[0]
    best = (token_level(query[0], stored[0], given=False), query[0])
    for q_index, q in enumerate(query):
        for s_index, s in enumerate(stored):
            if not (q_index or s_index):
                continue
            level = token_level(q, s, given=False)
            level = "part" if level == "exact" else level
            if _FAMILY_ORDER[level] < _FAMILY_ORDER[best[0]]:
                best = (level, q)
    return best


# Dates, places, sex -------------------------------------------------------------------------------

def dob_level(query, stored_dob: date | None) -> str | None:
    """The date-of-birth level; None when either side has none ("in_range" for a range query)."""
    if stored_dob is None:
        return None
    if query.dob_from and query.dob_to and query.dob_from <= stored_dob <= query.dob_to:
        if query.date_of_birth is None or query.date_of_birth != stored_dob:
            return "in_range"
    if query.date_of_birth is None:
        return "different" if query.dob_from and query.dob_to else None
    agreement = dates.compare(query.date_of_birth, stored_dob)
    if agreement is DobAgreement.EXACT:
        return "exact"
    if agreement is DobAgreement.SWAPPED:
        return "swapped"
    if agreement is DobAgreement.SLIP:
        return "slip"
    asked = query.date_of_birth
    if (asked.month, asked.day) == (stored_dob.month, stored_dob.day) and abs(asked.year - stored_dob.year) == 1:
        return "year"
    if agreement is DobAgreement.SAME_MONTH:
        return "month"
    if abs((asked - stored_dob).days) <= 30:
        return "near"
    return "different"


def postcode_level(query, child: StoredChild) -> tuple[str, str] | None:
    """(level, reason) of the postcode; None when the query gives none or the child has none held."""
    if not query.postcode or not (child.postcode or child.previous_postcodes):
        return None
    kind = query.postcode_kind
    if child.postcode and _cut(child.postcode, kind) == query.postcode:
        if kind in ("sector", "district"):
            return kind, f"postcode {kind} matches"
        return "unit", POSTCODE_REASON["unit"]
    if query.postcode in {_cut(p, kind) for p in child.previous_postcodes}:
        return "previous", POSTCODE_REASON["previous"]
    if child.postcode and kind == "full" and _cut(child.postcode, "sector") == _cut(query.postcode, "sector"):
        return "sector", POSTCODE_REASON["sector"]
    district = _cut(query.postcode, "district")
    if child.postcode and kind != "district" and _cut(child.postcode, "district") == district:
        return "district", POSTCODE_REASON["district"]
    if district in {_cut(p, "district") for p in child.previous_postcodes}:
        return "previous_area", POSTCODE_REASON["previous_area"]
    if child.postcode and _area(child.postcode) == _area(query.postcode):
        return "area", POSTCODE_REASON["area"]
    return "different", POSTCODE_REASON["different"]


def _cut(postcode: str, kind: str) -> str:
    if not postcode:
        return ""
    if kind == "district":
        return postcode.split(" ")[0]
    if kind == "sector":
        return postcode[:-2]
    return postcode


def _area(postcode: str) -> str:
    return "".join(c for c in postcode.split(" ")[0] if c.isalpha())


def sex_level(query, child: StoredChild) -> str | None:
    if query.sex in ("F", "M") and child.sex in ("F", "M"):
        return "agree" if query.sex == child.sex else "different"
    return None


# The score ---------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Each field's level (None: not compared), the weights, and the reasons."""

    levels: dict = field(default_factory=dict)
    weight: float = 0.0
    reasons: list = field(default_factory=list)
    identifier_match: bool = False
    identifier_conflict: bool = False
    outside_range: bool = False  # born outside the date-of-birth range the searcher gave
    probability: float = 0.0  # before the cap below CONFIDENT
    capped: bool = False  # never confident: no name and date of birth, or agreeing only as a sibling might

    @property
    def facts(self) -> int:
        """How many identity facts agree: the name (given or family), the date of birth, the postcode;
        an identifier counts as two (it alone is enough)."""
        name = self.levels.get(GIVEN) in AGREEING[GIVEN] or self.levels.get(FAMILY) in AGREEING[FAMILY]
        dob = self.levels.get(DOB) in AGREEING[DOB] or self.levels.get(DOB) == "in_range"
        place = self.levels.get(POSTCODE) in AGREEING[POSTCODE] or (
            # A postcode area (a city's worth) counts only for a whole name that agrees: not a way to
            # list everyone of one family name in a city.
            self.levels.get(POSTCODE) == "area" and self.levels.get(GIVEN) in CONFIDENT_GIVEN_LEVELS
            and self.levels.get(FAMILY) in ("exact", "close", "part"))
        return name + dob + place + (2 if self.identifier_match else 0)


def _names(query, stored: StoredName, frequencies: Frequencies, swapped: bool) -> tuple[float, dict, list]:
    given_q, family_q = query.given_tokens, query.family_tokens
    if swapped:
        given_q, family_q = family_q, _given_as_family(query)
    total, levels, reasons = 0.0, {}, []
    if given_q and stored.given_tokens:
        level, token = given_level(given_q, stored.given_tokens)
        w = _tf_weight(GIVEN, token, frequencies) if level == "exact" and not swapped else weight(GIVEN, level)
        total, levels[GIVEN] = total + w, level
        reasons.append(GIVEN_REASON[level])
    elif given_q:
        reasons.append("given name is not recorded")
    if family_q and stored.family_tokens:
        level, token = family_level(family_q, stored.family_tokens)
        w = _tf_weight(FAMILY, token, frequencies) if level == "exact" and not swapped else weight(FAMILY, level)
        total, levels[FAMILY] = total + w, level
        reasons.append(FAMILY_REASON[level])
    elif family_q:
        reasons.append("family name is not recorded")
    if swapped:
        total += model()["adjustments"]["names_swapped"]
        reasons.append("given and family names swapped")
    if stored.kind != "current":
        total += model()["adjustments"]["earlier_name"]
        reasons.append(f"matched a {stored.kind} name")
    return total, levels, reasons


def _given_as_family(query) -> tuple[str, ...]:
    """The given names read as a family name (whole, then parts), for names typed the wrong way round."""
    return ("".join(query.given_tokens),) + (query.given_tokens if len(query.given_tokens) > 1 else ())


def compare(query, child: StoredChild, frequencies: Frequencies = NO_FREQUENCIES) -> Comparison:
    """Compare every field the query gives with the child; the best of the child's names, as typed
    or with given and family names swapped."""
    result = Comparison()
    for column, label in (("nhs_number", "NHS number"), ("upn", "UPN")):
        asked, held = getattr(query, column), getattr(child, column)
        if asked and held:
            if asked == held:
                result.identifier_match = True
                result.weight += model()["identifiers"]["match"]
                result.reasons.append(f"{label} matches")
            else:
                result.identifier_conflict = True
                result.weight += model()["identifiers"]["conflict"]
                result.reasons.append(f"{label} differs")
    if query.has_name and child.names:
        options = [_names(query, stored, frequencies, False) for stored in child.names]
        if query.given_tokens and query.family_tokens:
            options += [_names(query, stored, frequencies, True) for stored in child.names]
        total, levels, reasons = max(options, key=lambda option: (option[0], -len(option[2])))
        result.weight += total
        result.levels.update(levels)
        result.reasons += reasons
    elif query.has_name:
        result.reasons.append("no name recorded")
    level = dob_level(query, child.date_of_birth)
    if query.dob_from and query.dob_to and child.date_of_birth is not None:
        result.outside_range = not query.dob_from <= child.date_of_birth <= query.dob_to
    if level:
        result.levels[DOB] = level
        result.weight += weight(DOB, "exact") if level == "in_range" else weight(DOB, level)
        result.reasons.append(DOB_REASON[level])
    place = postcode_level(query, child)
    if place:
        result.levels[POSTCODE] = place[0]
        result.weight += weight(POSTCODE, place[0])
        result.reasons.append(place[1])
    level = sex_level(query, child)
    if level:
        result.levels[SEX] = level
        result.weight += weight(SEX, level)
        if level == "different":
            result.reasons.append("sex differs")
    return result


def probability(log2_odds: float) -> float:
    return 1.0 / (1.0 + 2.0 ** -log2_odds) if log2_odds > -1000 else 0.0


def score(query, child: StoredChild, frequencies: Frequencies = NO_FREQUENCIES) -> tuple[float, list[str]]:
    """The score in [0, 1] (rounded to 3 places) and the reasons, most telling first."""
    value, comparison = scored(query, child, frequencies)
    return value, comparison.reasons


def scored(query, child: StoredChild, frequencies: Frequencies = NO_FREQUENCIES) -> tuple[float, Comparison]:
    """(score, comparison). Without a date of birth and a name (or a matching identifier, or both names
    at the full postcode) two children of one name in one district are too common: such a match is
    only ever possible, as is one that agrees only as a sibling might (``_like_a_sibling``)."""
    comparison = compare(query, child, frequencies)
    comparison.probability = round(probability(model()["prior_log2_odds"] + comparison.weight), 3)
    comparison.capped = not comparison.identifier_match and (
        not (query.has_name and (query.has_dob or _named_at_the_address(comparison))) or _like_a_sibling(comparison))
    value = min(comparison.probability, round(CONFIDENT - 0.001, 3)) if comparison.capped else comparison.probability
    return value, comparison


def _named_at_the_address(comparison: Comparison) -> bool:
    """Without a date of birth: both names and the full postcode agree (two children of one full name
    at one address are rare; at one district they are not)."""
    return (comparison.levels.get(GIVEN) in CONFIDENT_GIVEN_LEVELS and comparison.levels.get(FAMILY) in ("exact", "close")
            and comparison.levels.get(POSTCODE) in ("unit", "previous"))


def _like_a_sibling(comparison: Comparison) -> bool:
    """Given names that agree no better than a sibling's might (Olivia and Oliver, or another name
    altogether), a date of birth that is not the same date mistyped, or a recorded sex that differs
    (twins of the other sex): family name and address are
    shared within a family (twins share the date of birth too), so such a match is never confident,
    however well the rest agrees (the fields are not independent within a family)."""
    given, dob = comparison.levels.get(GIVEN), comparison.levels.get(DOB)
    return (given is not None and given not in CONFIDENT_GIVEN_LEVELS) or dob in ("month", "near", "different") \
        or comparison.levels.get(SEX) == "different"


def listable(value: float, comparison: Comparison) -> bool:
    """May this candidate be listed: at least ``POSSIBLE``, two agreeing identity facts, no conflicting
    identifier (unless another one matches), and born within the date-of-birth range when the searcher gave one (a range is a filter)."""
    if comparison.outside_range or (comparison.identifier_conflict and not comparison.identifier_match):
        return False
    return value >= POSSIBLE and comparison.facts >= 2


# Reach: the most a candidate can still score, from what is known before its names and addresses are
# read. A child whose identifiers, date of birth and sex, with the best name and postcode agreement the
# query allows, cannot reach POSSIBLE is dropped unread.

def best_remaining(query, frequencies: Frequencies = NO_FREQUENCIES) -> float:
    """The highest weight names and postcode can add for this query."""
    best = 0.0
    if query.given_tokens:
        best += max(0.0, max(_tf_weight(GIVEN, query.given_tokens[0], frequencies), weight(GIVEN, "exact")))
    if query.family_tokens:
        best += max(0.0, max(_tf_weight(FAMILY, query.family_tokens[0], frequencies), weight(FAMILY, "exact")))
    if query.given_tokens and query.family_tokens:
        # Read the other way round, each name may match the other field exactly at the plain (no TF) weight.
        best = max(best, weight(GIVEN, "exact") + weight(FAMILY, "exact"))
    if query.postcode:
        best += max(0.0, *(weight(POSTCODE, level) for level in POSTCODE_LEVELS))
    return best


def known_weight(query, child: StoredChild) -> tuple[float, bool]:
    """(weight of identifiers, date of birth and sex, an identifier matches)."""
    comparison = compare(_without_names_or_place(query), child)
    return comparison.weight, comparison.identifier_match


@lru_cache(maxsize=1024)
def _without_names_or_place(query):
    import dataclasses

    return dataclasses.replace(query, given_name="", family_name="", given_tokens=(), family_tokens=(),
                               postcode="", postcode_kind="")


def out_of_reach(query, child: StoredChild, remaining: float) -> bool:
    """Can this child not reach ``POSSIBLE`` whatever its names and postcode say?"""
    if POSSIBLE <= 0:  # no floor: every child in the blocks is scored (the two-facts rule decides)
        return False
    known, identifier_match = known_weight(query, child)
    if identifier_match:
        return False
    return probability(model()["prior_log2_odds"] + known + remaining) < POSSIBLE - 0.0005


def band(value: float) -> str:
    if value >= CONFIDENT:
        return "confident"
    if value >= POSSIBLE:
        return "possible"
    return "unlikely"
