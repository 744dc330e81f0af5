"""How well one child agrees with a query: a score in [0, 1] and the reasons.

A score starts at 1.0 (every field given agrees exactly) and each disagreement takes
off a fixed penalty. The penalties are set so that one or two everyday slips (a short
form of the given name, a swapped day and month, an old postcode) keep a true match
in the confident band, while a different child who merely shares a common name and
a near date of birth falls below it: the shapes of error seen in real duplicate
records, not the weights of one data set (SPEC 3.7).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from rapidfuzz.distance import OSA, JaroWinkler

from children import names
from children.matching import dates, nicknames
from children.matching.dates import DobAgreement

CONFIDENT = 0.95
POSSIBLE = 0.85

# Name tokens.
NICKNAME = 0.015
PREFIX = 0.02
PART = 0.015  # one part of a hyphenated or double-barrelled name
MIDDLE = 0.02  # matched a second given name
TYPO = 0.025  # one letter typed wrong, missing, extra or two swapped
SOUNDS_SAME = 0.03
SOUNDS_ALIKE = 0.05
SIMILAR = 0.06
LOOSELY_SIMILAR = 0.09
INITIAL = 0.06
GIVEN_DIFFERENT = 0.3
FAMILY_DIFFERENT = 0.25
NAMES_SWAPPED = 0.01
EARLIER_NAME = 0.005  # a previous or other name: lets the current name win ties
NO_STORED_GIVEN = 0.1

DOB_PENALTY = {
    DobAgreement.EXACT: 0.0,
    DobAgreement.IN_RANGE: 0.0,
    DobAgreement.SWAPPED: 0.025,
    DobAgreement.SLIP: 0.03,
    DobAgreement.SAME_MONTH: 0.08,
    DobAgreement.SAME_YEAR: 0.11,
    DobAgreement.DIFFERENT: 0.2,
}

DOB_REASON = {
    DobAgreement.EXACT: "date of birth matches",
    DobAgreement.IN_RANGE: "date of birth is in the range given",
    DobAgreement.SWAPPED: "date of birth has day and month swapped",
    DobAgreement.SLIP: "date of birth differs by one digit",
    DobAgreement.SAME_MONTH: "date of birth is in the same month",
    DobAgreement.SAME_YEAR: "date of birth is in the same year",
    DobAgreement.DIFFERENT: "date of birth differs",
}

# Places: children move, so a postcode that disagrees is weak evidence against.
POSTCODE_PREVIOUS = 0.005
POSTCODE_SECTOR = 0.01
POSTCODE_DISTRICT = 0.02
POSTCODE_PREVIOUS_AREA = 0.025
POSTCODE_DIFFERENT = 0.035

SEX_DIFFERENT = 0.1
IDENTIFIER_CONFLICT = 0.2
# With a matching NHS number or UPN the other fields only nudge the score.
IDENTIFIER_DAMPING = 0.25
UNCORROBORATED_CEILING = 0.94


@dataclass(frozen=True)
class StoredName:
    kind: str  # ChildName.Kind value
    given_tokens: tuple[str, ...]
    family_tokens: tuple[str, ...]

    @classmethod
    @lru_cache(maxsize=65536)
    def of(cls, kind: str, given_names: str, family_name: str) -> "StoredName":
        return cls(kind=kind, given_tokens=tuple(names.given_tokens(given_names)),
                   family_tokens=tuple(names.family_tokens(family_name)))


@dataclass(frozen=True)
class StoredChild:
    """What the scorer needs of a child: loaded in bulk for a whole block."""

    date_of_birth: object
    sex: str
    nhs_number: str
    upn: str
    postcode: str
    previous_postcodes: tuple[str, ...]
    names: tuple[StoredName, ...]


@lru_cache(maxsize=65536)
def token_penalty(query: str, stored: str, *, given: bool) -> tuple[float, str]:
    """How far apart two normalised name tokens are, and why."""
    if query == stored:
        return 0.0, "matches"
    if given and nicknames.are_equivalent(query, stored):
        return NICKNAME, "is a short form or variant"
    if len(query) == 1:
        return (INITIAL, "matches the initial") if stored.startswith(query) else (_different(given), "differs")
    if given and min(len(query), len(stored)) >= 3 and (stored.startswith(query) or query.startswith(stored)):
        return PREFIX, "is a short form or variant"
    distance = OSA.distance(query, stored)
    similarity = JaroWinkler.similarity(query, stored)
    sounds = bool(set(names.keys(query)) & set(names.keys(stored)))
    shortest = min(len(query), len(stored))
    if distance == 1 and shortest >= 4:
        return TYPO, "is spelt slightly differently"
    if sounds and similarity >= 0.85:
        return SOUNDS_SAME, "sounds the same"
    if sounds or (distance == 1 and shortest >= 3):
        return SOUNDS_ALIKE, "sounds alike"
    if (distance == 2 and shortest >= 6) or similarity >= 0.92:
        return SIMILAR, "is spelt similarly"
    if similarity >= 0.84:
        return LOOSELY_SIMILAR, "is spelt similarly"
    return _different(given), "differs"


def _different(given: bool) -> float:
    return GIVEN_DIFFERENT if given else FAMILY_DIFFERENT


def given_penalty(query: tuple[str, ...], stored: tuple[str, ...]) -> tuple[float, str]:
    if not stored:
        return NO_STORED_GIVEN, "is not recorded"
    if "".join(query) == "".join(stored):
        return 0.0, "matches"
    best = (GIVEN_DIFFERENT, "differs")
    for q_index, q in enumerate(query):
        for s_index, s in enumerate(stored):
            penalty, why = token_penalty(q, s, given=True)
            if penalty < GIVEN_DIFFERENT and (q_index or s_index):
                penalty, why = penalty + MIDDLE, "matches a middle name" if penalty == 0 else why
            best = min(best, (penalty, why))
    return best


def family_penalty(query: tuple[str, ...], stored: tuple[str, ...]) -> tuple[float, str]:
    """Tokens are (whole, part, part...): a part agreeing with the other side counts, a little lower."""
    if not stored:
        return FAMILY_DIFFERENT, "differs"
    if query[0] == stored[0]:
        return 0.0, "matches"
    best = min((token_penalty(query[0], stored[0], given=False)), (FAMILY_DIFFERENT, "differs"))
    for q_index, q in enumerate(query):
        for s_index, s in enumerate(stored):
            if not (q_index or s_index):
                continue
            penalty, why = token_penalty(q, s, given=False)
            if penalty < FAMILY_DIFFERENT:
                best = min(best, (penalty + PART, "matches one part of a double-barrelled name" if penalty == 0 else why))
    return best


def name_penalty(query, stored: StoredName) -> tuple[float, list[str]]:
    """Best of the names as given and with given and family names swapped."""
    options = [_names_penalty(query.given_tokens, query.family_tokens, stored)]
    if query.given_tokens and query.family_tokens:
        penalty, reasons = _names_penalty(query.family_tokens, _given_as_family(query), stored)
        options.append((penalty + NAMES_SWAPPED, [*reasons, "given and family names swapped"]))
    penalty, reasons = min(options, key=lambda option: option[0])
    if stored.kind != "current":
        penalty += EARLIER_NAME
        reasons = [*reasons, f"matched a {stored.kind} name"]
    return penalty, reasons


def _given_as_family(query) -> tuple[str, ...]:
    """The given names read as a family name (whole, then parts), for names typed the wrong way round."""
    return ("".join(query.given_tokens),) + (query.given_tokens if len(query.given_tokens) > 1 else ())


def _names_penalty(given: tuple[str, ...], family: tuple[str, ...], stored: StoredName) -> tuple[float, list[str]]:
    penalty, reasons = 0.0, []
    if given:
        p, why = given_penalty(given, stored.given_tokens)
        penalty += p
        reasons.append(f"given name {why}")
    if family:
        p, why = family_penalty(family, stored.family_tokens)
        penalty += p
        reasons.append(f"family name {why}")
    return penalty, reasons


def dob_penalty(query, stored_dob) -> tuple[float, str | None]:
    if query.date_of_birth is not None:
        agreement = dates.compare(query.date_of_birth, stored_dob)
        if agreement is not DobAgreement.EXACT and query.dob_from and query.dob_to \
                and query.dob_from <= stored_dob <= query.dob_to:
            agreement = DobAgreement.IN_RANGE
    elif query.dob_from and query.dob_to:
        agreement = DobAgreement.IN_RANGE if query.dob_from <= stored_dob <= query.dob_to else DobAgreement.DIFFERENT
    else:
        return 0.0, None
    return DOB_PENALTY[agreement], DOB_REASON[agreement]


def postcode_penalty(query, child: StoredChild) -> tuple[float, str | None]:
    if not query.postcode:
        return 0.0, None
    kind = query.postcode_kind
    current = _cut(child.postcode, kind)
    previous = {_cut(p, kind) for p in child.previous_postcodes}
    if current == query.postcode:
        return 0.0, f"postcode {'' if kind == 'full' else kind + ' '}matches"
    if query.postcode in previous:
        return POSTCODE_PREVIOUS, "postcode of a previous address"
    if kind == "full" and _cut(child.postcode, "sector") == _cut(query.postcode, "sector"):
        return POSTCODE_SECTOR, "same postcode sector"
    query_district = _cut(query.postcode, "district")
    if kind != "district" and _cut(child.postcode, "district") == query_district:
        return POSTCODE_DISTRICT, "same postcode district"
    if query_district in {_cut(p, "district") for p in child.previous_postcodes}:
        return POSTCODE_PREVIOUS_AREA, "postcode area of a previous address"
    return POSTCODE_DIFFERENT, "postcode differs (may have moved)"


def _cut(postcode: str, kind: str) -> str:
    if not postcode:
        return ""
    if kind == "district":
        return postcode.split(" ")[0]
    if kind == "sector":
        return postcode[:-2]
    return postcode


def identifier_penalty(query, child: StoredChild) -> tuple[bool, float, list[str]]:
    """(an identifier matches, the penalty for those that differ, the reasons)."""
    identifier_match, penalty, reasons = False, 0.0, []
    for field, label in (("nhs_number", "NHS number"), ("upn", "UPN")):
        asked, held = getattr(query, field), getattr(child, field)
        if asked and held:
            if asked == held:
                identifier_match = True
                reasons.append(f"{label} matches")
            else:
                penalty += IDENTIFIER_CONFLICT
                reasons.append(f"{label} differs")
    return identifier_match, penalty, reasons


def sex_penalty(query, child: StoredChild) -> float:
    if query.sex and child.sex in ("F", "M") and query.sex in ("F", "M") and query.sex != child.sex:
        return SEX_DIFFERENT
    return 0.0


def score(query, child: StoredChild) -> tuple[float, list[str]]:
    """The score in [0, 1] (rounded to 3 places) and the reasons, most telling first."""
    identifier_match, penalty, reasons = identifier_penalty(query, child)
    if query.has_name:
        name_options = [name_penalty(query, stored) for stored in child.names]
        if name_options:
            p, why = min(name_options, key=lambda option: option[0])
        else:
            p, why = GIVEN_DIFFERENT + FAMILY_DIFFERENT, ["no name recorded"]
        penalty += p
        reasons += why
    for p, why in (dob_penalty(query, child.date_of_birth), postcode_penalty(query, child)):
        penalty += p
        if why:
            reasons.append(why)
    if sex_penalty(query, child):
        penalty += SEX_DIFFERENT
        reasons.append("sex differs")
    if identifier_match:
        penalty *= IDENTIFIER_DAMPING
    value = round(max(0.0, 1.0 - penalty), 3)
    if not identifier_match and not (query.has_name and query.has_dob):
        # Two children of one name in one district, or twins at one address, are common:
        # without a date of birth and a name (or an identifier) a match is only ever possible.
        value = min(value, UNCORROBORATED_CEILING)
    return value, reasons


# Reach: which candidates could still score POSSIBLE. Without a matching identifier the score is
# 1 - (sum of penalties), every penalty >= 0, rounded to 3 places: a candidate whose penalties from
# some fields already exceed REACH scores below POSSIBLE whatever its other fields say. (A matching
# NHS number or UPN damps every penalty: no bound below holds for such a candidate.)
REACH = 1.0 - POSSIBLE + 0.0005  # 1 - 0.1505 = 0.8495 still rounds to 0.85; anything beyond does not
_FLOAT_SLACK = 1e-9  # sums of penalties in another order may differ in the last bits


def out_of_reach(penalty: float) -> bool:
    """Does a candidate carrying at least this penalty (and no matching identifier) score below POSSIBLE?"""
    return penalty > REACH + _FLOAT_SLACK


def floor(query, child: StoredChild) -> float | None:
    """A lower bound on ``score``'s penalty from the fields that need no name or address comparison
    (conflicting identifiers, date of birth, sex); None when an identifier matches."""
    identifier_match, penalty, _ = identifier_penalty(query, child)
    if identifier_match:
        return None
    return penalty + dob_penalty(query, child.date_of_birth)[0] + sex_penalty(query, child)


def name_floor(query, names: tuple[StoredName, ...]) -> float:
    """A lower bound on the name part of ``score``'s penalty, from family names alone (cheap: the
    token comparisons are cached and reused when the child is scored).

    Both readings of the query (as given; given and family swapped) pay a ``family_penalty``, which
    is never below the closest pair of family tokens' ``token_penalty``, nor than FAMILY_DIFFERENT."""
    if not query.has_name:
        return 0.0
    if not names:
        return GIVEN_DIFFERENT + FAMILY_DIFFERENT  # what score charges for no name at all
    if not query.family_tokens:
        return 0.0
    asked = query.family_tokens + (_given_as_family(query) if query.given_tokens else ())
    best = FAMILY_DIFFERENT
    for name in names:
        for stored in name.family_tokens:
            for token in asked:
                best = min(best, token_penalty(token, stored, given=False)[0])
                if not best:
                    return 0.0
    return best


@dataclass(frozen=True)
class DobWindow:
    """The stored dates of birth a candidate can have and still score POSSIBLE: ``first`` to ``last``
    and ``others`` (slips and swaps outside that range)."""

    first: date
    last: date
    others: frozenset[date]

    def __contains__(self, value: date) -> bool:
        return self.first <= value <= self.last or value in self.others


def dob_window(value: date) -> DobWindow | None:
    """Where a child must be born to score POSSIBLE against a query born on ``value``; None when a
    different date of birth alone leaves a candidate within reach (no window then).

    Read from ``DOB_PENALTY`` and ``dates.compare``: a stored date outside the query's month and year
    agrees only as a swap or a slip (else DIFFERENT), so the window is the month or year whose
    agreement is within reach, plus the swap and the slips when theirs are."""
    within = {agreement for agreement, penalty in DOB_PENALTY.items() if not out_of_reach(penalty)}
    if DobAgreement.DIFFERENT in within:
        return None
    if DobAgreement.SAME_YEAR in within:
        first, last = date(value.year, 1, 1), date(value.year, 12, 31)
    elif DobAgreement.SAME_MONTH in within:
        first = value.replace(day=1)
        last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    else:
        first = last = value
    others = set(dates.slips(value)) if DobAgreement.SLIP in within else set()
    if DobAgreement.SWAPPED in within and dates.swapped(value):
        others.add(dates.swapped(value))
    return DobWindow(first, last, frozenset(d for d in others if not first <= d <= last))


def band(value: float) -> str:
    if value >= CONFIDENT:
        return "confident"
    if value >= POSSIBLE:
        return "possible"
    return "unlikely"
